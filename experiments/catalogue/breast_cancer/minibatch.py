"""breast-cancer-minibatch: minibatches of 32 vs the full batch."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd
from experiments.catalogue.claims import finding, pct


def findings(result, config):
    f = result["final"]
    loss = {n: f[f"{n}.epoch_loss"] for n in ("full batch", "batch 32")}
    acc = {n: f[f"{n}.test_acc"] for n in ("full batch", "batch 32")}
    return [
        finding("minibatches bring the training loss down faster per epoch",
                f"training loss after {config['epochs']} epochs: full batch "
                f"{loss['full batch']:.4f}, batch {config['batch_size']} {loss['batch 32']:.4f}",
                loss["batch 32"] < loss["full batch"]),
        finding("the test accuracy is about the same",
                f"full batch {pct(acc['full batch'])}, batch {config['batch_size']} "
                f"{pct(acc['batch 32'])}", abs(acc["batch 32"] - acc["full batch"]) <= 0.02),
    ]

experiment(
    "breast-cancer-minibatch",
    "minibatches vs the full batch",
    "Minibatch gradient descent for {epochs} epochs: each epoch goes through a fresh "
    "permutation of the 455 samples in batches of {batch_size} (the last one smaller), so an "
    "epoch makes many steps instead of one. The loss falls faster per epoch and wobbles; the lecture's test accuracy is the same.",
    lambda c: {"full batch": ({}, *gd(c)),
               "batch 32": ({}, *gd(c, batch_size=c["batch_size"]))},
    lambda c: ["full batch", "batch 32"], defaults={"batch_size": 32}, findings=findings)
