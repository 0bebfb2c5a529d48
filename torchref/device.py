"""Choosing a device by name: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``."""

from __future__ import annotations

import torch

from npref import _validate

DEVICES = ("auto", "cpu", "cuda")


def resolve(device: str | torch.device = "auto") -> torch.device:
    """The ``torch.device`` for a name; ``"cuda"`` without a GPU is an error, not a fallback."""
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str) and device.startswith("cuda:"):
        name = device
    else:
        name = _validate.choice("device", device, DEVICES)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but PyTorch sees no CUDA device "
                         "(use 'cpu' or 'auto')")
    return torch.device(name)
