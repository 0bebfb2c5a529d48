"""breast-cancer-early-stopping: stop once the validation loss stops improving."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd

experiment(
    "breast-cancer-early-stopping",
    "early stopping on the validation loss, patience 10, up to 1000 epochs",
    "Training stops once the validation loss has not improved (by more than min_delta = 0) for "
    "10 epochs in a row, and the parameters of the best epoch are restored. The lecture's run "
    "stops at epoch 585.",
    lambda c: {"GD + early stopping": ({}, *gd(c, early_stopping={"patience": c["patience"]}))},
    lambda c: ["GD + early stopping"], validation=True, defaults={"patience": 10},
    plot_kwargs={"accuracy": "val_loss"})
