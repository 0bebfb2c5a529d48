"""Initialization: npref's scales equal PyTorch's exactly; both backends draw the right law.

For hypothesis-drawn shapes, npref's std (or uniform bound) is compared bit for bit with what
``torch.nn.init`` computes from its own fan and gain rules (read back from PyTorch's helpers on a
tensor in PyTorch's layout). Then samples from both backends — npref with a NumPy Generator,
torchref through ``torch.nn.init`` with a torch Generator — are tested against the target
distribution with Kolmogorov–Smirnov. Each KS test rejects below p = 1e-6: with some thousand
tests per run, a true law fails one with probability about 1e-3, while a wrong scale (He where
LeCun is due: a factor √2) gives p far below 1e-50 (``test_ks_rejects_a_wrong_scale``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import npref.init as I
import torchref.init as TI
from parity_tests import strategies as S
from parity_tests.harness import record_ks

KS_ALPHA = 1e-6
NORMALS = ("lecun_normal", "glorot_normal", "he_normal")
UNIFORMS = ("glorot_uniform", "he_uniform")


@st.composite
def weight_shapes(draw):
    if draw(st.booleans()):
        return (draw(st.integers(1, 512)), draw(st.integers(1, 512)))       # (fan_in, fan_out)
    return (draw(st.integers(1, 64)), draw(st.integers(1, 64)),             # (out, in, kh, kw)
            draw(st.integers(1, 5)), draw(st.integers(1, 5)))


def pytorch_scale(name, shape):
    """What torch.nn.init computes, from its own helpers, for a weight of npref's ``shape``."""
    t = torch.empty((shape[1], shape[0]) if len(shape) == 2 else shape)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(t)
    if name.startswith("glorot"):
        std = 1.0 * math.sqrt(2.0 / float(fan_in + fan_out))
    else:
        nonlinearity = "linear" if name == "lecun_normal" else "relu"
        std = torch.nn.init.calculate_gain(nonlinearity) / math.sqrt(fan_in)
    return math.sqrt(3.0) * std if name.endswith("uniform") else std


@pytest.mark.parametrize("name", NORMALS + UNIFORMS)
@given(shape=weight_shapes())
def test_scale_equals_pytorchs_exactly(name, shape):
    assert I.std_of(name, shape) == pytorch_scale(name, shape)


def _ks(samples, name, scale):
    law = stats.norm(0, scale) if name.endswith("normal") else stats.uniform(-scale, 2 * scale)
    return stats.kstest(np.asarray(samples, dtype=np.float64).ravel(), law.cdf).pvalue


def _enough(draw_one, size, minimum=4000):
    return np.concatenate([np.ravel(draw_one()) for _ in range(-(-minimum // size))])


@pytest.mark.parametrize("name", NORMALS + UNIFORMS)
@given(shape=weight_shapes(), seed=S.seeds)
def test_samples_follow_the_target_law(name, shape, seed):
    scale = I.std_of(name, shape)
    size = math.prod(shape)
    rng = np.random.default_rng(seed)
    ours = _enough(lambda: getattr(I, name)(shape, rng), size)
    gen = torch.Generator().manual_seed(seed)
    theirs = _enough(lambda: getattr(TI, name)(shape, gen).numpy(), size)
    drawn = getattr(TI, name)(shape, gen)
    assert tuple(drawn.shape) == tuple(shape) and drawn.dtype == torch.float64
    for backend, samples in (("npref", ours), ("torchref", theirs)):
        p = _ks(samples, name, scale)
        record_ks(f"{name}, {backend}", p, KS_ALPHA)
        assert p > KS_ALPHA, f"{backend} {name}{shape}: KS p = {p:.3g}"


def test_ks_rejects_a_wrong_scale():
    shape = (300, 200)
    samples = I.he_normal(shape, np.random.default_rng(0))
    assert _ks(samples, "lecun_normal", I.std_of("lecun_normal", shape)) < 1e-50
    assert _ks(samples, "he_normal", I.std_of("he_normal", shape)) > KS_ALPHA


def test_get_resolves_every_spelling():
    rng = np.random.default_rng(0)
    shape = (50, 40)
    for spec, name in [("relu", "he_normal"), ("he", "he_normal"), ("sigmoid", "lecun_normal"),
                       ("xavier", "lecun_normal"), ("He", "he_normal")] + \
                      [(n, n) for n in NORMALS + UNIFORMS]:
        assert I.get(spec) is getattr(I, name), spec
        assert TI.get(spec) is getattr(TI, name), spec
    a = I.get(0.01)(shape, np.random.default_rng(1))
    b = I.normal(shape, 0.01, np.random.default_rng(1))
    assert np.array_equal(a, b)
    assert np.all(I.get("zeros")(shape, rng) == 0) and np.all(I.get("ones")(shape, rng) == 1)
    assert torch.all(TI.get("ones")(shape) == 1)
    assert TI.get(0.01)(shape).std().item() == pytest.approx(0.01, rel=0.05)


def test_torchref_draws_in_pytorchs_layout_and_transposes():
    """nn.Linear(fan_in, fan_out) initialized by torchref matches a draw of the same shape."""
    linear = torch.nn.Linear(30, 20, dtype=torch.float64)
    TI.init_linear_(linear, "he", torch.Generator().manual_seed(3))
    drawn = TI.he_normal((30, 20), torch.Generator().manual_seed(3))
    assert torch.equal(linear.weight, drawn.T) and torch.all(linear.bias == 0)
    # kaiming_normal_ on the (fan_out, fan_in) weight takes fan_in = 30, as npref does.
    assert I.fans((30, 20)) == torch.nn.init._calculate_fan_in_and_fan_out(linear.weight)


@pytest.mark.parametrize("call,words", [
    (lambda: I.get("kaiming"), "weight_init must be a positive std or one of"),
    (lambda: TI.get("kaiming"), "weight_init must be a positive std or one of"),
    (lambda: I.get(0.0), "std must be a finite number > 0"),
    (lambda: I.get(-1.0), "std must be a finite number > 0"),
    (lambda: I.normal((3, 3), -0.1, np.random.default_rng()), "std must be"),
    (lambda: TI.normal((3, 3), 0.0), "std must be"),
    (lambda: I.he_normal((3,), np.random.default_rng()), "at least 2 dimensions"),
    (lambda: I.he_normal((3, 0), np.random.default_rng()), "positive ints"),
    (lambda: I.he_normal((3, 3), 42), "rng must be a numpy.random.Generator"),
    (lambda: I.constant((2, 2), float("nan")), "value must be a finite number"),
])
def test_bad_arguments_are_named(call, words):
    with pytest.raises(ValueError, match=words):
        call()
