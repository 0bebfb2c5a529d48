"""breast-cancer-regularization: no penalty vs L1 vs L2 vs elastic net."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd

experiment(
    "breast-cancer-regularization",
    "no penalty vs L1 0.01 vs L2 0.01 vs elastic net (0.01, 0.01), 1000 epochs",
    "Penalties on the weights (never the biases) added to the loss: L1 λ·Σ|W| (gradient "
    "λ·sign W), L2 ½·λ·ΣW² (gradient λ·W) and both. They keep the weights small at a small "
    "cost in training loss; the lecture compares their test accuracies.",
    lambda c: {name: ({"regularizer": reg}, *gd(c)) for name, reg in (
        ("none", None), ("L1 0.01", ("l1", {"lam": c["l1"]})),
        ("L2 0.01", ("l2", {"lam": c["l2"]})),
        ("elastic", ("elastic", {"l1": c["l1"], "l2": c["l2"]})))},
    lambda c: ["none", "L1 0.01", "L2 0.01", "elastic"], defaults={"l1": 0.01, "l2": 0.01})
