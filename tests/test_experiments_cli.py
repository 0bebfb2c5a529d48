"""The experiments command line: list, run, report, --set, and what they write."""

import json
import re
from pathlib import Path

import pytest

from experiments import settings as S
from experiments.cli import main
from experiments.results import Computed

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_KEYS = {"experiment", "profile", "seed", "config", "data", "backends", "parity"}


def test_run_both_writes_metrics_with_the_spec_schema(tmp_path):
    assert main(["run", "optimizer-paths", "--backend", "both", "--device", "cpu",
                 "--out", str(tmp_path)]) == 0
    folder = tmp_path / "optimizer-paths"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert SCHEMA_KEYS <= set(metrics)
    assert set(metrics["data"]) >= {"name", "source", "n_train", "n_test"}
    for side in ("numpy", "torch"):
        b = metrics["backends"][side]
        assert set(b) >= {"series", "final", "seconds", "device"}
        assert len(b["series"]["SGD.x"]) == 31            # start + 30 steps
    parity = metrics["parity"]
    assert parity["passed"] is True and parity["tolerance"] == 1e-12
    assert 0 <= parity["max_rel_diff"] <= 1e-12
    assert (folder / "optimizer-paths.png").stat().st_size > 10_000
    assert not list(folder.glob(".*.tmp")), "a temporary file was left behind"


def test_the_paths_reproduce_the_book(tmp_path):
    main(["run", "optimizer-paths", "--backend", "numpy", "--out", str(tmp_path)])
    m = json.loads((tmp_path / "optimizer-paths" / "metrics.json").read_text())
    s = m["backends"]["numpy"]["series"]
    # SGD at lr 0.95 flips y's sign each step (y <- y - 0.95*2y = -0.9y): the book's zigzag.
    assert s["SGD.y"][:3] == pytest.approx([2.0, -1.8, 1.62])
    finals = m["backends"]["numpy"]["final"]
    book = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")
    assert all(finals[f"{k}.f"] < 0.2 for k in book), finals     # the book's six got near 0
    assert all(f < 2.5 for f in finals.values()), finals          # and every rule descended
    assert m["parity"]["passed"] is None                          # one backend: not measured


def test_set_overrides_and_validates(tmp_path, capsys):
    assert main(["run", "optimizer-paths", "--backend", "numpy", "--out", str(tmp_path),
                 "--set", "steps=5", "--set", "convention=torch"]) == 0
    m = json.loads((tmp_path / "optimizer-paths" / "metrics.json").read_text())
    assert m["config"]["steps"] == 5 and m["config"]["convention"] == "torch"
    assert len(m["backends"]["numpy"]["series"]["Adam.x"]) == 6
    assert main(["run", "optimizer-paths", "--set", "stepz=5", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown configuration key 'stepz'" in err and "steps" in err and "lr_adam" in err
    assert main(["run", "optimizer-paths", "--set", "steps=many", "--out", str(tmp_path)]) == 2
    assert "steps must be an int like 30" in capsys.readouterr().err


def test_settings_parse_from_their_declaration():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Demo:
        n: int = S.setting(3, S.positive_int, "a count")
        lr: float = S.setting(0.1, S.positive, "a rate")
        bn: bool = S.setting(False, S.flag, "a switch")
        hidden: list = S.setting([100, 100], S.layer_sizes, "sizes")
        name: str = S.setting("x", S.choice("x", "y"), "a name")

    quick = {"quick": Demo(n=30)}
    c = S.resolve(Demo, quick, "quick", ["lr=1e-3", "bn=yes", "hidden=50,60,70", "name=y"])
    assert c == {"n": 30, "lr": 1e-3, "bn": True, "hidden": [50, 60, 70], "name": "y"}
    assert S.resolve(Demo, quick, "full")["n"] == 3                # full: the declaration's
    with pytest.raises(S.ConfigError, match="profile must be one of"):
        S.resolve(Demo, quick, "slow")
    with pytest.raises(S.ConfigError, match="KEY=VALUE"):
        S.resolve(Demo, quick, "quick", ["lr"])
    with pytest.raises(S.ConfigError, match=r"--set lr=-1.0: lr must be"):
        S.resolve(Demo, quick, "quick", ["lr=-1"])
    with pytest.raises(S.ConfigError, match="name must be one of"):
        S.resolve(Demo, quick, "quick", ["name=z"])
    rows = S.describe(Demo, quick)
    assert rows[0] == ("n", "3", "30", "a count (an int from 1 to 1,000,000)")
    assert rows[3] == ("hidden", "100,100", "", "sizes (a non-empty list of ints >= 1)")


def test_run_name_help_lists_the_experiment_s_settings(capsys):
    assert main(["run", "hyperparameter-search", "--help"]) == 0
    out = capsys.readouterr().out
    assert "lr_range" in out and "-6.0,-2.0" in out and "two exponents lo,hi" in out
    assert "trials" in out and "(quick: 20)" in out
    assert main(["run", "--help"]) == 0
    assert "--set KEY=VALUE" in capsys.readouterr().out


def test_adding_a_setting_is_one_line_in_the_experiment(tmp_path, monkeypatch):
    """A new field in an experiment's declaration is a valid --set key at once, checked by its
    own check: nothing to add anywhere else."""
    from dataclasses import dataclass

    from experiments import registry
    from experiments.catalogue import optimizer_paths

    @dataclass(frozen=True)
    class More(optimizer_paths.Settings):
        extra_steps: int = S.setting(0, S.count, "a setting added for this test")

    experiment = registry.get("optimizer-paths")
    from dataclasses import replace
    monkeypatch.setitem(registry._REGISTRY, "optimizer-paths",
                        replace(experiment, settings=More, profiles={}))
    assert registry.get("optimizer-paths").config_for("quick", ["extra_steps=3"])[
        "extra_steps"] == 3
    with pytest.raises(S.ConfigError, match="extra_steps must be an int from 0 to 1,000,000"):
        registry.get("optimizer-paths").config_for("quick", ["extra_steps=-1"])


def test_non_finite_stops_with_the_step_named(tmp_path, capsys):
    # SGD at lr 1.2 on y: y <- y - 2.4y = -1.4y grows without bound; by 3000 steps it overflows.
    code = main(["run", "optimizer-paths", "--backend", "numpy", "--out", str(tmp_path),
                 "--set", "lr_sgd=1.2", "--set", "steps=3000"])
    assert code == 3
    assert re.search(r"sgd: .* became non-finite at step \d+", capsys.readouterr().err)
    assert not (tmp_path / "optimizer-paths" / "metrics.json").exists()


@pytest.mark.parametrize("name,sets", [
    ("optimizer-mnist", ["iterations=40"]),
    ("breast-cancer-optimizers", ["epochs=60"]),
])
def test_training_experiments_agree_across_backends(tmp_path, name, sets):
    args = ["run", name, "--backend", "both", "--device", "cpu", "--out", str(tmp_path)]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    m = json.loads((tmp_path / name / "metrics.json").read_text())
    assert m["parity"]["passed"] is True and m["parity"]["tolerance"] == 1e-9
    assert m["parity"]["max_rel_diff"] <= 1e-9
    assert (tmp_path / name / f"{name}.png").exists()
    if name == "optimizer-mnist":
        assert m["data"]["n_train"] >= 1000 and m["data"]["source"].startswith("embedded")
        assert len(m["backends"]["numpy"]["series"]["Adam.loss"]) == 40
    else:
        assert m["data"]["n_train"] == 455 and m["data"]["n_test"] == 114


def test_mnist_from_a_data_dir_with_corrupt_files_names_the_file(tmp_path, capsys):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes(b"\x1f\x8b not really gzip")
    code = main(["run", "optimizer-mnist", "--data-dir", str(folder), "--out", str(tmp_path)])
    assert code == 2
    assert "t10k-images-idx3-ubyte.gz: wrong checksum" in capsys.readouterr().err


def test_a_final_value_is_judged_as_the_last_point_of_its_series():
    # A loss that fell from 0.7 to 4e-10 carries its 0.7-sized terms' rounding (PyTorch's
    # BCEWithLogitsLoss has an absolute 1e-16 error there): 2e-17 apart is agreement ...
    from experiments import registry
    from experiments.backends import parity

    experiment = registry.get("breast-cancer-optimizers")
    tol = parity.tolerance(experiment, {"dtype": "float64"})
    series = [0.7, 1e-3, 3.8193074653435025e-10]

    def result(last, final):
        return Computed({"RMSprop.loss": series[:-1] + [last]}, {"RMSprop.loss": final,
                        "RMSprop.test_acc": 0.9})
    agree = parity.judge({"numpy": result(series[-1], series[-1]),
                          "torch": result(3.819307230950427e-10, 3.819307230950427e-10)}, tol)
    assert agree["passed"] and agree["max_rel_diff"] < 1e-16
    # ... while a difference the size of the tolerance, relative to 0.7, is still caught,
    # and so is a final without a series (judged against its own magnitude).
    apart = parity.judge({"numpy": result(series[-1], series[-1]),
                          "torch": result(series[-1], series[-1] + 1e-8)}, tol)
    assert not apart["passed"] and apart["max_rel_diff"] > 1e-8
    lone = result(series[-1], series[-1])
    lone.final["RMSprop.test_acc"] = 0.9 * (1 + 1e-8)
    assert not parity.judge({"numpy": result(series[-1], series[-1]), "torch": lone},
                            tol)["passed"]
