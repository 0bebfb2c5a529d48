r"""Training: the minibatch loop, early stopping, and batch order drawn from a NumPy Generator.

Randomness is always an explicit ``numpy.random.Generator``: the batch indices and dropout masks
drawn here are what both backends consume (:mod:`torchref.training` runs the very same loop with
a PyTorch step), so a NumPy run and a PyTorch run see the same batches and masks in the same
order, and fill a :class:`History` the same way.

The package in parts, one purpose each: :mod:`.schedule` (how a run proceeds), :mod:`.loop` (the
minibatch loop and npref's ``train``), :mod:`.history` (what a run records), :mod:`.batches`
(batch order and dropout masks), :mod:`.data`, :mod:`.early_stopping` and :mod:`.trainer` (the
book's ``Trainer``). Everything public is importable from ``npref.training`` itself.
"""

from __future__ import annotations

from .batches import dropout_masks, minibatches, sample_batch
from .data import Data
from .early_stopping import EarlyStopping
from .history import History
from .loop import Progress, check_watch, fit, lr_scheduler, train, watch_name  # noqa: F401
from .schedule import SAMPLINGS, SCHEDULE_KEYWORDS, Schedule, resolve_schedule  # noqa: F401
from .trainer import BOOK_OPTIMIZERS, Trainer, book_optimizer_keywords  # noqa: F401

#: The older private name, kept for callers that used it.
_resolve_schedule = resolve_schedule

__all__ = ["Schedule", "EarlyStopping", "minibatches", "sample_batch", "dropout_masks", "Data",
           "History", "train", "fit", "Progress", "SAMPLINGS", "watch_name", "Trainer",
           "BOOK_OPTIMIZERS"]
