"""breast-cancer-minibatch: minibatches of 32 vs the full batch."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd

experiment(
    "breast-cancer-minibatch",
    "minibatches of 32 vs the full batch, 1000 epochs",
    "Minibatch gradient descent: each epoch goes through a fresh permutation of the 455 "
    "samples in batches of 32 (the last one smaller), so an epoch makes 15 steps instead of "
    "one. The loss falls faster per epoch and wobbles; the lecture's test accuracy is the same.",
    lambda c: {"full batch": ({}, *gd(c)),
               "batch 32": ({}, *gd(c, batch_size=c["batch_size"]))},
    lambda c: ["full batch", "batch 32"], defaults={"batch_size": 32})
