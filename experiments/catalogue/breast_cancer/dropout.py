"""breast-cancer-dropout: dropout 0.5 on the hidden layer vs none."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd
from experiments.catalogue.claims import finding, pct


def findings(result, config):
    f = result["final"]
    loss = {n: f[f"{n}.loss"] for n in ("no dropout", "dropout 0.5")}
    acc = {n: f[f"{n}.test_acc"] for n in ("no dropout", "dropout 0.5")}
    return [
        finding("dropout makes the training loss higher",
                f"final training loss: none {loss['no dropout']:.4f}, dropout "
                f"{config['dropout']:g} {loss['dropout 0.5']:.4f}",
                loss["dropout 0.5"] > loss["no dropout"]),
        finding("on this small problem, which barely overfits, it changes the test accuracy "
                "little",
                f"test accuracy: none {pct(acc['no dropout'])}, dropout "
                f"{pct(acc['dropout 0.5'])}", abs(acc["dropout 0.5"] - acc["no dropout"]) <= 0.03),
    ]

experiment(
    "breast-cancer-dropout",
    "dropout on the hidden layer vs none",
    "Inverted dropout (x·mask/(1 − p) in training, x in evaluation) with p = {dropout:g} on the "
    "{units} "
    "hidden units, {epochs} epochs. It fights overfitting, which this small problem barely has; the training "
    "loss is noisier and higher.",
    lambda c: {"no dropout": ({}, *gd(c)), "dropout 0.5": ({"dropout": c["dropout"]}, *gd(c))},
    lambda c: ["no dropout", "dropout 0.5"], defaults={"dropout": 0.5}, findings=findings)
