"""Early stopping on a monitored value (a validation loss), keeping the best parameters."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _validate
from ..guard import NonFiniteError

__all__ = ["EarlyStopping"]


class EarlyStopping:
    r"""Stop when the monitored value (a validation loss) has stopped improving.

    ``step(value, params=None) -> bool`` is called once per epoch (epochs count from 0). An epoch
    *improves* when ``value < best − min_delta``: the wait counter resets, ``best`` and
    ``best_epoch`` are updated and, with ``restore_best``, a copy of ``params`` is kept in
    ``best_params``. Otherwise the counter grows by one, and once it reaches ``patience``
    ``step`` returns True and ``stopped_epoch`` records the epoch. :meth:`restore` copies the
    best parameters back into a dict of arrays, in place.

    A NaN or infinite value raises :class:`npref.guard.NonFiniteError` naming the epoch: a
    diverged run is an error, not a plateau.
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0, restore_best: bool = True):
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) \
                or patience < 1:
            raise ValueError(f"patience must be an int >= 1, got {patience!r}")
        self.patience = int(patience)
        self.min_delta = _validate.nonnegative("min_delta", min_delta)
        if not isinstance(restore_best, bool):
            raise ValueError(f"restore_best must be True or False, got {restore_best!r}")
        self.restore_best = restore_best
        self.best = math.inf
        self.best_epoch = None
        self.stopped_epoch = None
        self.best_params = None
        self.wait = 0
        self.epoch = -1

    def step(self, value: float, params=None) -> bool:
        """Record this epoch's value; True when training should stop."""
        self.epoch += 1
        value = float(value)
        if not math.isfinite(value):
            raise NonFiniteError(f"the monitored value became {value} at epoch {self.epoch}: "
                                 "stopping here")
        if self.stopped_epoch is not None:
            return True
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, self.epoch, 0
            if self.restore_best and params is not None:
                self.best_params = self._copy(params)
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = self.epoch
            return True
        return False

    def restore(self, params) -> None:
        """Copy ``best_params`` back into ``params`` (a dict of arrays), in place."""
        if self.best_params is None:
            raise ValueError("no best parameters kept: pass params to step() with "
                             "restore_best=True")
        for key, value in self.best_params.items():
            params[key][...] = value

    def _copy(self, params):
        return {key: np.array(value, copy=True) for key, value in params.items()}

    def __repr__(self):
        return (f"{type(self).__name__}(patience={self.patience}, min_delta={self.min_delta}, "
                f"restore_best={self.restore_best}; best={self.best} at epoch "
                f"{self.best_epoch}, stopped at {self.stopped_epoch})")
