"""breast-cancer-dropout: dropout 0.5 on the hidden layer vs none."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd
from experiments.catalogue.claims import finals, finding, pct


def labels(c) -> list[str]:
    """The two variants, named from the configuration that ran."""
    return ["no dropout", f"dropout {c['dropout']:g}"]


def findings(result, config):
    none, drop = labels(config)
    loss, acc = finals(result, "loss", (none, drop)), finals(result, "test_acc", (none, drop))
    return [
        finding("dropout makes the training loss higher",
                f"final training loss: none {loss[none]:.4f}, {drop} {loss[drop]:.4f}",
                loss[drop] > loss[none]),
        finding("on this small problem, which barely overfits, it changes the test accuracy "
                "little",
                f"test accuracy: none {pct(acc[none])}, {drop} {pct(acc[drop])}",
                abs(acc[drop] - acc[none]) <= 0.03),
    ]


experiment(
    "breast-cancer-dropout",
    "dropout on the hidden layer vs none",
    "Inverted dropout (x·mask/(1 − p) in training, x in evaluation) with p = {dropout:g} on the "
    "{units} hidden units, {epochs} epochs. It fights overfitting, which this small problem "
    "barely has; the training loss is noisier and higher.",
    lambda c: dict(zip(labels(c), [({}, *gd(c)), ({"dropout": c["dropout"]}, *gd(c))])),
    labels, defaults={"dropout": 0.5}, findings=findings)
