"""breast-cancer-minibatch: minibatches of 32 vs the full batch."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import settings as S
from experiments import panels as R
from experiments.catalogue.breast_cancer import Lecture, experiment, gd, named
from experiments.findings.claims import finals, finding, pct
from experiments.findings.wording import ranking, relation
from experiments.i18n import N_, _


def labels(c) -> list[str]:
    """The two variants, named from the configuration that ran."""
    return ["full batch", f"batch {c['batch_size']}"]


def shown(c) -> dict:
    """The variants' names as the pages and the figure show them."""
    full, mini = labels(c)
    return {full: _("full batch"), mini: _("batch {size}", size=c["batch_size"])}


def findings(result, config):
    full, mini = labels(config)
    loss = finals(result, "epoch_loss", (full, mini))
    acc = finals(result, "test_acc", (full, mini))
    same = relation(acc[mini], acc[full], scale="points", lower_is_better=False)
    show = shown(config)
    return [
        finding(_("minibatches bring the training loss down faster per epoch"),
                _("training loss after {epochs} epochs: {ranking}", epochs=config["epochs"],
                  ranking=ranking(named(loss, show), best_word=_("lowest"))),
                {_("{name}'s loss is lower than the full batch's by more than 10%",
                   name=show[mini]): relation(loss[mini], loss[full]) == "ahead"}),
        finding(_("the test accuracy is about the same"),
                _("full batch {full}, {name} {mini} ({relation})", full=pct(acc[full]),
                  name=show[mini], mini=pct(acc[mini]), relation=_(same)),
                {_("within 2 points (about the same)"): same == "about the same"}),
    ]


def rules(config):
    return [R.minibatches(config["batch_size"])]


@dataclass(frozen=True)
class Settings(Lecture):
    batch_size: int = S.setting(32, S.positive_int, "samples per minibatch")


EXPERIMENT = experiment(
    "breast-cancer-minibatch",
    N_("minibatches vs the full batch"),
    N_("Minibatch gradient descent for {epochs} epochs: each epoch goes through a fresh "
       "permutation of the 455 training samples in batches of {batch_size} (the last one "
       "smaller), so an epoch makes many steps instead of one, each on a noisier estimate of "
       "the gradient."),
    lambda c: dict(zip(labels(c), [({}, *gd(c)), ({}, *gd(c, batch_size=c["batch_size"]))])),
    labels, settings=Settings, findings=findings, rules=rules, shown=shown)
