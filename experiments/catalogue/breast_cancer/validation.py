"""breast-cancer-validation: training vs validation loss, and the test accuracy the lecture reads
after 500, 600, 700 and 1000 epochs."""

from __future__ import annotations

import numpy as np

from experiments.catalogue.breast_cancer import experiment, gd
from experiments.catalogue.claims import finding


def validation_finals(result, config):
    """The test accuracies the lecture reads, as finals, from the one run's series."""
    for epochs in (500, 600, 700, 1000):
        if epochs <= config["epochs"]:
            result.final[f"GD.test_acc@{epochs}"] = result.series["GD.test_acc"][epochs - 1]


def findings(result, config):
    s = result.series
    val, train = np.asarray(s["GD.val_loss"]), np.asarray(s["GD.epoch_loss"])
    best = int(val.argmin())
    return [finding("the validation loss turns up while the training loss keeps falling",
                    f"validation loss lowest at epoch {best + 1} ({val[best]:.4f}), "
                    f"{val[-1]:.4f} at epoch {len(val)}; training loss {train[best]:.4f} → "
                    f"{train[-1]:.4f}",
                    {"the validation loss is lowest before the last epoch and higher at the end":
                         best + 1 < len(val) and val[-1] > val[best],
                     "the training loss falls on after that": train[-1] < train[best]})]


experiment(
    "breast-cancer-validation",
    "training vs validation loss, and test accuracy after 500/600/700/1000 epochs",
    "The training part split again, for {epochs} epochs: a validation loss, measured on "
    "samples the network never trains on, beside the training loss. Where the first turns up "
    "while the second keeps falling, the network has started to fit its training samples' "
    "noise. The lecture reads the test accuracy after 500, 600, 700 and 1000 "
    "epochs (one run here: full-batch GD from a fixed start is deterministic).",
    lambda c: {"GD": ({}, *gd(c))}, lambda c: ["GD"], validation=True,
    extra=validation_finals, plot_kwargs={"accuracy": "val_loss"}, findings=findings)
