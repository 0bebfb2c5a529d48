"""Nothing a user types crashes or lies: one table of bad inputs, each refused before any work
with one ``error:`` line (exit 2) naming what was wrong — or, for a diverged run, exit 3 naming
the step — and never a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import npref.gradcheck
import npref.init
import npref.layers as L
import npref.optim
import npref.training as T
import torchref.init
import torchref.layers as TL
import torchref.nets
import torchref.optim
import torchref.training as TT
from experiments.cli import main
from npref.nets import MultiLayerNet

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
    (["run", "optimizer-mnist", "--set", "n_train=-5"], 2,
     "n_train must be an int from 0 to 1,000,000"),
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
    (["run"], 2, "run needs an experiment name"),
    (["report", "--only", "nope"], 2, "unknown experiment 'nope'"),
    (["report", "--seed", "-3"], 2, "--seed must be an int >= 0"),
    (["bench", "--rounds", "0"], 2, "--rounds must be an int >= 1, got 0"),
    (["bench", "--warmup", "-1"], 2, "--warmup must be an int >= 0, got -1"),
    (["bench", "--batch", "0"], 2, "--batch must be ints >= 1"),
    (["bench", "--dtype", "float16"], 2, "argument --dtype: invalid choice"),
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    # issue 34: accepted nonsense, now refused before any work
    (["run", "breast-cancer-init", "--set", "epochs=1000000000000"], 2,
     "epochs must be an int from 1 to 1,000,000, got 1,000,000,000,000"),
    (["run", "optimizer-mnist", "--set", "hidden=100,100000000"], 2,
     "hidden must be an int from 1 to 1,000,000"),
    (["run", "optimizer-paths", "--seeds", "100000"], 2, "--seeds must be an int from 1 to 1000"),
    (["report", "--seeds", "5000"], 2, "--seeds must be an int from 1 to 1000"),
    (["run", "optimizer-paths", "--backend", "numpy", "--device", "cuda"], 2,
     "--device cuda is the torch backend's"),
    (["run", "optimizer-paths", "--executor", "dask", "--scheduler", "tcp://[::1"], 2,
     "--scheduler must be an address like tcp://host:8786, got 'tcp://[::1'"),
    (["run", "optimizer-paths", "--jobs", "0"], 2, "--jobs must be an int >= 1 or 'auto'"),
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


# -- the library ----------------------------------------------------------------------------------


X = np.ones((4, 3))
RNG = np.random.default_rng


def _net(**kw):
    return MultiLayerNet(3, [5], 2, rng=RNG(0), **kw)


def _twin(**kw):
    return torchref.nets.MultiLayerNet(3, [5], 2, dtype=torch.float64, **kw)


def _data():
    return T.Data(np.ones((6, 3)), np.zeros(6, dtype=np.int64))


def _update_twice_the_same_array():
    shared = np.ones(3)
    npref.optim.SGD(lr=0.1).update({"a": shared, "b": shared}, {"a": np.ones(3), "b": np.ones(3)})


def _load_state(state):
    npref.optim.Adam().load_state_dict(state)


def _adam_state(**changes):
    opt = npref.optim.Adam()
    params = {"w": np.ones(3)}
    opt.update(params, {"w": np.ones(3)})
    state = opt.state_dict()
    state["state"]["w"].update(changes)
    return state


LIBRARY = [
    ("integer input to a layer", lambda: L.ReLU().forward(np.ones((2, 3), dtype=np.int64)),
     ValueError, "x must be a floating-point array"),
    ("complex input to a layer", lambda: L.Sigmoid().forward(np.ones(3, dtype=complex)),
     ValueError, "x must be a floating-point array"),
    ("string input to a layer", lambda: L.Tanh().forward(np.array(["a", "b"])),
     ValueError, "x must be a floating-point array"),
    ("integer weights for Affine", lambda: L.Affine(np.ones((3, 2), dtype=int), np.zeros(2)),
     ValueError, "W must be a floating-point array"),
    ("float16 input", lambda: L.ReLU().forward(np.ones(3, dtype=np.float16)),
     ValueError, "float16"),
    ("integer dtype to an initializer", lambda: npref.init.he_normal((3, 2), RNG(0), np.int64),
     ValueError, "dtype must be float32 or float64"),
    ("float16 to an initializer", lambda: npref.init.glorot_uniform((3, 2), RNG(0), np.float16),
     ValueError, "dtype must be float32 or float64"),
    ("integer dtype to torchref.init", lambda: torchref.init.he_normal(
        (3, 2), RNG(0), dtype=torch.int64), ValueError, "dtype must be float32 or float64"),
    ("float16 net", lambda: MultiLayerNet(3, [5], 2, dtype=np.float16),
     ValueError, "dtype must be float32 or float64"),
    ("empty batch to a loss", lambda: L.SoftmaxWithLoss().forward(np.ones((0, 3)),
                                                                  np.zeros(0, int)),
     ValueError, "empty batch"),
    ("empty batch to a net", lambda: _net().loss(np.ones((0, 3)), np.zeros(0, int)),
     ValueError, "empty batch"),
    ("NaN targets", lambda: L.SoftmaxWithLoss().forward(X[:, :2], np.full((4, 2), np.nan)),
     ValueError, "targets hold NaN"),
    ("negative target rows", lambda: L.SoftmaxWithLoss().forward(
        X[:, :2], np.array([[1.5, -0.5]] * 4)), ValueError, "target rows must be"),
    ("label out of range", lambda: L.SoftmaxWithLoss().forward(X[:, :2], np.array([0, 1, 2, 0])),
     ValueError, "labels must lie in [0, 2)"),
    ("labels of the wrong length", lambda: L.SoftmaxWithLoss().forward(X[:, :2],
                                                                       np.array([0, 1])),
     ValueError, "2 labels for 4 samples"),
    ("NaN binary targets", lambda: L.SigmoidWithLoss().forward(X[:, :1], np.full(4, np.nan)),
     ValueError, "targets"),
    ("accuracy: labels out of range", lambda: _net().accuracy(X, np.array([0, 1, 5, 0])),
     ValueError, "labels must lie in [0, 2)"),
    ("accuracy: wrong length", lambda: _net().accuracy(X, np.array([0, 1])),
     ValueError, "2 labels for 4 samples"),
    ("accuracy: NaN inputs", lambda: _net().accuracy(np.full((4, 3), np.nan), np.zeros(4, int)),
     ValueError, "x holds NaN"),
    ("torchref accuracy: float labels", lambda: _twin().accuracy(
        torch.ones(4, 3, dtype=torch.float64), torch.zeros(4)), ValueError,
     "integer class labels"),
    ("torchref loss: float labels", lambda: _twin().loss(
        torch.ones(4, 3, dtype=torch.float64), torch.tensor([0.0, 1.0, 0.0, 1.0])), ValueError,
     "integer class labels"),
    ("torchref loss: label out of range", lambda: _twin().loss(
        torch.ones(4, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0])), ValueError,
     "labels must lie in [0, 2)"),
    ("string flag use_batchnorm", lambda: MultiLayerNet(3, [5], 2, use_batchnorm="no"),
     ValueError, "use_batchnorm must be True or False"),
    ("string flag in torchref", lambda: torchref.nets.MultiLayerNet(3, [5], 2, use_batchnorm="no"),
     ValueError, "use_batchnorm must be True or False"),
    ("one array under two keys", _update_twice_the_same_array, ValueError,
     "the same array under two keys"),
    ("state: wrong type", lambda: _load_state(_adam_state(exp_avg="zeros")), ValueError,
     "exp_avg"),
    ("state: NaN buffer", lambda: _load_state(_adam_state(exp_avg_sq=np.full(3, np.nan))),
     ValueError, "NaN"),
    ("state: negative second moment",
     lambda: _load_state(_adam_state(exp_avg_sq=-np.ones(3))), ValueError, "negative"),
    ("watch: unknown key", lambda: T.train(_net(), npref.optim.SGD(), _data(),
                                           T.Schedule(batch_size=2, epochs=1,
                                                      watch=[("W9", (0, 0))]), rng=RNG(0)),
     ValueError, "watch: no parameter 'W9'"),
    ("watch: index out of range", lambda: T.train(_net(), npref.optim.SGD(), _data(),
                                                  T.Schedule(batch_size=2, epochs=1,
                                                             watch=[("W1", (7, 0))]),
                                                  rng=RNG(0)),
     ValueError, "watch: index (7, 0) is outside W1"),
    ("a PyTorch optimizer to npref", lambda: T.train(
        _net(), torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), _data(),
        T.Schedule(batch_size=2, epochs=1), rng=RNG(0)), ValueError,
     "optimizer must be an npref optimizer"),
    ("an npref optimizer to torchref", lambda: TT.train(
        _twin(), npref.optim.SGD(), _data(), T.Schedule(batch_size=2, epochs=1), rng=RNG(0)),
     ValueError, "optimizer must be a torch.optim.Optimizer"),
    ("max_loss NaN", lambda: T.Schedule(batch_size=2, epochs=1, max_loss=float("nan")),
     ValueError, "max_loss must be a finite number > 0"),
    ("max_loss 0", lambda: T.Schedule(batch_size=2, epochs=1, max_loss=0),
     ValueError, "max_loss must be a finite number > 0"),
    ("NaN in the data", lambda: T.Data(np.full((2, 3), np.nan), np.zeros(2, int)),
     ValueError, "bad data"),
    ("torchref layer: device auto", lambda: TL.BatchNorm(3, device="cuda:7"), ValueError,
     "cuda"),
    # issue 34, part 2: what used to be cast silently or fail deep inside
    ("complex input to Affine", lambda: L.Affine(np.ones((3, 2)), np.zeros(2)).forward(
        X.astype(np.float32) * 1j), ValueError, "x must be an array of real numbers, got dtype "
                                                "complex64"),
    ("string input to Affine", lambda: L.Affine(np.ones((3, 2)), np.zeros(2)).forward(
        np.array([["1", "2", "3"]])), ValueError, "x must be an array of real numbers"),
    ("complex input to BatchNorm", lambda: L.BatchNorm(3).forward(X * 1j), ValueError,
     "x must be an array of real numbers"),
    ("an integer BatchNorm", lambda: L.BatchNorm(3, dtype=np.int64), ValueError,
     "dtype must be float32 or float64, got int64"),
    ("an integer BatchNorm in torchref", lambda: TL.BatchNorm(3, dtype=torch.int64), ValueError,
     "dtype must be float32 or float64, got torch.int64"),
    ("the book's BatchNorm, integer", lambda: TL.BookBatchNorm1d(3, dtype=torch.int32),
     ValueError, "dtype must be float32 or float64"),
    ("the book's BatchNorm, momentum 2", lambda: TL.BookBatchNorm1d(3, momentum=2.0),
     ValueError, "momentum must be a number in [0, 1], got 2.0"),
    ("hidden sizes None", lambda: MultiLayerNet(4, None, 3), ValueError,
     "hidden_sizes must be an int or a list of ints >= 1"),
    ("hidden sizes None in torchref", lambda: torchref.nets.MultiLayerNet(4, None, 3),
     ValueError, "hidden_sizes must be an int or a list of ints >= 1"),
    ("hidden sizes a string", lambda: MultiLayerNet(4, "100", 3), ValueError,
     "hidden_sizes must be an int or a list of ints >= 1"),
    ("complex data", lambda: T.Data(np.ones((2, 3)) * 1j, [0, 1]), ValueError,
     "x_train must hold real numbers, got dtype complex128"),
    ("numerical gradient of a vector", lambda: npref.gradcheck.numerical_gradient(
        lambda x: 2 * x, np.ones(3)), ValueError,
     "f must return one real number (a loss), got an array of shape (3,)"),
    ("string targets to SigmoidWithLoss", lambda: L.SigmoidWithLoss().forward(
        X[:2, :1], np.array(["0", "1"])), ValueError, "t must be an array of real numbers"),
    ("a list of targets to torchref's SigmoidWithLoss", lambda: TL.SigmoidWithLoss()(
        torch.zeros(2, 1), ["0", "1"]), ValueError, "target must be a tensor of real numbers"),
    ("torchref optimizer without parameters", lambda: torchref.optim.SGD(params=None),
     ValueError, "params must be an iterable of tensors"),
    ("torchref optimizer of one tensor", lambda: torchref.optim.make(
        "adam", torch.zeros(2, requires_grad=True)), ValueError,
     "params must be an iterable of tensors (model.parameters())"),
]


@pytest.mark.parametrize("build, error, message", [row[1:] for row in LIBRARY],
                         ids=[row[0] for row in LIBRARY])
def test_the_library_refuses_bad_input_naming_it(build, error, message):
    with pytest.raises(error, match=re.escape(message)):
        build()


def test_data_of_python_lists_trains_as_arrays():
    """``Data`` of lists used to fail inside the loop ("only integer scalar arrays …"); lists
    are arrays, as NumPy reads them, and train the same as the arrays."""
    x, t = [[0.0, 1.0, 0.5], [1.0, 0.0, 0.5], [0.5, 0.5, 0.0], [1.0, 1.0, 1.0]], [0, 1, 0, 1]
    runs = []
    for data in (T.Data(x, t), T.Data(np.array(x), np.array(t))):
        assert isinstance(data.x_train, np.ndarray) and isinstance(data.t_train, np.ndarray)
        net = _net()
        T.train(net, npref.optim.SGD(lr=0.1), data, T.Schedule(batch_size=2, epochs=2),
                rng=RNG(0))
        runs.append(net.params["W1"].copy())
    assert np.array_equal(*runs)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"])
def test_a_non_finite_gradient_in_a_bare_step_behaves_as_in_pytorch(name):
    """NaN and Inf in a gradient flow into the parameter as they do in ``torch.optim``: the
    same elements, the same values, and no warning (tests turn npref's RuntimeWarnings into
    errors, so a warning fails here)."""
    g1, g2 = np.array([np.nan, 1.0, np.inf, -2.0]), np.array([1.0, 1.0, 1.0, 1.0])
    p = {"w": np.array([1.0, 2.0, 3.0, 4.0])}
    opt = npref.optim.make(name, lr=0.1)
    w = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64, requires_grad=True)
    twin = torchref.optim.make(name, [w], lr=0.1)
    for g in (g1, g2):
        opt.update(p, {"w": g.copy()})
        w.grad = torch.tensor(g)
        twin.step()
    assert np.array_equal(p["w"], w.detach().numpy(), equal_nan=True)
    assert not np.isfinite(p["w"][[0, 2]]).any() and np.isfinite(p["w"][[1, 3]]).all()


def test_an_optimizer_reused_on_a_second_model_says_so():
    """Reused on a second model with the same keys, an optimizer carried the first model's
    moments into the second's first step, silently. It says so — once per update, naming the
    keys — and not for the same model again, nor for a copy made each step (the old dropped)."""
    import warnings

    first, second = _net(), MultiLayerNet(3, [5], 2, rng=RNG(1))
    opt = npref.optim.Adam()
    opt.update(first.params, {k: np.ones_like(v) for k, v in first.params.items()})
    with pytest.warns(UserWarning, match=r"params \['W1', 'b1', 'W2', 'b2'\] are not the "
                                         r"arrays this optimizer updated before") as caught:
        opt.update(second.params, {k: np.ones_like(v) for k, v in second.params.items()})
    assert len(caught) == 1 and caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.update(second.params, {k: np.ones_like(v) for k, v in second.params.items()})
        fresh, params = npref.optim.Adam(), {"w": np.ones(3)}
        for _ in range(3):
            params = {"w": params["w"].copy()}
            fresh.update(params, {"w": np.ones(3)})


def test_a_refused_update_leaves_every_parameter_as_it_was():
    shared = np.ones(3)
    params = {"a": shared, "b": shared, "c": np.ones(2)}
    with pytest.raises(ValueError):
        npref.optim.Adam().update(params, {k: np.ones_like(v) for k, v in params.items()})
    assert all(np.array_equal(v, np.ones_like(v)) for v in params.values())
