"""breast-cancer-init: all-ones vs N(0, 1) vs Glorot starting weights."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd
from experiments.catalogue.claims import finals, finding, listing, pct

NAMES = ["ones", "normal(0, 1)", "Glorot"]


def findings(result, config):
    loss, acc = finals(result, "loss", NAMES), finals(result, "test_acc", NAMES)
    return [finding("random starts learn better than all-ones weights",
                    f"final training loss {listing(loss.items())}; test accuracy "
                    f"{listing(acc.items(), pct)}",
                    min(loss["normal(0, 1)"], loss["Glorot"]) < loss["ones"]
                    and min(acc["normal(0, 1)"], acc["Glorot"]) >= acc["ones"])]

experiment(
    "breast-cancer-init",
    "initial weights: all ones vs N(0, 1) vs Glorot, full-batch gradient descent",
    "Three starts for the same network and gradient descent (lr {lr:g}, {epochs} epochs): every weight 1 (all hidden units "
    "compute the same thing and stay identical — the symmetry problem), N(0, 1), and Glorot's "
    "N(0, 2/(fan_in + fan_out)). The lecture's finding: random starts learn better than the "
    "fixed one.",
    lambda c: {name: ({"weight_init": spec}, *gd(c)) for name, spec in
               (("ones", "ones"), ("normal(0, 1)", 1.0), ("Glorot", "glorot_normal"))},
    lambda c: NAMES, findings=findings)
