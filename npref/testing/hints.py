"""What a parting's numbers say about its cause: the signatures of the conventions that differ
between the book and PyTorch (docs/conventions.md), tested against the arrays where two runs
part.

Each check looks at the first parted array — its two sides, the same arrays one step earlier,
and the rest of the step's record — and says its hint only when the numbers fit it:

* a weight equal to the *transpose* of the other side's (nn.Linear's (out, in) against the
  book's (in, out));
* a *constant ratio* 1/(1 − p) in a dropout layer's output (inverted against the book's dropout),
  N/(N − 1) or its square root (unbiased against biased variance), 9 in a running mean (a
  BatchNorm momentum of 0.1 given as 0.9);
* per feature, the ratio that a different *BatchNorm eps* gives a normalized output (PyTorch's
  1e-5 against the book's 1e-6);
* an update whose difference goes as 1/√v, with v Adam's second moment: *Adam's eps* on the
  other side of the bias correction;
* a difference proportional to the parameter itself: *weight decay* applied on one side only
  (to biases or BatchNorm's γ, β: PyTorch's weight_decay decays all it is handed).
"""

from __future__ import annotations

import numpy as np

__all__ = ["explain"]

#: Where the conventions page and docs/conventions.md discuss each difference.
PAGE = "the conventions page, "


def explain(name: str, a: np.ndarray, b: np.ndarray, *, current: dict, previous: dict,
            names=("a", "b")) -> tuple[str, ...]:
    """The hints the numbers of ``name`` fit (float64 arrays ``a``, ``b``), given ``current``
    and ``previous``: ``{name: (a, b)}`` of this step and of the one before."""
    out = []
    for check in (_transposed, _ratio, _batchnorm_eps, _adam_eps, _weight_decay):
        try:
            said = check(name, a, b, current=current, previous=previous, names=names)
        except (ValueError, FloatingPointError, ZeroDivisionError):
            said = None
        if said:
            out.append(said)
    return tuple(out)


def _close(x, y, rtol=1e-9) -> bool:
    return bool(np.all(np.abs(x - y) <= rtol * np.maximum(np.abs(x), np.abs(y)) + 1e-300))


def _constant(values, spread: float) -> float | None:
    """The common value of ``values`` if they all lie within ``spread`` (relative) of their
    median, else None."""
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    mid = float(np.median(values))
    if mid == 0 or not np.all(np.abs(values - mid) <= spread * abs(mid)):
        return None
    return mid


def _transposed(name, a, b, **_):
    if a.ndim == 2 and a.shape[0] == a.shape[1] and a.size > 1 and not _close(a, b) \
            and _close(a, b.T):
        return (f"{name} on one side is the transpose of the other's: a weight loaded as "
                "(out, in) where (in, out) is meant — nn.Linear keeps weight as (out, in), the "
                f"book's Affine keeps W as (in, out) ({PAGE}Initializers)")
    return None


def _ratio_of(a, b):
    both = (a != 0) & (b != 0) & np.isfinite(a) & np.isfinite(b)
    if not both.any() or np.any((a == 0) != (b == 0)):
        return None
    return _constant(a[both] / b[both], 1e-9)


def _ratio(name, a, b, names=("a", "b"), **_):
    if "running_var" in name:
        said = _running_var_momentum(name, a, b)
        if said:
            return said
        # After one step from 1: (1 − m) + m·s on each side; s's ratio N/(N − 1) shows in
        # (x − (1 − m)), for PyTorch's m = 0.1 or the book's 0.9.
        for m in (0.1, 0.9):
            r = _ratio_of(a - (1 - m), b - (1 - m))
            said = r is not None and abs(r - 1) > 1e-9 and _variance(name, max(r, 1 / r))
            if said:
                return said
        return None
    r = _ratio_of(a, b)
    if r is None or abs(r - 1) < 1e-9:
        return None
    na, nb = names
    big = max(r, 1 / r)
    larger = na if r > 1 else nb
    if "dropout" in name:
        p = 1 - 1 / big
        return (f"{name}: {larger}'s values are {big:.6g} = 1/(1 − {p:.3g}) times the "
                f"other's: inverted dropout (PyTorch's: kept units × 1/(1 − p) in training) "
                f"against the book's (kept units as they are, × (1 − p) at test) ({PAGE}"
                "Dropout)")
    if "running_mean" in name and abs(big - 9) < 1e-9:
        return (f"{name}: a ratio of 9 after the first step: a running-statistics momentum of "
                "0.1 given as 0.9 — PyTorch's momentum is the weight of the new batch "
                f"statistic (0.1), the book's the weight of the old running value (0.9) ({PAGE}"
                "BatchNorm)")
    said = _variance(name, big)
    if said:
        return said
    return (f"{name}: {larger}'s values are a constant {big:.9g} times the other's: a scale "
            "factor differs")


def _variance(name, big):
    """The hint for a ratio ``big`` (≥ 1) of N/(N − 1) or its square root, N an integer."""
    for label, n in (("N/(N − 1)", big / (big - 1)), ("√(N/(N − 1))", big ** 2 / (big ** 2 - 1))):
        if 1.5 < n < 1e5 and abs(n - round(n)) < 1e-6 * n:
            return (f"{name}: a constant ratio {big:.9g} = {label} with N = {round(n)}: "
                    "unbiased against biased variance (PyTorch's running_var takes the unbiased "
                    f"batch variance, normalization the biased one) ({PAGE}BatchNorm)")
    return None


def _running_var_momentum(name, a, b):
    """After the first step from running_var = 1: 1 + m·(σ² − 1) on each side, so
    (a − 1)/(b − 1) is the ratio of the two momenta."""
    with np.errstate(all="ignore"):
        k = _constant((a - 1) / (b - 1), 1e-9)
    if k is None or abs(max(k, 1 / k) - 9) > 1e-6:
        return None
    return (f"{name}: (a − 1)/(b − 1) = {k:.6g} after the first step: a running-statistics "
            "momentum of 0.1 given as 0.9 — PyTorch's momentum is the weight of the new batch "
            f"statistic (0.1), the book's the weight of the old running value (0.9) ({PAGE}"
            "BatchNorm)")


def _batchnorm_eps(name, a, b, names=("a", "b"), **_):
    """At γ = 1, β = 0 a BatchNorm output is x̂ = (x − μ)/√(σ² + eps); with b's column variance
    v = σ²/(σ² + eps_b) and the column ratio r = a/b, eps_a/eps_b = (1/r² − v)/(1 − v)."""
    if "batchnorm" not in name or not name.endswith(".out") or a.ndim != 2 or a.shape[0] < 2:
        return None
    with np.errstate(all="ignore"):
        r = np.array([_constant(a[:, j] / b[:, j], 1e-7) or np.nan for j in range(a.shape[1])])
    if np.isnan(r).any() or np.all(np.abs(r - 1) < 1e-12):
        return None
    v = b.var(axis=0)
    rho = _constant((1 / r ** 2 - v) / (1 - v), 1e-2)
    if rho is None or rho <= 0:
        return None
    return (f"{name}: per feature, the ratio a different BatchNorm eps gives: {names[0]}'s eps "
            f"is {rho:.3g}× {names[1]}'s (PyTorch's default 1e-5, the book's 1e-6, written "
            f"10e-7) ({PAGE}BatchNorm)")


def _state_of(name, current, *keys):
    for key in keys:
        if f"{name}.{key}" in current:
            return current[f"{name}.{key}"][1]
    return None


def _adam_eps(name, a, b, *, current, previous, **_):
    """Δ = lr·m̂/(√v̂ + ε) on both sides with ε placed (or sized) differently: with c = 1 − β2ᵗ,
    PyTorch's step is ∝ m/(√v + ε_a·√c) and the book's ∝ m/(√v + ε_b), so
    Δb/Δa − 1 = K/(√v + E) — K = ε_a·√c − ε_b, E = ε_b. Fitted as a line, 1/(Δb/Δa − 1) =
    √v/K + E/K, over every element: where √v ≫ ε it is the 1/√v of the bulk, and the few
    elements whose √v is near ε (a weight that hardly moves) follow the same curve instead of
    breaking a constant. The hint is given when nine in ten elements lie within 5 % of the line
    and E is a plausible eps (0 ≤ E, below the median √v)."""
    v = _state_of(name, current, "exp_avg_sq", "v")
    if v is None or name not in previous:
        return None
    pa, pb = previous[name]
    da, db = np.ravel(a - pa), np.ravel(b - pb)
    v = np.ravel(np.asarray(v, dtype=np.float64))
    if v.shape != da.shape:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = db / da - 1
        use = (np.abs(da) > 0) & (np.abs(db) > 0) & (v > 0) & np.isfinite(excess) & (excess != 0)
        if use.sum() < 3:
            return None
        root, y = np.sqrt(v[use]), 1 / excess[use]
        slope, intercept = np.polyfit(root, y, 1)
        if slope == 0 or not np.isfinite(slope) or not np.isfinite(intercept):
            return None
        fitted = slope * root + intercept
        near = np.abs(y - fitted) <= 5e-2 * np.abs(y)
    eps = intercept / slope
    if near.mean() < 0.9 or not (-1e-3 * np.median(root) <= eps < np.median(root)):
        return None
    return (f"{name}: the two updates differ by a term ∝ 1/(√v + {max(eps, 0.0):.1g}) (v: Adam's "
            "second moment) — Adam's eps placed differently: PyTorch adds eps to the "
            f"bias-corrected √v̂, the book to the raw √v inside the correction ({PAGE}Adam)")


def _weight_decay(name, a, b, *, previous, **_):
    """The difference, element by element, a fixed multiple of the parameter before the step."""
    parts = name.split(".")
    candidates = [".".join(parts[:k]) for k in range(len(parts), 0, -1)]
    param = next((c for c in candidates if c in previous and previous[c][1].shape == b.shape),
                 None)
    if param is None:
        return None
    p = previous[param][1]
    d = a - b
    use = (p != 0) & (d != 0)
    if use.sum() < 1 or np.any((d != 0) & (p == 0)):
        return None
    k = _constant(d[use] / p[use], 1e-6)
    if k is None:
        return None
    last = param.rsplit(".", 1)[-1]
    which = ("a bias" if last in ("b", "bias") else "BatchNorm's γ" if last == "gamma"
             else "BatchNorm's β" if last == "beta" else param)
    return (f"{name}: the difference is {k:.3g} × {param} itself: weight decay applied to "
            f"{which} on one side only — PyTorch's weight_decay decays every parameter an "
            "optimizer is handed, the book's L2 only the weights W (give biases and "
            "BatchNorm's γ, β a parameter group with weight_decay=0) (" + PAGE +
            "weight decay in an optimizer)")
