"""breast-cancer-learning-rate: three learning rates, and the path of one weight."""

from __future__ import annotations

import numpy as np

from experiments import panels as R
from experiments.catalogue.breast_cancer import experiment, named
from experiments.findings.claims import finals, finding, listing, pct
from experiments.i18n import N_, _


def rates(config) -> list[float]:
    """The lecture's three rates, 1, 0.1 and 0.01: ``lr`` and a tenth and a hundredth of it."""
    return [config["lr"], config["lr"] / 10, config["lr"] / 100]


def shown(config) -> dict:
    """The variants' names as the pages and the figure show them."""
    return {f"lr {lr:g}": _("lr {lr:g}", lr=lr) for lr in rates(config)}


def weight_panel(ax, result, name, look):
    """The third panel: how far and how fast W1[0, 0] moves at each rate."""
    ax.plot(result.series[f"{name}.W1[0, 0]"], **look)
    ax.set_xlabel(_("epoch"))
    ax.set_ylabel("W1[0, 0]")


def findings(result, config):
    s = result.series
    names = [f"lr {lr:g}" for lr in rates(config)]
    loss, acc = finals(result, "loss", names), finals(result, "test_acc", names)
    travel = {n: float(np.abs(np.diff(s[f"{n}.W1[0, 0]"])).sum()) for n in names}
    show = shown(config)
    return [
        finding(_("the smaller the rate, the further from the minimum after the same epochs"),
                _("final loss {losses}; test accuracy {accuracies}",
                  losses=listing(named(loss, show).items()),
                  accuracies=listing(named(acc, show).items(), pct)),
                {_("the final loss rises as the rate falls"):
                     loss[names[0]] < loss[names[1]] < loss[names[2]],
                 _("the smallest rate's test accuracy is at most the largest's"):
                     acc[names[0]] >= acc[names[2]]}),
        finding(_("with a small rate the weight creeps"),
                _("distance W1[0, 0] travels: {distances}",
                  distances=listing(named(travel, show).items())),
                {_("W1[0, 0] travels less at {smallest} than at {middle}",
                   smallest=show[names[2]], middle=show[names[1]]):
                     travel[names[2]] < travel[names[1]]}),
    ]


def rules(config):
    return [R.optimizer("sgd", {"lr": config["lr"]})]

EXPERIMENT = experiment(
    "breast-cancer-learning-rate",
    N_("three learning rates, and the path of one weight"),
    N_("Gradient descent p ← p − lr·∇L at three learning rates, watching the first weight "
       "W1[0, 0] move, for {epochs} epochs at each rate from the same start."),
    lambda c: {f"lr {lr:g}": ({}, "sgd", {"lr": lr}, {"watch": [("W1", (0, 0))]})
               for lr in rates(c)},
    lambda c: [f"lr {lr:g}" for lr in rates(c)], plot_kwargs={"extra_panel": weight_panel},
    findings=findings, rules=rules, shown=shown)
