"""Argument checks shared by npref and torchref.

Every public constructor validates its arguments up front, scikit-learn style: a ``ValueError``
that names the argument, shows the value, and states the accepted range. torchref imports these
same checks so that both backends refuse exactly the same inputs with the same words.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

CONVENTIONS = ("torch", "book")


def _real(name: str, value, accepted: str) -> float:
    # bool is an int subclass; True as a learning rate is a mistake, not 1.0.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {accepted}, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return value


def positive(name: str, value) -> float:
    """A finite real number > 0 (learning rates, eps, std)."""
    accepted = "a finite number > 0"
    value = _real(name, value, accepted)
    if value <= 0.0:
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return value


def nonnegative(name: str, value) -> float:
    """A finite real number >= 0 (weight decay, penalties, min_delta)."""
    accepted = "a finite number >= 0"
    value = _real(name, value, accepted)
    if value < 0.0:
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return value


def fraction(name: str, value) -> float:
    """A real number in [0, 1) (momentum, alpha, betas, dropout p)."""
    accepted = "a number in [0, 1)"
    value = _real(name, value, accepted)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return value


def unit_interval(name: str, value) -> float:
    """A real number in [0, 1] (BatchNorm's momentum)."""
    accepted = "a number in [0, 1]"
    value = _real(name, value, accepted)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return value


def positive_int(name: str, value) -> int:
    """An int >= 1 (sizes)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def layer_sizes(name: str, value) -> list:
    """Hidden layers' sizes: an int, or a list of ints >= 1 ([] for none)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be an int or a list of ints >= 1 (the hidden layers' "
                         f"sizes; [] for none), got {value!r}")
    return [positive_int(f"{name}[]", v) for v in value]


def flag(name: str, value) -> bool:
    """True or False — not a string such as ``"no"``, which Python would read as true."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def float_dtype(name: str, value) -> np.dtype:
    """float32 or float64: the dtypes every rule is tested in (float16 is not)."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise ValueError(f"{name} must be float32 or float64, got {value!r}") from None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{name} must be float32 or float64, got {dtype}")
    return dtype


def finite_array(name: str, x) -> None:
    """No NaN or Inf in a floating array."""
    x = np.asarray(x)
    if x.dtype.kind in "fc" and x.size and not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or Inf")


def betas(value) -> tuple[float, float]:
    """Adam's (beta1, beta2), each in [0, 1)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), each in [0, 1), got {value!r}")
    return fraction("betas[0]", value[0]), fraction("betas[1]", value[1])


def choice(name: str, value, choices) -> str:
    """One of a fixed set of names."""
    if value not in choices:
        accepted = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {accepted}, got {value!r}")
    return value


def convention(value) -> str:
    """'torch' (PyTorch's documented rule, the default) or 'book' (the textbook's)."""
    return choice("convention", value, CONVENTIONS)


def generator(rng, *, optional: bool = False) -> np.random.Generator:
    """A ``numpy.random.Generator`` — never NumPy's global state. With ``optional=True``,
    ``None`` gives a fresh Generator seeded by the operating system (pass one, seeded, for
    repeatable results). The ``np.random`` module and legacy ``RandomState`` are refused."""
    if rng is None and optional:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        accepted = "a numpy.random.Generator (np.random.default_rng(seed))"
        if optional:
            accepted += " or None"
        raise ValueError(f"rng must be {accepted}, got {type(rng).__name__}")
    return rng
