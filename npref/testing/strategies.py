"""Hypothesis strategies for parity tests: arrays with edge magnitudes, dtypes, hyperparameters.

The ranges are those of docs/parity.md, the ones the project's own parity suite draws from: shapes of
1–4 dimensions with sides 1–64; float64 and float32; learning rates log-uniform in 1e-5…1,
β in [0, 0.999], momentum in [0, 0.99], dropout p in [0, 0.9]; gradients of several steps,
zeros and magnitudes 1e-6…1e3 included.

Array contents are drawn from a NumPy ``Generator`` seeded by hypothesis, with hypothesis choosing
the structure — shape, dtype, magnitudes, where the zeros go — so that examples stay cheap while
still covering zeros, tiny (1e-6) and huge (1e3) values. A test of your own layer::

    from hypothesis import given
    from npref.testing import assert_close, strategies as S

    @given(x=S.arrays(shape=S.shapes(max_dims=2)), slope=S.log_uniform(1e-3, 1.0))
    def test_my_leaky_relu(x, slope):
        ...  # run yours and the reference on x; assert_close(yours, theirs)

Needs hypothesis (``pip install hypothesis``); NumPy otherwise, no torch.
"""

from __future__ import annotations

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as e:                                   # pragma: no cover - exercised by hand
    raise ImportError("npref.testing.strategies needs hypothesis: pip install hypothesis") from e

#: The dtypes the parity tolerances are defined for.
DTYPES = (np.float64, np.float32)

dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**32 - 1)


def log_uniform(lo: float, hi: float):
    """Floats spread evenly in log10 between ``lo`` and ``hi``."""
    return st.floats(np.log10(lo), np.log10(hi)).map(lambda e: float(10.0 ** e))


learning_rates = log_uniform(1e-5, 1.0)
momenta = st.floats(0.0, 0.99)
betas = st.tuples(st.floats(0.0, 0.999), st.floats(0.0, 0.999))
alphas = st.floats(0.0, 0.999)
epsilons = st.one_of(st.none(), log_uniform(1e-10, 1e-3))     # None: the convention's default
weight_decays = st.one_of(st.just(0.0), log_uniform(1e-6, 0.1))
dropout_ps = st.floats(0.0, 0.9)


@st.composite
def shapes(draw, max_dims: int = 4, max_side: int = 64, max_size: int = 4096):
    """1–4 dimensions, sides 1–64, at most ``max_size`` elements in all."""
    ndim = draw(st.integers(1, max_dims))
    shape, budget = [], max_size
    for _ in range(ndim):
        side = draw(st.integers(1, max(1, min(max_side, budget))))
        shape.append(side)
        budget //= side
    return tuple(shape)


GRADIENT_KINDS = ("mixed", "scaled", "zeros", "sparse")


def gradient(rng: np.random.Generator, shape, dtype, kind: str, exponent: float) -> np.ndarray:
    """One gradient of a given kind.

    ``mixed``: every element its own magnitude 10^U(-6, 3), random sign, 10% zeros;
    ``scaled``: normal values times 10^exponent (exponent in [-6, 3]);
    ``zeros``: all zero; ``sparse``: mostly zeros, a few elements of magnitude 10^exponent.
    """
    if kind == "zeros":
        return np.zeros(shape, dtype)
    if kind == "mixed":
        g = rng.choice([-1.0, 1.0], size=shape) * 10.0 ** rng.uniform(-6, 3, size=shape)
        g[rng.random(shape) < 0.1] = 0.0
    elif kind == "scaled":
        g = rng.standard_normal(shape) * 10.0 ** exponent
    elif kind == "sparse":
        g = np.where(rng.random(shape) < 0.1, rng.standard_normal(shape) * 10.0 ** exponent, 0.0)
    else:
        raise ValueError(f"kind must be one of {', '.join(GRADIENT_KINDS)}, got {kind!r}")
    return g.astype(dtype)


def _value(draw, x):
    return draw(x) if isinstance(x, st.SearchStrategy) else x


@st.composite
def arrays(draw, shape=shapes(), dtype=dtypes, kinds=GRADIENT_KINDS):
    """One array with edge magnitudes: a :func:`gradient` of a drawn kind (``mixed``: 1e-6…1e3
    element by element, ``scaled``, ``zeros``, ``sparse``). ``shape`` and ``dtype`` are values
    or strategies (by default :func:`shapes` and :data:`dtypes`)."""
    shape, dtype = _value(draw, shape), _value(draw, dtype)
    kind = draw(st.sampled_from(kinds))
    return gradient(np.random.default_rng(draw(seeds)), shape, dtype, kind,
                    draw(st.floats(-6, 3)))


@st.composite
def gradient_sequences(draw, shape, dtype, min_steps: int = 1, max_steps: int = 6):
    """A list of gradients for several steps; zeros and magnitudes 1e-6…1e3 included."""
    n = draw(st.integers(min_steps, max_steps))
    kinds = draw(st.lists(st.sampled_from(GRADIENT_KINDS), min_size=n, max_size=n))
    exponents = draw(st.lists(st.floats(-6, 3), min_size=n, max_size=n))
    rng = np.random.default_rng(draw(seeds))
    return [gradient(rng, shape, dtype, k, e) for k, e in zip(kinds, exponents)]


@st.composite
def parameters(draw, shape, dtype):
    """A starting parameter: normal values at a scale 10^U(-2, 1), some exact zeros."""
    rng = np.random.default_rng(draw(seeds))
    p = rng.standard_normal(shape) * 10.0 ** draw(st.floats(-2, 1))
    p[rng.random(shape) < 0.05] = 0.0
    return p.astype(dtype)


#: How each kind of hyperparameter is drawn (the ``draw`` of its row in
#: :mod:`npref.optim`'s descriptions): every value valid, the edges of the range included.
DRAWS = {
    "lr": learning_rates,
    "decay": weight_decays,
    "decoupled_decay": weight_decays,
    "momentum": momenta,
    "fraction": st.floats(0.0, 1.0),
    "alpha": alphas,
    "betas": betas,
    "eps": epsilons,
    "small_eps": log_uniform(1e-10, 1e-3),
    "small_positive": st.one_of(st.just(0.0), log_uniform(1e-5, 1e-2)),
    "flag": st.booleans(),
    "t0": st.sampled_from([1e6, 0.0, 2.0, 5.0]),        # 1e6: never averages; small: averages
    "etas": st.tuples(st.floats(0.1, 0.9), st.floats(1.05, 2.0)),
    "step_sizes": st.tuples(log_uniform(1e-8, 1e-4), log_uniform(1.0, 100.0)),
    "beta2_decay": st.floats(-1.0, -0.1),
    "adafactor_eps": st.tuples(st.one_of(st.none(), log_uniform(1e-35, 1e-25)),
                               log_uniform(1e-5, 1e-2)),
    "d": log_uniform(1.0, 4.0),
}


def hyperparameters(optimizer: str, options: bool = False):
    """A dict of keyword arguments for the named optimizer (``"adam"``, ``"nadam"``, …), each over
    its valid range, as its description says: ``npref.optim.make(name, **drawn)`` (the same
    keywords work for ``torchref.optim.make``). ``options=True`` also draws PyTorch's options
    the book's rules lack (``maximize``, ``amsgrad``, ``centered``, SGD's ``momentum`` …), valid
    under ``convention="torch"``; SGD's ``nesterov`` (which needs momentum and no dampening) is
    left at False."""
    from npref import optim

    key = optimizer.lower() if isinstance(optimizer, str) else optimizer
    if key not in optim.RULES:
        raise ValueError(f"optimizer must be one of {', '.join(optim.NAMES)}, got {optimizer!r}")
    return st.fixed_dictionaries({name: DRAWS[param.draw]
                                  for name, param in optim.RULES[key].hyper.items()
                                  if param.draw in DRAWS
                                  and (options or param.option is None)})


#: The chapter-6 optimizers' hyperparameter strategies, by name (as before the descriptions
#: carried them; kept for callers that read this table).
HYPERPARAMETERS = {name: {k: DRAWS[p.draw] for k, p in __import__("npref.optim",
                                                                  fromlist=["RULES"])
                          .RULES[name].hyper.items() if p.option is None}
                   for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                                "adamw")}
