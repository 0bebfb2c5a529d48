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
