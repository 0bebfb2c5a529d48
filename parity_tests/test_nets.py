"""MultiLayerNet: npref's backpropagation against torchref's autograd and numerical gradients.

Hypothesis draws an architecture (depth, widths, activation, BatchNorm, dropout, regularizer,
convention, head), a batch and one set of dropout masks. The npref network's parameters are
loaded into the torchref network, both compute the loss and the gradient of every parameter, and
the two are compared — float64 within 1e-10 relative (the issue's figure for whole networks),
float32 within 1e-5 — as is npref against central differences (float64, within 1e-6).

Each gradient is judged against the sum of the magnitudes of the terms backpropagation adds up
to form it (:func:`term_floors`). A bias that feeds a BatchNorm has a zero gradient in exact
arithmetic (normalizing removes any shift); both sides return the rounding of a sum that cancels
there, which only the size of its terms can put in proportion.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import npref.regularizers as R
from npref.gradcheck import check_gradients, numerical_gradient
from npref.layers import Affine, BatchNorm, Dropout, ReLU, Sigmoid, SoftmaxWithLoss, Tanh
from npref.nets import MultiLayerNet
from parity_tests import strategies as S
from parity_tests.harness import check_parity, to_numpy, torch_dtype
from torchref.nets import MultiLayerNet as TorchNet

NET_TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}
REGULARIZERS = {"none": None, "L1": R.L1(0.01), "L2": R.L2(0.1), "elastic": R.ElasticNet(0.01, 0.1)}


@st.composite
def architectures(draw, max_width=16, max_depth=3, max_input=20):
    out = draw(st.sampled_from([1, 2, 3, 5]))
    return {
        "input_size": draw(st.integers(1, max_input)),
        "hidden_sizes": draw(st.lists(st.integers(1, max_width), min_size=1, max_size=max_depth)),
        "output_size": out,
        "activation": draw(st.sampled_from(["relu", "sigmoid", "tanh"])),
        "weight_init": draw(st.sampled_from(["he", "xavier", 0.1, "glorot_uniform"])),
        "use_batchnorm": draw(st.booleans()),
        "dropout": draw(st.sampled_from([0.0, 0.0, 0.15, 0.5])),
        "regularizer": draw(st.sampled_from(sorted(REGULARIZERS))),
        "convention": draw(st.sampled_from(["torch", "book"])),
    }


def build(arch, dtype, seed, device):
    kw = {**arch, "regularizer": REGULARIZERS[arch["regularizer"]]}
    ours = MultiLayerNet(**kw, rng=np.random.default_rng(seed), dtype=dtype)
    theirs = TorchNet(**kw, dtype=torch_dtype(dtype), device=device)
    theirs.load_params(ours.params)
    return ours, theirs


def batch(arch, n, dtype, rng, scale=1.0):
    x = (rng.standard_normal((n, arch["input_size"])) * scale).astype(dtype)
    if arch["output_size"] == 1:
        t = rng.integers(0, 2, n)
    else:
        t = rng.integers(0, arch["output_size"], n)
    return x, t


def forward_scales(net, x, masks, train=True):
    """Run npref's forward pass, returning (each layer's input, the size of its terms).

    The size of the terms is what a value would be had no sum cancelled: ``|x|·|W| + |b|`` through
    an Affine, ``(|x| + |μ|)/σ`` through BatchNorm's centring, and so on. A result's rounding is a
    few ulps of this size — never of the (possibly cancelled) result itself. BatchNorm's running
    statistics are left as they were.
    """
    h = np.asarray(x, dtype=net.dtype)
    size = np.abs(h).astype(np.float64)
    inputs, sizes, drops = [], [], iter(masks if masks is not None else [])
    stats = net.running_stats()
    for layer in net.layers:
        inputs.append(h)
        sizes.append(size)
        if isinstance(layer, Affine):
            h = layer.forward(h)
            size = size @ np.abs(layer.W) + np.abs(layer.b)
        elif isinstance(layer, BatchNorm):
            h = layer.forward(h, train)
            centre = size.mean(axis=0) if train else np.abs(layer.running_mean)
            size = np.abs(layer.gamma) * (size + centre) / layer.std + np.abs(layer.beta)
        elif isinstance(layer, Dropout):
            h = layer.forward(h, train, mask=next(drops) if train else None)
            size = size * (layer.mask * layer.scale if train else layer.scale)
        else:
            h = layer.forward(h)
            if isinstance(layer, ReLU):
                size = size * ~layer.mask
            elif isinstance(layer, Sigmoid):
                size = np.abs(h) + 0.25 * size
            else:
                size = np.abs(h) + (1 - h * h) * size
    net.load_running_stats(stats)
    return inputs, sizes, h, size


def term_floors(net, x, t, masks) -> dict:
    """For each gradient, the size of the terms that the forward and backward passes add up.

    A running error bound: the forward pass on magnitudes (:func:`forward_scales`), then
    backpropagation replayed on magnitudes — from the loss gradient's terms ``(|y| + |t|)/N``,
    each layer passes down the absolute value of its backward map (``|W|ᵀ`` for Affine, ``1 + y²``
    for tanh, whose derivative 1 − y² cancels where it saturates, BatchNorm's subtractions as
    additions). A parameter's floor is what its gradient would be had no sum cancelled. A bias
    feeding a BatchNorm has a zero gradient in exact arithmetic; both sides return the rounding of
    a cancelled sum, which only these terms measure.
    """
    inputs, sizes, h, _ = forward_scales(net, x, masks)
    net.last_layer.forward(h, t)
    y = net.last_layer.y.astype(np.float64)
    target = np.asarray(t)
    if target.ndim == 1 and net.output_size > 1:
        target = np.eye(net.output_size)[target]
    mag = (np.abs(y) + np.abs(target.reshape(y.shape))) / y.shape[0]

    floors, affine_i, bn_i = {}, len(net.affines), len(net.batchnorms)
    for layer, size in zip(reversed(net.layers), reversed(sizes)):
        if isinstance(layer, Affine):
            floors[f"W{affine_i}"] = size.T @ mag
            if net.regularizer is not None:
                floors[f"W{affine_i}"] += np.abs(net.regularizer.grad(layer.W))
            floors[f"b{affine_i}"] = mag.sum(axis=0)
            mag = mag @ np.abs(layer.W).T
            affine_i -= 1
        elif isinstance(layer, BatchNorm):
            xt = (size + size.mean(axis=0)) / layer.std
            floors[f"gamma{bn_i}"] = (mag * xt).sum(axis=0)
            floors[f"beta{bn_i}"] = mag.sum(axis=0)
            mag = np.abs(layer.gamma) / layer.std * (mag + mag.mean(axis=0)
                                                     + xt * (mag * xt).mean(axis=0))
            bn_i -= 1
        elif isinstance(layer, ReLU):
            mag = mag * ~layer.mask
        elif isinstance(layer, Sigmoid):
            mag = mag * (1 + layer.out) * layer.out
        elif isinstance(layer, Tanh):
            mag = mag * (1 + layer.out * layer.out)
        elif isinstance(layer, Dropout):
            mag = mag * layer.mask * layer.scale
    return {k: np.maximum(v, 1e-300) for k, v in floors.items()}


@given(arch=architectures(), dtype=S.dtypes, n=st.integers(2, 16), seed=S.seeds,
       scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_gradients_match_autograd(device, arch, dtype, n, seed, scale):
    ours, theirs = build(arch, dtype, seed, device)
    rng = np.random.default_rng(seed + 1)
    x, t = batch(arch, n, dtype, rng, scale)
    masks = ours.draw_masks(n)
    grads = {k: g.copy() for k, g in ours.gradient(x, t, masks=masks).items()}
    grads_t = to_numpy(theirs.gradient(x, t, masks=masks))
    what = "MultiLayerNet gradients vs torchref autograd"
    check_parity(grads_t, grads, dtype=dtype, tol=NET_TOLERANCE[dtype],
                 floor=term_floors(ours, x, t, masks), what=what, names=("torchref", "npref"))
    loss = ours.loss(x, t, train=True, masks=masks)
    loss_t = theirs.loss(x, t, train=True, masks=masks)
    check_parity(np.array(loss_t.item()), np.array(loss), dtype=dtype, tol=NET_TOLERANCE[dtype],
                 floor="norm", what="MultiLayerNet loss vs torchref", names=("torchref", "npref"))
    # The default mode: training under "torch", evaluation under "book" (masks unused).
    loss, loss_t = ours.loss(x, t, masks=masks), theirs.loss(x, t, masks=masks)
    check_parity(np.array(loss_t.item()), np.array(loss), dtype=dtype, tol=NET_TOLERANCE[dtype],
                 floor="norm", what="MultiLayerNet loss (default mode) vs torchref",
                 names=("torchref", "npref"))


@given(arch=architectures(), dtype=S.dtypes, n=st.integers(2, 16), seed=S.seeds,
       steps=st.integers(1, 3))
def test_running_statistics_and_evaluation_match(device, arch, dtype, n, seed, steps):
    """After a few training passes, BatchNorm's statistics and eval-mode scores agree."""
    ours, theirs = build({**arch, "use_batchnorm": True}, dtype, seed, device)
    rng = np.random.default_rng(seed + 2)
    for _ in range(steps):
        x, t = batch(arch, n, dtype, rng)
        masks = ours.draw_masks(n)
        ours.gradient(x, t, masks=masks)
        theirs.gradient(x, t, masks=masks)
    stats = ours.running_stats()
    check_parity(theirs.running_stats(), stats, dtype=dtype, tol=NET_TOLERANCE[dtype],
                 floor=stats_floors(stats), what="MultiLayerNet running statistics",
                 names=("torchref", "npref"))
    x, t = batch(arch, n, dtype, rng)
    with torch.no_grad():
        scores_t = theirs.predict(x)
    _, _, scores, size = forward_scales(ours, x, None, train=False)
    check_parity(scores_t, scores, dtype=dtype, tol=NET_TOLERANCE[dtype],
                 floor=np.maximum(size, 1e-300), what="MultiLayerNet evaluation scores",
                 names=("torchref", "npref"))
    assert ours.accuracy(x, t) == theirs.accuracy(x, t) or _near_tie(ours.predict(x))


def stats_floors(stats):
    """A batch mean sums inputs of both signs: judge it against their spread, √var, too."""
    floors = {}
    for key, value in stats.items():
        if key.startswith("running_mean"):
            var = stats["running_var" + key[len("running_mean"):]]
            floors[key] = float(np.abs(value).max() + np.sqrt(np.abs(var)).max()) or 1e-300
        else:
            floors[key] = "norm"
    return floors


def _near_tie(scores):
    top2 = np.sort(scores, axis=1)[:, -2:] if scores.shape[1] > 1 else np.abs(scores)
    return bool(np.any(np.abs(np.diff(top2, axis=1)) < 1e-6)) if scores.shape[1] > 1 else bool(
        np.any(top2 < 1e-6))


def _relu_inputs(net, x, masks):
    """The inputs of every ReLU in a training forward pass (to keep away from the kink)."""
    seen = []
    drops = iter(masks)
    h = x
    for layer in net.layers:
        if isinstance(layer, ReLU):
            seen.append(h.copy())
        if hasattr(layer, "running_mean"):
            saved = (layer.running_mean.copy(), layer.running_var.copy())
            h = layer.forward(h, True)
            layer.running_mean, layer.running_var = saved
        elif hasattr(layer, "p"):
            h = layer.forward(h, True, mask=next(drops))
        else:
            h = layer.forward(h)
    return seen


@given(arch=architectures(max_width=8, max_depth=2, max_input=6), n=st.integers(2, 6),
       seed=S.seeds)
def test_gradients_match_numerical_differentiation(arch, n, seed):
    ours = MultiLayerNet(**{**arch, "regularizer": REGULARIZERS[arch["regularizer"]]},
                         rng=np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 3)
    x, t = batch(arch, n, np.float64, rng)
    masks = ours.draw_masks(n)
    eps = 1e-5
    # Central differences are meaningless across a kink: no ReLU input (nor, with L1, weight)
    # may lie within a few eps of 0.
    assume(all(np.min(np.abs(z)) > 1e-3 for z in _relu_inputs(ours, x, masks)))
    if arch["regularizer"] in ("L1", "elastic"):
        assume(all(np.min(np.abs(W)) > 1e-3 for W in ours.weights()))
    if arch["convention"] == "book" and arch["output_size"] > 1:
        # The book's backward is (y − t)/N, the derivative of the exact cross-entropy, not of its
        # log(y + 1e-7) (they part by 1e-7/y): differentiate the exact loss numerically.
        ours.last_layer = SoftmaxWithLoss()
    pairs = check_gradients(ours, x, t, eps=eps, masks=masks)
    backprop = {k: b.copy() for k, (b, _) in pairs.items()}
    numerical = {k: m for k, (_, m) in pairs.items()}
    # A central difference carries the rounding of two losses divided by 2·eps, about
    # 1e-11·|L| whatever the gradient's size: below 1e-4·|L| a gradient is checked absolutely.
    loss = abs(ours.loss(x, t, train=True, masks=masks))
    floor = {k: np.maximum(v, 1e-4 * max(1.0, loss))
             for k, v in term_floors(ours, x, t, masks).items()}
    check_parity(backprop, numerical, dtype=np.float64, tol=1e-6, floor=floor,
                 what="MultiLayerNet backprop vs numerical gradient",
                 names=("backprop", "numerical"))


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    g = numerical_gradient(lambda a: float((a ** 3).sum()), x)
    assert np.allclose(g, 3 * before ** 2, rtol=1e-9)
    assert np.array_equal(x, before)                       # restored exactly
    with pytest.raises(ValueError, match="floating-point NumPy array"):
        numerical_gradient(lambda a: 0.0, np.array([1, 2]))


def test_affine_backprop_vs_numerical_gradient():
    rng = np.random.default_rng(0)
    layer = Affine(rng.standard_normal((4, 3)), rng.standard_normal(3))
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((5, 3))
    layer.forward(x)
    layer.backward(w)
    num = numerical_gradient(lambda _: float((layer.forward(x) * w).sum()), layer.W)
    check_parity(num, layer.dW, dtype=np.float64, tol=1e-8, floor="norm",
                 what="Affine dW vs numerical gradient", names=("numerical", "npref"))


def test_parameters_travel_both_ways():
    arch = {"input_size": 6, "hidden_sizes": [5, 4], "output_size": 3, "use_batchnorm": True}
    ours = MultiLayerNet(**arch, rng=np.random.default_rng(0))
    theirs = TorchNet(**arch)
    theirs.load_params(ours.params)
    back = theirs.numpy_params()
    assert list(back) == list(ours.params)                 # W1, b1, W2, b2, W3, b3, gamma1, …
    assert all(np.array_equal(back[k], ours.params[k]) for k in back)
    assert theirs.params["W1"].shape == (6, 5) and theirs.affines[0].weight.shape == (5, 6)
    other = MultiLayerNet(**arch, rng=np.random.default_rng(1))
    other.load_params(back)
    assert all(np.array_equal(other.params[k], ours.params[k]) for k in back)
    stats = {k: v + 1 for k, v in ours.running_stats().items()}
    theirs.load_running_stats(stats)
    assert all(np.array_equal(v.numpy(), stats[k]) for k, v in theirs.running_stats().items())


@pytest.mark.parametrize("convention", ["torch", "book"])
def test_loss_defaults_to_the_conventions_mode(convention):
    """``loss(x, t)`` is training mode under "torch" (masks drawn, running statistics moved) and
    evaluation mode under "book" (the book's ``train_flg=False``: nothing drawn, nothing moved),
    in both backends; ``predict`` and ``accuracy`` evaluate in both conventions."""
    arch = {"input_size": 5, "hidden_sizes": [6, 4], "output_size": 3, "use_batchnorm": True,
            "dropout": 0.3, "convention": convention}
    ours = MultiLayerNet(**arch, rng=np.random.default_rng(0))
    theirs = TorchNet(**arch, rng=np.random.default_rng(0))
    theirs.load_params(ours.params)
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    ours.gradient(x, t, masks=ours.draw_masks(8))              # running statistics away from
    theirs.load_running_stats(ours.running_stats())           # their starting values
    check_parity(np.array(theirs.loss(x, t, train=False).item()),
                 np.array(ours.loss(x, t, train=False)), dtype=np.float64, tol=1e-12,
                 floor="norm", what="MultiLayerNet loss (evaluation) vs torchref",
                 names=("torchref", "npref"))
    book = convention == "book"
    for net, item in ((ours, float), (theirs, lambda v: v.item())):
        stats = {k: to_numpy(v) for k, v in net.running_stats().items()}
        state = net.rng.bit_generator.state
        default, evaluation = item(net.loss(x, t)), item(net.loss(x, t, train=False))
        moved = any(not np.array_equal(to_numpy(v), stats[k])
                    for k, v in net.running_stats().items())
        drew = net.rng.bit_generator.state != state
        assert (default == evaluation) == book
        assert moved != book and drew != book


def test_book_network_loss_is_the_books_formula():
    """A book-convention softmax net: −Σ log(y + 1e-7)/N of its evaluation scores."""
    net = MultiLayerNet(3, [4], 3, convention="book", rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((6, 3)) * 30
    t = np.array([0, 1, 2, 0, 1, 2])
    s = net.predict(x)
    y = np.exp(s - s.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    assert net.loss(x, t) == pytest.approx(-np.log(y[np.arange(6), t] + 1e-7).sum() / 6,
                                           rel=1e-13)


def test_binary_head_uses_sigmoid_cross_entropy():
    net = MultiLayerNet(3, [4], 1, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((6, 3))
    t = np.array([0, 1, 1, 0, 1, 0])
    scores = net.predict(x)
    assert scores.shape == (6, 1)
    expected = np.mean(np.logaddexp(0, scores[:, 0]) - t * scores[:, 0])
    assert net.loss(x, t) == pytest.approx(expected, rel=1e-12)
    assert net.accuracy(x, t) == np.mean((scores[:, 0] > 0) == (t == 1))


def test_float32_network_stays_float32():
    net = MultiLayerNet(4, [3], 2, use_batchnorm=True, dropout=0.2, rng=np.random.default_rng(0),
                        dtype=np.float32)
    x = np.random.default_rng(1).standard_normal((5, 4))         # float64 input is cast
    grads = net.gradient(x, np.array([0, 1, 1, 0, 1]))
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert net.predict(x).dtype == np.float32


@pytest.mark.parametrize("kwargs,words", [
    ({"input_size": 0}, "input_size must be an int >= 1"),
    ({"hidden_sizes": [3, 0]}, "hidden_sizes"),
    ({"activation": "gelu"}, "activation must be one of 'relu', 'sigmoid', 'tanh'"),
    ({"weight_init": "kaiming"}, "weight_init must be a positive std or one of"),
    ({"weight_init": -0.1}, "std must be a finite number > 0"),
    ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
    ({"convention": "keras"}, "convention must be one of"),
    ({"dtype": np.float16}, "dtype must be float32 or float64"),
    ({"regularizer": 0.1}, "regularizer must be None or"),
])
def test_bad_arguments_are_named(kwargs, words):
    args = {"input_size": 4, "hidden_sizes": [3], "output_size": 2, **kwargs}
    with pytest.raises(ValueError, match=words):
        MultiLayerNet(**args)
    if "regularizer" not in kwargs:
        with pytest.raises(ValueError, match=words):
            TorchNet(**args)
