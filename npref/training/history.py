"""What a training run records, filled alike by both backends."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["History"]


@dataclass
class History:
    """What a training run of :func:`fit` records, filled alike by both backends.

    ``loss`` has one entry per iteration. By default it is the minibatch loss of the forward pass
    that the iteration's update used: computed *before* the update, in training mode (dropout
    masks applied, BatchNorm on batch statistics). With ``Schedule(loss_after_update=True)`` it
    is the book's ``train_loss_list`` entry instead: the same minibatch's loss *after* the
    update, in evaluation mode. ``epoch_loss`` has one entry per epoch (an epoch is
    ⌈n/batch_size⌉ iterations): the mean of its ``loss`` entries, weighted by batch size (the
    lecture's epoch loss).

    The per-evaluation lists have one entry per evaluation, made at the end of an epoch (every
    ``evaluate_every`` epochs, and after the last): ``epoch_iterations`` (iterations done so far),
    ``train_acc``, ``test_acc``, ``val_loss``, ``val_acc`` (the last ones when there is such
    data), all in evaluation mode. ``observed`` holds what an ``observe`` callback reported after
    each iteration (a watched weight, update/weight ratios); ``exploded_at`` the iteration at
    which the loss passed ``max_loss``, when it did. ``lr`` has one entry per epoch when the
    Schedule has an ``lr_schedule``: the learning rate the epoch's first update used.

    This is not the book's ``Trainer`` bookkeeping, which evaluates after updates 1, 1 + k, …
    (k = n/batch_size as a float) and runs int(epochs·k) iterations: that is :class:`Trainer`.
    """

    loss: list = field(default_factory=list)
    epoch_loss: list = field(default_factory=list)
    epoch_iterations: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    observed: dict = field(default_factory=dict)
    stopped_epoch: int | None = None
    best_epoch: int | None = None
    exploded_at: int | None = None
    seconds: float = 0.0

    def series(self) -> dict:
        """The non-empty per-iteration and per-epoch lists, by name (``observed`` ones too)."""
        names = ("loss", "epoch_loss", "train_acc", "test_acc", "val_loss", "val_acc", "lr")
        out = {n: [float(v) for v in getattr(self, n)] for n in names if getattr(self, n)}
        out.update({n: [float(v) for v in values] for n, values in self.observed.items()})
        return out
