"""The data of a training run: training, test and validation arrays, checked once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Data"]


@dataclass
class Data:
    """Training data and, optionally, test and validation data (NumPy arrays, labels as ints)."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray | None = None
    t_test: np.ndarray | None = None
    x_val: np.ndarray | None = None
    t_val: np.ndarray | None = None

    def cast(self, dtype) -> "Data":
        """The same data with the inputs in ``dtype`` (labels and targets are kept as they are)."""
        return Data(**{k: v.astype(dtype, copy=False) if k.startswith("x") and v is not None
                       else v for k, v in vars(self).items()})

    def __post_init__(self):
        for name, value in vars(self).items():        # Python lists: arrays, as NumPy reads them
            if isinstance(value, (list, tuple)):
                setattr(self, name, np.asarray(value))
            value = getattr(self, name)
            if name.startswith("x") and value is not None and \
                    np.asarray(value).dtype.kind not in "fiub":
                raise ValueError(f"{name} must hold real numbers, got dtype "
                                 f"{np.asarray(value).dtype}")
        for part in ("train", "test", "val"):
            x, t = getattr(self, f"x_{part}"), getattr(self, f"t_{part}")
            if (x is None) != (t is None) or (x is not None and len(x) != len(t)):
                raise ValueError(f"x_{part} and t_{part} must both be given, with one target per "
                                 f"sample")
            for name, array in ((f"x_{part}", x), (f"t_{part}", t)):
                _check_finite_data(name, array)


def _check_finite_data(name: str, array) -> None:
    """NaN or Inf in the data is bad data — said so here, before a training run would report it
    as a diverged loss (and suggest a smaller learning rate)."""
    if array is None:
        return
    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise ValueError(f"{name} holds NaN or Inf (first in sample {row}): bad data, not a "
                         "diverged run; clean or drop those samples")
