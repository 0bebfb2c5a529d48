"""The one helper every parity test calls, and the record of the worst differences seen.

``check_parity(expected, actual, dtype=..., what=...)`` compares two results of the same case
(nested dicts/lists of NumPy arrays or tensors, on any device), raises ``AssertionError`` saying
where and by how much they differ when they disagree beyond the dtype's tolerance (SPEC section 5),
and records the worst relative difference under ``what`` for the end-of-session table.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
import torch

from npref.testing import assert_close, tolerance_for

#: what -> {"max_rel_diff", "max_abs_diff", "tolerance", "cases"}; printed by conftest.
RECORD: dict[str, dict] = {}
#: what -> {"min_p": the smallest p-value seen, "alpha": the rejection level, "tests": count}.
KS_RECORD: dict[str, dict] = {}
_lock = threading.Lock()


def to_numpy(x):
    """Tensors (any device, with or without grad) to NumPy arrays, through nested containers."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, Mapping):
        return {k: to_numpy(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_numpy(v) for v in x)
    return x


def check_parity(expected, actual, *, dtype, what: str, names=("expected", "actual"),
                 floor: float = 1.0, tol: float | None = None, check_dtype: bool = True):
    """Assert that ``actual`` equals ``expected`` within the tolerance for ``dtype``."""
    tol = tolerance_for(dtype) if tol is None else tol
    result = assert_close(to_numpy(actual), to_numpy(expected), tol=tol, floor=floor,
                          check_dtype=check_dtype, names=(names[1], names[0]), what=what)
    key = f"{what} [{_dtype_name(dtype)}]"
    with _lock:
        row = RECORD.setdefault(key, {"max_rel_diff": 0.0, "max_abs_diff": 0.0,
                                      "tolerance": tol, "cases": 0})
        row["max_rel_diff"] = max(row["max_rel_diff"], result.max_rel_diff)
        row["max_abs_diff"] = max(row["max_abs_diff"], result.max_abs_diff)
        row["cases"] += 1
    return result


def record_ks(what: str, p: float, alpha: float) -> None:
    """Keep the smallest Kolmogorov–Smirnov p-value seen under ``what``."""
    with _lock:
        row = KS_RECORD.setdefault(what, {"min_p": 1.0, "alpha": alpha, "tests": 0})
        row["min_p"] = min(row["min_p"], p)
        row["tests"] += 1


def _dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "") if isinstance(dtype, torch.dtype) else np.dtype(dtype).name


def torch_dtype(dtype) -> torch.dtype:
    return {np.dtype("float64"): torch.float64, np.dtype("float32"): torch.float32}[np.dtype(dtype)]
