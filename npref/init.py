r"""Weight initialization: the book's std=0.01, "Xavier" and "He", and their modern names.

Every function takes a ``shape`` and a ``numpy.random.Generator`` and returns a new array. A 2-D
shape is the book's Affine layout, ``(fan_in, fan_out)``; shapes with more dimensions follow the
convolution layout ``(out_channels, in_channels, *kernel)`` that the book and PyTorch share, with
``fan_in = in_channels·kernel`` and ``fan_out = out_channels·kernel``. (PyTorch's ``nn.Linear``
stores ``(fan_out, fan_in)``: :mod:`torchref.init` handles the transpose.)

======================  ===========================================  ============================
name                    distribution                                 PyTorch
======================  ===========================================  ============================
``normal(std)``         N(0, std²) (the book's "std=0.01")           ``normal_(std=std)``
``lecun_normal``        N(0, 1/fan_in) (the book's "Xavier")         ``kaiming_normal_(
                                                                     nonlinearity='linear')``
``glorot_normal``       N(0, 2/(fan_in+fan_out))                     ``xavier_normal_``
``glorot_uniform``      U(±√(6/(fan_in+fan_out)))                    ``xavier_uniform_``
``he_normal``           N(0, 2/fan_in) (the book's "He")             ``kaiming_normal_(relu)``
``he_uniform``          U(±√(6/fan_in))                              ``kaiming_uniform_(relu)``
``constant(value)``     every element = value (shows the symmetry    ``constant_``
                        problem: all units learn the same thing)
======================  ===========================================  ============================
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _validate

__all__ = ["normal", "lecun_normal", "glorot_normal", "glorot_uniform", "he_normal",
           "he_uniform", "constant", "fans", "std_of", "get", "NAMES"]


def fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape (see the module docstring for the layouts)."""
    shape = _shape(shape)
    if len(shape) < 2:
        raise ValueError(f"shape must have at least 2 dimensions to have fans, got {shape}")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def std_of(name: str, shape) -> float:
    """The standard deviation (normal) or bound (uniform) that ``name`` uses for ``shape``.

    Evaluated as ``torch.nn.init`` evaluates it — a gain over √fan, a uniform bound as √3 times
    a std — so that npref and PyTorch agree to the last bit, not just in exact arithmetic.
    """
    fan_in, fan_out = fans(shape)
    glorot_std = math.sqrt(2.0 / float(fan_in + fan_out))
    he_std = math.sqrt(2.0) / math.sqrt(fan_in)
    stds = {"lecun_normal": 1.0 / math.sqrt(fan_in),            # √(1/fan_in)
            "glorot_normal": glorot_std,                        # √(2/(fan_in + fan_out))
            "glorot_uniform": math.sqrt(3.0) * glorot_std,      # √(6/(fan_in + fan_out))
            "he_normal": he_std,                                # √(2/fan_in)
            "he_uniform": math.sqrt(3.0) * he_std}              # √(6/fan_in)
    if name not in stds:
        raise ValueError(f"name must be one of {', '.join(map(repr, stds))}, got {name!r}")
    return stds[name]


def normal(shape, std: float, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """N(0, std²): the book's ``weight_init_std * np.random.randn(...)``."""
    std = _validate.positive("std", std)
    dtype = _validate.float_dtype("dtype", dtype)            # refused before the draw
    draw = _validate.generator(rng).standard_normal(_shape(shape))
    return (std * draw).astype(dtype, copy=False)


def lecun_normal(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """N(0, 1/fan_in): what the book calls "Xavier" (``weight_init_std='sigmoid'``)."""
    return normal(shape, std_of("lecun_normal", shape), rng, dtype)


def glorot_normal(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """N(0, 2/(fan_in + fan_out)): Glorot & Bengio (2010), PyTorch's ``xavier_normal_``."""
    return normal(shape, std_of("glorot_normal", shape), rng, dtype)


def glorot_uniform(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """U(−a, a), a = √(6/(fan_in + fan_out)): PyTorch's ``xavier_uniform_``."""
    return _uniform(shape, std_of("glorot_uniform", shape), rng, dtype)


def he_normal(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """N(0, 2/fan_in): He et al. (2015), the book's "He" (``weight_init_std='relu'``)."""
    return normal(shape, std_of("he_normal", shape), rng, dtype)


def he_uniform(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """U(−a, a), a = √(6/fan_in): PyTorch's ``kaiming_uniform_(nonlinearity='relu')``."""
    return _uniform(shape, std_of("he_uniform", shape), rng, dtype)


def constant(shape, value: float, dtype=np.float64) -> np.ndarray:
    """Every element ``value``: ``zeros``/``ones`` show why weights must not start equal."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"value must be a finite number, got {value!r}")
    return np.full(_shape(shape), value, dtype=_validate.float_dtype("dtype", dtype))


#: Names :func:`get` accepts besides a float std and the book's spellings.
NAMES = ("lecun_normal", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "zeros",
         "ones")
_BOOK = {"relu": "he_normal", "he": "he_normal", "sigmoid": "lecun_normal",
         "xavier": "lecun_normal"}


def get(spec):
    """A function ``(shape, rng, dtype=np.float64) -> array`` for an initialization spec.

    ``spec`` is the book's ``weight_init_std``: a number (the std of a normal draw), ``'relu'`` or
    ``'he'`` (He), ``'sigmoid'`` or ``'xavier'`` (the book's Xavier, i.e. LeCun normal) — or one of
    :data:`NAMES`.
    """
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        std = _validate.positive("std", spec)
        return lambda shape, rng, dtype=np.float64: normal(shape, std, rng, dtype)
    if isinstance(spec, str):
        name = _BOOK.get(spec.lower(), spec.lower())
        if name in ("zeros", "ones"):
            value = 0.0 if name == "zeros" else 1.0
            return lambda shape, rng=None, dtype=np.float64: constant(shape, value, dtype)
        if name in NAMES:
            return globals()[name]
    accepted = ", ".join(repr(n) for n in (*_BOOK, *NAMES))
    raise ValueError(f"weight_init must be a positive std or one of {accepted}, got {spec!r}")


def _shape(shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not shape or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1
                        for s in shape):
        raise ValueError(f"shape must be a tuple of positive ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def _uniform(shape, bound, rng, dtype):
    dtype = _validate.float_dtype("dtype", dtype)            # refused before the draw
    draw = _validate.generator(rng).uniform(-bound, bound, _shape(shape))
    return draw.astype(dtype, copy=False)
