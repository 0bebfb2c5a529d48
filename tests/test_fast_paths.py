"""npref's fast paths compute exactly what its plain code computes, bit for bit.

The speed-ups of issue 18 change how the work is laid out, never the arithmetic of an element:
an optimizer steps once over a network's whole parameter buffer instead of array by array, and a
ReLU selects its gradient with a bitwise AND instead of ``np.where``. Each is checked here against
the plain form it replaces — the same bits, signed zeros, infinities and NaN included — so the
parity figures cannot move because of them. (No torch: these are npref against itself.)
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npref.optim
from npref import layers as L
from npref.nets import MultiLayerNet
from npref.testing import strategies as NS

RULES = [(name, convention) for name in npref.optim.NAMES
         for convention in (("torch", "book") if npref.optim.make(name).has_conventions
                            else ("torch",))]


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


@pytest.mark.parametrize("name,convention", RULES, ids=[f"{n}-{c}" for n, c in RULES])
@settings(max_examples=15, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       hidden=st.lists(st.integers(1, 12), min_size=1, max_size=3), steps=st.integers(1, 4))
def test_flat_buffer_step_equals_the_per_array_loop(name, convention, data, dtype, hidden,
                                                    steps):
    """A network's parameters tile one buffer: the optimizer takes its one-pass path. The same
    values held as separate arrays take the per-array loop. After every step both hold the same
    bits, parameters and every state buffer."""
    hyper = data.draw(NS.hyperparameters(name))              # weight decay included
    if npref.optim.make(name).has_conventions:
        hyper["convention"] = convention
    net = MultiLayerNet(5, hidden, 3, rng=np.random.default_rng(data.draw(st.integers(0, 99))),
                        dtype=dtype)
    flat_params = net.params
    loose = {k: v.copy() for k, v in flat_params.items()}          # separate arrays
    fast, plain = npref.optim.make(name, **hyper), npref.optim.make(name, **hyper)
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    x, t = rng.standard_normal((7, 5)).astype(dtype), rng.integers(0, 3, 7)
    for _ in range(steps):
        grads = net.gradient(x, t)
        assert all(g.base is grads["W1"].base for g in grads.values())   # one buffer: fast path
        fast.update(flat_params, grads)
        plain.update(loose, {k: g.copy() for k, g in grads.items()})
        assert fast._layout is not None and plain._layout is None
        for key in flat_params:
            assert _bits(flat_params[key]) == _bits(loose[key]), key
            for buffer, value in plain.state[key].items():
                mine = fast.state[key][buffer]
                assert (_bits(mine) == _bits(value) if isinstance(value, np.ndarray)
                        else mine == value), (key, buffer)


def test_flat_path_state_survives_a_state_dict_round_trip():
    """The flat path keeps its state as views of flat buffers; ``state_dict`` and a per-array
    optimizer loaded from it continue with the same bits."""
    net = MultiLayerNet(4, [6], 2, rng=np.random.default_rng(0))
    x, t = np.random.default_rng(1).standard_normal((5, 4)), np.array([0, 1, 1, 0, 1])
    opt = npref.optim.Adam(lr=0.01)
    for _ in range(3):
        opt.update(net.params, net.gradient(x, t))
    loose = {k: v.copy() for k, v in net.params.items()}
    other = npref.optim.Adam(lr=0.01)
    other.load_state_dict(opt.state_dict())
    grads = net.gradient(x, t)
    opt.update(net.params, grads)
    other.update(loose, {k: g.copy() for k, g in grads.items()})
    for key in loose:
        assert _bits(net.params[key]) == _bits(loose[key])


SPECIALS = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 5e-324, -3.5, 1e300])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
def test_relu_is_np_maximum_and_np_where_bit_for_bit(dtype, layout):
    """ReLU's output is ``np.maximum(x, 0)``'s bits; its gradient, selected by bits: +0 where x ≤ 0 (whatever dout holds there), dout's
    exact bits — inf, NaN, −0 — where x > 0; for any memory layout and for a dtype without the
    bit path (a float16 ``dout`` falls back to ``np.where``)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 40)).astype(np.float32 if dtype == np.float16 else dtype)
    with np.errstate(over="ignore"):                                  # 1e300 → inf in float32
        x.flat[::5] = SPECIALS[rng.integers(0, len(SPECIALS), x.flat[::5].size)]
        dout = rng.standard_normal((64, 40)).astype(dtype)
        dout.flat[::7] = SPECIALS[rng.integers(0, len(SPECIALS), dout.flat[::7].size)]
    if layout == "transposed":
        x, dout = np.ascontiguousarray(x.T), dout.T                # dout: Fortran-ordered
    elif layout == "strided":
        x, dout = x[:, ::2], dout[:, ::2]
    relu = L.ReLU()
    out = relu.forward(x)
    assert _bits(out) == _bits(np.maximum(x, 0))                      # −0 → +0, NaN kept
    dx = relu.backward(dout)
    expected = np.where(x <= 0, dtype(0), dout)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert _bits(dx) == _bits(expected)
    assert not np.signbit(dx[x <= 0]).any()                          # +0, never −0
    relu.mask = ~relu.mask                                            # a mask set by hand
    assert _bits(relu.backward(dout)) == _bits(np.where(relu.mask, dtype(0), dout))


@given(x=NS.arrays(), data=st.data())
def test_relu_backward_bits_for_drawn_arrays(x, data):
    dout = data.draw(NS.arrays(shape=st.just(x.shape), dtype=st.just(x.dtype)))
    relu = L.ReLU()
    assert _bits(relu.forward(x)) == _bits(np.maximum(x, 0))
    assert _bits(relu.backward(dout)) == _bits(np.where(x <= 0, x.dtype.type(0), dout))


def test_gradient_buffer_is_new_per_call():
    """The gradients come in a fresh buffer each call: one kept from an earlier call is never
    overwritten by a later one (the optimizer's fast path relies on layout, not on reuse)."""
    net = MultiLayerNet(4, [6], 2, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    first = net.gradient(rng.standard_normal((5, 4)), np.array([0, 1, 1, 0, 1]))
    kept = copy.deepcopy(first)
    net.gradient(rng.standard_normal((5, 4)), np.array([1, 1, 0, 0, 1]))
    for key in kept:
        assert _bits(first[key]) == _bits(kept[key])
