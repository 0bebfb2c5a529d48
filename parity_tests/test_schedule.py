"""The training Schedule: validated once, the same run whichever form it is given in, and taken
alike by npref's and torchref's loops."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import npref.optim
import torchref.optim
from npref import training as T
from npref.nets import MultiLayerNet
from npref.training import Data, EarlyStopping, Schedule
from parity_tests.harness import check_parity
from torchref import training as TT
from torchref.nets import MultiLayerNet as TorchNet


def _blobs(rng, n, features, classes):
    t = rng.integers(0, classes, n)
    x = rng.standard_normal((n, features)) + 2.0 * t[:, None]
    return x, t


@pytest.mark.parametrize("keywords, message", [
    ({"batch_size": 0, "epochs": 1}, "batch_size must be an int >= 1, got 0"),
    ({"batch_size": 2.5, "epochs": 1}, "batch_size must be an int >= 1"),
    ({"batch_size": 4}, "exactly one of iterations and epochs"),
    ({"batch_size": 4, "epochs": 1, "iterations": 3}, "exactly one of iterations and epochs"),
    ({"batch_size": 4, "epochs": 0}, "epochs must be an int >= 1, got 0"),
    ({"batch_size": 4, "iterations": -5}, "iterations must be an int >= 1, got -5"),
    ({"batch_size": 4, "epochs": 1, "sampling": "random"},
     "sampling must be one of 'shuffle', 'replacement', got 'random'"),
    ({"batch_size": 4, "epochs": 1, "evaluate_every": 0}, "evaluate_every must be an int >= 1"),
    ({"batch_size": 4, "epochs": 1, "evaluate_every": 2, "early_stopping": {"patience": 3}},
     r"early_stopping needs an evaluation every epoch \(evaluate_every=1\)"),
    ({"batch_size": 4, "epochs": 1, "early_stopping": {"patience": 0}},
     "patience must be an int >= 1, got 0"),
    ({"batch_size": 4, "epochs": 1, "early_stopping": {"wait": 3}},
     "early_stopping: unknown keyword"),
    ({"batch_size": 4, "epochs": 1, "early_stopping": 3}, "early_stopping must be None"),
    ({"batch_size": 4, "epochs": 1, "watch": [("W1", "x")]}, "watch must hold"),
    ({"batch_size": 4, "epochs": 1, "update_ratios": 1}, "update_ratios must be True or False"),
    ({"batch_size": 4, "epochs": 1, "max_loss": -1.0}, "max_loss must be a finite number > 0"),
    ({"batch_size": 4, "epochs": 1, "max_loss": float("nan")}, "max_loss must be a finite"),
])
def test_a_schedule_refuses_what_it_cannot_run(keywords, message):
    with pytest.raises(ValueError, match=message):
        Schedule(**keywords)


def test_a_schedule_is_frozen_and_replace_revalidates():
    s = Schedule(batch_size=8, epochs=3, watch=[("W1", [0, 1])],
                 early_stopping=EarlyStopping(patience=4, min_delta=0.5))
    assert s.watch == (("W1", (0, 1)),)
    assert dict(s.early_stopping) == {"patience": 4, "min_delta": 0.5, "restore_best": True}
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.epochs = 4
    with pytest.raises(TypeError):
        s.early_stopping["patience"] = 1          # a read-only view
    assert dataclasses.replace(s, epochs=5).epochs == 5
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        dataclasses.replace(s, epochs=0)
    assert s.total_iterations(20) == 9
    assert Schedule(batch_size=8, iterations=7).total_iterations(20) == 7


def test_a_schedule_or_its_keywords_not_both():
    data = Data(*_blobs(np.random.default_rng(0), 16, 3, 2))
    net = MultiLayerNet(3, [4], 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="give a Schedule or its keywords"):
        T.train(net, npref.optim.SGD(), data, Schedule(batch_size=4, epochs=1), epochs=2,
                rng=np.random.default_rng(0), progress=False)
    with pytest.raises(ValueError, match="schedule must be an npref.training.Schedule"):
        T.train(net, npref.optim.SGD(), data, {"batch_size": 4, "epochs": 1},
                rng=np.random.default_rng(0), progress=False)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        T.train(net, npref.optim.SGD(), data, rng=np.random.default_rng(0), batch_size=4,
                epochs=1, bach_size=3)


schedules = st.builds(
    lambda batch, length, by_epochs, sampling, every, stop, ratios: Schedule(
        batch_size=batch, sampling=sampling, update_ratios=ratios,
        watch=(("W1", (0, 0)),),
        **({"epochs": length} if by_epochs else {"iterations": 3 * length}),
        evaluate_every=1 if stop else every,
        early_stopping={"patience": 2} if stop else None),
    st.integers(4, 40), st.integers(1, 4), st.booleans(),
    st.sampled_from(["shuffle", "replacement"]), st.integers(1, 3), st.booleans(),
    st.booleans())


@settings(max_examples=30)     # whole training runs, three per example
@given(schedule=schedules, seed=st.integers(0, 2**32 - 1))
def test_both_loops_run_one_schedule_alike_and_as_its_keywords(schedule, seed):
    """The same Schedule gives npref and torchref the same history, and npref's keyword form
    gives the very same history as the Schedule form."""
    rng = np.random.default_rng(seed)
    x, t = _blobs(rng, 37, 4, 3)
    xv, tv = _blobs(rng, 11, 4, 3)
    data = Data(x, t, x_val=xv, t_val=tv)
    start = MultiLayerNet(4, [6], 3, dropout=0.3, rng=np.random.default_rng(seed)).params

    def numpy_run(form):
        net = MultiLayerNet(4, [6], 3, dropout=0.3, rng=np.random.default_rng(0))
        net.load_params(start)
        opt = npref.optim.Momentum(lr=0.05)
        if form == "schedule":
            return T.train(net, opt, data, schedule, rng=np.random.default_rng(seed),
                           progress=False)
        keywords = {f.name: getattr(schedule, f.name) for f in dataclasses.fields(schedule)}
        keywords["early_stopping"] = (None if schedule.early_stopping is None
                                      else EarlyStopping(**schedule.early_stopping))
        return T.train(net, opt, data, rng=np.random.default_rng(seed), progress=False,
                       **keywords)

    twin = TorchNet(4, [6], 3, dropout=0.3, dtype=torch.float64)
    twin.load_params(start)
    torch_history = TT.train(twin, torchref.optim.Momentum(twin.parameters(), lr=0.05), data,
                             schedule, rng=np.random.default_rng(seed), progress=False)
    schedule_history, keyword_history = numpy_run("schedule"), numpy_run("keywords")
    assert keyword_history.series() == schedule_history.series()
    assert keyword_history.epoch_iterations == schedule_history.epoch_iterations
    assert torch_history.epoch_iterations == schedule_history.epoch_iterations
    assert torch_history.stopped_epoch == schedule_history.stopped_epoch
    assert len(schedule_history.loss) <= schedule.total_iterations(len(t))
    check_parity(schedule_history.series(), torch_history.series(), dtype=np.float64,
                 what="training under one Schedule: npref vs torchref", tol=1e-10)


# -- learning-rate schedules: one Schedule, both backends -------------------------------------------

def _lr_specs(total_epochs, total_iterations):
    """Descriptions of every schedule of npref.schedulers, with hyperparameters drawn."""
    gamma = st.sampled_from([0.1, 0.5, 0.9])
    return st.one_of(
        st.builds(lambda k, g: ("StepLR", {"step_size": k, "gamma": g}), st.integers(1, 3), gamma),
        st.builds(lambda m, g: ("MultiStepLR", {"milestones": m, "gamma": g}),
                  st.lists(st.integers(1, 5), min_size=1, max_size=3), gamma),
        st.builds(lambda g: ("ExponentialLR", {"gamma": g}), gamma),
        st.builds(lambda t, e: ("CosineAnnealingLR", {"T_max": t, "eta_min": e}),
                  st.integers(1, 6), st.sampled_from([0.0, 1e-3])),
        st.builds(lambda f, k: ("LinearLR", {"start_factor": f, "total_iters": k}),
                  st.sampled_from([0.1, 1 / 3, 0.5]), st.integers(1, 4)),
        st.builds(lambda f, k: ("ConstantLR", {"factor": f, "total_iters": k}),
                  st.sampled_from([0.25, 0.5]), st.integers(1, 4)),
        st.builds(lambda k, p: ("PolynomialLR", {"total_iters": k, "power": p}),
                  st.integers(1, 5), st.sampled_from([0.5, 1.0, 2.0])),
        st.builds(lambda p, f: ("ReduceLROnPlateau", {"patience": p, "factor": f}),
                  st.integers(0, 2), st.sampled_from([0.1, 0.5])),
        st.just(("LambdaLR", {"lr_lambda": _halving})),
        st.just(("SequentialLR", {"schedulers": [("LinearLR", {"start_factor": 0.25,
                                                               "total_iters": 2}),
                                                 ("ExponentialLR", {"gamma": 0.8})],
                                  "milestones": [2]})),
        st.builds(lambda m, a: ("OneCycleLR", {"max_lr": m, "total_steps": total_iterations,
                                               "anneal_strategy": a}),
                  st.sampled_from([0.05, 0.2]), st.sampled_from(["cos", "linear"])),
        st.builds(lambda up, mode: ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1,
                                                 "step_size_up": up, "mode": mode}),
                  st.integers(1, 5), st.sampled_from(["triangular", "triangular2", "exp_range"])),
    )


def _halving(epoch):
    return 0.5 ** (epoch // 2)


@settings(max_examples=40)     # whole training runs, two per example
@given(data=st.data(), name=st.sampled_from(["momentum", "adam", "nadam", "adadelta"]),
       seed=st.integers(0, 2**32 - 1), every=st.sampled_from([None, "epoch", "iteration"]),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_one_lr_schedule_drives_both_backends_alike(data, name, seed, every, dtype):
    """A Schedule with an lr_schedule: npref's scheduler on npref's optimizer and PyTorch's own
    ``torch.optim.lr_scheduler`` on ``torch.optim``'s give the same learning rate every epoch
    (to the bit) and the same run: losses and final parameters at 1e-10 in float64, at the
    float32 tolerance (1e-5) in float32 — sixteen updates of a small network."""
    epochs, batch = 4, 10
    rng = np.random.default_rng(seed)
    x, t = _blobs(rng, 37, 4, 3)
    xv, tv = _blobs(rng, 11, 4, 3)
    spec = data.draw(_lr_specs(epochs, epochs * 4))
    if spec[0] == "ReduceLROnPlateau" or (spec[0] == "OneCycleLR" and every == "epoch"):
        every = None                             # plateau steps per epoch; OneCycle per update
    schedule = Schedule(batch_size=batch, epochs=epochs, lr_schedule=spec,
                        lr_schedule_every=every)
    hyper = {"lr": 0.05, **({"momentum": 0.9} if name == "momentum" else {})}
    if name == "adadelta":
        spec_cycles = spec[0] in ("OneCycleLR", "CyclicLR")
        if spec_cycles:                          # nothing to cycle: no momentum, no betas
            schedule = dataclasses.replace(
                schedule, lr_schedule=(spec[0], {**spec[1], "cycle_momentum": False}))
    start = MultiLayerNet(4, [6], 3, rng=np.random.default_rng(seed), dtype=dtype).params
    net = MultiLayerNet(4, [6], 3, rng=np.random.default_rng(0), dtype=dtype)
    net.load_params(start)
    data_ = Data(x.astype(dtype), t, x_val=xv.astype(dtype), t_val=tv)
    ours = T.train(net, npref.optim.make(name, **hyper), data_, schedule,
                   rng=np.random.default_rng(seed), progress=False)
    twin = TorchNet(4, [6], 3, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    twin.load_params(start)
    theirs = TT.train(twin, torchref.optim.make(name, twin.parameters(), **hyper), data_,
                      schedule, rng=np.random.default_rng(seed), progress=False)
    assert len(ours.lr) == epochs and ours.lr == theirs.lr, (spec, ours.lr, theirs.lr)
    tol = 1e-10 if dtype == np.float64 else None           # None: the dtype's, 1e-5
    check_parity(ours.series(), theirs.series(), dtype=np.float64, tol=tol or 1e-5,
                 what=f"{name} under {spec[0]}: npref vs torchref [{np.dtype(dtype).name} run]")
    check_parity(net.params, {k: v.detach() for k, v in twin.params.items()}, dtype=dtype,
                 tol=tol, what=f"{name} under {spec[0]}: parameters after the run")


def test_the_lr_schedule_changes_the_run():
    """The schedule is applied, not only recorded: a StepLR run differs from a constant one,
    and its recorded rates are StepLR's."""
    rng = np.random.default_rng(1)
    data = Data(*_blobs(rng, 40, 4, 3))
    runs = {}
    for spec in (None, ("StepLR", {"step_size": 1, "gamma": 0.5})):
        net = MultiLayerNet(4, [6], 3, rng=np.random.default_rng(0))
        runs[spec is None] = T.train(net, npref.optim.SGD(lr=0.1), data,
                                     Schedule(batch_size=10, epochs=3, lr_schedule=spec),
                                     rng=np.random.default_rng(2), progress=False)
    assert runs[False].lr == [0.1, 0.05, 0.025] and runs[True].lr == []
    assert runs[False].loss[:4] == runs[True].loss[:4]          # the first epoch at lr 0.1
    assert runs[False].loss[4:] != runs[True].loss[4:]
    assert "lr" not in runs[True].series()


@pytest.mark.parametrize("keywords, message", [
    ({"lr_schedule": "StepLR"}, r"lr_schedule must be \(name, keywords\)"),
    ({"lr_schedule": ("Step", {})}, "lr_schedule must be one of 'LambdaLR'"),
    ({"lr_schedule": ("StepLR", {"step_size": 0})}, "step_size must be an int >= 1, got 0"),
    ({"lr_schedule": ("StepLR", {"stepsize": 2})}, "unexpected keyword argument 'stepsize'"),
    ({"lr_schedule": ("ExponentialLR", {"gamma": 0.9}), "lr_schedule_every": "batch"},
     "lr_schedule_every must be one of 'epoch', 'iteration', got 'batch'"),
    ({"lr_schedule_every": "epoch"}, "lr_schedule_every needs an lr_schedule"),
    ({"lr_schedule": ("ReduceLROnPlateau", {}), "lr_schedule_every": "iteration"},
     "lr_schedule_every must be 'epoch' for ReduceLROnPlateau"),
    ({"lr_schedule": ("ReduceLROnPlateau", {}), "evaluate_every": 2},
     r"ReduceLROnPlateau needs an evaluation every epoch \(evaluate_every=1\)"),
])
def test_a_bad_lr_schedule_is_refused_by_the_schedule(keywords, message):
    with pytest.raises(ValueError, match=message):
        Schedule(batch_size=4, epochs=2, **keywords)


def test_fit_needs_the_scheduler_its_schedule_describes():
    schedule = Schedule(batch_size=4, epochs=1, lr_schedule=("StepLR", {"step_size": 1}))
    with pytest.raises(ValueError, match="scheduler must be given exactly when"):
        T.fit(lambda ix, m: 0.0, dict, schedule, n_train=8, rng=np.random.default_rng(0),
              progress=False)
