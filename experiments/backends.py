"""The interface every experiment is written against, and how a backend is chosen by name.

An experiment never asks which backend it runs on: what differs between NumPy and PyTorch lives
behind the methods below, implemented once in :mod:`experiments.backend_numpy` (npref) and once in
:mod:`experiments.backend_torch` (torchref).

``descend(objective, start, optimizer, hyper, steps, dtype)``
    Minimize ``objective`` from ``start`` (a dict of floats) with an optimizer named as in
    :func:`npref.optim.make`; returns ``{name: array of steps + 1 values}``, the path.
    ``objective.value(**params)`` must work on arrays and tensors alike; the NumPy side uses the
    analytic ``objective.grad(**params)``, the PyTorch side autograd on ``value``.

``train(arch, init, optimizer, hyper, data, *, dtype, seed, batch_size, iterations=None,
epochs=None, sampling="shuffle", evaluate_every=1, early_stopping=None, watch=(),
update_ratios=False, max_loss=None, label="")``
    Build a ``MultiLayerNet(**arch)`` (``arch`` holds the constructor's keywords but ``rng``,
    ``dtype``), load the NumPy parameters ``init`` (drawn once by the experiment), train it with
    the optimizer named by ``optimizer`` (``hyper``: its keywords) on ``data`` (an
    :class:`npref.training.Data`), batches and dropout masks drawn from
    ``numpy.random.default_rng(seed)``; ``early_stopping``: ``EarlyStopping`` keywords or None;
    ``watch``, ``update_ratios``, ``max_loss``: as :func:`npref.training.train`.
    Returns ``(history, final parameters as NumPy arrays)``.

``activations(x, weights, activation, dtype)``
    The activations after each layer of ``a ← activation(a·W)`` (no biases), as NumPy arrays:
    the book's weight-initialization histograms.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

BACKENDS = ("numpy", "torch")


class Backend(Protocol):
    name: str
    device: str

    def descend(self, objective, start: dict, optimizer: str, hyper: dict, steps: int,
                dtype: str) -> dict[str, np.ndarray]: ...

    def train(self, arch: dict, init: dict, optimizer: str, hyper: dict, data, *, dtype: str,
              seed: int, batch_size: int, iterations=None, epochs=None, sampling="shuffle",
              evaluate_every=1, early_stopping=None, watch=(), update_ratios=False,
              max_loss=None, label=""): ...

    def activations(self, x, weights, activation: str, dtype: str) -> list[np.ndarray]: ...


class BackendUnavailable(RuntimeError):
    """The backend's library is not installed, or the device asked for is absent."""


def get(name: str, device: str = "auto") -> Backend:
    """A backend by name: ``"numpy"`` (npref, always the CPU) or ``"torch"`` (torchref)."""
    if name == "numpy":
        from experiments.backend_numpy import NumpyBackend
        return NumpyBackend()
    if name == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise BackendUnavailable(
                "the torch backend needs PyTorch: pip install -e '.[experiments]' "
                "(or run with --backend numpy)") from None
        from experiments.backend_torch import TorchBackend
        try:
            return TorchBackend(device)
        except ValueError as error:
            raise BackendUnavailable(str(error)) from None
    raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
