"""The experiments' backend interface: declared hooks, regularizers by name, shared steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import npref.regularizers
import torchref.regularizers
from experiments import backends, registry, runner
from experiments.experiment import Experiment
from experiments.backends.protocol import Backend, nudge
from experiments.results import Computed
from experiments.settings import positive_int, setting


@pytest.mark.parametrize("name", backends.BACKENDS)
def test_hooks_are_declared_parameters(name):
    plain = backends.get(name, "cpu")
    assert plain.perturbation is None and plain.only_parts is None
    hooked = backends.get(name, "cpu", perturbation=3, only_parts=["a", "b"])
    assert hooked.perturbation == 3 and hooked.only_parts == frozenset({"a", "b"})
    assert set(Backend.__annotations__) <= set(dir(hooked))
    with pytest.raises(ValueError, match="perturbation must be None or an int seed"):
        backends.get(name, "cpu", perturbation=0.5)


def test_a_nudge_moves_every_value_one_ulp():
    params = {"W1": np.array([[1.0, -2.0], [0.0, 3e-300]]), "b1": np.ones(2, np.float32)}
    moved = nudge(params, 7)
    for key, value in params.items():
        assert moved[key].dtype == value.dtype
        up, down = np.nextafter(value, np.inf), np.nextafter(value, -np.inf)
        assert np.all((moved[key] == up) | (moved[key] == down))
    assert nudge(params, None) is params


@pytest.mark.parametrize("module", [npref.regularizers, torchref.regularizers])
@pytest.mark.parametrize("name, keywords, cls", [
    ("l1", {"lam": 0.1}, "L1"), ("L2", {"lam": 0.25}, "L2"),
    ("elastic", {"l1": 0.01, "l2": 0.02}, "ElasticNet")])
def test_regularizers_cross_backends_by_name(module, name, keywords, cls):
    made = module.make(name, **keywords)
    assert type(made).__name__ == cls and made.spec() == (name.lower(), keywords)
    twin = torchref.regularizers.from_npref(npref.regularizers.make(name, **keywords))
    assert twin.spec() == made.spec()


@pytest.mark.parametrize("module", [npref.regularizers, torchref.regularizers])
def test_an_unknown_regularizer_is_refused_by_name(module):
    with pytest.raises(ValueError, match="regularizer name must be one of 'l1', 'l2', 'elastic', "
                                         "got 'l3'"):
        module.make("l3", lam=0.1)
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        module.make("l2", lam=-1.0)


def test_a_shared_step_is_computed_once_for_both_backends(monkeypatch, tmp_path):
    calls = []

    def prepare(config, seed, data_dir):
        calls.append(seed)
        return {"offset": 0.5}

    def compute(backend, config, seed, data_dir, shared):
        return Computed({"x.loss": [1.0, shared["offset"]]}, {"x.loss": 0.5})

    @dataclass(frozen=True)
    class Probe:
        n: int = setting(1, positive_int, "a count")

    experiment = Experiment(
        name="shared-step-probe", description="probe", concept="probe", settings=Probe,
        compute=compute, plot=lambda results, config, out_dir: [], prepare=prepare,
        data=lambda config, data_dir: {"name": "none", "source": "none", "n_train": 0,
                                       "n_test": 0})
    monkeypatch.setitem(registry._REGISTRY, experiment.name, experiment)
    monkeypatch.setattr(registry, "all_experiments", lambda: dict(registry._REGISTRY))
    result = runner.run(runner.RunSpec(experiment.name, device="cpu", seed=4, out=tmp_path))
    assert calls == [4] and result.parity.passed is True
    assert result.backends["torch"].series["x.loss"] == [1.0, 0.5]


def test_runs_that_both_end_in_nan_still_agree_on_the_rest():
    """A plain net at a large weight scale diverges to NaN on both backends at the same step
    (the book's loss is capped, so NaN, not a huge loss, marks it): that is agreement, and the
    values before it are judged on their own scale, not made infinite by the NaN."""
    from experiments.backends import parity

    nan = float("nan")
    a = Computed({"x.loss": [13.378019373295405, 14.5, nan]}, {"x.loss": nan})
    b = Computed({"x.loss": [13.37801937329541, 14.5, nan]}, {"x.loss": nan})
    judged = parity.judge({"numpy": a, "torch": b}, 1e-9)
    assert judged["passed"] and judged["max_rel_diff"] < 1e-15
    b.series["x.loss"][1] = 14.6
    assert not parity.judge({"numpy": a, "torch": b}, 1e-9)["passed"]


def _run(chaotic_loss: list, steady_loss: list) -> Computed:
    return Computed({"chaotic.loss": chaotic_loss, "steady.loss": steady_loss},
                    {"chaotic.loss": chaotic_loss[-1], "steady.loss": steady_loss[-1]})


@pytest.mark.parametrize("shadowed_by, verdict", [(0.0, "chaotic"), (4.6e-14, "chaotic"),
                                               (1e-12, "chaotic"), (1.01e-12, "failed"),
                                               (float("nan"), "failed")])
def test_a_part_beyond_the_tolerance_is_judged_by_its_shadow(shadowed_by, verdict):
    """A part beyond the whole-run tolerance is chaotic exactly when every shadowed iteration
    (PyTorch restarted from NumPy's state) agrees within one computation's tolerance — however
    far the whole runs part and whatever a nudge does; only the parts beyond the tolerance are
    shadowed and nudged."""
    from experiments.backends import parity as judging

    base = [1.0, 0.5, 0.25]
    numpy_run = _run(base, base)
    torch_run = _run([1.0, 0.5, 0.3], base)                  # far beyond the tolerance
    asked = []

    def rerun(k, parts):
        asked.append(("nudge", parts))
        return _run([1.0, 0.5, 0.25 * (1 - 1e-12)], base)   # a nudge moves it 1e-12: no matter

    def shadowed(parts):
        asked.append(("shadow", parts))
        first = None if shadowed_by <= 1e-12 else {"step": 2, "where": "W1",
                                                    "rel_diff": shadowed_by}
        return {"an experiment steady": {"steps": 3, "max_rel_diff": 0.0, "step": 1,
                                         "where": "loss", "first_over": None, "problem": None},
                "an experiment chaotic": {"steps": 3, "max_rel_diff": shadowed_by, "step": 2,
                                          "where": "W1", "first_over": first, "problem": None}}

    record = judging.judge({"numpy": numpy_run, "torch": torch_run}, 1e-9)
    assert not record["passed"]
    judging.judge_shadowed(record, {"numpy": numpy_run, "torch": torch_run}, rerun=rerun,
                           shadowed=shadowed, step_tol=1e-12)
    assert asked == [("shadow", {"chaotic"})] + [("nudge", {"chaotic"})] * judging.SENSITIVITY_RUNS
    assert record["passed"] is (verdict == "chaotic")
    assert (record["chaotic"], record["failed_parts"]) == (
        (["chaotic"], []) if verdict == "chaotic" else ([], ["chaotic"]))
    assert record["sensitivity"]["chaotic"] == pytest.approx(0.25e-12 / 0.25, rel=1e-3)
    if verdict == "failed":
        assert "at iteration 2" in judging.shadow_failure(record["shadow"]["chaotic"])


def test_a_part_no_training_run_shadowed_fails():
    """A part beyond the tolerance whose runs the shadow could not follow is not chaos."""
    from experiments.backends import parity as judging

    assert judging.shadow_of("x", {}, 1e-12)["passed"] is False
    broken = {"e x": {"steps": 5, "max_rel_diff": 0.0, "step": 1, "where": "loss",
                      "first_over": None, "problem": "NumPy's run ended"}}
    assert judging.shadow_of("x", broken, 1e-12)["passed"] is False
    assert judging.shadow_of("y", broken, 1e-12)["problem"]


def test_check_refuses_what_get_refuses_without_building_a_backend(monkeypatch):
    """The plan's check (the workers build the backends): an unknown name, PyTorch missing,
    a CUDA device this machine lacks — each refused as get refuses it."""
    import torch

    from experiments import backends

    backends.check("numpy", "auto")
    backends.check("torch", "cpu")
    with pytest.raises(ValueError, match="backend must be one of numpy, torch, got 'jax'"):
        backends.check("jax")
    if not torch.cuda.is_available():
        with pytest.raises(backends.BackendUnavailable, match="cuda") as checked:
            backends.check("torch", "cuda")
        with pytest.raises(backends.BackendUnavailable) as got:
            backends.get("torch", "cuda")
        assert str(checked.value) == str(got.value)
    monkeypatch.delitem(__import__("sys").modules, "torch")
    monkeypatch.setattr(backends, "_installed", lambda module: False)
    with pytest.raises(backends.BackendUnavailable, match="the torch backend needs PyTorch"):
        backends.check("torch", "auto")
