"""breast-cancer-learning-rate: three learning rates, and the path of one weight."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment


def rates(config) -> list[float]:
    """The lecture's three rates, 1, 0.1 and 0.01: ``lr`` and a tenth and a hundredth of it."""
    return [config["lr"], config["lr"] / 10, config["lr"] / 100]


def weight_panel(ax, result, name, look):
    """The third panel: how far and how fast W1[0, 0] moves at each rate."""
    ax.plot(result["series"][f"{name}.W1[0, 0]"], **look)
    ax.set_xlabel("epoch")
    ax.set_ylabel("W1[0, 0]")


experiment(
    "breast-cancer-learning-rate",
    "learning rate 1 vs 0.1 vs 0.01, and the path of one weight, 1000 epochs",
    "Gradient descent p ← p − lr·∇L at three learning rates, watching the first weight "
    "W1[0, 0] move. The lecture's finding: with a small rate the weight creeps, and after the "
    "same 1000 epochs the network is further from the minimum and its accuracy lower.",
    lambda c: {f"lr {lr:g}": ({}, "sgd", {"lr": lr}, {"watch": [("W1", (0, 0))]})
               for lr in rates(c)},
    lambda c: [f"lr {lr:g}" for lr in rates(c)], plot_kwargs={"extra_panel": weight_panel})
