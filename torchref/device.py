"""Devices by name, checked in one place, and float32 matmuls in true float32.

:func:`resolve` turns ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a
``torch.device`` into a ``torch.device``, and refuses early — with a ``ValueError`` naming the
value — a CUDA device that is absent: no GPU, or an index beyond the GPUs present. Every
``device=`` in torchref (and the experiments' torch backend) goes through it.

:func:`full_float32` switches TF32 (and oneDNN's bf16) off for float32 matrix products around a
block of work and restores the process's settings after: parity on CUDA is measured in true
float32, whatever ``torch.set_float32_matmul_precision`` the user's process chose.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import torch

DEVICES = ("auto", "cpu", "cuda")

#: How to get a CUDA build of the pinned torch (the CPU wheel is what ``make`` installs).
INSTALL_CUDA = ("pip install --force-reinstall torch==2.13.0 --index-url "
                "https://download.pytorch.org/whl/cu128 (pick the cuXXX tag your NVIDIA driver "
                "supports: https://pytorch.org/get-started/locally/)")


def cuda_absent() -> str | None:
    """Why CUDA cannot be used here, in one line naming the torch build; ``None`` when it can."""
    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return (f"this torch {torch.__version__} is a CPU build (torch.version.cuda = None); "
                f"install a CUDA build: {INSTALL_CUDA}")
    return (f"this torch {torch.__version__} is a CUDA {torch.version.cuda} build, but it sees no "
            "GPU (check nvidia-smi, the driver, and CUDA_VISIBLE_DEVICES)")


def resolve(device: str | torch.device = "auto") -> torch.device:
    """The ``torch.device`` for a name; an absent CUDA device is an error, never a fallback."""
    if isinstance(device, torch.device):
        result = device
    elif isinstance(device, str) and re.fullmatch(r"cuda:\d+", device):
        result = torch.device(device)
    else:
        if not isinstance(device, str) or device not in DEVICES:
            raise ValueError("device must be one of 'auto', 'cpu', 'cuda', 'cuda:N' or a "
                             f"torch.device, got {device!r}")
        name = device
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        result = torch.device(name)
    if result.type == "cuda":
        why = cuda_absent()
        if why is not None:
            raise ValueError(f"device={device!r} was asked for, but {why} — or use "
                             "device='cpu' or 'auto'")
        count = torch.cuda.device_count()
        if result.index is not None and result.index >= count:
            raise ValueError(f"device={device!r} was asked for, but PyTorch sees {count} CUDA "
                             f"device{'s' if count != 1 else ''} (cuda:0 … cuda:{count - 1})")
    return result


def describe(device: torch.device) -> str:
    """The device as metrics.json and the report state it: CUDA says its float32 matmul mode."""
    device = resolve(device)
    if device.type != "cuda":
        return str(device)
    index = device.index if device.index is not None else torch.cuda.current_device()
    return (f"cuda:{index} ({torch.cuda.get_device_name(index)}; float32 matmul in full float32, "
            "TF32 off)")


# The settings full_float32 touches: PyTorch's newer per-backend ``fp32_precision`` switches
# (read back exactly, whichever API the user set them with) and the legacy global ones.
def _precision_switches() -> dict:
    found = {}
    for name in ("cuda.matmul", "mkldnn.matmul", "cudnn.conv", "cudnn.rnn"):
        switch = torch.backends
        for part in name.split("."):
            switch = getattr(switch, part, None)
        if switch is not None and hasattr(switch, "fp32_precision"):
            found[name] = switch
    return found


def _readable(get):
    try:
        return get()
    except RuntimeError:      # PyTorch refuses to read the legacy value after mixed API use
        return None


@contextmanager
def full_float32():
    """Float32 matrix products in true float32 inside the block: TF32 off on CUDA (cuBLAS and
    cuDNN), bf16 off in oneDNN — ``torch.set_float32_matmul_precision("highest")`` and
    ``torch.backends.cudnn.allow_tf32 = False``. The process's own settings come back after."""
    switches = list(_precision_switches().values())
    saved = [s.fp32_precision for s in switches]
    legacy = _readable(torch.get_float32_matmul_precision)
    cudnn = _readable(lambda: torch.backends.cudnn.allow_tf32)
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        if legacy is not None:
            torch.set_float32_matmul_precision(legacy)
        if cudnn is not None:
            torch.backends.cudnn.allow_tf32 = cudnn
        for switch, value in zip(switches, saved):
            if switch.fp32_precision != value:
                switch.fp32_precision = value


def float32_matmul_state() -> dict:
    """The per-backend float32 precision switches, for tests and for the bench's record."""
    return {name: s.fp32_precision for name, s in _precision_switches().items()}
