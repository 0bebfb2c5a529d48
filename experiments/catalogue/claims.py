"""Small helpers the experiments' findings share: a curve's tail, and numbers in words."""

from __future__ import annotations

import numpy as np

from experiments.registry import finding

__all__ = ["finals", "finding", "listing", "num", "pct", "tail_mean"]


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
