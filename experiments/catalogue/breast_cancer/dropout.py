"""breast-cancer-dropout: dropout 0.5 on the hidden layer vs none."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import settings as S
from experiments.catalogue import rules as R
from experiments.catalogue.breast_cancer import Lecture, arch, experiment, gd
from experiments.catalogue.claims import finals, finding, pct
from experiments.catalogue.wording import relation


def labels(c) -> list[str]:
    """The two variants, named from the configuration that ran."""
    return ["no dropout", f"dropout {c['dropout']:g}"]


def findings(result, config):
    none, drop = labels(config)
    loss, acc = finals(result, "loss", (none, drop)), finals(result, "test_acc", (none, drop))
    same = relation(acc[drop], acc[none], scale="points", lower_is_better=False)
    return [
        finding("dropout makes the training loss higher",
                f"final training loss: none {loss[none]:.4f}, {drop} {loss[drop]:.4f}",
                {f"{drop}'s training loss is higher": loss[drop] > loss[none]}),
        finding("on this small problem, which barely overfits, it changes the test accuracy "
                "little",
                f"test accuracy: none {pct(acc[none])}, {drop} {pct(acc[drop])} ({same})",
                {"within 2 points (about the same)": same == "about the same"}),
    ]


def rules(config):
    return [R.layer("dropout", arch(config, dropout=config["dropout"]),
                    formula_text="inverted dropout: training y = x·mask/(1 − p), mask ~ "
                                 "Bernoulli(1 − p); evaluation y = x"
                    if config["convention"] == "torch" else
                    "Dropout: training y = x·mask; evaluation y = x·(1 − p)",
                    optimizer_name="sgd", hyper={"lr": config["lr"]})]


@dataclass(frozen=True)
class Settings(Lecture):
    dropout: float = S.setting(0.5, S.fraction, "the drop probability p")


experiment(
    "breast-cancer-dropout",
    "dropout on the hidden layer vs none",
    "Inverted dropout (x·mask/(1 − p) in training, x in evaluation) with p = {dropout:g} on the "
    "{units} hidden units, {epochs} epochs. Dropout fights overfitting, which this small "
    "problem barely has.",
    lambda c: dict(zip(labels(c), [({}, *gd(c)), ({"dropout": c["dropout"]}, *gd(c))])),
    labels, settings=Settings, findings=findings, rules=rules)
