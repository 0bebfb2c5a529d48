"""npref.testing, the public toolkit: compare (the measure every parity figure uses must be able to
fail), lockstep (a wrong port is found at its first wrong step and array), the strategies."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import npref.optim
from npref.testing import (SENSITIVITY_FACTOR, Divergence, assert_close, compare, lockstep, nudge,
                           tolerance_for)
from npref.testing import strategies as St


def test_identical_results_pass_with_zero_difference():
    a = {"w": np.arange(6.0).reshape(2, 3), "b": [1.0, 2.0]}
    r = compare(a, a, tol=1e-12)
    assert r.passed and r.max_rel_diff == 0.0 and r.count == 8 and r.where == "identical"


def test_a_difference_ten_times_the_tolerance_fails_and_says_where():
    b = np.array([[1.0, 2.0], [3.0, 4.0]])
    a = b.copy()
    a[1, 0] *= 1 + 1e-11
    with pytest.raises(AssertionError, match=r"\[1, 0\].*actual=3.00000000003"):
        assert_close(a, b, tol=1e-12)


@pytest.mark.parametrize("actual,expected,words", [
    ({"a": np.ones(2)}, {"b": np.ones(2)}, "keys differ"),
    (np.ones(3), np.ones(4), "shapes differ"),
    (np.ones(3, np.float32), np.ones(3), "dtypes differ"),
    ([1.0, 2.0], [1.0, 2.0, 3.0], "lengths differ"),
])
def test_structural_differences_fail(actual, expected, words):
    r = compare(actual, expected, tol=1e-5)
    assert not r.passed and math.isinf(r.max_rel_diff) and words in r.where


def test_nan_matches_only_nan():
    assert compare(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), tol=1e-12).passed
    assert not compare(np.array([np.nan, 1.0]), np.array([0.0, 1.0]), tol=1e-12).passed
    assert not compare(np.array([np.inf]), np.array([1.0]), tol=1e-12).passed


def test_floors():
    expected = np.array([[1e3, 1e-9], [1e-9, 1e-9]])    # element [0, 0] went 1e3 -> 1e-9
    actual = expected + np.array([[0, 0], [1e-13, 0]])
    assert not compare(actual, expected, tol=1e-12, floor=1e-12).passed
    assert compare(actual, expected, tol=1e-12, floor="history").passed      # 1e-13 / 1e3
    assert not compare(actual + [[0, 0], [0, 1e-13]], expected, tol=1e-12,
                       floor="history").passed                               # 1e-13 / 1e-9
    assert compare(actual, expected, tol=1e-12, floor="norm").passed
    zeros = np.zeros(3)
    assert not compare(zeros + 1e-300, zeros, tol=1e-12, floor="history").passed


def test_tolerances_of_the_spec():
    assert tolerance_for(np.float64) == 1e-12 and tolerance_for("float32") == 1e-5
    with pytest.raises(ValueError, match="dtype must be one of"):
        tolerance_for(np.float16)


def test_tolerance_defaults_to_the_dtypes():
    b32 = np.array([1.0, 2.0], np.float32)
    assert compare(b32 * np.float32(1 + 2e-7), b32).passed              # a float32 ulp or so
    assert compare(b32 * np.float32(1 + 2e-7), b32).tolerance == 1e-5
    b64 = np.array([1.0, 2.0])
    assert not compare(b64 * (1 + 1e-11), b64).passed                   # 10× float64's 1e-12
    assert compare({"x": b64, "y": b32}, {"x": b64, "y": b32}).tolerance == 1e-5   # the loosest
    assert compare(1.0, 1.0).tolerance == 1e-12                         # a Python float: float64
    with pytest.raises(AssertionError, match="tolerance 1e-12"):
        assert_close(b64 * (1 + 1e-11), b64)
    with pytest.raises(ValueError, match="dtype must be one of"):
        compare(np.ones(2, np.float16), np.ones(2, np.float16))


# -- lockstep -------------------------------------------------------------------------------------


ROOT = Path(__file__).resolve().parents[1]
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))]


class NumpyAdam:
    """A user's NumPy port of torch.optim.Adam; ``slip=True`` writes the bias correction of v
    as (1 − β2)^t instead of 1 − β2^t — equal at t = 1, wrong from t = 2 on."""

    def __init__(self, lr=0.01, betas=(0.9, 0.999), eps=1e-8, slip=False):
        self.lr, (self.b1, self.b2), self.eps, self.slip = lr, betas, eps, slip
        self.m = self.v = None
        self.t = 0

    def update(self, p, g):
        if self.m is None:
            self.m, self.v = np.zeros_like(p), np.zeros_like(p)
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        m_hat = self.m / (1 - self.b1 ** self.t)
        v_hat = self.v / ((1 - self.b2) ** self.t if self.slip else 1 - self.b2 ** self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def adam_runs(dtype, device, slip=False, steps=12, seed=0):
    """Step functions of the NumPy port and of torch.optim.Adam, fed the same gradients."""
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal((3, 4)).astype(dtype)
    grads = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(steps)]
    p, ours = p0.copy(), NumpyAdam(slip=slip)
    w = torch.tensor(p0, device=device, requires_grad=True)
    theirs = torch.optim.Adam([w], lr=0.01)

    def numpy_step(t):
        ours.update(p, grads[t - 1])
        return {"w": p, "m": ours.m, "v": ours.v}

    def torch_step(t):
        w.grad = torch.tensor(grads[t - 1], device=device)
        theirs.step()
        state = theirs.state[w]
        return {"w": w, "m": state["exp_avg"], "v": state["exp_avg_sq"]}

    return numpy_step, torch_step


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_faithful_port_agrees_at_every_step(dtype, device):
    assert lockstep(*adam_runs(dtype, device), steps=12) is None


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_slip_is_found_at_its_first_wrong_step_and_array(dtype, device):
    found = lockstep(*adam_runs(dtype, device, slip=True), steps=12, names=("numpy", "torch"))
    assert isinstance(found, Divergence)
    assert (found.step, found.name, found.others) == (2, "w", ())    # m and v are right
    assert found.tol == {np.float64: 1e-12, np.float32: 1e-5}[dtype]
    assert found.rel_diff > 100 * found.tol and found.previous_rel_diff <= found.tol
    text = str(found)
    assert text.startswith(f"step 2, 'w'[{found.index[0]}, {found.index[1]}]: numpy = ")
    assert "one step earlier (step 1): numpy = " in text and "tolerance" in text


@pytest.mark.parametrize("dtype,error", [(np.float64, 1e-10), (np.float32, 1e-3)])
@pytest.mark.parametrize("wrong_step", [1, 4, 9])
@pytest.mark.parametrize("wrong_name", ["W", "b"])
def test_the_first_wrong_step_and_array_are_named_exactly(dtype, error, wrong_step, wrong_name):
    """Momentum SGD in NumPy against torch.optim.SGD; the port errs once, in one array."""
    rng = np.random.default_rng(1)
    start = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    start = {k: v.astype(dtype) for k, v in start.items()}
    grads = [{k: rng.standard_normal(v.shape).astype(dtype) for k, v in start.items()}
             for _ in range(12)]
    params = {k: v.copy() for k, v in start.items()}
    velocity = {k: np.zeros_like(v) for k, v in start.items()}
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in start.items()}
    opt = torch.optim.SGD(list(tensors.values()), lr=0.1, momentum=0.9)

    def numpy_step(t):
        for k in params:
            velocity[k] = 0.9 * velocity[k] + grads[t - 1][k] if t > 1 else grads[0][k].copy()
            lr = 0.1 * (1 + error) if (t, k) == (wrong_step, wrong_name) else 0.1
            params[k] -= dtype(lr) * velocity[k]
        return params

    def torch_step(t):
        for k, w in tensors.items():
            w.grad = torch.tensor(grads[t - 1][k])
        opt.step()
        return tensors

    found = lockstep(numpy_step, torch_step, steps=12)
    assert (found.step, found.name) == (wrong_step, wrong_name), found


def test_running_floors_judge_an_element_on_the_scale_it_reached():
    """1e3 then 1e-9: a 1e-13 difference at the small value is rounding of the large terms."""
    a = iter([np.array([1e3]), np.array([1e-9 + 1e-13])])
    b = iter([np.array([1e3]), np.array([1e-9])])
    assert lockstep(lambda t: {"x": next(a)}, lambda t: {"x": next(b)}, steps=2) is None
    zero = lockstep(lambda t: {"x": np.array([1e-300])}, lambda t: {"x": np.zeros(1)}, steps=1)
    assert zero.rel_diff == math.inf                    # zero so far must stay exactly zero


def test_nan_matches_only_nan_and_python_numbers_take_the_other_dtype():
    same = lockstep(lambda t: {"loss": 0.5, "x": np.array([np.nan], np.float32)},
                    lambda t: {"loss": np.float32(0.5), "x": np.array([np.nan], np.float32)},
                    steps=2)
    assert same is None
    found = lockstep(lambda t: {"x": np.array([np.nan])}, lambda t: {"x": np.array([1.0])},
                     steps=1)
    assert found.step == 1 and found.rel_diff == math.inf


def test_integer_arrays_must_be_equal():
    found = lockstep(lambda t: {"count": np.array([t, t + (t == 3)])},
                     lambda t: {"count": np.array([t, t])}, steps=5)
    assert (found.step, found.index, found.tol) == (3, (1,), 0.0)


@pytest.mark.parametrize("a,b,words", [
    ({"w": np.ones(2), "m": np.ones(2)}, {"w": np.ones(2)}, r"step 1: .*only a returned 'm'"),
    ({"w": np.ones(2)}, {"W": np.ones(2)}, r"only a returned 'w'; only b returned 'W'"),
    ({"w": np.ones(3)}, {"w": np.ones((3, 1))}, r"'w' has shape \(3,\) in a but \(3, 1\) in b"),
    ({"w": np.ones(3)}, {"w": torch.ones(3)}, r"'w' has dtype float64 in a but float32 in b"),
    ({"w": np.ones(3)}, [np.ones(3)], r"the b step must return a dict"),
    ({"w": "text"}, {"w": np.ones(3)}, r"a's 'w' has dtype <U4, not a number"),
])
def test_mismatched_runs_are_refused_at_the_first_step(a, b, words):
    with pytest.raises(ValueError, match=words):
        lockstep(lambda t: a, lambda t: b, steps=3)


def test_a_name_that_appears_later_on_one_side_is_refused_at_that_step():
    with pytest.raises(ValueError, match=r"step 3: .*only b returned 'v'"):
        lockstep(lambda t: {"w": np.ones(2)},
                 lambda t: {"w": np.ones(2), **({"v": np.ones(2)} if t >= 3 else {})}, steps=4)
    with pytest.raises(ValueError, match=r"step 2: 'w' changed shape from \(2,\) to \(3,\)"):
        lockstep(lambda t: {"w": np.ones(t + 1)}, lambda t: {"w": np.ones(t + 1)}, steps=2)


@pytest.mark.parametrize("kwargs,words", [
    ({"steps": 0}, "steps must be an int >= 1"),
    ({"steps": 2.0}, "steps must be an int >= 1"),
    ({"steps": 2, "tol": 0}, "tol must be None or a finite number > 0"),
    ({"steps": 2, "nudged": 3}, "nudged must be a step function"),
    ({"steps": 2, "names": ("a",)}, "names must be two strings"),
])
def test_bad_arguments_are_named(kwargs, words):
    step = lambda t: {"x": np.ones(1)}  # noqa: E731
    with pytest.raises(ValueError, match=words):
        lockstep(step, step, **kwargs)


# -- chaos: a one-ulp nudge tells a chaotic problem from a bug -----------------------------------

def logistic(x0, r=4.0, written="factored"):
    """The logistic map x ← r·x·(1 − x), chaotic at r = 4: two spellings round differently."""
    x = np.array(x0)

    def step(t):
        nonlocal x
        x = r * x * (1 - x) if written == "factored" else r * x - r * x * x
        return {"x": x}
    return step


def test_a_chaotic_problem_is_told_from_a_bug():
    x0 = np.array([0.3, 0.7, 0.123])
    plain = lockstep(logistic(x0), logistic(x0, written="expanded"), steps=60)
    assert plain is not None and plain.chaotic is None           # parted, but why?
    judged = lockstep(logistic(x0), logistic(x0, written="expanded"), steps=60,
                      nudged=logistic(nudge(x0)))
    assert judged.chaotic is True and judged.step == plain.step
    assert judged.rel_diff <= SENSITIVITY_FACTOR * judged.sensitivity
    assert "chaotic: a one-ulp nudge of a's start moves a itself" in str(judged)
    bug = lockstep(logistic(x0), logistic(x0, r=4.0 * (1 + 1e-9)), steps=60,
                   nudged=[logistic(nudge(x0, seed=1)), logistic(nudge(x0, seed=2))])
    assert bug.chaotic is False and bug.step == 1 and "not chaos" in str(bug)


def test_nudge_moves_every_element_one_ulp_in_its_own_dtype():
    for dtype in (np.float64, np.float32):
        x = np.array([1.0, -2.0, 0.0, 1e-30], dtype)
        moved = nudge({"x": x})["x"]
        assert moved.dtype == dtype and np.all(moved != x)
        ulp = np.spacing(np.abs(x)) + np.finfo(dtype).smallest_subnormal
        assert np.all(np.abs(moved - x) <= ulp)


# -- importable without torch; strategies --------------------------------------------------------

def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_the_public_toolkit_imports_without_torch():
    done = _python("import sys; sys.modules['torch'] = None; "
                   "import npref.testing, npref.testing.strategies; "
                   "from npref.testing import lockstep, compare, assert_close, strategies; "
                   "print(lockstep(lambda t: {'x': 1.0}, lambda t: {'x': 1.0}, steps=2))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"


def test_strategies_without_hypothesis_say_what_to_install():
    done = _python("import sys; sys.modules['hypothesis'] = None; import npref.testing; "
                   "import npref.testing.strategies")
    assert done.returncode != 0 and "pip install hypothesis" in done.stderr


def test_the_parity_suite_draws_from_the_public_strategies():
    import npref.testing.strategies as public
    from parity_tests import strategies as S
    for name in ("dtypes", "seeds", "shapes", "learning_rates", "momenta", "betas", "alphas",
                 "epsilons", "weight_decays", "gradient_sequences", "parameters", "log_uniform"):
        assert getattr(S, name) is getattr(public, name), name


@settings(max_examples=40, deadline=None)
@given(x=St.arrays(shape=St.shapes(max_dims=2, max_size=64)), y=St.arrays(shape=(2, 3),
                                                                          dtype=np.float32))
def test_arrays_have_the_shape_and_dtype_asked_for(x, y):
    assert 1 <= x.ndim <= 2 and x.size <= 64 and x.dtype in (np.float64, np.float32)
    assert y.shape == (2, 3) and y.dtype == np.float32
    assert np.all(np.isfinite(x)) and np.max(np.abs(x), initial=0.0) < 1e5


@pytest.mark.parametrize("name", sorted(St.HYPERPARAMETERS))
def test_hyperparameters_are_valid_for_the_optimizer(name):
    @settings(max_examples=25, deadline=None)
    @given(h=St.hyperparameters(name))
    def build(h):
        npref.optim.make(name, **h)
    build()
    with pytest.raises(ValueError, match="optimizer must be one of"):
        St.hyperparameters("lbfgs")


def test_compare_reads_tensors_as_they_are():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert compare({"y": y, "x": x}, {"y": np.array([2.0, 4.0]), "x": np.array([1.0, 2.0])},
                   check_dtype=False).tolerance == 1e-5                   # x and y are float32
    assert compare(y, np.array([2.0, 4.0], np.float32)).passed


def test_an_array_returned_now_and_then_is_shown_as_last_returned():
    """A per-epoch metric beside a per-iteration loss: the earlier value is its last one."""
    def run(slip):
        return lambda t: {"loss": 1.0 / t,
                          **({"val": 0.5 + slip * (t == 6)} if t % 3 == 0 else {})}
    found = lockstep(run(1e-9), run(0.0), steps=9)
    assert (found.step, found.name, found.previous_step, found.previous_a) == (6, "val", 3, 0.5)
    assert "when last returned (step 3): a = 0.5, b = 0.5" in str(found)
