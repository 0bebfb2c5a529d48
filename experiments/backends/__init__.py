"""The two backends every experiment runs on, behind one interface, and how they are judged.

An experiment never asks which backend it runs on: what differs between NumPy and PyTorch lives
behind :class:`Backend`, implemented once in :mod:`.numpy_backend` (npref) and once in
:mod:`.torch_backend` (torchref). :mod:`.parity` judges how far apart their results land.
"""

from __future__ import annotations

import sys

from experiments.backends import protocol
from experiments.backends.protocol import BACKENDS, Backend, BackendUnavailable, nudge

__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "check", "get", "nudge"]

# Whoever meets this has almost always run the system Python instead of the project's venv: point
# there first, and to a venv for a fresh install — never to pip in the system Python.
_NO_TORCH = ("the torch backend needs PyTorch, which {python} does not have: use the project's "
             "environment (`. .venv/bin/activate`, or `.venv/bin/python -m experiments ...`); "
             "`make report` creates .venv with everything in it, or without make: "
             "`python3 -m venv .venv && .venv/bin/pip install -e '.[experiments]'`. "
             "Or run with --backend numpy")


def check(name: str, device: str = "auto") -> None:
    """Refuse what :func:`get` would refuse — an unknown backend, PyTorch missing, a device
    this machine lacks — without building the backend: a process that only plans a run (its
    tasks computed by workers) need not import what training needs. ``auto`` and ``cpu`` need
    only PyTorch installed; ``cuda`` is asked of PyTorch."""
    if name == "numpy":
        return
    if name == "torch":
        if device in ("auto", "cpu") and "torch" not in sys.modules:
            if _installed("torch"):
                return
            raise BackendUnavailable(_NO_TORCH.format(python=sys.executable))
        _import_torch()
        from torchref.device import resolve
        try:
            resolve(device)
        except ValueError as error:
            raise BackendUnavailable(str(error)) from None
        return
    raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")


def _import_torch() -> None:
    """PyTorch imported, or the torch backend refused with where to get it."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise BackendUnavailable(_NO_TORCH.format(python=sys.executable)) from None


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def get(name: str, device: str = "auto", *, perturbation: int | None = None,
        only_parts=None, shadow=None) -> Backend:
    """A backend by name: ``"numpy"`` (npref, always the CPU) or ``"torch"`` (torchref).

    ``perturbation``, ``only_parts`` and ``shadow`` are the declared hooks of :class:`Backend`
    (the one-ulp nudge and the shadowed parity of :mod:`.parity` use them).
    """
    perturbation, only_parts, shadow = protocol.hooks(perturbation, only_parts, shadow)
    hooks = {"perturbation": perturbation, "only_parts": only_parts, "shadow": shadow}
    if name == "numpy":
        from experiments.backends.numpy_backend import NumpyBackend
        return NumpyBackend(**hooks)
    if name == "torch":
        _import_torch()
        from experiments.backends.torch_backend import TorchBackend
        try:
            return TorchBackend(device, **hooks)
        except ValueError as error:
            raise BackendUnavailable(str(error)) from None
    raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
