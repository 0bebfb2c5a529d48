"""breast-cancer-validation: training vs validation loss, and the test accuracy the lecture reads
after 500, 600, 700 and 1000 epochs."""

from __future__ import annotations

import numpy as np

from experiments.catalogue.breast_cancer import experiment, gd
from experiments.findings.claims import finding
from experiments.i18n import N_, _


def validation_finals(result, config):
    """The test accuracies the lecture reads, as finals, from the one run's series."""
    for epochs in (500, 600, 700, 1000):
        if epochs <= config["epochs"]:
            result.final[f"GD.test_acc@{epochs}"] = result.series["GD.test_acc"][epochs - 1]


def findings(result, config):
    s = result.series
    val, train = np.asarray(s["GD.val_loss"]), np.asarray(s["GD.epoch_loss"])
    best = int(val.argmin())
    return [finding(_("the validation loss turns up while the training loss keeps falling"),
                    _("validation loss lowest at epoch {best} ({lowest:.4f}), {last:.4f} at "
                      "epoch {epochs}; training loss {train_best:.4f} → {train_last:.4f}",
                      best=best + 1, lowest=val[best], last=val[-1], epochs=len(val),
                      train_best=train[best], train_last=train[-1]),
                    {_("the validation loss is lowest before the last epoch and higher at the "
                       "end"): best + 1 < len(val) and val[-1] > val[best],
                     _("the training loss falls on after that"): train[-1] < train[best]})]


EXPERIMENT = experiment(
    "breast-cancer-validation",
    N_("training vs validation loss, and test accuracy after 500/600/700/1000 epochs"),
    N_("The training part split again, for {epochs} epochs: a validation loss, measured on "
       "samples the network never trains on, beside the training loss. Where the first turns up "
       "while the second keeps falling, the network has started to fit its training samples' "
       "noise. The lecture reads the test accuracy after 500, 600, 700 and 1000 "
       "epochs (one run here: full-batch GD from a fixed start is deterministic)."),
    lambda c: {"GD": ({}, *gd(c))}, lambda c: ["GD"], validation=True,
    extra=validation_finals, plot_kwargs={"accuracy": "val_loss"}, findings=findings)
