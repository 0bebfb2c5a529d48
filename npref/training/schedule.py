"""How a training run proceeds: the validated, frozen :class:`Schedule` every loop takes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType

from .. import _validate
from .early_stopping import EarlyStopping

__all__ = ["Schedule", "SAMPLINGS", "SCHEDULE_KEYWORDS", "resolve_schedule"]


SAMPLINGS = ("shuffle", "replacement")
#: When a learning-rate schedule steps; the schedules PyTorch documents as stepped every batch.
EVERY = ("epoch", "iteration")
PER_ITERATION = ("CyclicLR", "OneCycleLR")


@dataclass(frozen=True)
class Schedule:
    r"""How a training run proceeds — validated once, taken by every training loop.

    ``batch_size``
        samples per iteration (an int >= 1).
    ``iterations`` | ``epochs``
        the length of the run: exactly one of them, an int >= 1. An epoch is ⌈n/batch_size⌉
        iterations whatever the sampling.
    ``sampling``
        ``"shuffle"``: each epoch goes through a fresh permutation (:func:`minibatches`);
        ``"replacement"``: each batch is drawn with replacement (:func:`sample_batch`, the book's
        ``np.random.choice``).
    ``evaluate_every``
        evaluate after every this many epochs (and always after the last).
    ``early_stopping``
        ``None``, or the keywords of :class:`EarlyStopping` (``{"patience": 10}``; an
        ``EarlyStopping`` is read for its settings): stop once the validation loss has not
        improved for ``patience`` evaluations, and restore the best parameters. Needs
        ``evaluate_every == 1``.
    ``watch``
        ``(key, index)`` pairs of single weights to record after every iteration (as
        ``"W1[0, 0]"``).
    ``update_ratios``
        record ‖ΔW‖/‖W‖ of every weight matrix after every iteration (as ``"update/W1"``).
    ``max_loss``
        ``None``, or a finite number > 0: once a batch loss exceeds it (or is NaN) the run stops
        there and ``History.exploded_at`` names the iteration — the babysitting rule for a
        learning rate that explodes.
    ``lr_schedule``
        ``None``, or a learning-rate schedule's description ``(name, keywords)`` in
        :mod:`npref.schedulers`' (and ``torch.optim.lr_scheduler``'s) names —
        ``("StepLR", {"step_size": 5, "gamma": 0.5})``. Each backend's ``train`` builds it on its
        own optimizer, so one Schedule drives both alike; ``History.lr`` records the learning
        rate of every epoch. ``ReduceLROnPlateau`` steps on the epoch's ``val_loss`` (its
        ``epoch_loss`` when there is no validation data) and needs ``evaluate_every == 1``.
    ``lr_schedule_every``
        when the schedule steps: ``"epoch"`` (after each epoch's updates) or ``"iteration"``
        (after each update). ``None`` (default): PyTorch's documented use — after each update
        for ``CyclicLR`` and ``OneCycleLR``, after each epoch for the others.
    ``loss_after_update``
        ``False`` (default): ``History.loss`` records each batch's training-mode loss from the
        forward pass its update used. ``True``: the book's record — the same batch's loss after
        the update, in evaluation mode (one more forward pass per iteration).

    A ``Schedule`` is frozen: ``dataclasses.replace(schedule, epochs=5)`` makes a validated copy.
    """

    batch_size: int
    iterations: int | None = None
    epochs: int | None = None
    sampling: str = "shuffle"
    evaluate_every: int = 1
    early_stopping: Mapping | None = None
    watch: tuple = ()
    update_ratios: bool = False
    max_loss: float | None = None
    loss_after_update: bool = False
    lr_schedule: tuple | None = None
    lr_schedule_every: str | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "batch_size", _validate.positive_int("batch_size", self.batch_size))
        if (self.iterations is None) == (self.epochs is None):
            raise ValueError("give exactly one of iterations and epochs (an int >= 1), got "
                             f"iterations={self.iterations!r}, epochs={self.epochs!r}")
        if self.iterations is not None:
            set_(self, "iterations", _validate.positive_int("iterations", self.iterations))
        else:
            set_(self, "epochs", _validate.positive_int("epochs", self.epochs))
        _validate.choice("sampling", self.sampling, SAMPLINGS)
        set_(self, "evaluate_every",
             _validate.positive_int("evaluate_every", self.evaluate_every))
        set_(self, "early_stopping", _stopping_settings(self.early_stopping))
        if self.early_stopping is not None and self.evaluate_every != 1:
            raise ValueError("early_stopping needs an evaluation every epoch (evaluate_every=1), "
                             f"got evaluate_every={self.evaluate_every}")
        set_(self, "watch", _watch_pairs(self.watch))
        if not isinstance(self.update_ratios, bool):
            raise ValueError(f"update_ratios must be True or False, got {self.update_ratios!r}")
        if self.max_loss is not None:
            set_(self, "max_loss", _validate.positive("max_loss", self.max_loss))
        if not isinstance(self.loss_after_update, bool):
            raise ValueError(f"loss_after_update must be True or False, got "
                             f"{self.loss_after_update!r}")
        self._check_lr_schedule()

    def _check_lr_schedule(self) -> None:
        set_ = object.__setattr__
        if self.lr_schedule is None:
            if self.lr_schedule_every is not None:
                raise ValueError("lr_schedule_every needs an lr_schedule, got lr_schedule=None")
            return
        from .. import schedulers

        name, keywords = schedulers.check_spec(self.lr_schedule)
        set_(self, "lr_schedule", (name, MappingProxyType(keywords)))
        every = self.lr_schedule_every
        if every is None:
            every = "iteration" if name in PER_ITERATION else "epoch"
        set_(self, "lr_schedule_every", _validate.choice("lr_schedule_every", every, EVERY))
        if name == "ReduceLROnPlateau":
            if every != "epoch":
                raise ValueError("lr_schedule_every must be 'epoch' for ReduceLROnPlateau (it "
                                 "steps on the epoch's loss), got 'iteration'")
            if self.evaluate_every != 1:
                raise ValueError("lr_schedule ReduceLROnPlateau needs an evaluation every epoch "
                                 f"(evaluate_every=1), got evaluate_every={self.evaluate_every}")

    def iterations_per_epoch(self, n_train: int) -> int:
        """⌈n_train / batch_size⌉."""
        return math.ceil(_validate.positive_int("n_train", n_train) / self.batch_size)

    def total_iterations(self, n_train: int) -> int:
        """The run's length in iterations for ``n_train`` training samples."""
        if self.iterations is not None:
            return self.iterations
        return self.epochs * self.iterations_per_epoch(n_train)

    def early_stopper(self, kind: type | None = None) -> "EarlyStopping | None":
        """A fresh :class:`EarlyStopping` (or ``kind``, a subclass) with this schedule's
        settings, or None."""
        if self.early_stopping is None:
            return None
        return (kind or EarlyStopping)(**self.early_stopping)


def _stopping_settings(value):
    """EarlyStopping's keywords, checked by building one (a frozen mapping), or None."""
    if value is None:
        return None
    if isinstance(value, EarlyStopping):
        value = {"patience": value.patience, "min_delta": value.min_delta,
                 "restore_best": value.restore_best}
    if not isinstance(value, Mapping):
        raise ValueError("early_stopping must be None, an EarlyStopping or a dict of its keywords "
                         f"(patience, min_delta, restore_best), got {value!r}")
    unknown = set(value) - {"patience", "min_delta", "restore_best"}
    if unknown:
        raise ValueError(f"early_stopping: unknown keyword(s) {', '.join(sorted(unknown))}; "
                         "valid: patience, min_delta, restore_best")
    EarlyStopping(**value)
    return MappingProxyType(dict(value))


def _watch_pairs(value) -> tuple:
    """``watch`` as a tuple of ``(key, index tuple)`` pairs."""
    pairs = []
    for item in value:
        try:
            key, index = item
            index = tuple(int(i) for i in index)
        except (TypeError, ValueError):
            raise ValueError(f"watch must hold (key, index) pairs like ('W1', (0, 0)), got "
                             f"{item!r}") from None
        if not isinstance(key, str):
            raise ValueError(f"watch keys must be parameter names like 'W1', got {key!r}")
        pairs.append((key, index))
    return tuple(pairs)


#: The keywords of :class:`Schedule`: the older keyword form of ``fit``/``train`` accepts them.
SCHEDULE_KEYWORDS = tuple(f.name for f in fields(Schedule))


def resolve_schedule(schedule, keywords: dict, where: str):
    """``(schedule, stopper)`` from a Schedule or the older keyword form; ``stopper`` is the
    EarlyStopping instance the caller handed in (kept, so the caller can inspect it), if any."""
    unknown = set(keywords) - set(SCHEDULE_KEYWORDS)
    if unknown:
        raise TypeError(f"{where}() got unexpected keyword argument(s): "
                        f"{', '.join(sorted(unknown))}")
    if schedule is not None:
        if keywords:
            raise ValueError(f"{where}: give a Schedule or its keywords "
                             f"({', '.join(sorted(keywords))}), not both")
        if not isinstance(schedule, Schedule):
            raise ValueError(f"schedule must be an npref.training.Schedule, got "
                             f"{type(schedule).__name__}")
        return schedule, None
    stopper = keywords.get("early_stopping")
    schedule = Schedule(**keywords)
    return schedule, stopper if isinstance(stopper, EarlyStopping) else None
