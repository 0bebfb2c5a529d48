"""breast-cancer-regularization: no penalty vs L1 vs L2 vs elastic net."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments import settings as S
from experiments import panels as R
from experiments.catalogue.breast_cancer import Lecture, experiment, gd, named
from experiments.findings.claims import finals, finding, listing, pct
from experiments.i18n import N_, _


def labels(c) -> list[str]:
    """The four variants, named from the configuration that ran."""
    return ["none", f"L1 {c['l1']:g}", f"L2 {c['l2']:g}", "elastic"]


def shown(c) -> dict:
    """The variants' names as the pages and the figure show them (L1 and L2 are names)."""
    return {"none": _("none"), "elastic": _("elastic")}


def weight_norms(result, names) -> dict:
    """‖W‖ over every weight matrix of each variant's final parameters (biases left out, as the
    penalties leave them)."""
    return {n: float(np.sqrt(sum(float((w * w).sum()) for k, w in result.arrays[n].items()
                                 if k.startswith("W"))))
            for n in names if n in (result.arrays or {})}


def findings(result, config):
    names = labels(config)
    train = finals(result, "train_acc", names)
    test = finals(result, "test_acc", names)
    norms = weight_norms(result, names)
    penalized = names[1:]
    show = shown(config)
    return [finding(_("a penalty keeps the weights small at the cost of a little training "
                      "accuracy"),
                    _("‖W‖ {norms}; training accuracy {train}; test accuracy {test}",
                      norms=listing(named(norms, show).items()),
                      train=listing(named(train, show).items(), pct),
                      test=listing(named(test, show).items(), pct)),
                    {_("every penalty ends with smaller weights than none"):
                         len(norms) == len(names)
                         and all(norms[n] < norms["none"] for n in penalized),
                     _("its training accuracy is at most that of none, and within 5 points"):
                         all(train["none"] - 0.05 <= train[n] <= train["none"] for n in penalized)})]


def rules(config):
    return [R.penalty("l1", formula_text="L1: L ← L + λ·Σ|W|;  ∇W ← ∇W + λ·sign W",
                      book=_("the lecture adds the penalty's gradient to the step directly, "
                             "without the learning rate")),
            R.penalty("l2", formula_text="L2: L ← L + ½·λ·ΣW²;  ∇W ← ∇W + λ·W"),
            R.penalty("elastic", formula_text=_("elastic net: L ← L + λ₁·Σ|W| + ½·λ₂·ΣW²"))]


@dataclass(frozen=True)
class Settings(Lecture):
    l1: float = S.setting(0.01, S.nonnegative, "λ of the L1 penalty")
    l2: float = S.setting(0.01, S.nonnegative, "λ of the L2 penalty")


EXPERIMENT = experiment(
    "breast-cancer-regularization",
    N_("no penalty vs L1 vs L2 vs elastic net"),
    N_("Penalties on the weights (never the biases) added to the loss: L1 λ·Σ|W| (gradient "
       "λ·sign W, λ = {l1:g}), L2 ½·λ·ΣW² (gradient λ·W, λ = {l2:g}) and both, for {epochs} "
       "epochs, each pulling the weights towards zero; the lecture compares their test "
       "accuracies."),
    lambda c: {name: ({"regularizer": reg}, *gd(c)) for name, reg in zip(labels(c), (
        None, ("l1", {"lam": c["l1"]}), ("l2", {"lam": c["l2"]}),
        ("elastic", {"l1": c["l1"], "l2": c["l2"]})))},
    labels, settings=Settings, findings=findings, rules=rules, shown=shown)
