"""The rest of ``torch.optim``: every rule npref describes beyond chapter 6, against PyTorch's own
class, read from the rule's description (:mod:`npref.optim.base`) — nothing here names a rule.

Adding an optimizer to npref (its update and its row) puts it under every test below: parity with
``torch.optim`` on its single-tensor and its foreach path (hypothesis over shapes, dtypes and the
hyperparameters' ranges, zeros and 1e-6…1e3 gradients), torchref returning PyTorch's own class,
the defaults against PyTorch's signature, bad values refused by name, the state_dict round trip,
float32 kept, and a mutant — a learning rate off by a millionth — caught.

How differences are judged: each step starts from PyTorch's parameter and state
(``stepwise``), so one step of the rule is compared at a time, at the dtype's tolerance (1e-12
float64, 1e-5 float32). Every state entry is judged against its own largest magnitude; the
parameter against its largest magnitude plus its step scaled by how much the step's gradient
cancelled (:func:`scale`): where L2 decay folds ``g + wd·p`` and the two nearly cancel, the sum
keeps only the rounding of its terms — NumPy rounds ``wd·p`` first, PyTorch fuses the two — and
an adaptive rule divides by it. The chapter-6 rules have their own table (test_optim.py), with a
finer scale that also follows whole runs.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import npref.optim
import torchref.optim
from npref.testing import strategies as NS
from parity_tests import strategies as S
from parity_tests.harness import check_parity, npref_trajectory, run_update_parity, torch_trajectory

MORE = [name for name in npref.optim.NAMES if name not in npref.optim.CHAPTER_6]
RULES = npref.optim.RULES
#: Chapter 6's rules under PyTorch's names, with PyTorch's options drawn (convention "torch"):
#: SGD's momentum and dampening, AdaGrad's lr_decay and initial_accumulator_value, RMSprop's
#: centered and momentum, Adam's amsgrad and decoupled_weight_decay, AdamW's amsgrad; maximize
#: for all. (Momentum and Nesterov are SGD's rules under the book's names: test_optim.py.)
OPTIONED = [name for name in npref.optim.CHAPTER_6 if name not in ("momentum", "nesterov")]
PATHS = ["single-tensor", "foreach"]


def torch_class(name):
    """PyTorch's class for the rule, or torchref's own where PyTorch has none (Lion): then npref
    and torchref, written apart, witness each other."""
    return torchref.optim.counterpart(name)


def label(name, short=False):
    """``torch.optim.NAdam`` (``torch.optim`` with ``short``), or ``torchref.optim.Lion``."""
    cls = torch_class(name)
    if cls.__module__.startswith("torch.optim"):
        return "torch.optim" if short else f"torch.optim.{cls.__name__}"
    return f"torchref.optim.{cls.__name__}"


def torch_keywords(name, hyper: dict) -> dict:
    """npref's keywords, resolved, in PyTorch's names."""
    resolved = npref.optim.make(name, **hyper).hyperparameters()
    return {RULES[name].hyper[k].torch or k: v for k, v in resolved.items() if k != "convention"}


def state_map(opt, p0) -> dict:
    """npref's state names → PyTorch's, for the buffers a parameter like ``p0`` has."""
    return {b.name: (b.torch_name, b.scale(opt)) if b.scale else b.torch_name
            for b in opt.state_buffers
            if b.kind != "other" or b.init(opt, p0) is not None}


@st.composite
def cases(draw, name):
    dtype = draw(S.dtypes)
    shape = draw(S.shapes())
    hyper = draw(NS.hyperparameters(name, options=True))
    if hyper.get("centered") and hyper["alpha"] < 1e-3:
        # Centered RMSprop's variance h − ḡ² is all rounding as α → 0 (at α = 0 it is the
        # rounding error of g², negative half the time: PyTorch's own step is NaN there).
        hyper["alpha"] = draw(st.floats(1e-3, 0.999))
    return hyper, draw(S.parameters(shape, dtype)), draw(S.gradient_sequences(shape, dtype)), dtype


#: Every rule on its single-tensor path, and on the foreach path where torchref offers it; and
#: chapter 6's with PyTorch's options, on the single-tensor path.
RUNS = [(name, path) for name in MORE for path in PATHS
        if path == "single-tensor" or "foreach" in RULES[name].fast] + \
    [(name, "single-tensor") for name in OPTIONED]


def scale(opt, grads):
    """The floor the parameter is judged against, per element and step (from the reference's
    trajectory): its largest magnitude, plus each step's size times the condition of the
    gradient the rule saw, (|g| + wd·|p|)/|g + wd·p| under L2 decay (1 otherwise)."""
    def floor(ref):
        p = ref["p"].astype(np.float64)      # both backends may reach 0/0 alike: NaN-blind
        out = np.full_like(p, np.nanmax(np.abs(p), initial=0.0))
        wd = getattr(opt, "weight_decay", 0.0)
        for t, g in enumerate(grads):
            g = g.astype(np.float64) * (-1.0 if opt.maximize else 1.0)     # what the rule sees
            kappa = 1.0
            if opt.decay == "L2" and wd > 0:
                with np.errstate(divide="ignore", invalid="ignore"):
                    kappa = np.where(g + wd * p[t] != 0,
                                     (np.abs(g) + wd * np.abs(p[t])) / np.abs(g + wd * p[t]), 1.0)
            if getattr(opt, "centered", False):
                kappa = kappa * centered_condition(ref, t)
            out[t + 1] += np.nan_to_num(np.abs(p[t + 1] - p[t]) * kappa, nan=0.0, posinf=0.0)
        if getattr(opt, "centered", False) and "momentum_buffer" in ref:
            return {"p": out, "momentum_buffer": buffer_scale(opt, ref)}
        return out
    return floor


def buffer_scale(opt, ref):
    """RMSprop's momentum buffer B ← μ·B + g/d carries the condition of a centered d: its
    largest magnitude plus each step's increment times :func:`centered_condition`."""
    b = ref["momentum_buffer"].astype(np.float64)
    out = np.full_like(b, np.nanmax(np.abs(b), initial=0.0))
    previous = np.zeros_like(b[0])
    for t in range(len(b)):
        increment = np.abs(b[t] - opt.momentum * previous) * centered_condition(ref, t)
        out[t] += np.nan_to_num(increment, nan=0.0, posinf=0.0)    # step by step: its own
        previous = b[t]
    return out


def centered_condition(ref, t):
    """RMSprop's centered rule divides by √(h − ḡ²): where the variance cancels (a gradient that
    hardly changes, α near 0) it carries the rounding of h and ḡ² — PyTorch fuses those sums,
    NumPy rounds each product — magnified h/(h − ḡ²) times (up to 1/ε of the dtype)."""
    h = ref["square_avg"][t].astype(np.float64)
    m = ref["grad_avg"][t].astype(np.float64)
    variance = np.abs(h - m * m)
    worst = 1 / np.finfo(ref["square_avg"].dtype).eps
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variance > 0, np.minimum(h / variance, worst), worst)


@pytest.mark.parametrize("name,path", RUNS, ids=[f"{n}-{p}" for n, p in RUNS])
@given(data=st.data())
def test_matches_pytorch(name, path, device, data):
    hyper, p0, grads, dtype = data.draw(cases(name))
    foreach = path == "foreach"
    opt = npref.optim.make(name, **hyper)
    reference = lambda ps: torch_class(name)(ps, **torch_keywords(name, hyper),  # noqa: E731
                                             foreach=foreach)
    with np.errstate(all="ignore"):
        run = run_update_parity(opt, reference, p0, grads, device=device, dtype=dtype,
                                state=state_map(opt, p0), floor=scale(opt, grads),
                                stepwise=True,
                                names=(f"{label(name)} ({path})",
                                       "npref"),
                                what=f"{name}: npref vs {label(name, short=True)} ({path}, "
                                     "step by step)")
    mirror = torch_trajectory(lambda ps: torchref.optim.make(name, ps, **hyper, foreach=foreach),
                              p0, grads, device)
    for key, values in mirror.items():        # torchref returns the reference's class: same bits
        assert np.array_equal(values, run.reference[key], equal_nan=True), (name, key)


@pytest.mark.parametrize("name", MORE)
def test_torchref_returns_pytorchs_own_class(name):
    made = torchref.optim.make(name, [torch.zeros(3, requires_grad=True)])
    assert type(made) is torch_class(name)


@pytest.mark.parametrize("name", MORE)
def test_defaults_are_pytorchs(name):
    """npref's defaults are the defaults of PyTorch's signature (the torch names)."""
    signature = inspect.signature(torch_class(name))
    for key, value in npref.optim.make(name).hyperparameters().items():
        theirs = signature.parameters[RULES[name].hyper[key].torch or key].default
        assert value == theirs or (isinstance(theirs, tuple) and tuple(value) == theirs), key
    group = torchref.optim.make(name, [torch.zeros(2, requires_grad=True)]).param_groups[0]
    for key, value in torch_keywords(name, {}).items():
        assert group[key] == value or tuple(group[key]) == tuple(value), key


#: Values no rule may take, by the kind of hyperparameter (its ``draw``), with the words of the
#: accepted range the refusal must contain.
BAD = {
    "lr": ([0.0, -0.1, float("nan"), "0.1", True], "> 0"),
    "small_eps": ([0.0, -1e-8, float("inf")], "> 0"),
    "decay": ([-1e-4, float("inf"), None], ">= 0"),
    "alpha": ([-0.01, float("nan")], ""),
    "betas": ([(0.9,), (1.0, 0.999), (0.9, -0.1), "ab"], "[0, 1)"),
    "small_positive": ([-1e-3, float("nan")], ">= 0"),
    "flag": (["yes", 1, None], "True or False"),
    "t0": ([-1.0, float("inf")], ">= 0"),
    "etas": ([(1.2, 0.5), (0.5, 1.0), (0.0, 1.2), 0.5], "etaminus"),
    "step_sizes": ([(50.0, 1e-6), (0.0, 1.0), "x"], ""),
    "beta2_decay": ([0.5, float("nan")], "<= 0"),
    "adafactor_eps": ([(None,), (None, 0.0), (-1.0, 1e-3)], ""),
    "d": ([0.5, -1.0], ">= 1"),
}
BAD_CASES = [(name, key, value, words) for name in MORE
             for key, param in RULES[name].hyper.items()
             for value, words in [(v, BAD[param.draw][1]) for v in BAD[param.draw][0]]]


@pytest.mark.parametrize("backend", ["npref", "torchref"])
@pytest.mark.parametrize("name,key,value,words", BAD_CASES,
                         ids=[f"{n}-{k}={v!r}" for n, k, v, _ in BAD_CASES])
def test_a_bad_value_is_refused_naming_itself(backend, name, key, value, words):
    with pytest.raises(ValueError) as info:
        if backend == "npref":
            npref.optim.make(name, **{key: value})
        else:
            torchref.optim.make(name, [torch.zeros(2, requires_grad=True)], **{key: value})
    assert str(info.value).startswith(key) and words in str(info.value), str(info.value)


def test_every_kind_of_hyperparameter_has_bad_values():
    kinds = {p.draw for name in MORE for p in RULES[name].hyper.values()}
    assert kinds <= set(BAD), kinds - set(BAD)


def _fixed_case(dtype=np.float64, shape=(6, 4), steps=5):
    rng = np.random.default_rng(20261204)
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [(rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 0, shape)).astype(dtype)
             for _ in range(steps)]
    return p0, grads


@pytest.mark.parametrize("name", MORE)
def test_state_dict_round_trip(name):
    p0, grads = _fixed_case(steps=6)
    a = npref.optim.make(name, lr=0.05)
    pa = {"p": p0.copy()}
    for g in grads[:3]:
        a.update(pa, {"p": g})
    saved = a.state_dict()
    assert saved["state"]["p"]["step"] == 3
    b = npref.optim.make(name)
    b.load_state_dict(saved)
    assert b.hyperparameters() == a.hyperparameters()
    pb = {"p": pa["p"].copy()}
    for g in grads[3:]:
        a.update(pa, {"p": g})
        b.update(pb, {"p": g})
    assert np.array_equal(pa["p"], pb["p"])
    broken = {**saved, "state": {"p": {"step": 3}}}
    with pytest.raises(ValueError, match="must have the entries"):
        npref.optim.make(name).load_state_dict(broken)


@pytest.mark.parametrize("name", MORE)
def test_float32_stays_float32(name):
    opt = npref.optim.make(name)
    p0, grads = _fixed_case(dtype=np.float32)
    params = {"p": p0.copy()}
    for g in grads:
        opt.update(params, {"p": g})
    assert params["p"].dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state["p"].values()
               if isinstance(v, np.ndarray))


@pytest.mark.parametrize("name", MORE)
def test_a_learning_rate_off_by_a_millionth_is_caught(name):
    """A mutant of each rule — PyTorch's class with lr·(1 + 1e-6), a change no plot would show
    (and the smallest ASGD's float32 η keeps) — fails the comparison the suite makes: the test
    above can fail."""
    p0, grads = _fixed_case()
    hyper = {"lr": 0.1}
    ours = npref_trajectory(npref.optim.make(name, **hyper), p0, grads)
    wrong = torch_keywords(name, hyper)
    wrong["lr"] *= 1 + 1e-6
    theirs = torch_trajectory(lambda ps: torch_class(name)(ps, **wrong), p0, grads, "cpu")
    check_parity(torch_trajectory(lambda ps: torch_class(name)(ps, **torch_keywords(name, hyper)),
                                  p0, grads, "cpu")["p"], ours["p"], dtype=np.float64,
                 floor="norm", what=f"{name}: the unmutated rule agrees")
    with pytest.raises(AssertionError, match="max relative difference"):
        check_parity(theirs["p"], ours["p"], dtype=np.float64, floor="norm",
                     what=f"{name} mutant")


@pytest.mark.parametrize("name", MORE)
@pytest.mark.parametrize("case", ["0-d", "nan-inf"])
def test_scalars_and_non_finite_gradients_as_pytorch(name, case):
    """A 0-d parameter (the experiments' f(x, y) has two) takes the rule's steps, and a NaN or Inf
    in a gradient does to the parameter and the state what it does in ``torch.optim`` (Rprop,
    for one, skips a NaN: PyTorch's ``sign`` of NaN is 0)."""
    p0, grads = _fixed_case(shape=(5,), steps=4)
    if case == "0-d":
        p0, grads = np.array(p0[0]), [np.array(g[1]) for g in grads]
    else:
        grads[1][[1, 3]] = np.nan, np.inf
        grads[2][2] = -np.inf
    opt = npref.optim.make(name, lr=0.05)
    with np.errstate(all="ignore"):
        ours = npref_trajectory(opt, p0, grads)
    for foreach in ([False, True] if "foreach" in RULES[name].fast else [False]):
        theirs = torch_trajectory(lambda ps: torch_class(name)(ps, **torch_keywords(
            name, {"lr": 0.05}), foreach=foreach), p0, grads, "cpu")
        same_nan = np.isnan(ours["p"]) == np.isnan(theirs["p"])
        assert same_nan.all(), (name, foreach, ours["p"], theirs["p"])
        finite = np.isfinite(theirs["p"])
        check_parity(np.where(finite, theirs["p"], 0.0), np.where(finite, ours["p"], 0.0),
                     dtype=np.float64, floor="norm", what=f"{name} ({case}, foreach={foreach})")
        assert np.array_equal(np.isinf(ours["p"]), np.isinf(theirs["p"]))


@given(data=st.data())
def test_lion_is_the_papers_algorithm(data):
    """A rule PyTorch has no class for has no built-in witness; Lion's third is the paper's
    Algorithm 2 (Chen et al., 2023) as a plain Python loop over the elements, one number at a
    time in the parameter's dtype, written apart from both backends' vectorized code."""
    hyper, p0, grads, dtype = data.draw(cases("lion"))
    opt = npref.optim.make("lion", **hyper)
    lr, (beta1, beta2), wd = opt.lr, opt.betas, opt.weight_decay
    sign = -1 if opt.maximize else 1
    expected = np.empty((len(grads), p0.size), dtype)
    for i, p in enumerate(p0.ravel()):
        m = dtype(0)
        for t, g in enumerate(grads):
            g = sign * g.ravel()[i]
            c = beta1 * m + (1 - beta1) * g
            p = p * (1 - lr * wd) - lr * (int(c > 0) - int(c < 0))
            m = beta2 * m + (1 - beta2) * g
            expected[t, i] = p
    ours = npref_trajectory(opt, p0, grads)["p"][1:]
    check_parity(expected.reshape(ours.shape), ours, dtype=dtype, floor="norm",
                 what="lion: npref vs the paper's loop")
