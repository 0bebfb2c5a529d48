"""The batch order and dropout masks of a training run, drawn from one NumPy Generator: what
both backends consume, in the same order."""

from __future__ import annotations

import numpy as np

from .. import _validate

__all__ = ["minibatches", "sample_batch", "dropout_masks"]


def minibatches(n: int, batch_size: int, rng: np.random.Generator, shuffle: bool = True,
                drop_last: bool = False) -> list[np.ndarray]:
    """The index arrays of one epoch: a permutation of ``range(n)`` cut into batches.

    The last batch is shorter when ``batch_size`` does not divide ``n``, unless ``drop_last``.
    """
    n = _validate.positive_int("n", n)
    batch_size = _validate.positive_int("batch_size", batch_size)
    order = _validate.generator(rng).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]


def sample_batch(n: int, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """The book's minibatch: ``batch_size`` indices drawn from ``range(n)`` with replacement
    (``np.random.choice(train_size, batch_size)``)."""
    n = _validate.positive_int("n", n)
    batch_size = _validate.positive_int("batch_size", batch_size)
    return _validate.generator(rng).choice(n, batch_size)


def dropout_masks(rng: np.random.Generator, batch_size: int, sizes, p: float) -> list:
    """One boolean keep-mask per dropout layer, ``rng.random((batch_size, h)) >= p`` each — the
    rule of :class:`npref.layers.Dropout` — or ``[]`` without dropout."""
    if p <= 0:
        return []
    return [_validate.generator(rng).random((batch_size, h)) >= p for h in sizes]
