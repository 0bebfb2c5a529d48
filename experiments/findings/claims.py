"""Small helpers the experiments' findings share: a curve's tail, and numbers in words."""

from __future__ import annotations

import numpy as np

from experiments.findings import finding
from experiments.i18n import _

__all__ = ["HOLDS_POINTS", "accuracy_holds", "finals", "finding", "listing", "num", "pct",
           "tail_mean"]

#: "Without giving up test accuracy", on every page that claims it: the cured (or stopped)
#: net's test accuracy is within this many points of its baseline's, or better — the wording
#: module's "about the same" (:data:`experiments.findings.wording.POINT_WORDS`' first bound).
HOLDS_POINTS = 2.0


def finals(result: dict, metric: str, names) -> dict:
    """``{name: result.final["<name>.<metric>"]}`` for the variants ``names``."""
    return {n: result.final[f"{n}.{metric}"] for n in names}


def tail_mean(values, fraction: float = 1 / 3) -> float:
    """The mean of a curve's last ``fraction`` (at least one value): where it has settled."""
    x = np.asarray(values, dtype=np.float64)
    return float(x[-max(1, round(len(x) * fraction)):].mean())


def pct(value) -> str:
    """An accuracy in percent: ``0.9825`` → ``98.2%``."""
    return "—" if value is None else f"{100 * value:.1f}%"


def num(value) -> str:
    """A number for reading: three significant digits, no 17-digit floats."""
    if value is None:
        return "—"
    return f"{value:.3g}"


def listing(pairs, form=num) -> str:
    """``[("SGD", 0.41), ("Adam", 0.04)]`` → ``SGD 0.41, Adam 0.04``."""
    return ", ".join(f"{name} {form(value)}" for name, value in pairs)


def accuracy_holds(value: float | None, baseline: float | None, whose: str) -> tuple[str, bool]:
    """The one rule for "without giving up test accuracy": ``(condition text, holds)`` — the
    test accuracy ``value`` is within :data:`HOLDS_POINTS` points of ``baseline`` (``whose``:
    "the plain net's"), or better; the text states the rule and the measured difference."""
    if value is None or baseline is None:
        return (_("the test accuracy holds: within {points:g} points of {whose} or better "
                  "(not measured)", points=HOLDS_POINTS, whose=whose), False)
    change = 100 * (value - baseline)
    return (_("the test accuracy holds: within {points:g} points of {whose} or better "
              "(here {change:+.1f} points)", points=HOLDS_POINTS, whose=whose, change=change),
            change >= -HOLDS_POINTS - 1e-9)   # 0.72 − 0.74
