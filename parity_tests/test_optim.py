"""Optimizers: npref and torchref against ``torch.optim``, step by step, state included.

For every optimizer × convention, hypothesis draws a shape, a dtype, hyperparameters over their
valid ranges, a starting parameter and a sequence of gradients (zeros, 1e-6…1e3). The same
sequence is fed to npref, to torchref and to PyTorch's built-in optimizer — built here with
PyTorch's own argument names and the SPEC's constants written out, so that a wrong default or a
wrong mapping in torchref shows — and the parameter and every state buffer are compared after each
step.

How differences are judged. Two correct implementations of one formula differ by rounding: NumPy
rounds ``wd·p`` before adding it to ``g``, PyTorch fuses the two into one FMA (and likewise inside
``lerp``, ``addcmul``). Where a sum cancels — ``g ≈ −wd·p``, or a momentum average of gradients of
opposite signs — the result keeps only the rounding of its terms, and an adaptive rule then divides
it by a small root. So each element of a parameter is judged against the size of the terms that
produced it (:func:`error_scale`: the largest value it held so far, plus the updates it would
have received had nothing cancelled), with the dtype's tolerance of SPEC section 5 (1e-12 float64,
1e-5 float32). State buffers are judged against their largest value (``floor="norm"``). Where the
iteration itself feeds a difference back and grows it (:func:`feeds_back`), the rules are compared
one step at a time from the same parameter and state.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import npref.optim
import torchref.optim
from parity_tests import strategies as S
from parity_tests.harness import check_parity, to_numpy

#: (name, convention) for every rule; SGD and AdamW have a single convention.
CASES = [("sgd", None), ("momentum", "torch"), ("momentum", "book"), ("nesterov", "torch"),
         ("nesterov", "book"), ("adagrad", "torch"), ("adagrad", "book"), ("rmsprop", "torch"),
         ("rmsprop", "book"), ("adam", "torch"), ("adam", "book"), ("adamw", None)]
CASE_IDS = [f"{n}-{c}" if c else n for n, c in CASES]
STEPWISE = " (step by step)"

#: SPEC section 3's eps defaults, written out independently of npref.optim.DEFAULT_EPS.
SPEC_EPS = {("adagrad", "torch"): 1e-10, ("adagrad", "book"): 1e-7,
            ("rmsprop", "torch"): 1e-8, ("rmsprop", "book"): 1e-7,
            ("adam", "torch"): 1e-8, ("adam", "book"): 1e-7, ("adamw", None): 1e-8}


# -- the cases ------------------------------------------------------------------------------------

@st.composite
def hyperparameters(draw, name, convention):
    hyper = {"lr": draw(S.learning_rates), "weight_decay": draw(S.weight_decays)}
    if name in ("momentum", "nesterov"):
        hyper["momentum"] = draw(S.momenta)
    if name == "rmsprop":
        hyper["alpha"] = draw(S.alphas)
    if name in ("adam", "adamw"):
        hyper["betas"] = draw(S.betas)
    if name in ("adagrad", "rmsprop", "adam"):
        hyper["eps"] = draw(S.epsilons)
    if name == "adamw":
        hyper["eps"] = draw(S.log_uniform(1e-10, 1e-3))
        hyper["weight_decay"] = draw(S.log_uniform(1e-6, 0.1))
    if convention is not None:
        hyper["convention"] = convention
    return hyper


@st.composite
def optimizer_cases(draw, name, convention):
    dtype = draw(S.dtypes)
    shape = draw(S.shapes())
    return {"hyper": draw(hyperparameters(name, convention)),
            "p0": draw(S.parameters(shape, dtype)),
            "grads": draw(S.gradient_sequences(shape, dtype)),
            "dtype": dtype}


def builtin(name, convention, params, hyper):
    """PyTorch's own optimizer for (name, convention); the book's Adam has none."""
    h = {k: v for k, v in hyper.items() if k != "convention"}
    if h.get("eps", 0.0) is None:
        h["eps"] = SPEC_EPS[(name, convention)]
    if name in ("sgd", "momentum"):
        return torch.optim.SGD(params, **h)
    if name == "nesterov":
        # torch refuses nesterov=True at momentum 0, where the rule is plain SGD.
        return torch.optim.SGD(params, nesterov=h["momentum"] > 0, **h)
    if name == "adagrad":
        return torch.optim.Adagrad(params, **h)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, **h)
    if name == "adam" and convention == "torch":
        return torch.optim.Adam(params, **h)
    if name == "adamw":
        return torch.optim.AdamW(params, **h)
    raise AssertionError(f"no built-in for {name}/{convention}")


# -- running them ---------------------------------------------------------------------------------

def npref_trajectory(name, hyper, p0, grads, start_from=None):
    """{"p": the parameter before and after each step, buffer: the state after each step}.

    With ``start_from`` (a reference trajectory in npref's names) every step starts from the
    reference's parameter and state, so that the step alone is compared.
    """
    opt = npref.optim.make(name, **hyper)
    params = {"p": p0.copy()}
    steps = []
    for t, g in enumerate(grads):
        if start_from is not None and t > 0:
            params["p"][...] = start_from["p"][t]
            for buffer, value in opt.state["p"].items():
                if buffer != "step":
                    value[...] = start_from[buffer][t - 1]
        opt.update(params, {"p": g})
        assert params["p"].dtype == p0.dtype
        state = {k: v.copy() for k, v in opt.state["p"].items() if k != "step"}
        steps.append({"p": params["p"].copy(), **state})
    traj = {k: np.stack([s[k] for s in steps]) for k in steps[0]}
    traj["p"] = np.concatenate([p0[None], traj["p"]])
    return traj


def torch_trajectory(make_optimizer, p0, grads, device):
    """The same for a torch optimizer, on ``device``."""
    p = torch.tensor(p0, device=device, requires_grad=True)
    opt = make_optimizer([p])
    steps = []
    for g in grads:
        p.grad = torch.tensor(g, device=device)
        opt.step()
        state = {k: v.clone() for k, v in opt.state[p].items()
                 if isinstance(v, torch.Tensor) and k != "step"}
        steps.append({"p": p.detach().clone(), **state})
    traj = {k: torch.stack([s[k] for s in steps]) for k in steps[0]}
    traj["p"] = torch.cat([torch.tensor(p0, device=device)[None], traj["p"]])
    return traj


def as_npref_state(name, convention, traj, lr):
    """PyTorch's buffers under npref's names for the book convention (same update, other form)."""
    if convention != "book" or name == "adam":
        return dict(traj)
    out = {"p": traj["p"]}
    if name in ("momentum", "nesterov") and "momentum_buffer" in traj:
        out["v"] = -lr * traj["momentum_buffer"]       # the book's velocity is −lr·buf
    if name == "adagrad":
        out["h"] = traj["sum"]
    if name == "rmsprop":
        out["h"] = traj["square_avg"]
    return out


# -- judging them ---------------------------------------------------------------------------------

def feeds_back(name, hyper) -> bool:
    """Whether a rounding difference in p can grow from step to step.

    With L2 weight decay an adaptive rule sees p again, through ``g + wd·p``, and divides it by a
    root of squares of the same: where a parameter has cancelled to a small value (a small
    absolute difference, a large relative one) the next step can turn that relative difference
    into an O(lr) difference of the update. That is the sensitivity of the iteration, not a
    difference of the rules, so those rules are compared one step at a time from the same
    parameter and state. Without decay the gradients are given and nothing feeds back; the linear
    rules contract (lr·wd ≤ 0.1); AdamW's decoupled decay only scales p by 1 − lr·wd.
    """
    return name in ("adagrad", "rmsprop", "adam") and hyper["weight_decay"] > 0


def error_scale(name, hyper, ref, grads):
    """Per element and step, the size of the terms that produced the parameter.

    The largest magnitude the element has held so far, plus the sum of the updates it would
    have received had no sum cancelled: every sum in the rule evaluated on magnitudes
    (``|g| + wd·|p|`` for ``g + wd·p``, ``μ·|b| + |g|`` for the momentum buffer, and so on), with the
    reference's own denominators. Rounding each operation moves a result by a few ulps of these
    terms, never of the (possibly cancelled) result, so this is the scale the tolerance applies to.
    """
    hyper = npref.optim.make(name, **hyper).hyperparameters()     # defaults resolved
    lr, wd = hyper["lr"], hyper["weight_decay"]
    p = np.abs(ref["p"].astype(np.float64))
    conv = hyper.get("convention", "torch")
    mom = hyper.get("momentum", 0.0)
    beta1, beta2 = hyper.get("betas", (0.0, 0.0))
    eps = hyper.get("eps", 0.0)
    carried = np.zeros_like(p[0])      # μ·|b| + |g| (momentum) or β1·|m| + (1−β1)·|g| (Adam)
    updates = [np.zeros_like(p[0])]
    for t, g in enumerate(grads, start=1):
        g_abs = np.abs(g.astype(np.float64))
        if name != "adamw":
            g_abs = g_abs + wd * p[t - 1]
        if name == "sgd":
            u = lr * g_abs
        elif name in ("momentum", "nesterov"):
            carried = mom * carried + g_abs
            u = lr * (carried if name == "momentum" else g_abs + mom * carried)
        elif name in ("adagrad", "rmsprop"):
            h = ref["h" if conv == "book" else ("sum" if name == "adagrad" else "square_avg")]
            u = lr * g_abs / (np.sqrt(h[t - 1].astype(np.float64)) + eps)
        else:   # adam, adamw
            carried = beta1 * carried + (1 - beta1) * g_abs
            v = np.sqrt(ref["v" if conv == "book" else "exp_avg_sq"][t - 1].astype(np.float64))
            if conv == "book":
                lr_t = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
                u = lr_t * carried / (v + eps)
            else:
                u = lr / (1 - beta1 ** t) * carried / (v / math.sqrt(1 - beta2 ** t) + eps)
            if name == "adamw":
                u = u + lr * wd * p[t - 1]
        updates.append(u)
    return np.maximum.accumulate(p, axis=0) + np.cumsum(updates, axis=0)


def compare_trajectories(expected, actual, *, dtype, what, names, scale):
    assert set(expected) == set(actual), f"{what}: state {sorted(expected)} vs {sorted(actual)}"
    check_parity(expected["p"], actual["p"], dtype=dtype, floor=scale, what=what, names=names)
    buffers = sorted(set(expected) - {"p"})
    if buffers:
        check_parity({k: expected[k] for k in buffers}, {k: actual[k] for k in buffers},
                     dtype=dtype, floor="norm", what=f"{what} (state)", names=names)


# -- the test -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,convention", CASES, ids=CASE_IDS)
@given(data=st.data())
def test_matches_pytorch(name, convention, device, data):
    case = data.draw(optimizer_cases(name, convention))
    hyper, p0, grads, dtype = case["hyper"], case["p0"], case["grads"], case["dtype"]
    label = f"{name}/{convention}" if convention else name

    mirror = torch_trajectory(lambda ps: torchref.optim.make(name, ps, **hyper), p0, grads,
                              device)
    if (name, convention) == ("adam", "book"):
        # No PyTorch built-in: npref and torchref witness each other.
        expected = to_numpy(mirror)
        resync = feeds_back(name, hyper)
        ours = npref_trajectory(name, hyper, p0, grads, start_from=expected if resync else None)
        compare_trajectories(expected, ours, dtype=dtype, names=("torchref", "npref"),
                             what=f"{label}: npref vs torchref.BookAdam" + STEPWISE * resync,
                             scale=error_scale(name, hyper, expected, grads))
        return

    theirs = torch_trajectory(lambda ps: builtin(name, convention, ps, hyper), p0, grads, device)
    reference = "torch.optim." + type(builtin(name, convention, [torch.zeros(1)], hyper)).__name__
    expected = to_numpy(as_npref_state(name, convention, theirs, hyper["lr"]))
    resync = feeds_back(name, hyper)
    ours = npref_trajectory(name, hyper, p0, grads, start_from=expected if resync else None)
    if set(expected) != set(ours):
        # momentum 0: PyTorch keeps no momentum buffer; compare the parameters alone.
        ours, expected = {"p": ours["p"]}, {"p": expected["p"]}
    scale = error_scale(name, hyper, to_numpy(theirs) | expected, grads)
    compare_trajectories(expected, ours, dtype=dtype, names=(reference, "npref"), scale=scale,
                         what=f"{label}: npref vs {reference}" + STEPWISE * resync)
    compare_trajectories(theirs, mirror, dtype=dtype, names=(reference, "torchref"), scale=scale,
                         what=f"{label}: torchref vs {reference}")


# -- closed forms: a witness that is neither npref nor PyTorch ------------------------------------

@pytest.mark.parametrize("convention", ["torch", "book"])
@given(g=st.floats(-1e3, 1e3).filter(lambda x: abs(x) > 1e-6), lr=S.learning_rates,
       betas=S.betas, eps=S.log_uniform(1e-10, 1e-3))
def test_adam_first_step_closed_form(convention, g, lr, betas, eps):
    """Step 1 of Adam, worked by hand: where eps sits is the whole book/torch difference.

    m = (1−β1)·g, v = (1−β2)·g², so torch's step is lr·g/(|g| + eps), the book's
    lr·√(1−β2)·g/(√(1−β2)·|g| + eps).
    """
    beta1, beta2 = betas
    opt = npref.optim.Adam(lr=lr, betas=betas, eps=eps, convention=convention)
    params = {"p": np.zeros(1)}
    opt.update(params, {"p": np.array([g])})
    c = math.sqrt(1 - beta2)
    step = lr * g / (abs(g) + eps) if convention == "torch" else lr * c * g / (c * abs(g) + eps)
    check_parity(np.array([-step]), params["p"], dtype=np.float64, tol=1e-14,
                 what=f"adam/{convention}: first step vs closed form")


# -- the suite can fail ---------------------------------------------------------------------------

def _fixed_case(dtype=np.float64, shape=(7, 5), steps=4):
    rng = np.random.default_rng(20261123)
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [(rng.standard_normal(shape) * 10.0 ** rng.uniform(-6, 1, shape)).astype(dtype)
             for _ in range(steps)]
    return p0, grads


#: Rules that must be told apart from the true one by the comparison the suite makes.
MUTANTS = [
    ("sgd", {"lr": 0.1}, lambda ps: torch.optim.SGD(ps, lr=0.1 * (1 + 1e-9))),
    ("momentum", {"lr": 0.1, "momentum": 0.9, "convention": "book"},
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
    ("nesterov", {"lr": 0.1, "momentum": 0.9}, lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("adagrad", {"lr": 0.1, "convention": "book"}, lambda ps: torch.optim.Adagrad(ps, lr=0.1)),
    ("rmsprop", {"lr": 0.1, "convention": "book"}, lambda ps: torch.optim.RMSprop(ps, lr=0.1)),
    ("adam", {"lr": 0.1, "convention": "book"}, lambda ps: torch.optim.Adam(ps, lr=0.1)),
    ("adam", {"lr": 0.1, "weight_decay": 0.01},
     lambda ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.01)),
    ("adamw", {"lr": 0.1}, lambda ps: torch.optim.Adam(ps, lr=0.1, weight_decay=0.01)),
]


@pytest.mark.parametrize("name,hyper,wrong", MUTANTS,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(MUTANTS)])
def test_a_wrong_rule_fails(name, hyper, wrong):
    """Each convention swap (and a learning rate off by 1e-9) is caught by the comparison."""
    p0, grads = _fixed_case()
    ours = npref_trajectory(name, hyper, p0, grads)
    theirs = to_numpy(torch_trajectory(wrong, p0, grads, "cpu"))
    scale = error_scale(name, hyper, theirs | ours, grads)
    with pytest.raises(AssertionError, match="max relative difference"):
        check_parity(theirs["p"], ours["p"], dtype=np.float64, floor=scale, what=f"{name} mutant")


# -- contract: arguments, mismatches, state, dtypes -----------------------------------------------

HYPER_OF = {"sgd": {"lr"}, "momentum": {"lr", "momentum", "convention"},
            "nesterov": {"lr", "momentum", "convention"},
            "adagrad": {"lr", "eps", "convention"},
            "rmsprop": {"lr", "alpha", "eps", "convention"},
            "adam": {"lr", "betas", "eps", "convention"}, "adamw": {"lr", "betas", "eps"}}
BAD_VALUES = {
    "lr": ([0.0, -0.1, float("nan"), float("inf"), "0.1", True], "> 0"),
    "momentum": ([-0.1, 1.0, 1.5, float("nan")], "[0, 1)"),
    "alpha": ([-0.01, 1.0, float("inf")], "[0, 1)"),
    "betas": ([(0.9,), (1.0, 0.999), (0.9, -0.1), (0.9, 1.0), "ab", 0.9], "[0, 1)"),
    "eps": ([0.0, -1e-8, float("nan")], "> 0"),
    "weight_decay": ([-1e-4, float("inf"), None], ">= 0"),
    "convention": (["pytorch", None, "Book"], "'torch', 'book'"),
}
BAD_CASES = [(name, arg, value, accepted)
             for name, args in HYPER_OF.items()
             for arg in sorted(args | {"weight_decay"})
             for value, accepted in [(v, BAD_VALUES[arg][1]) for v in BAD_VALUES[arg][0]]]


@pytest.mark.parametrize("backend", ["npref", "torchref"])
@pytest.mark.parametrize("name,arg,value,accepted", BAD_CASES,
                         ids=[f"{n}-{a}={v!r}" for n, a, v, _ in BAD_CASES])
def test_invalid_argument_names_itself(backend, name, arg, value, accepted):
    if backend == "npref":
        def build():
            return npref.optim.make(name, **{arg: value})
    else:
        def build():
            return torchref.optim.make(name, [torch.zeros(2, requires_grad=True)], **{arg: value})
    with pytest.raises(ValueError) as info:
        build()
    message = str(info.value)
    assert message.startswith(arg), message
    assert accepted in message, message


def test_make_knows_every_name():
    assert npref.optim.NAMES == ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                                 "adamw")
    for name in npref.optim.NAMES:
        assert npref.optim.make(name).name == name
        assert npref.optim.make(name.upper()).name == name
    with pytest.raises(ValueError, match="name must be one of 'sgd'.*got 'adamax'"):
        npref.optim.make("adamax")
    with pytest.raises(ValueError, match="name must be one of"):
        torchref.optim.make("adamax", [torch.zeros(1)])


def test_torchref_returns_pytorchs_own_classes():
    ps = [torch.zeros(3, requires_grad=True)]
    expected = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "nesterov": torch.optim.SGD,
                "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
                "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    for name, cls in expected.items():
        assert type(torchref.optim.make(name, ps)) is cls
    assert type(torchref.optim.Adam(ps, convention="book")) is torchref.optim.BookAdam
    assert isinstance(torchref.optim.BookAdam(ps), torch.optim.Optimizer)
    book = torchref.optim.AdaGrad(ps, convention="book")
    assert book.param_groups[0]["eps"] == 1e-7


def _snapshot(params, opt):
    return ({k: v.copy() for k, v in params.items()},
            {k: {b: np.copy(x) for b, x in s.items()} for k, s in opt.state.items()})


@pytest.mark.parametrize("name,convention", CASES, ids=CASE_IDS)
def test_update_rejects_mismatches_before_touching_anything(name, convention):
    hyper = {"convention": convention} if convention else {}
    opt = npref.optim.make(name, **hyper)
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    opt.update(params, {k: np.ones_like(v) for k, v in params.items()})   # state exists now
    before = _snapshot(params, opt)
    ok = {k: np.ones_like(v) for k, v in params.items()}
    read_only = params["b"].copy()
    read_only.flags.writeable = False
    bad_calls = [
        (params, {"W": ok["W"]}, ValueError, "same keys"),                      # missing key
        (params, {**ok, "c": np.ones(1)}, ValueError, "same keys"),             # extra key
        (params, {"W": ok["W"], "b": np.ones(3)}, ValueError, "shape"),         # shape
        (params, {"W": ok["W"], "b": ok["b"].astype(np.float32)}, ValueError, "dtype"),
        (params, {"W": ok["W"], "b": [1.0, 1.0]}, TypeError, "NumPy arrays"),
        ({"W": params["W"], "b": read_only}, ok, ValueError, "read-only"),
        ({"W": params["W"], "b": np.ones(2, dtype=int)}, {**ok, "b": np.ones(2, dtype=int)},
         ValueError, "floating"),
        ([params["W"]], [ok["W"]], TypeError, "dicts"),
    ]
    if name != "sgd":   # a parameter whose shape changed no longer fits its buffers
        bad_calls.append(({"W": params["W"], "b": np.ones(3)}, {**ok, "b": np.ones(3)},
                          ValueError, "buffer"))
    for p, g, error, words in bad_calls:
        with pytest.raises(error, match=words):
            opt.update(p, g)
        params_after, state_after = _snapshot(params, opt)
        assert all(np.array_equal(before[0][k], params_after[k]) for k in params)
        assert state_after.keys() == before[1].keys()
        for key, buffers in before[1].items():
            assert all(np.array_equal(x, state_after[key][b]) for b, x in buffers.items())


@pytest.mark.parametrize("name,convention", CASES, ids=CASE_IDS)
def test_state_dict_round_trip(name, convention):
    hyper = {"lr": 0.05, "convention": convention} if convention else {"lr": 0.05}
    p0, grads = _fixed_case(steps=6)
    a = npref.optim.make(name, **hyper)
    pa = {"p": p0.copy()}
    for g in grads[:3]:
        a.update(pa, {"p": g})
    saved = a.state_dict()
    b = npref.optim.make(name)                       # other hyperparameters: restored by load
    b.load_state_dict(saved)
    assert b.hyperparameters() == a.hyperparameters()
    pb = {"p": pa["p"].copy()}
    for g in grads[3:]:
        a.update(pa, {"p": g})
        b.update(pb, {"p": g})
    assert np.array_equal(pa["p"], pb["p"])           # same arithmetic, same bits
    assert saved["state"] != {} and saved["state"]["p"]["step"] == 3   # a deep copy, not a view
    other = "adam" if name != "adam" else "sgd"
    with pytest.raises(ValueError, match="state_dict is for optimizer"):
        npref.optim.make(other).load_state_dict(saved)


@pytest.mark.parametrize("name,convention", CASES, ids=CASE_IDS)
def test_float32_stays_float32(name, convention):
    hyper = {"convention": convention} if convention else {}
    opt = npref.optim.make(name, **hyper)
    p0, grads = _fixed_case(dtype=np.float32)
    params = {"p": p0.copy()}
    for g in grads:
        opt.update(params, {"p": g})
    assert params["p"].dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in opt.state["p"].items() if k != "step")


def test_load_state_dict_refuses_a_broken_one():
    opt = npref.optim.Adam()
    opt.update({"p": np.zeros(2)}, {"p": np.ones(2)})
    good = opt.state_dict()
    for broken, words in [
        ({**good, "state": {"p": {"step": 1, "exp_avg": np.zeros(2)}}}, "must have the entries"),
        ({**good, "state": {"p": {**good["state"]["p"], "step": -1}}}, "int >= 0"),
        ({**good, "state": {"p": {**good["state"]["p"], "exp_avg": [0.0, 0.0]}}}, "NumPy array"),
        ({**good, "hyperparameters": {**good["hyperparameters"], "lr": -1}}, "lr must be"),
        ({"name": "adam"}, "keys 'name', 'hyperparameters', 'state'"),
    ]:
        target = npref.optim.Adam(lr=0.5)
        with pytest.raises(ValueError, match=words):
            target.load_state_dict(broken)
        assert target.lr == 0.5 and target.state == {}          # nothing half-loaded


# -- PyTorch's fast paths: the same rule --------------------------------------------------------

FAST = [(n, c, fast) for n, c in CASES if (n, c) != ("adam", "book")
        for fast in ("foreach", "fused") if not (fast == "fused" and n == "rmsprop")]


@pytest.mark.parametrize("name,convention,fast", FAST,
                         ids=[f"{n}-{c}-{f}" if c else f"{n}-{f}" for n, c, f in FAST])
@given(data=st.data())
def test_fast_paths_match_npref(name, convention, fast, device, data):
    """torchref with ``foreach=True`` / ``fused=True`` (what the benchmark and fast runs use)
    against npref, judged as the default path is."""
    case = data.draw(optimizer_cases(name, convention))
    hyper, p0, grads, dtype = case["hyper"], case["p0"], case["grads"], case["dtype"]
    theirs = torch_trajectory(lambda ps: torchref.optim.make(name, ps, **hyper, **{fast: True}),
                              p0, grads, device)
    expected = to_numpy(as_npref_state(name, convention, theirs, hyper["lr"]))
    resync = feeds_back(name, hyper)
    ours = npref_trajectory(name, hyper, p0, grads, start_from=expected if resync else None)
    if set(expected) != set(ours):
        ours, expected = {"p": ours["p"]}, {"p": expected["p"]}
    label = f"{name}/{convention}" if convention else name
    compare_trajectories(expected, ours, dtype=dtype, names=(f"torchref {fast}", "npref"),
                         scale=error_scale(name, hyper, to_numpy(theirs) | expected, grads),
                         what=f"{label}: npref vs torchref ({fast}=True)" + STEPWISE * resync)
