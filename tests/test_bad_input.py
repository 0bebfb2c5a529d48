"""Nothing a user types crashes or lies: one table of bad inputs, each refused before any work
with one ``error:`` line (exit 2) naming what was wrong — or, for a diverged run, exit 3 naming
the step — and never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.cli import main

ROOT = Path(__file__).resolve().parent.parent

#: (command line, exit status, what the one error line must say). Every case must be refused
#: before any work: none of them may leave a result folder behind.
COMMAND_LINE = [
    (["run", "optimizer-paths", "--set", "lr_adam=-1"], 2,
     "--set lr_adam=-1.0: lr_adam must be a finite number > 0, got -1.0"),
    (["run", "optimizer-paths", "--set", "steps=0"], 2, "steps must be an int >= 1, got 0"),
    (["run", "optimizer-paths", "--set", "steps=2.5"], 2, "steps=2.5"),
    (["run", "optimizer-paths", "--set", "start_x=nan"], 2, "start_x must be a finite number"),
    (["run", "optimizer-paths", "--set", "lr_sgd=inf"], 2, "lr_sgd must be a finite number > 0"),
    (["run", "optimizer-paths", "--set", "bogus=1"], 2, "unknown configuration key 'bogus'"),
    (["run", "optimizer-paths", "--set", "steps"], 2, "--set takes KEY=VALUE"),
    (["run", "optimizer-mnist", "--set", "n_train=-5"], 2, "n_train must be an int >= 0"),
    (["run", "optimizer-mnist", "--set", "hidden=100,0"], 2, "hidden must be an int >= 1"),
    (["run", "optimizer-mnist", "--set", "hidden="], 2, "hidden must be a non-empty list"),
    (["run", "optimizer-mnist", "--set", "batch_size=0"], 2, "batch_size must be an int >= 1"),
    (["run", "optimizer-mnist", "--set", "dtype=float16"], 2,
     "dtype must be one of 'float64', 'float32', got 'float16'"),
    (["run", "optimizer-mnist", "--set", "convention=pytorch"], 2,
     "convention must be one of 'torch', 'book'"),
    (["run", "optimizer-mnist", "--set", "sampling=random"], 2,
     "sampling must be one of 'shuffle', 'replacement'"),
    (["run", "optimizer-mnist", "--set", "weight_init=bogus"], 2,
     "weight_init must be a positive std or one of"),
    (["run", "optimizer-mnist", "--set", "weight_init=-0.1"], 2, "std must be a finite number"),
    (["run", "overfit-dropout", "--set", "dropout=1"], 2, "dropout must be a number in [0, 1)"),
    (["run", "breast-cancer-optimizers", "--set", "momentum=-0.1"], 2,
     "momentum must be a number in [0, 1)"),
    (["run", "breast-cancer-regularization", "--set", "l1=-0.01"], 2,
     "l1 must be a finite number >= 0"),
    (["run", "hyperparameter-search", "--set", "lr_range=-2,-6"], 2,
     "lr_range must be two exponents lo,hi with lo < hi"),
    (["run", "hyperparameter-search", "--set", "validation=0"], 2,
     "validation must be a number in (0, 1)"),
    (["run", "sanity-checks", "--set", "good_lr=0"], 2, "good_lr must be a finite number > 0"),
    (["run", "optimizer-paths", "--seed", "-1"], 2, "--seed must be an int >= 0, got -1"),
    (["run", "optimizer-paths", "--seed", "x"], 2, "argument --seed: invalid int value"),
    (["run", "optimizer-paths", "--profile", "slow"], 2, "argument --profile: invalid choice"),
    (["run", "optimizer-paths", "--backend", "jax"], 2, "argument --backend: invalid choice"),
    (["run", "optimizer-pahts"], 2, "did you mean optimizer-paths"),
    (["run"], 2, "the following arguments are required: name"),
    (["report", "--only", "nope"], 2, "unknown experiment 'nope'"),
    (["report", "--seed", "-3"], 2, "--seed must be an int >= 0"),
    (["bench", "--rounds", "0"], 2, "--rounds must be an int >= 1, got 0"),
    (["bench", "--warmup", "-1"], 2, "--warmup must be an int >= 0, got -1"),
    (["bench", "--batch", "0"], 2, "--batch must be ints >= 1"),
    (["bench", "--dtype", "float16"], 2, "argument --dtype: invalid choice"),
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (["run", "optimizer-paths", "--set", "lr_sgd=1e30"], 3,
     "training diverged: sgd: parameters became non-finite at step"),
]


@pytest.mark.parametrize("argv, status, message", COMMAND_LINE,
                         ids=[" ".join(a) for a, _, _ in COMMAND_LINE])
def test_the_command_line_refuses_bad_input_in_one_line(argv, status, message, tmp_path,
                                                        capsys):
    out = tmp_path / "out"
    code = _main(argv + (["--out", str(out)] if argv[0] in ("run", "report", "bench") else []))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == status
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err
    if status == 2:
        assert not out.exists() or not any(out.iterdir()), "refused, yet something was written"


def _main(argv):
    try:
        return main(argv)
    except SystemExit as stop:                  # argparse's own refusals
        return stop.code


@pytest.mark.parametrize("target", ["file", "unwritable"])
def test_an_output_folder_that_cannot_hold_results_is_refused_first(tmp_path, capsys, target):
    out = tmp_path / "out"
    if target == "file":
        out.write_text("not a folder")
        expected = "exists and is not a folder"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere")
        out.mkdir()
        out.chmod(0o500)
        expected = "cannot write there"
    code = main(["run", "optimizer-paths", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and f"error: --out {out}: {expected}" in err
    assert "running on" not in err                       # refused before any work


@pytest.mark.parametrize("argv, status, message", [
    (["run", "optimizer-paths", "--set", "lr_adam=-1"], 2, "lr_adam must be a finite number"),
    (["run", "optimizer-paths", "--seed", "x"], 2, "invalid int value"),
    (["run", "optimizer-paths", "--set", "lr_sgd=1e30"], 3, "non-finite at step"),
])
def test_as_a_process_one_error_line_and_no_traceback(tmp_path, argv, status, message):
    done = subprocess.run([sys.executable, "-m", "experiments", *argv, "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == status, done.stderr
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in done.stderr


def test_ctrl_c_prints_one_line_and_exits_130(monkeypatch, capsys, tmp_path):
    from experiments import runner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "run", interrupted)
    assert main(["run", "optimizer-paths", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("interrupted")
