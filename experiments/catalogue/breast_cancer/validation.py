"""breast-cancer-validation: training vs validation loss, and the test accuracy the lecture reads
after 500, 600, 700 and 1000 epochs."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd


def validation_finals(result, config):
    """The test accuracies the lecture reads, as finals, from the one run's series."""
    for epochs in (500, 600, 700, 1000):
        if epochs <= config["epochs"]:
            result["final"][f"GD.test_acc@{epochs}"] = result["series"]["GD.test_acc"][epochs - 1]


experiment(
    "breast-cancer-validation",
    "training vs validation loss, and test accuracy after 500/600/700/1000 epochs",
    "The training part split again (364 train / 91 validation). The validation loss follows "
    "the training loss down, then turns up while the training loss keeps falling: the network "
    "starts to fit noise. The lecture reads the test accuracy after 500, 600, 700 and 1000 "
    "epochs (one run here: full-batch GD from a fixed start is deterministic).",
    lambda c: {"GD": ({}, *gd(c))}, lambda c: ["GD"], validation=True,
    extra=validation_finals, plot_kwargs={"accuracy": "val_loss"})
