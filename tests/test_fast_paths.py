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

#: Every rule that takes the one-pass path (element-wise, its state arrays starting at zero).
FLAT = [(name, convention) for name in npref.optim.NAMES if npref.optim.make(name)._flat_ok()
         for convention in (("torch", "book") if npref.optim.make(name).has_conventions
                            else ("torch",))]


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


@pytest.mark.parametrize("name,convention", FLAT, ids=[f"{n}-{c}" for n, c in FLAT])
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
        with np.errstate(all="ignore"):     # lr 1 may overflow float32: both paths alike, bits
            grads = net.gradient(x, t)      # compared inf and NaN included
            assert all(g.base is grads["W1"].base for g in grads.values())   # one buffer
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
    """ReLU's output is ``np.maximum(x, 0)``'s bits; its gradient, selected by bits: +0 where
    x ≤ 0 (whatever dout holds there), dout's exact bits — inf, NaN, −0 — where x > 0; for any
    memory layout and for a dtype without the bit path (a float16 ``dout`` falls back to
    ``np.where``)."""
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


def _trained_twice(name="adam"):
    net = MultiLayerNet(4, [6, 5], 3, rng=np.random.default_rng(0))
    x, t = np.random.default_rng(1).standard_normal((5, 4)), np.array([0, 1, 2, 0, 1])
    opt = npref.optim.make(name, lr=0.01)
    for _ in range(2):
        opt.update(net.params, net.gradient(x, t))
    return net, opt, net.gradient(x, t)


def test_a_step_like_the_last_is_not_checked_again(monkeypatch):
    """The network's own gradients for the arrays stepped last time are recognised by identity
    (``Layout.ready``): the per-array checks, most of the optimizer's cost at batch 128, are not
    run again — and the step is the same (the bit-for-bit test above runs it from step 2 on)."""
    for name in dict.fromkeys(name for name, _ in FLAT):
        net, opt, grads = _trained_twice(name)
        monkeypatch.setattr(opt, "_check", lambda *a: pytest.fail(f"{name}: checked again"))
        opt.update(net.params, grads)
        assert all(s["step"] == 3 for s in opt.state.values()), name


def _read_only(net, opt, grads):
    net.params["b2"].flags.writeable = False


def _short_gradient(net, opt, grads):
    grads["W2"] = grads["W2"][:1]


def _reshaped_gradient(net, opt, grads):
    grads["W2"].shape = grads["W2"].shape[::-1]           # same size, other shape, in place


def _extra_key(net, opt, grads):
    grads["W9"] = np.zeros(3)


def _foreign_state(net, opt, grads):
    opt.state["b1"]["exp_avg"] = np.zeros(3)


def _float32_gradient(net, opt, grads):
    grads["b1"] = grads["b1"].astype(np.float32)


@pytest.mark.parametrize("change,message", [
    (_read_only, "read-only"), (_short_gradient, "must match"), (_reshaped_gradient, "must match"),
    (_extra_key, "same keys"), (_foreign_state, "buffer for it has"),
    (_float32_gradient, "must match")])
def test_anything_unlike_the_last_step_is_checked_and_refused_before_any_change(change, message):
    """Whatever differs from the last step — a parameter made read-only, a gradient replaced or
    reshaped, a key added, a state buffer swapped — sends the step through every check: the same
    ValueError as for loose arrays, and no parameter or buffer changed."""
    net, opt, grads = _trained_twice()
    change(net, opt, grads)
    before = copy.deepcopy(opt.state), {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(ValueError, match=message):
        opt.update(net.params, grads)
    for key, value in before[1].items():
        assert _bits(net.params[key]) == _bits(value), key
    for key, entry in before[0].items():
        for buffer, value in entry.items():
            assert (_bits(opt.state[key][buffer]) == _bits(value)
                    if isinstance(value, np.ndarray) else opt.state[key][buffer] == value)


def test_a_read_only_buffer_under_writeable_views_is_stepped_through_the_views():
    """The buffer behind the parameters made read-only (its views stay writeable): the step
    goes array by array, through the views, with the same bits — never half a step."""
    net, opt, grads = _trained_twice()
    loose = {k: v.copy() for k, v in net.params.items()}
    plain = npref.optim.Adam(lr=0.01)
    plain.load_state_dict(opt.state_dict())
    expected = {k: g.copy() for k, g in grads.items()}
    net.params["W1"].base.flags.writeable = False
    opt.update(net.params, grads)
    plain.update(loose, expected)
    for key in loose:
        assert _bits(net.params[key]) == _bits(loose[key]), key


@pytest.mark.parametrize("how", ["replaced by a copy", "deep-copied dict", "plain dict"])
def test_gradients_not_from_the_network_step_the_same(how):
    """Gradients that only look like the network's (a view swapped for a copy, a deep copy of the
    dict, a plain dict of the same arrays) take the checked path, with the same bits."""
    net, opt, grads = _trained_twice()
    loose = {k: v.copy() for k, v in net.params.items()}
    plain = npref.optim.Adam(lr=0.01)
    plain.load_state_dict(opt.state_dict())
    if how == "replaced by a copy":
        grads["W1"] = grads["W1"].copy()
    elif how == "deep-copied dict":
        grads = copy.deepcopy(grads)
    else:
        grads = dict(grads)
    grads["W1"] *= 0.5                  # only the array in the dict: not the network's buffer
    expected = {k: g.copy() for k, g in grads.items()}
    opt.update(net.params, grads)
    plain.update(loose, expected)
    for key in loose:
        assert _bits(net.params[key]) == _bits(loose[key]), key
