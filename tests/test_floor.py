"""The floor the PyTorch side is timed against (:mod:`experiments.bench.floor`): a plain,
hand-written PyTorch loop must compute exactly what torchref computes — every series, final and
array of every experiment, bit for bit — or the time between the two would not be torchref's
own. Each experiment runs on its sliver (tests/test_catalogue.py), which reaches every code path
(BatchNorm both conventions, dropout, penalties, early stopping, schedules, watched weights,
update ratios, the book's loss after the update, descent on a surface)."""

import dataclasses
import json

import numpy as np
import pytest

from experiments import parallel
from experiments.backends import get as backend
from experiments.backends.variants import Variant, run_variants
from experiments.bench.floor import PlainTorch
from experiments.cli import main
from experiments.registry import all_experiments
from experiments.runner import _computer
from npref.training import Data, Schedule
from tests.test_catalogue import SLIVERS


def _compute(name):
    experiment = all_experiments()[name]
    config = experiment.config_for("quick", tuple(SLIVERS.get(name, [])))
    if experiment.prepare is not None:
        # The shared step (lecture-errata's listings run as written: NumPy, 12 s) is computed
        # once and handed to both sides as the same object, which they only pass on: neither
        # side's own computation reads it, so a token stands in for it here.
        experiment = dataclasses.replace(experiment, prepare=lambda *args: SHARED)
    return _computer(experiment, config, 0, None)


#: What the experiments that declare a shared step get for it here (see :func:`_compute`).
SHARED = {"shared step": "not computed: the same object reaches both sides"}


def _differences(a, b, path="") -> list[str]:
    """Where two results differ (NaN equals NaN; arrays by value, shape and dtype)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} and {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    x, y = np.asarray(a), np.asarray(b)
    same = (x.shape == y.shape and x.dtype == y.dtype
            and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"))
    return [] if same else [f"{path}: {str(a)[:60]} vs {str(b)[:60]}"]


@pytest.mark.parametrize("name", list(all_experiments()))
def test_the_plain_loop_computes_what_torchref_computes(name):
    compute = _compute(name)
    with parallel.task_threads(torch_too=True):
        torchref_result = vars(compute(backend("torch", "cpu")))
        plain_result = vars(compute(PlainTorch("cpu")))
    assert _differences(torchref_result, plain_result) == []


@pytest.mark.parametrize("convention", ["torch", "book"])
@pytest.mark.parametrize("output_size", [1, 3])
def test_every_branch_of_the_plain_step_computes_what_torchref_computes(convention, output_size):
    # BatchNorm, dropout and an elastic-net penalty together, in each convention; the book's
    # loss after the update, watched weights, update ratios, validation data with early
    # stopping, a schedule stepping each epoch: one variant each way, bit for bit.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 5))
    t = (rng.random(60) > 0.5).astype(float) if output_size == 1 else rng.integers(0, 3, 60)
    data = Data(x[:40], t[:40], x[40:50], t[40:50], x[50:], t[50:])
    arch = {"input_size": 5, "hidden_sizes": [4, 3], "output_size": output_size,
            "activation": "tanh", "use_batchnorm": True, "dropout": 0.25,
            "regularizer": ("elastic", {"l1": 1e-3, "l2": 1e-2}), "convention": convention,
            "weight_init": "he"}
    schedule = Schedule(batch_size=8, epochs=4, watch=(("W1", (0, 1)),), update_ratios=True,
                        loss_after_update=convention == "book",
                        early_stopping={"patience": 2} if convention == "torch" else None,
                        lr_schedule=("StepLR", {"step_size": 1, "gamma": 0.5})
                        if convention == "torch" else None)
    variants = {"all": Variant(arch, "adam", {"lr": 0.01}, schedule)}
    config = {"dtype": "float64"}
    results = [vars(run_variants(side, variants, data=data, config=config, seed=1, label="x"))
               for side in (backend("torch", "cpu"), PlainTorch("cpu"))]
    assert results[0]["series"]["all.update/W1"]
    assert _differences(*results) == []


def test_the_comparison_sees_one_nudged_weight():
    # A comparison that cannot fail proves nothing: one starting weight moved by one ulp on the
    # torchref side, and the results differ.
    compute = _compute("breast-cancer-init")
    with parallel.task_threads(torch_too=True):
        nudged = vars(compute(backend("torch", "cpu", perturbation=1)))
        plain = vars(compute(PlainTorch("cpu")))
    assert _differences(nudged, plain)


def test_bench_floor_times_both_sides_and_writes_the_ratios(tmp_path, capsys):
    assert main(["bench", "--floor", "--only", "optimizer-paths", "--rounds", "1",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "optimizer-paths" in out and "torchref/plain" in out and "load average" in out
    result = json.loads((tmp_path / "bench" / "floor.json").read_text())
    (row,) = result["rows"]
    assert row["experiment"] == "optimizer-paths" and row["plain"] > 0 and row["torchref"] > 0
    assert row["torchref/plain"] == pytest.approx(row["torchref"] / row["plain"])
    assert set(result["load_average"]) == {"before", "after"}


def test_bench_floor_refuses_an_unknown_experiment(tmp_path, capsys):
    assert main(["bench", "--floor", "--only", "optimizer-pathz", "--out", str(tmp_path)]) == 2
    assert "did you mean optimizer-paths" in capsys.readouterr().err
    # what chooses the floor's experiments is refused without --floor, not silently ignored
    assert main(["bench", "--only", "optimizer-paths", "--out", str(tmp_path)]) == 2
    assert "add --floor" in capsys.readouterr().err
    assert not (tmp_path / "bench").exists()
