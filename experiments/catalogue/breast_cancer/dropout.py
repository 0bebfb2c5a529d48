"""breast-cancer-dropout: dropout 0.5 on the hidden layer vs none."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import settings as S
from experiments import panels as R
from experiments.catalogue.breast_cancer import Lecture, arch, experiment, gd
from experiments.findings.claims import finals, finding, pct
from experiments.findings.wording import relation
from experiments.i18n import N_, _


def labels(c) -> list[str]:
    """The two variants, named from the configuration that ran."""
    return ["no dropout", f"dropout {c['dropout']:g}"]


def shown(c) -> dict:
    """The variants' names as the pages and the figure show them."""
    none, drop = labels(c)
    return {none: _("no dropout"), drop: _("dropout {p:g}", p=c["dropout"])}


def findings(result, config):
    none, drop = labels(config)
    loss, acc = finals(result, "loss", (none, drop)), finals(result, "test_acc", (none, drop))
    same = relation(acc[drop], acc[none], scale="points", lower_is_better=False)
    name = shown(config)[drop]
    return [
        finding(_("dropout makes the training loss higher"),
                _("final training loss: none {none:.4f}, {name} {drop:.4f}", none=loss[none],
                  name=name, drop=loss[drop]),
                {_("{name}'s training loss is higher", name=name): loss[drop] > loss[none]}),
        finding(_("on this small problem, which barely overfits, it changes the test accuracy "
                  "little"),
                _("test accuracy: none {none}, {name} {drop} ({relation})", none=pct(acc[none]),
                  name=name, drop=pct(acc[drop]), relation=_(same)),
                {_("within 2 points (about the same)"): same == "about the same"}),
    ]


def rules(config):
    return [R.layer("dropout", arch(config, dropout=config["dropout"]),
                    formula_text=_("inverted dropout: training y = x·mask/(1 − p), mask ~ "
                                   "Bernoulli(1 − p); evaluation y = x")
                    if config["convention"] == "torch" else
                    _("Dropout: training y = x·mask; evaluation y = x·(1 − p)"),
                    optimizer_name="sgd", hyper={"lr": config["lr"]})]


@dataclass(frozen=True)
class Settings(Lecture):
    dropout: float = S.setting(0.5, S.fraction, "the drop probability p")


EXPERIMENT = experiment(
    "breast-cancer-dropout",
    N_("dropout on the hidden layer vs none"),
    N_("Inverted dropout (x·mask/(1 − p) in training, x in evaluation) with p = {dropout:g} on "
       "the {units} hidden units, {epochs} epochs. Dropout fights overfitting, which this small "
       "problem barely has."),
    lambda c: dict(zip(labels(c), [({}, *gd(c)), ({"dropout": c["dropout"]}, *gd(c))])),
    labels, settings=Settings, findings=findings, rules=rules, shown=shown)
