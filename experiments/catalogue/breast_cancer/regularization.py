"""breast-cancer-regularization: no penalty vs L1 vs L2 vs elastic net."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd
from experiments.catalogue.claims import finals, finding, listing, pct

NAMES = ["none", "L1 0.01", "L2 0.01", "elastic"]


def findings(result, config):
    train = finals(result, "train_acc", NAMES)
    return [finding("a penalty costs a little training accuracy (it keeps the weights small)",
                    f"training accuracy {listing(train.items(), pct)}",
                    all(train["none"] - 0.05 <= train[n] <= train["none"] for n in NAMES))]

experiment(
    "breast-cancer-regularization",
    "no penalty vs L1 vs L2 vs elastic net",
    "Penalties on the weights (never the biases) added to the loss: L1 λ·Σ|W| (gradient "
    "λ·sign W, λ = {l1:g}), L2 ½·λ·ΣW² (gradient λ·W, λ = {l2:g}) and both, for {epochs} "
    "epochs. They keep the weights small at a small "
    "cost in training loss; the lecture compares their test accuracies.",
    lambda c: {name: ({"regularizer": reg}, *gd(c)) for name, reg in (
        ("none", None), ("L1 0.01", ("l1", {"lam": c["l1"]})),
        ("L2 0.01", ("l2", {"lam": c["l2"]})),
        ("elastic", ("elastic", {"l1": c["l1"], "l2": c["l2"]})))},
    lambda c: NAMES, defaults={"l1": 0.01, "l2": 0.01}, findings=findings)
