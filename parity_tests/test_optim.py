"""Optimizers: npref and torchref against ``torch.optim``, step by step, state included.

One table, :data:`CASES`, has a row per optimizer × convention: how to draw its hyperparameters,
docs/api.md's defaults for it (eps resolved for the convention), PyTorch's built-in optimizer
that computes it — built here with PyTorch's own argument names, so that a wrong default or a
wrong mapping in torchref shows — how PyTorch's state buffers are named in npref, and the size of
the terms that produce an update. Every test below runs over the table; adding an optimizer is
adding a row.

For every row, hypothesis draws a shape, a dtype, hyperparameters over their valid ranges, a
starting parameter and a sequence of gradients (zeros, 1e-6…1e3). The same sequence is fed to
npref, to torchref and to the built-in, and the parameter and every state buffer are compared
after each step (:func:`parity_tests.harness.run_update_parity`).

How differences are judged. Two correct implementations of one formula differ by rounding: NumPy
rounds ``wd·p`` before adding it to ``g``, PyTorch fuses the two into one FMA (and likewise inside
``lerp``, ``addcmul``). Where a sum cancels — ``g ≈ −wd·p``, or a momentum average of gradients of
opposite signs — the result keeps only the rounding of its terms, and an adaptive rule then divides
it by a small root. So each element of a parameter is judged against the size of the terms that
produced it (:func:`error_scale`: the largest value it held so far, plus the updates it would
have received had nothing cancelled), with the dtype's tolerance of docs/parity.md (1e-12 float64,
1e-5 float32). State buffers are judged against their largest value (``floor="norm"``). Where the
iteration itself feeds a difference back and grows it (:func:`feeds_back`), the rules are compared
one step at a time from the same parameter and state.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import npref.optim
import torchref.optim
from parity_tests import strategies as S
from parity_tests.harness import (check_parity, check_trajectory, npref_trajectory,
                                  run_update_parity, torch_trajectory)

STEPWISE = " (step by step)"


# -- the size of the terms behind an update, per rule ---------------------------------------------
# Each takes the resolved hyperparameters, the reference trajectory in npref's names and, per
# step, the terms of the gradient the rule sees, |g| (+ wd·|p| under L2 decay), and that gradient's
# magnitude |g (+ wd·p)|; it returns per step the update had no sum cancelled.

def plain_terms(h, ref, g, g_value):
    return [h["lr"] * gt for gt in g]                                  # lr·|g|


def heavy_ball_terms(nesterov: bool):
    def terms(h, ref, g, g_value):
        mu, carried, out = h["momentum"], 0.0, []
        for gt in g:
            carried = mu * carried + gt                                # μ·|b| + |g|
            out.append(h["lr"] * (gt + mu * carried if nesterov else carried))
        return out
    return terms


def divided_terms(h_buffer: str, weight: Callable):
    """lr·|g| / (√h + eps), with the reference's own h (AdaGrad, RMSprop; ``weight(h)``: the
    weight of g² in h), and the rounding of a cancelled g under the root."""
    def terms(h, ref, g, g_value):
        out = []
        for t, (gt, gv) in enumerate(zip(g, g_value)):
            root = np.sqrt(ref[h_buffer][t].astype(np.float64))
            out.append(h["lr"] * gt / (root + h["eps"])
                       + root_rounding(ref, t, root, 1.0, weight(h), gt, gv, h["eps"]))
        return out
    return terms


def adam_terms(v_buffer: str, book: bool = False):
    """β1·|m| + (1−β1)·|g| carried, over the reference's own √v, with the convention's eps, and
    the rounding of a cancelled g under the root."""
    def terms(h, ref, g, g_value):
        (beta1, beta2), lr, eps = h["betas"], h["lr"], h["eps"]
        carried, out = 0.0, []
        for t, (gt, gv) in enumerate(zip(g, g_value), start=1):
            carried = beta1 * carried + (1 - beta1) * gt
            v = np.sqrt(ref[v_buffer][t - 1].astype(np.float64))
            k = 1.0 if book else 1 / math.sqrt(1 - beta2 ** t)      # the denominator: k·√v + eps
            if book:
                u = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * carried / (v + eps)
            else:
                u = lr / (1 - beta1 ** t) * carried / (v / math.sqrt(1 - beta2 ** t) + eps)
            out.append(u + root_rounding(ref, t - 1, v, k, 1 - beta2, gt, gv, eps))
        return out
    return terms


def root_rounding(ref, t, root, k, weight, g_terms, g_value, eps):
    """How far the update of step t+1 can move because its root saw a rounded, cancelled g.

    Where ``g + wd·p`` cancels (its value ``g_value`` below its terms ``g_terms``), it carries the
    rounding of its terms, not of its value — NumPy rounds ``wd·p`` before the sum, PyTorch fuses
    the two — and it enters the root squared, in the same step: √v moves by
    ``weight·g_value·(g_terms − g_value)/√v`` ulps beyond the rounding of an uncancelled g, the
    denominator ``k·√v + eps`` by k times that, and the update (the reference's own step) by its
    share of the denominator. Zero where nothing cancels (no decay, or g and p of one sign).
    """
    step = np.abs(np.diff(ref["p"][t:t + 2].astype(np.float64), axis=0))[0]
    excess = weight * g_value * (g_terms - g_value)
    with np.errstate(divide="ignore", invalid="ignore"):
        moved = np.where(root > 0, k * excess / root, 0.0)
    return step * moved / (k * root + eps)


# -- PyTorch's built-ins, with PyTorch's own argument names ---------------------------------------

def torch_sgd(nesterov: bool):
    def build(params, h):
        # torch refuses nesterov=True at momentum 0, where the rule is plain SGD.
        return torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"],
                               weight_decay=h["weight_decay"], maximize=h["maximize"],
                               nesterov=nesterov and h["momentum"] > 0)
    return build


def torch_adagrad(params, h):
    return torch.optim.Adagrad(params, lr=h["lr"], eps=h["eps"], weight_decay=h["weight_decay"],
                               maximize=h["maximize"])


def torch_rmsprop(params, h):
    return torch.optim.RMSprop(params, lr=h["lr"], alpha=h["alpha"], eps=h["eps"],
                               weight_decay=h["weight_decay"], maximize=h["maximize"])


def torch_adam(cls):
    def build(params, h):
        return cls(params, lr=h["lr"], betas=h["betas"], eps=h["eps"],
                   weight_decay=h["weight_decay"], maximize=h["maximize"])
    return build


# -- the table ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One optimizer in one convention, as data."""

    name: str
    convention: str | None           # None: a single rule (SGD: both agree; AdamW: torch only)
    defaults: dict                   # docs/api.md, eps resolved for the convention
    hyper: dict                      # keyword -> hypothesis strategy (None: the default)
    reference: Callable | None       # (params, resolved hyper) -> built-in; None: there is none
    state: dict                      # npref buffer -> torch buffer, or (torch buffer, factor(h))
    terms: Callable                  # the size of the update's terms (see above)
    decay: str = "L2"                # "L2": g + wd·p; "decoupled": p·(1 − lr·wd) (AdamW)
    adaptive: bool = False           # divides by a root of squared gradients
    fast: tuple = ("foreach", "fused")   # PyTorch's fast paths torchref offers for it

    @property
    def id(self) -> str:
        return f"{self.name}-{self.convention}" if self.convention else self.name

    @property
    def label(self) -> str:
        return f"{self.name}/{self.convention}" if self.convention else self.name

    @property
    def keywords(self) -> dict:
        return {"convention": self.convention} if self.convention else {}


LR, DECAY = S.learning_rates, S.weight_decays
HEAVY_BALL = dict(lr=0.01, momentum=0.9, weight_decay=0.0)
MAXIMIZE = st.booleans()


def velocity(h):
    return -h["lr"]                     # the book's velocity v is −lr·buf


def adagrad_weight(h):
    return 1.0                          # h ← h + g²


def rmsprop_weight(h):
    return 1 - h["alpha"]               # h ← α·h + (1−α)·g²


CASES = [
    Rule("sgd", None, dict(lr=0.01, weight_decay=0.0), dict(lr=LR, weight_decay=DECAY),
         lambda ps, h: torch.optim.SGD(ps, lr=h["lr"], weight_decay=h["weight_decay"],
                                       maximize=h["maximize"]),
         state={}, terms=plain_terms),
    Rule("momentum", "torch", HEAVY_BALL, dict(lr=LR, weight_decay=DECAY, momentum=S.momenta),
         torch_sgd(nesterov=False), state={"momentum_buffer": "momentum_buffer"},
         terms=heavy_ball_terms(nesterov=False)),
    Rule("momentum", "book", HEAVY_BALL, dict(lr=LR, weight_decay=DECAY, momentum=S.momenta),
         torch_sgd(nesterov=False), state={"v": ("momentum_buffer", velocity)},
         terms=heavy_ball_terms(nesterov=False)),
    Rule("nesterov", "torch", HEAVY_BALL, dict(lr=LR, weight_decay=DECAY, momentum=S.momenta),
         torch_sgd(nesterov=True), state={"momentum_buffer": "momentum_buffer"},
         terms=heavy_ball_terms(nesterov=True)),
    Rule("nesterov", "book", HEAVY_BALL, dict(lr=LR, weight_decay=DECAY, momentum=S.momenta),
         torch_sgd(nesterov=True), state={"v": ("momentum_buffer", velocity)},
         terms=heavy_ball_terms(nesterov=True)),
    Rule("adagrad", "torch", dict(lr=0.01, eps=1e-10, weight_decay=0.0),
         dict(lr=LR, weight_decay=DECAY, eps=S.epsilons), torch_adagrad,
         state={"sum": "sum"}, terms=divided_terms("sum", adagrad_weight), adaptive=True),
    Rule("adagrad", "book", dict(lr=0.01, eps=1e-7, weight_decay=0.0),
         dict(lr=LR, weight_decay=DECAY, eps=S.epsilons), torch_adagrad,
         state={"h": "sum"}, terms=divided_terms("h", adagrad_weight), adaptive=True),
    Rule("rmsprop", "torch", dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0),
         dict(lr=LR, weight_decay=DECAY, alpha=S.alphas, eps=S.epsilons), torch_rmsprop,
         state={"square_avg": "square_avg"}, terms=divided_terms("square_avg", rmsprop_weight),
         adaptive=True,
         fast=("foreach",)),
    Rule("rmsprop", "book", dict(lr=0.01, alpha=0.99, eps=1e-7, weight_decay=0.0),
         dict(lr=LR, weight_decay=DECAY, alpha=S.alphas, eps=S.epsilons), torch_rmsprop,
         state={"h": "square_avg"}, terms=divided_terms("h", rmsprop_weight), adaptive=True,
         fast=("foreach",)),
    Rule("adam", "torch", dict(lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
         dict(lr=LR, weight_decay=DECAY, betas=S.betas, eps=S.epsilons),
         torch_adam(torch.optim.Adam), state={"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"},
         terms=adam_terms("exp_avg_sq"), adaptive=True),
    # No PyTorch built-in puts eps on the raw √v: npref and torchref.BookAdam witness each other.
    Rule("adam", "book", dict(lr=0.001, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.0),
         dict(lr=LR, weight_decay=DECAY, betas=S.betas, eps=S.epsilons), None,
         state={"m": "m", "v": "v"}, terms=adam_terms("v", book=True), adaptive=True, fast=()),
    Rule("adamw", None, dict(lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
         dict(lr=LR, weight_decay=S.log_uniform(1e-6, 0.1), betas=S.betas,
              eps=S.log_uniform(1e-10, 1e-3)),
         torch_adam(torch.optim.AdamW), state={"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"},
         terms=adam_terms("exp_avg_sq"), decay="decoupled", adaptive=True),
]
# Every rule ascends with maximize=True (g ← −g first), as torch.optim's do: drawn for every row,
# False by default.
CASES = [replace(rule, defaults={**rule.defaults, "maximize": False},
                 hyper={**rule.hyper, "maximize": MAXIMIZE}) for rule in CASES]
BY_ID = {rule.id: rule for rule in CASES}
over_rules = pytest.mark.parametrize("rule", CASES, ids=[rule.id for rule in CASES])


# -- the cases ------------------------------------------------------------------------------------

@st.composite
def optimizer_cases(draw, rule):
    """(keywords for npref/torchref, starting parameter, gradients, dtype)."""
    dtype = draw(S.dtypes)
    shape = draw(S.shapes())
    hyper = {**draw(st.fixed_dictionaries(rule.hyper)), **rule.keywords}
    return hyper, draw(S.parameters(shape, dtype)), draw(S.gradient_sequences(shape, dtype)), dtype


def resolved(rule, hyper) -> dict:
    """The hyperparameters in use: the drawn ones, the row's defaults for the rest."""
    given_ = {k: v for k, v in hyper.items() if v is not None and k != "convention"}
    return {**rule.defaults, **given_}


def state_map(rule, hyper) -> dict:
    h = resolved(rule, hyper)
    return {ours: (spec[0], spec[1](h)) if isinstance(spec, tuple) else spec
            for ours, spec in rule.state.items()}


def reference_of(rule, hyper):
    """(params -> the reference optimizer, its name): the built-in, or torchref without one."""
    if rule.reference is None:
        build = lambda ps: torchref.optim.make(rule.name, ps, **hyper)       # noqa: E731
    else:
        build = lambda ps: rule.reference(ps, resolved(rule, hyper))          # noqa: E731
    cls = type(build([torch.zeros(1, requires_grad=True)]))
    return build, ("torch.optim." if cls.__module__.startswith("torch.optim") else "torchref.") \
        + cls.__name__


# -- judging them ---------------------------------------------------------------------------------

def feeds_back(rule, hyper) -> bool:
    """Whether a rounding difference in p can grow from step to step.

    With L2 weight decay an adaptive rule sees p again, through ``g + wd·p``, and divides it by a
    root of squares of the same: where a parameter has cancelled to a small value (a small
    absolute difference, a large relative one) the next step can turn that relative difference
    into an O(lr) difference of the update. That is the sensitivity of the iteration, not a
    difference of the rules, so those rules are compared one step at a time from the same
    parameter and state. Without decay the gradients are given and nothing feeds back; the linear
    rules contract (lr·wd ≤ 0.1); AdamW's decoupled decay only scales p by 1 − lr·wd.
    """
    return rule.adaptive and rule.decay == "L2" and resolved(rule, hyper)["weight_decay"] > 0


def error_scale(rule, hyper, ref, grads):
    """Per element and step, the size of the terms that produced the parameter.

    The largest magnitude the element has held so far, plus the sum of the updates it would
    have received had no sum cancelled: every sum in the rule evaluated on magnitudes
    (``|g| + wd·|p|`` for ``g + wd·p``, ``μ·|b| + |g|`` for the momentum buffer, and so on), with the
    reference's own denominators. Rounding each operation moves a result by a few ulps of these
    terms, never of the (possibly cancelled) result, so this is the scale the tolerance applies to.
    A cancelled ``g + wd·p`` that an adaptive rule squares under its root moves the denominator
    itself; that sensitivity is added where it arises (:func:`root_rounding`).
    """
    h = resolved(rule, hyper)
    lr, wd = h["lr"], h["weight_decay"]
    if h["maximize"]:                    # the rule sees −g
        grads = [-gt for gt in grads]
    p = np.abs(ref["p"].astype(np.float64))
    g = [np.abs(gt.astype(np.float64)) for gt in grads]
    g_value = g
    if rule.decay == "L2":
        g_value = [np.abs(gt.astype(np.float64) + wd * ref["p"][t].astype(np.float64))
                   for t, gt in enumerate(grads)]
        g = [gt + wd * p[t] for t, gt in enumerate(g)]
    updates = rule.terms(h, ref, g, g_value)
    if rule.decay == "decoupled":
        updates = [u + lr * wd * p[t] for t, u in enumerate(updates)]
    return np.maximum.accumulate(p, axis=0) + np.cumsum([np.zeros_like(p[0]), *updates], axis=0)


# -- the tests ------------------------------------------------------------------------------------

@over_rules
@given(data=st.data())
def test_matches_pytorch(rule, device, data):
    """npref against the reference, and torchref against it (where torchref is not it)."""
    hyper, p0, grads, dtype = data.draw(optimizer_cases(rule))
    reference, ref_name = reference_of(rule, hyper)
    stepwise = feeds_back(rule, hyper)
    run = run_update_parity(npref.optim.make(rule.name, **hyper), reference, p0, grads,
                            device=device, dtype=dtype, state=state_map(rule, hyper),
                            floor=lambda ref: error_scale(rule, hyper, ref, grads),
                            stepwise=stepwise, names=(ref_name, "npref"),
                            what=f"{rule.label}: npref vs {ref_name}" + STEPWISE * stepwise)
    if rule.reference is not None:
        mirror = torch_trajectory(lambda ps: torchref.optim.make(rule.name, ps, **hyper), p0,
                                  grads, device)
        check_trajectory(run.reference, mirror, dtype=dtype, floor=run.floor,
                         names=(ref_name, "torchref"), what=f"{rule.label}: torchref vs {ref_name}")


FAST = [(rule, fast) for rule in CASES for fast in rule.fast]


@pytest.mark.parametrize("rule,fast", FAST, ids=[f"{rule.id}-{fast}" for rule, fast in FAST])
@given(data=st.data())
def test_fast_paths_match_npref(rule, fast, device, data):
    """torchref with ``foreach=True`` / ``fused=True`` (what the benchmark and fast runs use)
    against npref, judged as the default path is."""
    hyper, p0, grads, dtype = data.draw(optimizer_cases(rule))
    stepwise = feeds_back(rule, hyper)
    run_update_parity(npref.optim.make(rule.name, **hyper),
                      lambda ps: torchref.optim.make(rule.name, ps, **hyper, **{fast: True}),
                      p0, grads, device=device, dtype=dtype, state=state_map(rule, hyper),
                      floor=lambda ref: error_scale(rule, hyper, ref, grads), stepwise=stepwise,
                      names=(f"torchref {fast}", "npref"),
                      what=f"{rule.label}: npref vs torchref ({fast}=True)" + STEPWISE * stepwise)


#: The keywords whose default is the rule's own where PyTorch's would undo it: momentum 0 is not
#: Momentum (PyTorch spells these rules SGD(momentum=μ[, nesterov=True])).
OWN_DEFAULTS = {"momentum": {"momentum"}, "nesterov": {"momentum"}}


@over_rules
def test_defaults_are_the_specs(rule):
    """The classes — the book's door — use docs/api.md's defaults with every PyTorch option off,
    in both backends; ``make`` — the PyTorch door — uses PyTorch's defaults under
    convention="torch" (the book's under "book"), in both backends."""
    cls = npref.optim.RULES[rule.name]
    made = cls(**rule.keywords)
    h = made.hyperparameters()
    assert {k: h[k] for k in rule.defaults} == rule.defaults and made.options() == {}
    group = getattr(torchref.optim, cls.__name__)([torch.zeros(2, requires_grad=True)],
                                                  **rule.keywords).param_groups[0]
    assert {k: group[k] for k in rule.defaults} == rule.defaults
    door = npref.optim.make(rule.name, **rule.keywords)
    group = torchref.optim.make(rule.name, [torch.zeros(2, requires_grad=True)],
                                **rule.keywords).param_groups[0]
    if rule.convention == "book":
        assert door.hyperparameters() == h
    else:
        signature = inspect.signature(getattr(torch.optim, cls.torch_class))
        for key, value in door.hyperparameters().items():
            if key in OWN_DEFAULTS.get(rule.name, ()) or key == "convention":
                continue
            theirs = signature.parameters[key].default
            assert value == theirs or tuple(value) == theirs, (key, value, theirs)
            assert group[key] == value or tuple(group[key]) == tuple(value), key
    assert door.options() == {}


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
    ("momentum-book", {"lr": 0.1, "momentum": 0.9},
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
    ("nesterov-torch", {"lr": 0.1, "momentum": 0.9},
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("adagrad-book", {"lr": 0.1}, lambda ps: torch.optim.Adagrad(ps, lr=0.1)),
    ("rmsprop-book", {"lr": 0.1}, lambda ps: torch.optim.RMSprop(ps, lr=0.1)),
    ("adam-book", {"lr": 0.1}, lambda ps: torch.optim.Adam(ps, lr=0.1)),
    ("adam-torch", {"lr": 0.1, "weight_decay": 0.01},
     lambda ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.01)),
    ("adamw", {"lr": 0.1}, lambda ps: torch.optim.Adam(ps, lr=0.1, weight_decay=0.01)),
]


@pytest.mark.parametrize("rule_id,hyper,wrong", MUTANTS,
                         ids=[f"{m[0].split('-')[0]}-{i}" for i, m in enumerate(MUTANTS)])
def test_a_wrong_rule_fails(rule_id, hyper, wrong):
    """Each convention swap (and a learning rate off by 1e-9) is caught by the comparison."""
    rule = BY_ID[rule_id]
    hyper = {**hyper, **rule.keywords}
    p0, grads = _fixed_case()
    ours = npref_trajectory(npref.optim.make(rule.name, **hyper), p0, grads)
    theirs = torch_trajectory(wrong, p0, grads, "cpu")
    scale = error_scale(rule, hyper, ours, grads)
    with pytest.raises(AssertionError, match="max relative difference"):
        check_parity(theirs["p"], ours["p"], dtype=np.float64, floor=scale,
                     what=f"{rule.name} mutant")


#: With L2 decay the adaptive rules are judged one step at a time, on a scale that allows for a
#: cancelled g + wd·p under the root (:func:`root_rounding`): a learning rate off by 1e-9 shows.
STEPWISE_MUTANTS = [("adagrad-torch", torch.optim.Adagrad, {}),
                    ("rmsprop-torch", torch.optim.RMSprop, {}),
                    ("adam-torch", torch.optim.Adam, {"betas": (0.9, 0.0)})]


@pytest.mark.parametrize("rule_id,cls,extra", STEPWISE_MUTANTS,
                         ids=[m[0] for m in STEPWISE_MUTANTS])
def test_a_wrong_step_fails_step_by_step(rule_id, cls, extra):
    rule, hyper = BY_ID[rule_id], {"lr": 0.1, "weight_decay": 0.01, **extra}
    assert feeds_back(rule, hyper)
    p0, grads = _fixed_case()
    theirs = torch_trajectory(lambda ps: cls(ps, **{**hyper, "lr": 0.1 * (1 + 1e-9)}), p0, grads,
                              "cpu")
    ours = npref_trajectory(npref.optim.make(rule.name, **hyper), p0, grads, start_from=theirs)
    with pytest.raises(AssertionError, match="max relative difference"):
        check_parity(theirs["p"], ours["p"], dtype=np.float64,
                     floor=error_scale(rule, hyper, theirs, grads), what=f"{rule.id} mutant")


# -- contract: arguments, mismatches, state, dtypes -----------------------------------------------

NAMES = list(dict.fromkeys(rule.name for rule in CASES))
#: name -> the keywords it takes: every row's drawn ones, and convention where it has rows for one.
HYPER_OF = {name: {k for r in CASES if r.name == name for k in (*r.hyper, *r.keywords)}
            for name in NAMES}
BAD_VALUES = {
    "lr": ([0.0, -0.1, float("nan"), float("inf"), "0.1", True], "> 0"),
    "momentum": ([-0.1, 1.0, 1.5, float("nan")], "[0, 1)"),
    "alpha": ([-0.01, 1.0, float("inf")], "[0, 1)"),
    "betas": ([(0.9,), (1.0, 0.999), (0.9, -0.1), (0.9, 1.0), "ab", 0.9], "[0, 1)"),
    "eps": ([0.0, -1e-8, float("nan")], "> 0"),
    "weight_decay": ([-1e-4, float("inf"), None], ">= 0"),
    "convention": (["pytorch", None, "Book"], "'torch', 'book'"),
    "maximize": (["yes", 1, None], "True or False"),
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
    """docs/api.md's names, each with a row in the table (and no row without an optimizer); the
    rest of torch.optim follows them (parity_tests/test_optim_more.py); what is not covered is
    refused with its reason."""
    assert tuple(npref.optim.CHAPTER_6) == tuple(NAMES)
    assert npref.optim.NAMES[:len(NAMES)] == tuple(NAMES)
    assert tuple(npref.optim.NAMES) == torchref.optim.NAMES
    for name in npref.optim.NAMES:
        assert npref.optim.make(name).name == name
        assert npref.optim.make(name.upper()).name == name
    with pytest.raises(ValueError, match="name must be one of 'sgd'.*got 'adamx'"):
        npref.optim.make("adamx")
    with pytest.raises(ValueError, match="name must be one of"):
        torchref.optim.make("adamx", [torch.zeros(1)])
    for name, words in (("lbfgs", "closure"), ("sparseadam", "sparse"), ("muon", "bfloat16")):
        with pytest.raises(ValueError, match=words):
            npref.optim.make(name)
        with pytest.raises(ValueError, match=words):
            torchref.optim.make(name, [torch.zeros(1)])


#: PyTorch's options of the chapter-6 rules: (rule, keywords, the words of the refusal).
BAD_OPTIONS = [
    ("sgd", {"momentum": 1.0}, "momentum must be a number in [0, 1)"),
    ("sgd", {"dampening": 1.5}, "dampening must be a number in [0, 1]"),
    ("sgd", {"nesterov": "yes"}, "nesterov must be True or False"),
    ("sgd", {"nesterov": True}, "nesterov=True needs momentum > 0 and dampening 0"),
    ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "needs momentum > 0 and"),
    ("adagrad", {"lr_decay": -0.1}, "lr_decay must be a finite number >= 0"),
    ("adagrad", {"initial_accumulator_value": float("nan")}, "initial_accumulator_value must"),
    ("rmsprop", {"momentum": -0.5}, "momentum must be a number in [0, 1)"),
    ("rmsprop", {"centered": 1}, "centered must be True or False"),
    ("adam", {"amsgrad": "no"}, "amsgrad must be True or False"),
    ("adam", {"amsgrad": True, "convention": "book"}, "amsgrad must be False with convention="),
    ("adam", {"decoupled_weight_decay": True, "convention": "book"},
     "decoupled_weight_decay must be False with convention='book'"),
    ("adamw", {"amsgrad": None}, "amsgrad must be True or False"),
    ("sgd", {"lr": np.zeros(2)}, "lr must be a finite number > 0"),
]


@pytest.mark.parametrize("backend", ["npref", "torchref"])
@pytest.mark.parametrize("name,keywords,words", BAD_OPTIONS,
                         ids=[f"{n}-{'-'.join(k)}-{i}" for i, (n, k, _) in enumerate(BAD_OPTIONS)])
def test_a_bad_option_is_refused_naming_itself(backend, name, keywords, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        if backend == "npref":
            npref.optim.make(name, **keywords)
        else:
            torchref.optim.make(name, [torch.zeros(2, requires_grad=True)], **keywords)


def test_a_0d_learning_rate_is_its_number():
    """PyTorch's tests pass ``lr=torch.tensor(0.001)`` (float32): read as the number it holds."""
    for lr in (torch.tensor(0.001), np.array(0.001), np.float32(0.001)):
        assert npref.optim.make("sgd", lr=lr).lr == float(lr)
        assert torchref.optim.make("sgd", [torch.zeros(1)], lr=lr).param_groups[0]["lr"] \
            == float(lr)
    assert npref.optim.make("adam", betas=(torch.tensor(0.5), np.array(0.9))).betas == (0.5, 0.9)


def test_sgd_is_pytorchs_whole_sgd():
    """``make("sgd", …)`` with PyTorch's options is Momentum or Nesterov under their torch
    convention (the book's names for the same rules), bit for bit."""
    p0, grads = _fixed_case()
    for sgd, book_name in (({"momentum": 0.9}, "momentum"),
                           ({"momentum": 0.9, "nesterov": True}, "nesterov")):
        a = npref_trajectory(npref.optim.make("sgd", lr=0.1, **sgd), p0, grads)
        b = npref_trajectory(npref.optim.make(book_name, lr=0.1, momentum=0.9), p0, grads)
        assert np.array_equal(a["p"], b["p"]) and np.array_equal(a["momentum_buffer"],
                                                                 b["momentum_buffer"])


@over_rules
def test_torchref_returns_pytorchs_own_classes(rule):
    """PyTorch's own class wherever PyTorch has the rule (the built-in of the row)."""
    ps = [torch.zeros(3, requires_grad=True)]
    ours = torchref.optim.make(rule.name, ps, **rule.keywords)
    if rule.reference is None:
        assert isinstance(ours, torch.optim.Optimizer)
        assert type(ours).__module__ == "torchref.optim"
    else:
        assert type(ours) is type(rule.reference(ps, rule.defaults))


def test_book_adam_is_torchrefs_own():
    ps = [torch.zeros(3, requires_grad=True)]
    assert type(torchref.optim.Adam(ps, convention="book")) is torchref.optim.BookAdam
    assert isinstance(torchref.optim.BookAdam(ps), torch.optim.Optimizer)


def _snapshot(params, opt):
    return ({k: v.copy() for k, v in params.items()},
            {k: {b: np.copy(x) for b, x in s.items()} for k, s in opt.state.items()})


@over_rules
def test_update_rejects_mismatches_before_touching_anything(rule):
    opt = npref.optim.make(rule.name, **rule.keywords)
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
    if rule.state:   # a parameter whose shape changed no longer fits its buffers
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


@over_rules
def test_state_dict_round_trip(rule):
    hyper = {"lr": 0.05, **rule.keywords}
    p0, grads = _fixed_case(steps=6)
    a = npref.optim.make(rule.name, **hyper)
    pa = {"p": p0.copy()}
    for g in grads[:3]:
        a.update(pa, {"p": g})
    saved = a.state_dict()
    assert set(saved["state"]["p"]) == {"step", *rule.state}      # the buffers the table names
    b = npref.optim.make(rule.name)                  # other hyperparameters: restored by load
    b.load_state_dict(saved)
    assert b.hyperparameters() == a.hyperparameters()
    pb = {"p": pa["p"].copy()}
    for g in grads[3:]:
        a.update(pa, {"p": g})
        b.update(pb, {"p": g})
    assert np.array_equal(pa["p"], pb["p"])           # same arithmetic, same bits
    assert saved["state"] != {} and saved["state"]["p"]["step"] == 3   # a deep copy, not a view
    other = next(name for name in NAMES if name != rule.name)
    with pytest.raises(ValueError, match="state_dict is for optimizer"):
        npref.optim.make(other).load_state_dict(saved)


@over_rules
def test_float32_stays_float32(rule):
    opt = npref.optim.make(rule.name, **rule.keywords)
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
