"""Layers: npref's forward and backward against PyTorch's modules and autograd.

Each test draws a batch with hypothesis and hands it to
:func:`parity_tests.harness.run_layer_parity`, which runs the npref layer forward and backward,
runs the torchref layer (PyTorch's own module wherever PyTorch has one) forward and
``backward(dout)`` through autograd on the same inputs, and compares outputs and every gradient
(the input's and each parameter's). Results are judged
per array against its largest element (``floor="norm"``): a backward pass sums products of mixed
signs, and the two libraries sum them in different orders. The losses are judged against the
size of the terms PyTorch sums (:func:`loss_floor`): it forms the binary cross-entropy as
``x − log σ(x)``, which cancels to a small loss from terms of size |x|, where npref adds
``log(1 + e^(−|x|))`` directly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import npref.layers as L
import torchref.layers as TL
from parity_tests import strategies as S
from parity_tests.harness import check_parity, run_layer_parity, tensor, torch_dtype


@st.composite
def batches(draw, min_rows=1, max_rows=32, max_cols=64):
    """(x, dout-like array, dtype) with values at a drawn scale 10^U(−3, 3), a few exact zeros."""
    dtype = draw(S.dtypes)
    n, d = draw(st.integers(min_rows, max_rows)), draw(st.integers(1, max_cols))
    rng = np.random.default_rng(draw(S.seeds))
    x = rng.standard_normal((n, d)) * 10.0 ** draw(st.floats(-3, 3))
    x[rng.random((n, d)) < 0.05] = 0.0
    dout = rng.standard_normal((n, d))
    return x.astype(dtype), dout.astype(dtype), dtype


# -- Affine ---------------------------------------------------------------------------------------

@given(data=st.data())
def test_affine_matches_nn_linear(device, data):
    dtype = data.draw(S.dtypes)
    n, fan_in, fan_out = (data.draw(st.integers(1, 32)), data.draw(st.integers(1, 64)),
                          data.draw(st.integers(1, 64)))
    image = data.draw(st.booleans()) and fan_in % 4 == 0      # (N, C, 2, 2) inputs are flattened
    rng = np.random.default_rng(data.draw(S.seeds))
    W = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype)
    b = rng.standard_normal(fan_out).astype(dtype)
    x = (rng.standard_normal((n, fan_in)) * 10.0 ** data.draw(st.floats(-3, 3))).astype(dtype)
    if image:
        x = x.reshape(n, fan_in // 4, 2, 2)
    dout = rng.standard_normal((n, fan_out)).astype(dtype)

    linear = TL.Affine(tensor(W, device), tensor(b, device))
    assert isinstance(linear, torch.nn.Linear)
    # Each result is a sum of products: judge it against the sum of their magnitudes.
    ax, aW, ad = (np.abs(a.astype(np.float64)) for a in (x.reshape(n, -1), W, dout))
    floor = {"out": ax @ aW + np.abs(b), "dx": (ad @ aW.T).reshape(x.shape), "dW": ax.T @ ad,
             "db": ad.sum(axis=0)}
    run_layer_parity(L.Affine(W.copy(), b.copy()), lambda xt: linear(xt.reshape(n, -1)), x, dout,
                     module=linear, grads={"dW": "weight.T", "db": "bias"}, floor=floor,
                     device=device, dtype=dtype, what="Affine vs nn.Linear")


# -- activations ----------------------------------------------------------------------------------

#: (name, npref layer, PyTorch module, the size of the terms of dx given y and dout): the
#: derivatives 1 − y² and (1 − y)·y cancel where the activation saturates (y → ±1).
ACTIVATIONS = [
    ("ReLU", L.ReLU, torch.nn.ReLU, lambda y, dout: np.abs(dout)),
    ("Sigmoid", L.Sigmoid, torch.nn.Sigmoid, lambda y, dout: np.abs(dout) * (1 + y) * y),
    ("Tanh", L.Tanh, torch.nn.Tanh, lambda y, dout: np.abs(dout) * (1 + y * y)),
]


@pytest.mark.parametrize("name,ours,theirs,dx_terms", ACTIVATIONS,
                         ids=[a[0] for a in ACTIVATIONS])
@given(batch=batches())
def test_activation_matches_pytorch(name, ours, theirs, dx_terms, device, batch):
    x, dout, dtype = batch

    def floor(results):
        terms = dx_terms(results["out"].astype(np.float64), dout.astype(np.float64))
        return {"out": "norm", "dx": np.maximum(terms.max(), 1e-300)}

    run_layer_parity(ours(), theirs(), x, dout, floor=floor, device=device, dtype=dtype,
                     what=f"{name} vs nn.{name}")


@given(batch=batches(), data=st.data())
def test_relu_backward_is_zero_where_x_is_not_positive_whatever_dout_holds(device, batch, data):
    """inf and NaN in ``dout`` reach dx only where x > 0; elsewhere dx is exactly 0 (the book's
    ``dout[mask] = 0``, PyTorch's threshold) — never ``inf·0 = NaN``."""
    x, dout, dtype = batch
    rng = np.random.default_rng(data.draw(S.seeds))
    dout = dout.copy()
    spots = rng.random(dout.shape) < 0.3
    dout[spots] = rng.choice([np.inf, -np.inf, np.nan], spots.sum())
    ours = L.ReLU()
    ours.forward(x)
    dx = ours.backward(dout)
    xt = tensor(x, device, grad=True)
    torch.nn.ReLU()(xt).backward(tensor(dout, device))
    dx_t = xt.grad.cpu().numpy()
    assert dx.dtype == dtype
    assert np.all(dx[x <= 0] == 0) and np.all(dx_t[x <= 0] == 0)
    np.testing.assert_array_equal(dx[x > 0], dout[x > 0])          # NaN equals NaN here
    np.testing.assert_array_equal(dx, dx_t)


# -- losses ---------------------------------------------------------------------------------------

@st.composite
def logits(draw, max_scale=4.0):
    """Scores of shape (N, C) at a scale up to 10^max_scale (±1e4 by default)."""
    dtype = draw(S.dtypes)
    n, c = draw(st.integers(1, 32)), draw(st.integers(2, 12))
    rng = np.random.default_rng(draw(S.seeds))
    x = rng.standard_normal((n, c)) * 10.0 ** draw(st.floats(-3, max_scale))
    return x.astype(dtype), rng, dtype


@pytest.mark.parametrize("targets", ["labels", "one-hot", "probabilities"])
@given(case=logits())
def test_softmax_with_loss_matches_cross_entropy(targets, device, case):
    x, rng, dtype = case
    n, c = x.shape
    labels = rng.integers(0, c, n)
    if targets == "labels":
        t = labels
    elif targets == "one-hot":
        t = np.eye(c, dtype=dtype)[labels]
    else:
        t = rng.dirichlet(np.ones(c), n).astype(dtype)
    run_layer_parity(L.SoftmaxWithLoss(), also_torchref(F.cross_entropy, TL.SoftmaxWithLoss()),
                     x, target=t, floor=lambda results: loss_floor(softmax_terms(x, t), **results),
                     device=device, dtype=dtype,
                     what=f"SoftmaxWithLoss ({targets}) vs cross_entropy")


def softmax_terms(x, t, cap=np.inf):
    """The size of the terms of a softmax cross-entropy: per sample, |x − max| of the target
    entries (capped at ``cap``: the book's log(y + 1e-7) never goes below log 1e-7) and the log
    of a sum ≥ 1, whose own rounding is absolute — about one unit per sample."""
    c = x.shape[1]
    T = np.eye(c)[t] if t.ndim == 1 else t.astype(np.float64)
    shifted = np.abs(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    return np.mean(np.sum(T * np.minimum(shifted, cap), axis=1)) + 1.0


def book_softmax_loss(x, t):
    """The book's ``softmax`` and ``cross_entropy_error``, transcribed from its formulas:
    y = e^(x − max)/Σ e^(x − max), L = −Σ t·log(y + 1e-7)/N, and its backward (y − t)/N."""
    x = x.astype(np.float64)
    n, c = x.shape
    e = np.exp(x - x.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    T = np.eye(c)[t] if t.ndim == 1 else t.astype(np.float64)
    return -np.sum(T * np.log(y + 1e-7)) / n, (y - T) / n


@pytest.mark.parametrize("targets", ["labels", "one-hot", "probabilities"])
@given(case=logits())
def test_book_softmax_with_loss(targets, device, case):
    """convention="book": npref against torchref's BookSoftmaxWithLoss, and both against the
    book's formula (float64; float32 within its tolerance)."""
    x, rng, dtype = case
    n, c = x.shape
    labels = rng.integers(0, c, n)
    t = {"labels": labels, "one-hot": np.eye(c, dtype=dtype)[labels],
         "probabilities": rng.dirichlet(np.ones(c), n).astype(dtype)}[targets]
    theirs = TL.SoftmaxWithLoss("book")
    assert isinstance(theirs, TL.BookSoftmaxWithLoss)
    floor = lambda results: loss_floor(softmax_terms(x, t, cap=16.2), **results)   # noqa: E731
    ours = run_layer_parity(L.SoftmaxWithLoss("book"), theirs, x, target=t, floor=floor,
                            device=device, dtype=dtype,
                            what=f"SoftmaxWithLoss/book ({targets}) vs torchref")
    loss, dx = book_softmax_loss(x, t)
    check_parity({"loss": np.asarray(loss, dtype), "dx": dx.astype(dtype)},
                 {"loss": np.asarray(ours["loss"], dtype), "dx": ours["dx"]}, dtype=dtype,
                 floor=floor(ours), what=f"SoftmaxWithLoss/book ({targets}) vs the book's formula",
                 names=("book", "npref"))


def test_book_loss_is_below_zero_when_right_and_capped_when_wrong():
    """The 1e-7 where it shows: a confident right answer gives −log(1 + 1e-7) ≈ −1e-7, a
    confident wrong one −log(1e-7) ≈ 16.118; the exact loss gives 0 and 1000."""
    right, wrong = np.array([[1000.0, 0.0]]), np.array([[0.0, 1000.0]])
    label = np.array([0])
    for make in (lambda: L.SoftmaxWithLoss("book"),
                 lambda: _torch_loss(TL.SoftmaxWithLoss("book"))):
        assert make().forward(right, label) == pytest.approx(-np.log1p(1e-7), rel=1e-9)
        assert make().forward(wrong, label) == pytest.approx(-np.log(1e-7), rel=1e-12)
    assert L.SoftmaxWithLoss().forward(right, label) == 0.0
    assert L.SoftmaxWithLoss().forward(wrong, label) == 1000.0


def _torch_loss(module):
    class Wrapped:
        def forward(self, x, t):
            return module(torch.tensor(x), torch.tensor(t)).item()
    return Wrapped()


@pytest.mark.parametrize("shape", ["(N, 1)", "(N,)"])
@given(case=logits(), hard=st.booleans())
def test_sigmoid_with_loss_matches_bce_with_logits(shape, device, case, hard):
    x, rng, dtype = case
    x = x[:, :1] if shape == "(N, 1)" else x[:, 0]
    n = x.shape[0]
    t = (rng.integers(0, 2, n) if hard else rng.random(n)).astype(dtype)
    bce = also_torchref(lambda xt, tt: F.binary_cross_entropy_with_logits(xt.reshape(-1), tt),
                        TL.SigmoidWithLoss())
    run_layer_parity(L.SigmoidWithLoss(), bce, x, target=t,
                     floor=lambda results: loss_floor(np.mean(np.abs(x)), **results),
                     device=device, dtype=dtype, what="SigmoidWithLoss vs BCE with logits")


def also_torchref(builtin, module):
    """PyTorch's loss function, checking on the way that torchref's module computes exactly it."""
    def loss(x, t):
        expected = builtin(x, t)
        with torch.no_grad():
            assert bool(module(x, t) == expected), f"{type(module).__name__} differs"
        return expected
    return loss


def loss_floor(terms, loss, dx):
    """Per-key floors: the loss against the terms summed to form it (mean |x| or |x − max| of
    the target entries), its gradient ``(σ or softmax − t)/N`` against 1/N."""
    n = dx.shape[0]
    return {"loss": np.array(abs(loss) + terms), "dx": np.full(dx.shape, 1.0 / n)}


@given(data=st.data())
def test_losses_stay_finite_at_extreme_logits(data):
    """Any finite scores whose loss is representable give a finite loss and gradient."""
    dtype = data.draw(S.dtypes)
    top = 300 if dtype == np.float64 else 37          # the loss can reach 2·10^top
    n, c = data.draw(st.integers(1, 8)), data.draw(st.integers(2, 6))
    rng = np.random.default_rng(data.draw(S.seeds))
    x = (rng.choice([-1.0, 1.0], (n, c)) * 10.0 ** rng.uniform(-3, top, (n, c))).astype(dtype)
    labels = rng.integers(0, c, n)
    soft = L.SoftmaxWithLoss()
    loss = soft.forward(x, labels)
    assert np.isfinite(loss) and loss >= 0
    assert np.all(np.isfinite(soft.backward()))
    book = L.SoftmaxWithLoss("book")
    loss = book.forward(x, labels)
    assert np.isfinite(loss) and -1e-6 <= loss <= 16.2
    assert np.all(np.isfinite(book.backward()))
    sig = L.SigmoidWithLoss()
    loss = sig.forward(x[:, 0], (labels % 2).astype(dtype))
    assert np.isfinite(loss) and loss >= 0
    assert np.all(np.isfinite(sig.backward()))


# -- BatchNorm ------------------------------------------------------------------------------------

@pytest.mark.parametrize("convention", ["torch", "book"])
@given(data=st.data())
def test_batchnorm_training_and_evaluation(convention, device, data):
    """Several training steps (outputs, gradients, running statistics), then evaluation."""
    dtype = data.draw(S.dtypes)
    n, d = data.draw(st.integers(2, 32)), data.draw(st.integers(1, 32))
    momentum = data.draw(st.one_of(st.none(), st.floats(0.0, 1.0)))
    eps = data.draw(st.one_of(st.none(), S.log_uniform(1e-8, 1e-2)))
    rng = np.random.default_rng(data.draw(S.seeds))
    scale = 10.0 ** data.draw(st.floats(-2, 2))
    steps = data.draw(st.integers(1, 4))

    ours, theirs = twin_batchnorms(d, momentum, eps, convention, dtype, device, rng)
    for _ in range(steps):
        x = (rng.standard_normal((n, d)) * scale + rng.standard_normal(d)).astype(dtype)
        dout = rng.standard_normal((n, d)).astype(dtype)
        run_layer_parity(ours, theirs, x, dout, train=True,
                         grads={"dgamma": "weight", "dbeta": "bias"},
                         floor=lambda _: batchnorm_floors(ours, x, dout),
                         device=device, dtype=dtype, what=f"BatchNorm/{convention} training")
        stats_floor = {"mean": np.abs(ours.running_mean).max() + np.abs(x).mean(), "var": "norm"}
        check_parity({"mean": theirs.running_mean, "var": theirs.running_var},
                     {"mean": ours.running_mean, "var": ours.running_var}, dtype=dtype,
                     floor=stats_floor, what=f"BatchNorm/{convention} running statistics",
                     names=("torch", "npref"))
    theirs.eval()
    x = (rng.standard_normal((n, d)) * scale).astype(dtype)
    with torch.no_grad():
        out_t = theirs(tensor(x, device))
    out = ours.forward(x, train=False)
    terms = (np.abs(ours.gamma) * (np.abs(x) + np.abs(ours.running_mean)) / ours.std
             + np.abs(ours.beta))
    check_parity(out_t, out, dtype=dtype, floor=terms.astype(np.float64),
                 what=f"BatchNorm/{convention} evaluation", names=("torch", "npref"))


def twin_batchnorms(d, momentum, eps, convention, dtype, device, rng):
    """npref's BatchNorm and torchref's (PyTorch's own for "torch"), from the same drawn γ, β."""
    ours = L.BatchNorm(d, momentum, eps, convention, dtype=dtype)
    theirs = TL.BatchNorm(d, momentum, eps, convention, dtype=torch_dtype(dtype), device=device)
    expected_class = torch.nn.BatchNorm1d if convention == "torch" else TL.BookBatchNorm1d
    assert type(theirs) is expected_class
    with torch.no_grad():
        gamma = (1 + 0.1 * rng.standard_normal(d)).astype(dtype)
        beta = (0.1 * rng.standard_normal(d)).astype(dtype)
        ours.gamma[...], ours.beta[...] = gamma, beta
        theirs.weight.copy_(torch.tensor(gamma)), theirs.bias.copy_(torch.tensor(beta))
    return ours, theirs


def batchnorm_floors(bn, x, dout):
    """The size of the terms behind each BatchNorm result, per feature.

    x̂ = (x − μ)/σ cancels where the batch barely varies (σ ≪ |x|): its terms have size
    x̃ = (|x| + |μ|)/σ. The backward pass subtracts from γ·dout its batch mean and x̂ times the
    batch mean of γ·dout·x̂, then divides by σ; ``dγ`` and ``dβ`` sum products of both signs.
    """
    x = x.astype(np.float64)
    gamma, beta = np.abs(bn.gamma).astype(np.float64), np.abs(bn.beta).astype(np.float64)
    std = bn.std.astype(np.float64)
    dout = np.abs(dout).astype(np.float64)
    xt = (np.abs(x) + np.abs(x.mean(axis=0))) / std
    per_feature = {
        "out": (gamma * xt + beta).max(axis=0),
        "dx": (gamma / std * (dout + dout.mean(axis=0) + xt * (dout * xt).mean(axis=0))).max(0),
        "dgamma": (dout * xt).sum(axis=0),
        "dbeta": dout.sum(axis=0),
    }
    return {k: np.broadcast_to(v, x.shape if k in ("out", "dx") else v.shape).copy()
            for k, v in per_feature.items()}


def test_batchnorm_conventions_start_as_the_spec_says():
    torch_bn, book_bn = L.BatchNorm(3), L.BatchNorm(3, convention="book")
    assert (torch_bn.momentum, torch_bn.eps, book_bn.momentum, book_bn.eps) == (0.1, 1e-5, 0.9, 1e-6)
    assert np.all(torch_bn.running_var == 1) and np.all(book_bn.running_var == 0)
    assert np.all(TL.BatchNorm(3, convention="book").running_var.numpy() == 0)


def test_batchnorm_refuses_one_sample_in_training():
    x = np.ones((1, 4))
    with pytest.raises(ValueError, match="at least 2 samples"):
        L.BatchNorm(4).forward(x, train=True)
    with pytest.raises(ValueError, match="at least 2 samples"):
        TL.BatchNorm(4, convention="book")(torch.ones(1, 4))
    with pytest.raises(ValueError):                  # PyTorch's own module refuses it too
        TL.BatchNorm(4)(torch.ones(1, 4, dtype=torch.float64))
    assert L.BatchNorm(4).forward(x, train=False).shape == (1, 4)     # evaluation is fine


# -- Dropout --------------------------------------------------------------------------------------

@pytest.mark.parametrize("convention", ["torch", "book"])
@given(batch=batches(), p=st.floats(0.0, 0.9), train=st.booleans(), seed=S.seeds)
def test_dropout_with_a_shared_mask(convention, device, batch, p, train, seed):
    x, dout, dtype = batch
    ours = L.Dropout(p, convention, rng=np.random.default_rng(seed))
    theirs = TL.Dropout(p, convention)
    # npref runs first and draws the mask; torchref is handed it.
    run_layer_parity(ours, lambda xt: theirs(xt, tensor(ours.mask, device) if train else None),
                     x, dout, module=theirs, train=train, device=device, dtype=dtype,
                     what=f"Dropout/{convention}", names=("torchref", "npref"))


@pytest.mark.parametrize("convention", ["torch", "book"])
@given(batch=batches(), p=st.floats(0.0, 0.9), seed=S.seeds)
def test_dropout_draws_the_same_mask_from_the_same_seed(convention, device, batch, p, seed):
    """No mask handed in: both backends draw it from a Generator seeded alike, and agree."""
    x, _, dtype = batch
    out = L.Dropout(p, convention, rng=np.random.default_rng(seed)).forward(x, train=True)
    out_t = TL.Dropout(p, convention, rng=np.random.default_rng(seed))(tensor(x, device))
    check_parity(out_t, out, dtype=dtype, floor="norm", what=f"Dropout/{convention} (seeded)",
                 names=("torchref", "npref"))


@given(batch=batches(), p=st.floats(0.0, 0.9), seed=S.seeds)
def test_dropout_matches_f_dropout(device, batch, p, seed):
    """PyTorch's own dropout, its mask read back from its output, equals ours with that mask."""
    x, _, dtype = batch
    x = np.where(x == 0, 1.0, x).astype(dtype)               # so that a zero means "dropped"
    xt = tensor(x, device)
    with torch.random.fork_rng(devices=[xt.device] if xt.is_cuda else []):
        torch.manual_seed(seed)                # F.dropout draws from the global generator:
        out_t = F.dropout(xt, p, training=True)  # seeded here, and put back as it was after
    mask = (out_t != 0).cpu().numpy()
    out = L.Dropout(p).forward(x, train=True, mask=mask)
    check_parity(out_t, out, dtype=dtype, floor="norm", what="Dropout/torch vs F.dropout",
                 names=("F.dropout", "npref"))


def test_dropout_keeps_one_minus_p_of_the_units():
    drop = L.Dropout(0.3, rng=np.random.default_rng(0))
    drop.forward(np.ones((400, 500)))
    assert abs(drop.mask.mean() - 0.7) < 0.005
    with pytest.raises(ValueError, match="p must be a number in \\[0, 1\\)"):
        L.Dropout(1.0)
    with pytest.raises(ValueError, match="boolean array"):
        L.Dropout(0.5).forward(np.ones((2, 3)), mask=np.ones((2, 3)))


# -- bad input ------------------------------------------------------------------------------------

LAYER_FACTORIES = {
    "Affine": lambda: L.Affine(np.ones((3, 2)), np.zeros(2)),
    "ReLU": L.ReLU, "Sigmoid": L.Sigmoid, "Tanh": L.Tanh,
    "BatchNorm": lambda: L.BatchNorm(3), "Dropout": lambda: L.Dropout(0.5),
}


@pytest.mark.parametrize("name", LAYER_FACTORIES)
def test_backward_refuses_a_dout_of_another_shape(name):
    layer = LAYER_FACTORIES[name]()
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((4, 3)))
    out = layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match="dout has shape"):
        layer.backward(np.ones((out.shape[0] + 1, out.shape[1])))


def test_loss_layers_refuse_bad_targets():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        L.SoftmaxWithLoss().forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="integer class labels"):
        L.SoftmaxWithLoss().forward(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="targets must be labels"):
        L.SoftmaxWithLoss().forward(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        L.SigmoidWithLoss().forward(np.zeros((2, 1)), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="2 targets for 3 scores"):
        L.SigmoidWithLoss().forward(np.zeros((3, 1)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="does not fit"):
        L.Affine(np.ones((3, 2)), np.zeros(2)).forward(np.ones((4, 5)))


@given(batch=batches())
def test_layers_keep_the_dtype(batch):
    x, dout, dtype = batch
    for layer in (L.ReLU(), L.Sigmoid(), L.Tanh(), L.Dropout(0.2), L.BatchNorm(x.shape[1],
                                                                               dtype=dtype)):
        if isinstance(layer, L.BatchNorm) and x.shape[0] < 2:
            continue
        assert layer.forward(x).dtype == dtype
        assert layer.backward(dout).dtype == dtype
