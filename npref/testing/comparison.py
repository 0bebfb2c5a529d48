"""Comparing two results and saying where they differ.

The one measure of agreement used everywhere in the project (the parity suite, the experiments'
``metrics.json``, the report): for each element, the relative difference

    |actual − expected| / max(|expected|, floor)

where ``floor`` is the absolute floor below which a difference counts absolutely (by default 1, so
that a tolerance of 1e-12 means "1e-12 relative, or 1e-12 absolute for values smaller than 1").

``floor="history"`` is for trajectories stacked along axis 0 (step by step): each element's floor
is the largest magnitude that element reached over the steps. A parameter that travelled from
1e3 back to 1e-9 carries the rounding of the 1e3-sized terms that produced it; judging that
rounding against 1e-9 would measure the cancellation, not the implementation. An element that is
exactly zero throughout must be exactly zero on both sides.

``floor`` may also be an array of the expected result's shape: each element's own floor, for a
caller that knows the size of the terms that produced it (a running error bound); or a dict of
floors with the expected result's keys.

``floor="norm"`` judges every element of an array against the array's largest magnitude (the
normwise relative error ‖a − b‖∞ / ‖b‖∞ of numerical linear algebra); an all-zero array must be
matched exactly.

Results may be arrays, Python numbers, tensors (any device, with or without grad), or dicts /
lists / tuples of them, nested.

``tol=None`` is the dtype's tolerance (docs/parity.md: 1e-12 for float64, 1e-5 for float32); for
a nested result, the loosest of its floating-point parts (a Python float counts as float64).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: Relative tolerances of docs/parity.md, by dtype name.
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def tolerance_for(dtype) -> float:
    """The parity tolerance for a dtype (NumPy or PyTorch dtype, or its name)."""
    name = str(dtype).replace("torch.", "")
    if name not in TOLERANCE:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            pass
    if name not in TOLERANCE:
        raise ValueError(f"dtype must be one of {', '.join(TOLERANCE)}, got {dtype!r}")
    return TOLERANCE[name]


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`; truthy when it passed."""

    max_abs_diff: float
    max_rel_diff: float
    tolerance: float
    passed: bool
    where: str          # the worst element, described; or the structural mismatch
    count: int          # how many numbers were compared

    def __bool__(self) -> bool:
        return self.passed

    def as_dict(self) -> dict:
        """The fields ``metrics.json`` records under ``parity``."""
        return {"max_abs_diff": self.max_abs_diff, "max_rel_diff": self.max_rel_diff,
                "tolerance": self.tolerance, "passed": self.passed}


def compare(actual, expected, *, tol: float | None = None, floor: float | str = 1.0,
            check_dtype: bool = True,
            names: tuple[str, str] = ("actual", "expected")) -> Comparison:
    """Compare two (nested) results element by element; see the module docstring.

    A difference in structure (keys, lengths, shapes, dtypes when ``check_dtype``) fails with an
    infinite difference and says where. ``names`` label the two sides in the description.
    ``tol=None``: the tolerance of the results' dtype (:func:`default_tolerance`).
    """
    if tol is None:
        tol = default_tolerance(actual, expected)
    floor_ok = (isinstance(floor, (np.ndarray, Mapping)) or floor in ("history", "norm")
                or (_is_number(floor) and floor > 0))
    if not tol > 0 or not floor_ok:
        raise ValueError(f"tol must be > 0 and floor a number > 0, an array, 'history' or "
                         f"'norm'; got tol={tol!r}, floor={floor!r}")
    worst = {"rel": 0.0, "abs": 0.0, "where": "identical", "count": 0}
    problem = _walk(actual, expected, "", worst, floor, check_dtype, names)
    if problem is not None:
        return Comparison(math.inf, math.inf, tol, False, problem, worst["count"])
    passed = worst["rel"] <= tol
    return Comparison(worst["abs"], worst["rel"], tol, passed, worst["where"], worst["count"])


def assert_close(actual, expected, *, tol: float | None = None, floor: float | str = 1.0,
                 check_dtype: bool = True,
                 names: tuple[str, str] = ("actual", "expected"), what: str = "") -> Comparison:
    """:func:`compare`, raising ``AssertionError`` with the description when it fails."""
    if tol is None:
        tol = default_tolerance(actual, expected)
    result = compare(actual, expected, tol=tol, floor=floor, check_dtype=check_dtype, names=names)
    if not result.passed:
        label = f"{what}: " if what else ""
        raise AssertionError(f"{label}max relative difference {result.max_rel_diff:.3g} > "
                             f"tolerance {tol:.3g} (floor {_floor_name(floor)}) at {result.where}")
    return result


def default_tolerance(*results) -> float:
    """The tolerance ``tol=None`` stands for: the loosest :func:`tolerance_for` among the
    floating-point parts of ``results`` (Python floats count as float64; integers, booleans and
    empty containers add nothing; with no floating-point part at all, float64's).

    An array of another floating dtype (float16) raises ``ValueError``: pass ``tol=``.
    """
    found = [tolerance_for("float64")]
    for leaf in _leaves(results):
        dtype = getattr(leaf, "dtype", None)
        if dtype is None:
            continue
        kind = getattr(dtype, "is_floating_point", None)       # a tensor's dtype
        if kind is not None:
            if kind:
                found.append(tolerance_for(dtype))
        elif np.dtype(dtype).kind == "f":
            found.append(tolerance_for(dtype))
    return max(found)


def _leaves(x):
    if isinstance(x, Mapping):
        for value in x.values():
            yield from _leaves(value)
    elif isinstance(x, (list, tuple)):
        for value in x:
            yield from _leaves(value)
    else:
        yield x


def layer_floors(params: Mapping) -> dict:
    """A floor per network parameter: the largest magnitude in its layer (``W_i`` with ``b_i``,
    ``gamma_i`` with ``beta_i``). A bias that feeds a BatchNorm stays at zero up to rounding — its
    gradient is zero in exact arithmetic — so it can only be judged on its layer's scale."""
    def group(key):
        kind = "bn" if key.startswith(("gamma", "beta")) else "affine"
        return kind + key.lstrip("Wbgammabet")

    groups: dict[str, float] = {}
    for key, value in params.items():
        largest = float(np.max(np.abs(np.asarray(value, dtype=np.float64)), initial=0.0))
        groups[group(key)] = max(groups.get(group(key), 0.0), largest)
    return {key: max(groups[group(key)], 1e-300) for key in params}


def _walk(a, b, path, worst, floor, check_dtype, names):
    if isinstance(b, Mapping):
        if not isinstance(a, Mapping) or set(a) != set(b):
            return (f"{path or 'top level'}: keys differ: {names[0]} has {_keys(a)}, "
                    f"{names[1]} has {_keys(b)}")
        for key in b:
            sub = floor[key] if isinstance(floor, Mapping) else floor
            problem = _walk(a[key], b[key], f"{path}[{key!r}]", worst, sub, check_dtype, names)
            if problem:
                return problem
        return None
    if isinstance(b, (list, tuple)):
        if not isinstance(a, (list, tuple)) or len(a) != len(b):
            return (f"{path or 'top level'}: lengths differ: {names[0]} "
                    f"{len(a) if isinstance(a, (list, tuple)) else type(a).__name__}, "
                    f"{names[1]} {len(b)}")
        if all(_is_number(x) for x in b) and all(_is_number(x) for x in a):
            return _leaf(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                         path, worst, floor, False, names)
        for i, (x, y) in enumerate(zip(a, b)):
            problem = _walk(x, y, f"{path}[{i}]", worst, floor, check_dtype, names)
            if problem:
                return problem
        return None
    return _leaf(as_array(a), as_array(b), path, worst, floor, check_dtype, names)


def as_array(x) -> np.ndarray:
    """A NumPy array of ``x``: an array, a number, or a tensor on any device (read through its
    own ``.detach().cpu().numpy()``, so that this module never imports torch)."""
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _leaf(a, b, path, worst, floor, check_dtype, names):
    where = path or "top level"
    if a.shape != b.shape:
        return f"{where}: shapes differ: {names[0]} {a.shape}, {names[1]} {b.shape}"
    if check_dtype and a.dtype != b.dtype:
        return f"{where}: dtypes differ: {names[0]} {a.dtype}, {names[1]} {b.dtype}"
    worst["count"] += a.size
    if a.size == 0:
        return None
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        abs_diff = np.where(same, 0.0, np.abs(a64 - b64))
        abs_diff = np.where(np.isnan(abs_diff), np.inf, abs_diff)
        if isinstance(floor, np.ndarray):
            scale = floor.astype(np.float64)
        # fmax skips NaN: a run that ends in NaN on both sides (agreed) keeps the scale of the
        # values it had before, rather than making every other difference infinite.
        elif floor == "history":
            scale = np.fmax.reduce(np.abs(b64), axis=0, keepdims=True) if b64.ndim else np.abs(b64)
        elif floor == "norm":
            scale = np.fmax.reduce(np.abs(b64), axis=None)
        else:
            scale = floor
        rel = np.where(abs_diff == 0, 0.0, abs_diff / np.maximum(np.abs(b64), scale))
        rel = np.where(np.isnan(rel), np.inf, rel)
    i = int(np.argmax(rel))
    if rel.flat[i] > worst["rel"]:
        index = [int(j) for j in np.unravel_index(i, a.shape)] if a.ndim else []
        at = f"{path}{index}" if path else (f"index {index}" if index else "the value")
        worst["where"] = (f"{at}: {names[0]}={float(a64.flat[i])!r}, {names[1]}={float(b64.flat[i])!r} "
                          f"(abs diff {abs_diff.flat[i]:.3g})")
        worst["rel"] = float(rel.flat[i])
    worst["abs"] = max(worst["abs"], float(abs_diff.max()))
    return None


def _floor_name(floor) -> str:
    return "per element" if isinstance(floor, (np.ndarray, Mapping)) else str(floor)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool)


def _keys(x):
    return sorted(map(str, x)) if isinstance(x, Mapping) else type(x).__name__
