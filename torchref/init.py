r"""Weight initialization through ``torch.nn.init``, with npref's names and the book's layout.

Every function takes a ``shape`` in npref's layout — ``(fan_in, fan_out)`` for a 2-D weight, the
convolution layout ``(out, in, *kernel)`` otherwise — and returns a new tensor of that shape. For
2-D shapes the draw is made by ``torch.nn.init`` on a ``(fan_out, fan_in)`` tensor, the layout of
``nn.Linear.weight`` whose fans PyTorch computes, and returned transposed.

``rng`` is npref's: a ``numpy.random.Generator``, whose next 63 bits seed the ``torch.Generator``
``torch.nn.init`` draws from (so one seeded NumPy Generator drives both backends); a
``torch.Generator`` is also accepted as it is. ``None`` draws from a fresh generator seeded by the
operating system. PyTorch's global default generator is never used: what else ran in the process
cannot change a result.

``device`` (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``, checked by
:func:`torchref.device.resolve`) is where the result lives, not where it is drawn: the draw is
made on the generator's own device — the CPU, unless a CUDA ``torch.Generator`` is handed in —
and the tensor moved. So a CPU generator serves a CUDA tensor, and the same seed gives the same
initial weights on every device (CPU and CUDA generators are different algorithms).

:func:`init_linear_` fills an ``nn.Linear``'s weight in place (it is already in PyTorch's layout).
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from npref import _validate
from npref.init import NAMES, fans, std_of  # noqa: F401  (fans/std_of: the one definition)
from torchref.device import resolve

__all__ = ["normal", "lecun_normal", "glorot_normal", "glorot_uniform", "he_normal",
           "he_uniform", "constant", "get", "init_linear_", "NAMES"]

_BOOK = {"relu": "he_normal", "he": "he_normal", "sigmoid": "lecun_normal",
         "xavier": "lecun_normal"}


def _torch_layout(shape):
    shape = tuple(int(s) for s in ((shape,) if isinstance(shape, numbers.Integral) else shape))
    fans(shape)                                       # validates, as npref does
    return (shape[1], shape[0]) if len(shape) == 2 else shape


def _generator(rng) -> torch.Generator:
    if isinstance(rng, torch.Generator):
        return rng
    generator = torch.Generator()                     # on the CPU: see the module's docstring
    if rng is None:
        generator.seed()
    else:
        generator.manual_seed(int(_validate.generator(rng).integers(2**63 - 1)))
    return generator


def _draw(shape, fill_, rng, dtype, device):
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    device = resolve(device)
    generator = _generator(rng)
    t = torch.empty(_torch_layout(shape), dtype=dtype, device=generator.device)
    fill_(t, generator)
    return (t.T.contiguous() if t.dim() == 2 else t).to(device)


def normal(shape, std, rng=None, *, dtype=torch.float64, device="cpu"):
    """N(0, std²) by ``nn.init.normal_``."""
    std = _validate.positive("std", std)
    return _draw(shape, lambda t, g: nn.init.normal_(t, 0.0, std, generator=g), rng, dtype,
                 device)


def lecun_normal(shape, rng=None, *, dtype=torch.float64, device="cpu"):
    """N(0, 1/fan_in), the book's "Xavier": ``kaiming_normal_(nonlinearity='linear')``."""
    return _draw(shape, lambda t, g: nn.init.kaiming_normal_(t, nonlinearity="linear",
                                                             generator=g), rng, dtype, device)


def glorot_normal(shape, rng=None, *, dtype=torch.float64, device="cpu"):
    """N(0, 2/(fan_in + fan_out)): ``xavier_normal_``."""
    return _draw(shape, lambda t, g: nn.init.xavier_normal_(t, generator=g), rng, dtype, device)


def glorot_uniform(shape, rng=None, *, dtype=torch.float64, device="cpu"):
    """U(±√(6/(fan_in + fan_out))): ``xavier_uniform_``."""
    return _draw(shape, lambda t, g: nn.init.xavier_uniform_(t, generator=g), rng, dtype,
                 device)


def he_normal(shape, rng=None, *, dtype=torch.float64, device="cpu"):
    """N(0, 2/fan_in), the book's "He": ``kaiming_normal_(nonlinearity='relu')``."""
    return _draw(shape, lambda t, g: nn.init.kaiming_normal_(t, nonlinearity="relu",
                                                             generator=g), rng, dtype, device)


def he_uniform(shape, rng=None, *, dtype=torch.float64, device="cpu"):
    """U(±√(6/fan_in)): ``kaiming_uniform_(nonlinearity='relu')``."""
    return _draw(shape, lambda t, g: nn.init.kaiming_uniform_(t, nonlinearity="relu",
                                                              generator=g), rng, dtype, device)


def constant(shape, value, *, dtype=torch.float64, device="cpu"):
    """Every element ``value``, by ``nn.init.constant_``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"value must be a finite number, got {value!r}")
    return _draw(shape, lambda t, g: nn.init.constant_(t, value), None, dtype, device)


def get(spec):
    """``(shape, rng=None, *, dtype, device) -> tensor`` for a spec, as :func:`npref.init.get`."""
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        std = _validate.positive("std", spec)
        return lambda shape, rng=None, **kw: normal(shape, std, rng, **kw)
    if isinstance(spec, str):
        name = _BOOK.get(spec.lower(), spec.lower())
        if name in ("zeros", "ones"):
            value = 0.0 if name == "zeros" else 1.0
            return lambda shape, rng=None, **kw: constant(shape, value, **kw)
        if name in NAMES:
            return globals()[name]
    accepted = ", ".join(repr(n) for n in (*_BOOK, *NAMES))
    raise ValueError(f"weight_init must be a positive std or one of {accepted}, got {spec!r}")


@torch.no_grad()
def init_linear_(linear: nn.Linear, spec, rng=None) -> nn.Linear:
    """Fill ``linear.weight`` in place by ``spec`` and zero its bias (the book's start)."""
    fill = get(spec)
    weight = fill((linear.in_features, linear.out_features), rng,
                  dtype=linear.weight.dtype, device=linear.weight.device)
    linear.weight.copy_(weight.T)
    if linear.bias is not None:
        linear.bias.zero_()
    return linear
