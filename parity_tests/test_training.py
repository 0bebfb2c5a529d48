"""Early stopping and minibatch order: both backends make the same decisions on the same data.

Early stopping is driven by hypothesis-generated validation curves (values on a coarse grid, so
that ties and plateaus are common) and checked three ways: npref's, torchref's (keeping tensors)
and a reference written here from the SPEC's words. Minibatch order is drawn once, by a NumPy
Generator, and consumed by both backends (as index tensors, or as a DataLoader batch sampler).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

import npref.training as T
import torchref.training as TT
from npref.guard import NonFiniteError
from parity_tests import strategies as S

#: Validation curves on a grid of 0.05: equal values (ties) and long plateaus are frequent.
curves = st.lists(st.integers(0, 40).map(lambda k: 1.0 + 0.05 * k), min_size=1, max_size=60)


def reference(values, patience, min_delta):
    """The SPEC's rule, literally: (stopped epoch or None, best epoch, best value)."""
    best, best_epoch, wait = math.inf, None, 0
    for epoch, value in enumerate(values):
        if value < best - min_delta:
            best, best_epoch, wait = value, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch, best
    return None, best_epoch, best


@given(values=curves, patience=st.integers(1, 10),
       min_delta=st.sampled_from([0.0, 0.01, 0.05, 0.1]), restore=st.booleans())
def test_both_backends_stop_alike(device, values, patience, min_delta, restore):
    ours = T.EarlyStopping(patience, min_delta, restore)
    theirs = TT.EarlyStopping(patience, min_delta, restore)
    stopped = {}
    for epoch, value in enumerate(values):
        params = {"w": np.full(3, float(epoch)), "b": np.array([value])}
        tensors = {k: torch.tensor(v, device=device) for k, v in params.items()}
        a, b = ours.step(value, params), theirs.step(value, tensors)
        assert a == b, f"epoch {epoch}: npref says stop={a}, torchref says {b}"
        if a:
            stopped = {"epoch": epoch}
            break
    expected_stop, expected_best_epoch, expected_best = reference(values, patience, min_delta)
    assert stopped.get("epoch") == expected_stop == ours.stopped_epoch == theirs.stopped_epoch
    assert ours.best_epoch == theirs.best_epoch == expected_best_epoch
    assert ours.best == theirs.best == expected_best
    if restore:
        live = {"w": np.zeros(3), "b": np.zeros(1)}
        live_t = {"w": torch.zeros(3, dtype=torch.float64, device=device),
                  "b": torch.zeros(1, dtype=torch.float64, device=device)}
        ours.restore(live)
        theirs.restore(live_t)
        assert np.all(live["w"] == expected_best_epoch)           # the best epoch's parameters
        assert np.array_equal(live_t["w"].cpu().numpy(), live["w"])
        assert np.array_equal(live_t["b"].cpu().numpy(), live["b"])
    else:
        assert ours.best_params is None and theirs.best_params is None


def test_restores_a_module_too():
    net = torch.nn.Linear(2, 1)
    stop = TT.EarlyStopping(patience=1)
    stop.step(1.0, net)
    best = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        net.weight.add_(1.0)
    assert stop.step(2.0, net)
    stop.restore(net)
    assert all(torch.equal(v, best[k]) for k, v in net.state_dict().items())


def test_the_lecture_setting_stops_after_patience_epochs_without_improvement():
    stop = T.EarlyStopping(patience=10)
    values = [1.0, 0.9, 0.8] + [0.85] * 20
    decisions = [stop.step(v) for v in values]
    assert decisions.index(True) == 12 and stop.best_epoch == 2 and stop.stopped_epoch == 12


def test_non_finite_value_stops_with_the_epoch_named():
    stop = T.EarlyStopping()
    stop.step(1.0)
    with pytest.raises(NonFiniteError, match="became nan at epoch 1"):
        stop.step(float("nan"))


@pytest.mark.parametrize("kwargs,words", [
    ({"patience": 0}, "patience must be an int >= 1"),
    ({"patience": 2.5}, "patience must be an int >= 1"),
    ({"min_delta": -0.1}, "min_delta must be a finite number >= 0"),
    ({"restore_best": "yes"}, "restore_best must be True or False"),
])
def test_bad_arguments_are_named(kwargs, words):
    for cls in (T.EarlyStopping, TT.EarlyStopping):
        with pytest.raises(ValueError, match=words):
            cls(**kwargs)


# -- minibatch order ------------------------------------------------------------------------------

@given(n=st.integers(1, 500), batch_size=st.integers(1, 128), seed=S.seeds,
       shuffle=st.booleans(), drop_last=st.booleans())
def test_minibatches_cover_one_epoch(device, n, batch_size, seed, shuffle, drop_last):
    batches = T.minibatches(n, batch_size, np.random.default_rng(seed), shuffle, drop_last)
    seen = np.concatenate(batches) if batches else np.array([], dtype=int)
    full = n - n % batch_size if drop_last else n
    assert len(seen) == full and len(set(seen.tolist())) == full       # no index twice
    assert all(len(b) == batch_size for b in batches[:-1] if b is not None)
    if not shuffle:
        assert np.array_equal(seen, np.arange(full))
    # torchref consumes the very same arrays: as tensors, and through a DataLoader.
    tensors = TT.minibatches(n, batch_size, np.random.default_rng(seed), shuffle, drop_last,
                             device=device)
    assert [t.cpu().tolist() for t in tensors] == [b.tolist() for b in batches]
    data = TensorDataset(torch.arange(n))
    loader = DataLoader(data, batch_sampler=TT.IndexBatchSampler(batches))
    assert [x.tolist() for (x,) in loader] == [b.tolist() for b in batches]


@given(n=st.integers(1, 1000), batch_size=st.integers(1, 256), seed=S.seeds)
def test_sample_batch_is_the_books_choice_with_replacement(device, n, batch_size, seed):
    ours = T.sample_batch(n, batch_size, np.random.default_rng(seed))
    assert ours.shape == (batch_size,) and ours.min() >= 0 and ours.max() < n
    assert np.array_equal(ours, np.random.default_rng(seed).choice(n, batch_size))
    theirs = TT.sample_batch(n, batch_size, np.random.default_rng(seed), device=device)
    assert theirs.cpu().tolist() == ours.tolist()


def test_same_seed_same_order_bit_for_bit():
    a = T.minibatches(1000, 128, np.random.default_rng(7))
    b = T.minibatches(1000, 128, np.random.default_rng(7))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        T.minibatches(10, 2, 7)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        T.minibatches(10, 0, np.random.default_rng())
