"""Stopping on NaN or Inf, with the step named (never a silent NaN curve in a report)."""

from __future__ import annotations

import numpy as np


class NonFiniteError(FloatingPointError):
    """A loss, gradient or parameter became NaN or Inf during training."""


def check_finite(what: str, step: int, value) -> None:
    """Raise :class:`NonFiniteError` unless ``value`` is all finite.

    ``value``: a number, an array, or a list / tuple / dict of them.
    """
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for v in value:
            check_finite(what, step, v)
        return
    if not np.all(np.isfinite(value)):
        bad = np.asarray(value).ravel()
        bad = bad[~np.isfinite(bad)][:3]
        raise NonFiniteError(f"{what} became non-finite at step {step} (e.g. {bad.tolist()}): "
                             "stopping here. A smaller learning rate usually helps.")
