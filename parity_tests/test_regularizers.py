"""Regularization: penalties and their gradients, and weight decay in training, against PyTorch.

* npref's penalty and closed-form gradient against autograd of the same formula in torchref
  (and against the formula written here with plain torch ops);
* weight decay: a MultiLayerNet with ``L2(λ)`` trained by npref's plain SGD walks the same path,
  step by step, as a penalty-free torchref net under ``torch.optim.SGD`` with ``weight_decay=λ``
  on a parameter group holding the weights only;
* AdamW's decoupled decay against Adam with L2 in the loss: each matches its PyTorch twin, and
  the two land measurably apart.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import npref.optim
import npref.regularizers as R
import torchref.regularizers as TR
from npref.nets import MultiLayerNet
from parity_tests import strategies as S
from npref.testing import layer_floors
from parity_tests.harness import check_parity, torch_dtype
from torchref.nets import MultiLayerNet as TorchNet

#: name -> (npref factory, the formula written with plain torch ops)
FORMULAS = {
    "L1": (lambda a, b: R.L1(a), lambda ws, a, b: a * sum(w.abs().sum() for w in ws)),
    "L2": (lambda a, b: R.L2(a), lambda ws, a, b: 0.5 * a * sum((w ** 2).sum() for w in ws)),
    "ElasticNet": (lambda a, b: R.ElasticNet(a, b),
                   lambda ws, a, b: a * sum(w.abs().sum() for w in ws)
                   + 0.5 * b * sum((w ** 2).sum() for w in ws)),
}


@pytest.mark.parametrize("name", FORMULAS)
@given(dtype=S.dtypes, seed=S.seeds, lam=S.log_uniform(1e-6, 10.0), lam2=S.log_uniform(1e-6, 10.0),
       shapes=st.lists(S.shapes(max_dims=2, max_size=256), min_size=1, max_size=4))
def test_penalty_and_gradient_match_autograd(name, device, dtype, seed, lam, lam2, shapes):
    rng = np.random.default_rng(seed)
    weights = []
    for shape in shapes:
        w = rng.standard_normal(shape)
        w[rng.random(shape) < 0.2] = 0.0              # L1's subgradient at 0 must be 0
        weights.append(w.astype(dtype))
    ours = FORMULAS[name][0](lam, lam2)
    theirs = TR.from_npref(ours)
    assert type(theirs).__name__ == name
    tensors = [torch.tensor(w, device=device, requires_grad=True) for w in weights]
    penalty_t = theirs.penalty(tensors)
    penalty_t.backward()
    plain = FORMULAS[name][1]([t.detach() for t in tensors], lam, lam2)
    terms = float(sum(np.abs(w).sum() * lam + 0.5 * lam2 * (w.astype(np.float64) ** 2).sum()
                      for w in weights)) or 1.0
    check_parity({"penalty": np.array(plain.item()), "torchref": np.array(penalty_t.item())},
                 {"penalty": np.array(ours.penalty(weights)),
                  "torchref": np.array(ours.penalty(weights))},
                 dtype=dtype, floor=terms, check_dtype=False, what=f"{name} penalty vs torch",
                 names=("torch", "npref"))
    check_parity([t.grad for t in tensors], [ours.grad(w) for w in weights], dtype=dtype,
                 floor="norm", what=f"{name} gradient vs autograd", names=("autograd", "npref"))
    check_parity([theirs.grad(t.detach()) for t in tensors], [t.grad for t in tensors],
                 dtype=dtype, floor="norm", what=f"{name} torchref closed form vs autograd",
                 names=("autograd", "torchref.grad"))


def test_l1_subgradient_is_zero_at_zero():
    w = np.array([-2.0, 0.0, 3.0])
    assert list(R.L1(0.5).grad(w)) == [-0.5, 0.0, 0.5]
    t = torch.tensor(w, requires_grad=True)
    TR.L1(0.5).penalty([t]).backward()
    assert t.grad.tolist() == [-0.5, 0.0, 0.5]


# -- weight decay in training ---------------------------------------------------------------------

#: Whole networks after several steps: the tolerance of issue 3 for networks in float64.
NET_TOL = {np.float64: 1e-10, np.float32: 1e-5}


def _nets(arch, lam, dtype, seed, device, regularizer_in_torch=False):
    ours = MultiLayerNet(**arch, regularizer=R.L2(lam), rng=np.random.default_rng(seed),
                         dtype=dtype)
    theirs = TorchNet(**arch, regularizer=R.L2(lam) if regularizer_in_torch else None,
                      dtype=torch_dtype(dtype), device=device)
    theirs.load_params(ours.params)
    return ours, theirs


def _groups(net, decay):
    """PyTorch parameter groups: decay on the weights, none on biases and BatchNorm's γ, β."""
    weights = [p for k, p in net._named().items() if k.startswith("W")]
    others = [p for k, p in net._named().items() if not k.startswith("W")]
    return [{"params": weights, "weight_decay": decay}, {"params": others, "weight_decay": 0.0}]


@st.composite
def training_cases(draw):
    arch = {"input_size": draw(st.integers(2, 12)),
            "hidden_sizes": draw(st.lists(st.integers(2, 12), min_size=1, max_size=3)),
            "output_size": draw(st.sampled_from([1, 3])),
            "activation": draw(st.sampled_from(["relu", "tanh"])),
            "use_batchnorm": draw(st.booleans())}
    return arch, draw(S.log_uniform(1e-4, 1.0)), draw(S.log_uniform(1e-3, 0.5))


def _data(arch, n, dtype, rng):
    x = rng.standard_normal((n, arch["input_size"])).astype(dtype)
    t = rng.integers(0, max(2, arch["output_size"]), n)
    return x, t


@given(case=training_cases(), dtype=S.dtypes, seed=S.seeds, steps=st.integers(1, 5))
def test_l2_penalty_with_sgd_equals_pytorch_weight_decay(device, case, dtype, seed, steps):
    arch, lam, lr = case
    ours, theirs = _nets(arch, lam, dtype, seed, device)
    opt = npref.optim.SGD(lr=lr)
    opt_t = torch.optim.SGD(_groups(theirs, lam), lr=lr)
    rng = np.random.default_rng(seed + 1)
    for step in range(steps):
        x, t = _data(arch, 8, dtype, rng)
        opt.update(ours.params, ours.gradient(x, t))
        opt_t.zero_grad()
        theirs.loss(x, t).backward()
        opt_t.step()
        expected = theirs.numpy_params()
        check_parity(expected, ours.params, dtype=dtype, tol=NET_TOL[dtype],
                     floor=layer_floors(expected),
                     what="L2(λ) + SGD vs torch.optim.SGD(weight_decay=λ)",
                     names=("torch.optim.SGD", "npref"))


@given(case=training_cases(), dtype=S.dtypes, seed=S.seeds, steps=st.integers(2, 5))
def test_adamw_is_not_adam_with_l2(device, case, dtype, seed, steps):
    """Decoupled decay (AdamW) vs L2 in the gradient (Adam): each equals PyTorch's, and they
    differ — Adam divides the decay term by √v along with the gradient, AdamW does not."""
    arch, lam, lr = case
    lr = min(lr, 0.01)
    # Without BatchNorm: a bias feeding one has a zero gradient up to rounding, and Adam scales
    # that rounding up to lr·g/(|g| + eps) — noise, which says nothing about weight decay.
    arch = {**arch, "use_batchnorm": False}
    coupled, coupled_t = _nets(arch, lam, dtype, seed, device)         # Adam + L2(λ) in the loss
    decoupled = MultiLayerNet(**arch, rng=np.random.default_rng(seed), dtype=dtype)
    decoupled_t = TorchNet(**arch, dtype=torch_dtype(dtype), device=device)
    decoupled_t.load_params(decoupled.params)

    adam = npref.optim.Adam(lr=lr)
    adam_t = torch.optim.Adam(_groups(coupled_t, lam), lr=lr)
    # npref hands each parameter group its own optimizer: decay on the weights only.
    adamw = {"W": npref.optim.AdamW(lr=lr, weight_decay=lam),
             "rest": npref.optim.AdamW(lr=lr, weight_decay=0.0)}
    adamw_t = torch.optim.AdamW(_groups(decoupled_t, lam), lr=lr)
    rng = np.random.default_rng(seed + 1)
    for _ in range(steps):
        x, t = _data(arch, 8, dtype, rng)
        adam.update(coupled.params, coupled.gradient(x, t))
        grads = decoupled.gradient(x, t)
        for group, opt in adamw.items():
            keys = [k for k in decoupled.params if k.startswith("W") == (group == "W")]
            opt.update({k: decoupled.params[k] for k in keys}, {k: grads[k] for k in keys})
        for opt_t, net_t in ((adam_t, coupled_t), (adamw_t, decoupled_t)):
            opt_t.zero_grad()
            net_t.loss(x, t).backward()
            opt_t.step()
    expected = coupled_t.numpy_params()
    check_parity(expected, coupled.params, dtype=dtype, tol=NET_TOL[dtype],
                 floor=layer_floors(expected),
                 what="Adam + L2(λ) vs torch.optim.Adam(weight_decay=λ)",
                 names=("torch.optim.Adam", "npref"))
    expected = decoupled_t.numpy_params()
    check_parity(expected, decoupled.params, dtype=dtype, tol=NET_TOL[dtype],
                 floor=layer_floors(expected), what="AdamW vs torch.optim.AdamW",
                 names=("torch.optim.AdamW", "npref"))
    gap = max(float(np.max(np.abs(coupled.params[k] - decoupled.params[k])))
              for k in coupled.params if k.startswith("W"))
    assert gap > 100 * NET_TOL[dtype] * lr, f"AdamW and Adam+L2 landed {gap:.2e} apart"


@pytest.mark.parametrize("call,words", [
    (lambda: R.L1(-0.1), "lam must be a finite number >= 0"),
    (lambda: R.L2(float("nan")), "lam must be"),
    (lambda: R.ElasticNet(0.1, -1), "l2 must be"),
    (lambda: TR.L2(-1), "lam must be"),
    (lambda: TR.from_npref("L2"), "regularizer must be an L1, L2 or ElasticNet"),
])
def test_bad_arguments_are_named(call, words):
    with pytest.raises(ValueError, match=words):
        call()
