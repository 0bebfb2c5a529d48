"""The interface every experiment is written against.

``descend(objective, start, optimizer, hyper, steps, dtype)``
    Minimize ``objective`` from ``start`` (a dict of floats) with an optimizer named as in
    :func:`npref.optim.make`; returns ``{name: array of steps + 1 values}``, the path.
    ``objective.value(**params)`` must work on arrays and tensors alike; the NumPy side uses the
    analytic ``objective.grad(**params)``, the PyTorch side autograd on ``value``.

``train(arch, init, optimizer, hyper, data, schedule, *, dtype, seed, label="")``
    Build a ``MultiLayerNet(**arch)`` (``arch`` holds the constructor's keywords but ``rng``,
    ``dtype``; its ``regularizer`` is a name and keywords, ``("l2", {"lam": 0.1})``, built with
    the backend's own ``regularizers.make``), load the NumPy parameters ``init`` (drawn once by
    the experiment), train it with the optimizer named by ``optimizer`` (``hyper``: its keywords)
    on ``data`` (an :class:`npref.training.Data`) as ``schedule`` (an
    :class:`npref.training.Schedule`) says, batches and dropout masks drawn from
    ``numpy.random.default_rng(seed)``. Returns ``(history, final parameters as NumPy arrays)``.

``activations(x, weights, activation, dtype)``
    The activations after each layer of ``a ← activation(a·W)`` (no biases), as NumPy arrays:
    the book's weight-initialization histograms.

Two declared hooks, given when the backend is built (:func:`experiments.backends.get`):

``perturbation``
    ``None``, or a seed: ``train`` then moves every starting weight by one ulp, up or down at
    random (:func:`nudge`) — how :mod:`experiments.backends.parity` measures a run's own
    sensitivity to rounding.
``only_parts``
    ``None``, or the names of the parts (variants) an experiment needs to run; the others are
    skipped (:func:`experiments.backends.variants.run_variants`).
``shadow``
    ``None``, or an :class:`experiments.backends.shadow.Shadow` shared by a NumPy and a PyTorch
    backend: ``train`` then hands NumPy's state over after every iteration (NumPy) or compares
    with it and loads it (PyTorch) — the shadowed parity of :mod:`experiments.backends.parity`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

BACKENDS = ("numpy", "torch")


class Backend(Protocol):
    name: str
    device: str
    perturbation: int | None
    only_parts: frozenset | None

    def descend(self, objective, start: dict, optimizer: str, hyper: dict, steps: int,
                dtype: str) -> dict[str, np.ndarray]: ...

    def train(self, arch: dict, init: dict, optimizer: str, hyper: dict, data, schedule, *,
              dtype: str, seed: int, label: str = ""): ...

    def activations(self, x, weights, activation: str, dtype: str) -> list[np.ndarray]: ...


class BackendUnavailable(RuntimeError):
    """The backend's library is not installed, or the device asked for is absent."""


def nudge(params: dict, seed: int | None) -> dict:
    """Every value moved one ulp, up or down at random (``seed=None``: unchanged)."""
    if seed is None:
        return params
    rng = np.random.default_rng(seed)
    # The direction in the parameter's own dtype: a float64 infinity would make nextafter step
    # in float64, and the cast back to float32 would round the step away.
    return {k: np.nextafter(v, np.where(rng.random(v.shape) < 0.5, -np.inf, np.inf).astype(v.dtype))
            for k, v in params.items()}


def hooks(perturbation, only_parts, shadow=None) -> tuple:
    """The hooks, checked: a seed or None; a set of part names or None; a Shadow or None."""
    if perturbation is not None and (isinstance(perturbation, bool)
                                     or not isinstance(perturbation, int)):
        raise ValueError(f"perturbation must be None or an int seed, got {perturbation!r}")
    if shadow is not None and not callable(getattr(shadow, "follow", None)):
        raise ValueError(f"shadow must be None or an experiments.backends.shadow.Shadow, got "
                         f"{type(shadow).__name__}")
    return perturbation, None if only_parts is None else frozenset(only_parts), shadow


def build_arch(arch: dict, regularizers) -> dict:
    """``arch`` with its regularizer, a ``(name, keywords)`` pair, built by ``regularizers.make``
    (the backend's own module)."""
    spec = arch.get("regularizer")
    if spec is None:
        return arch
    name, keywords = spec
    return {**arch, "regularizer": regularizers.make(name, **keywords)}
