"""breast-cancer-init: all-ones vs N(0, 1) vs Glorot starting weights."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd

experiment(
    "breast-cancer-init",
    "initial weights: all ones vs N(0, 1) vs Glorot, full-batch GD lr 1, 1000 epochs",
    "Three starts for the same network and gradient descent: every weight 1 (all hidden units "
    "compute the same thing and stay identical — the symmetry problem), N(0, 1), and Glorot's "
    "N(0, 2/(fan_in + fan_out)). The lecture's finding: random starts learn better than the "
    "fixed one.",
    lambda c: {name: ({"weight_init": spec}, *gd(c)) for name, spec in
               (("ones", "ones"), ("normal(0, 1)", 1.0), ("Glorot", "glorot_normal"))},
    lambda c: ["ones", "normal(0, 1)", "Glorot"])
