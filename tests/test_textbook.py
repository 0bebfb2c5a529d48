"""The book-notation forms the report shows (:mod:`npref.textbook`) compute exactly what npref
computes — its flat-buffer fast path and its per-array loop — bit for bit.

The pages show ``npref.textbook`` as "the rule in NumPy"; these tests are why that is honest. Every
optimizer and convention, float32 and float64, several steps of gradients with zeros and
magnitudes 1e-6…1e3, hyperparameters over their valid ranges (without weight decay, which the
forms leave out; β1 > 0.5 for PyTorch's Adam, where ``torch.lerp`` is the written line).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npref.init
import npref.optim
from npref import textbook
from npref.nets import MultiLayerNet
from npref.testing import strategies as NS

OPTIMIZERS = sorted(textbook.FORMS)


def _bits(a) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def _reference_step(name, convention, hyper, params, grads, state, t):
    fn, names = textbook.FORMS[name, convention]
    keywords = {"lr": hyper["lr"]}
    if "momentum" in hyper:
        keywords["momentum"] = hyper["momentum"]
    if "alpha" in hyper:
        keywords["alpha"] = hyper["alpha"]
    if "betas" in hyper:
        keywords["beta1"], keywords["beta2"] = hyper["betas"]
    if "eps" in hyper:
        keywords["eps"] = hyper["eps"]
    if name == "adamw":
        keywords["weight_decay"] = hyper["weight_decay"]
    arrays = [state[n] for n in names if n != "t"]
    fn(params, grads, *arrays, *((t,) if "t" in names else ()), **keywords)


def _hyper(data, name, convention):
    hyper = data.draw(NS.hyperparameters(name))
    if name != "adamw":
        hyper.pop("weight_decay")
    opt = npref.optim.make(name, **hyper)
    if opt.has_conventions:
        hyper["convention"] = convention
    if name == "adamw" or (name == "adam" and convention == "torch"):
        b1, b2 = hyper["betas"]
        hyper["betas"] = (max(b1, 0.5 + 1e-3), b2)   # lerp's written line (see adam_torch)
    resolved = npref.optim.make(name, **hyper).hyperparameters()       # eps resolved
    return {**hyper, **{k: v for k, v in resolved.items()             # PyTorch's options off
                        if npref.optim.RULES[name].hyper.get(k) is None
                        or npref.optim.RULES[name].hyper[k].option is None}}


@pytest.mark.parametrize("name,convention", OPTIMIZERS, ids=[f"{n}-{c}" for n, c in OPTIMIZERS])
@settings(max_examples=12, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       hidden=st.lists(st.integers(1, 9), min_size=1, max_size=2), steps=st.integers(1, 5))
def test_the_shown_rule_is_the_rule_npref_runs(name, convention, data, dtype, hidden, steps):
    hyper = _hyper(data, name, convention)
    made = {k: v for k, v in hyper.items() if k in npref.optim.make(name).hyperparameters()}
    net = MultiLayerNet(4, hidden, 3, rng=np.random.default_rng(data.draw(st.integers(0, 99))),
                        dtype=dtype)
    fast = net.params                                          # views of one buffer
    loose = {k: v.copy() for k, v in fast.items()}             # separate arrays
    shown = {k: v.copy() for k, v in fast.items()}             # npref.textbook' loop
    by_flat, by_array = npref.optim.make(name, **made), npref.optim.make(name, **made)
    _, names = textbook.FORMS[name, convention]
    state = {n: {k: np.zeros_like(v) for k, v in shown.items()} for n in names if n != "t"}
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    for t in range(1, steps + 1):
        grads = {k: NS.gradient(rng, v.shape, dtype, data.draw(st.sampled_from(NS.GRADIENT_KINDS)),
                                data.draw(st.floats(-6, 3))) for k, v in shown.items()}
        flat_grads = net.gradient(rng.standard_normal((5, 4)).astype(dtype), np.arange(5) % 3)
        for k in flat_grads:
            flat_grads[k][...] = grads[k]                      # the same values, one buffer
        with np.errstate(all="ignore"):
            by_flat.update(fast, flat_grads)
            by_array.update(loose, {k: g.copy() for k, g in grads.items()})
            _reference_step(name, convention, hyper, shown, grads, state, t)
        assert by_flat._layout is not None, "the flat path was not taken"
        for key in shown:
            assert _bits(shown[key]) == _bits(fast[key]) == _bits(loose[key]), (key, t)


@pytest.mark.parametrize("name", ["normal", "lecun_normal", "glorot_normal", "he_normal"])
@settings(max_examples=20, deadline=None)
@given(fan_in=st.integers(1, 300), fan_out=st.integers(1, 300), seed=st.integers(0, 2**32 - 1),
       std=st.floats(1e-4, 10))
def test_the_shown_initializer_is_npref_s(name, fan_in, fan_out, seed, std):
    shape = (fan_in, fan_out)
    extra = (std,) if name == "normal" else ()
    mine = getattr(textbook, name)(shape, *extra, np.random.default_rng(seed))
    theirs = getattr(npref.init, name)(shape, *extra, np.random.default_rng(seed))
    assert mine.dtype == theirs.dtype and _bits(mine) == _bits(theirs)


def test_a_wrong_line_would_be_caught():
    """The test above can fail: a rule with its product rounded in another order differs."""
    rng = np.random.default_rng(0)
    p = {"w": rng.standard_normal(1000)}
    g = {"w": rng.standard_normal(1000) * 1e-3}
    a, b = {"w": p["w"].copy()}, {"w": p["w"].copy()}
    textbook.adagrad(a, g, {"w": np.zeros(1000)}, lr=0.3, eps=1e-7)
    for key in b:                                             # lr·(g/(√h + eps)) instead
        h = g[key] * g[key]
        b[key] -= 0.3 * (g[key] / (np.sqrt(h) + 1e-7))
    assert _bits(a["w"]) != _bits(b["w"])
