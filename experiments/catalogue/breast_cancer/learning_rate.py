"""breast-cancer-learning-rate: three learning rates, and the path of one weight."""

from __future__ import annotations

import numpy as np

from experiments.catalogue import rules as R
from experiments.catalogue.breast_cancer import experiment
from experiments.catalogue.claims import finals, finding, listing, pct


def rates(config) -> list[float]:
    """The lecture's three rates, 1, 0.1 and 0.01: ``lr`` and a tenth and a hundredth of it."""
    return [config["lr"], config["lr"] / 10, config["lr"] / 100]


def weight_panel(ax, result, name, look):
    """The third panel: how far and how fast W1[0, 0] moves at each rate."""
    ax.plot(result.series[f"{name}.W1[0, 0]"], **look)
    ax.set_xlabel("epoch")
    ax.set_ylabel("W1[0, 0]")


def findings(result, config):
    s = result.series
    names = [f"lr {lr:g}" for lr in rates(config)]
    loss, acc = finals(result, "loss", names), finals(result, "test_acc", names)
    travel = {n: float(np.abs(np.diff(s[f"{n}.W1[0, 0]"])).sum()) for n in names}
    return [
        finding("the smaller the rate, the further from the minimum after the same epochs",
                f"final loss {listing(loss.items())}; test accuracy "
                f"{listing(acc.items(), pct)}",
                {"the final loss rises as the rate falls":
                     loss[names[0]] < loss[names[1]] < loss[names[2]],
                 "the smallest rate's test accuracy is at most the largest's":
                     acc[names[0]] >= acc[names[2]]}),
        finding("with a small rate the weight creeps",
                f"distance W1[0, 0] travels: {listing(travel.items())}",
                {f"W1[0, 0] travels less at {names[2]} than at {names[1]}":
                     travel[names[2]] < travel[names[1]]}),
    ]


def rules(config):
    return [R.optimizer("sgd", {"lr": config["lr"]})]

experiment(
    "breast-cancer-learning-rate",
    "three learning rates, and the path of one weight",
    "Gradient descent p ← p − lr·∇L at three learning rates, watching the first weight "
    "W1[0, 0] move, for {epochs} epochs at each rate from the same start.",
    lambda c: {f"lr {lr:g}": ({}, "sgd", {"lr": lr}, {"watch": [("W1", (0, 0))]})
               for lr in rates(c)},
    lambda c: [f"lr {lr:g}" for lr in rates(c)], plot_kwargs={"extra_panel": weight_panel},
    findings=findings, rules=rules)
