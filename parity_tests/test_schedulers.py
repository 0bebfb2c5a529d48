"""Learning-rate schedules: npref.schedulers against torch.optim.lr_scheduler, the learning rate
(and the cycled momentum or β1) after every step, bit for bit — hypothesis over each schedule's
arguments, stepped by ``step()`` (PyTorch's chainable forms) and by ``step(epoch)`` (its closed
forms), and ReduceLROnPlateau fed the same metrics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import npref.optim
import npref.schedulers as NS
from npref.testing import strategies as S

lrs = S.log_uniform(1e-4, 1.0)


def pair(name, optimizer="momentum", lr=0.1):
    """An npref optimizer and its torch twin at the same learning rate."""
    ours = npref.optim.make(optimizer, lr=lr)
    p = torch.zeros(2, requires_grad=True)
    theirs = {"momentum": lambda: torch.optim.SGD([p], lr=lr, momentum=0.9),
              "adam": lambda: torch.optim.Adam([p], lr=lr),
              "sgd": lambda: torch.optim.SGD([p], lr=lr)}[optimizer]()
    return ours, theirs


def lr_of(opt):
    return opt.lr if hasattr(opt, "update") else opt.param_groups[0]["lr"]


def momentum_of(opt):
    if hasattr(opt, "update"):
        return opt.betas[0] if hasattr(opt, "betas") else getattr(opt, "momentum", None)
    g = opt.param_groups[0]
    return g["betas"][0] if "betas" in g else g.get("momentum")


def run(make, steps, optimizer="momentum", lr=0.1, epochs=None, metrics=None):
    ours, theirs = pair(None, optimizer, lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # step order and epoch deprecation notes
        a, b = make(NS, ours), make(torch.optim.lr_scheduler, theirs)
        seen = [(lr_of(ours), lr_of(theirs), momentum_of(ours), momentum_of(theirs))]
        for k in range(steps):
            theirs.step()                              # as training does: the update first
            if metrics is not None:
                a.step(metrics[k])
                b.step(metrics[k])
            elif epochs is not None:
                a.step(epochs[k])
                b.step(epochs[k])
            else:
                a.step()
                b.step()
            seen.append((lr_of(ours), lr_of(theirs), momentum_of(ours), momentum_of(theirs)))
    for k, (lr_a, lr_b, m_a, m_b) in enumerate(seen):
        assert lr_a == lr_b, f"step {k}: npref lr {lr_a!r}, PyTorch {lr_b!r}"
        if optimizer != "sgd":                  # plain SGD has no momentum (PyTorch's: 0)
            assert m_a == m_b, f"step {k}: npref momentum {m_a!r}, PyTorch {m_b!r}"
    assert a.get_last_lr() == b.get_last_lr()
    return [s[0] for s in seen]


SCHEDULES = {
    "StepLR": st.builds(dict, step_size=st.integers(1, 10), gamma=st.floats(0.05, 0.99)),
    "MultiStepLR": st.builds(dict, milestones=st.lists(st.integers(1, 30), max_size=4),
                             gamma=st.floats(0.05, 0.99)),
    "ExponentialLR": st.builds(dict, gamma=st.floats(0.5, 0.999)),
    "CosineAnnealingLR": st.builds(dict, T_max=st.integers(1, 20), eta_min=st.floats(0, 1e-3)),
    "LinearLR": st.builds(dict, start_factor=st.floats(0.01, 1.0), end_factor=st.floats(0, 1),
                          total_iters=st.integers(1, 20)),
    "ConstantLR": st.builds(dict, factor=st.floats(0.01, 1.0), total_iters=st.integers(1, 20)),
    "PolynomialLR": st.builds(dict, total_iters=st.integers(1, 20), power=st.floats(0.1, 3.0)),
    "LambdaLR": st.sampled_from([dict(lr_lambda=lambda e: 0.95 ** e),
                                 dict(lr_lambda=lambda e: 1 / (1 + e))]),
    "MultiplicativeLR": st.sampled_from([dict(lr_lambda=lambda e: 0.95),
                                         dict(lr_lambda=lambda e: 1 / (1 + 0.1 * e))]),
    "CosineAnnealingWarmRestarts": st.builds(dict, T_0=st.integers(1, 10),
                                             T_mult=st.integers(1, 3),
                                             eta_min=st.floats(0, 1e-3)),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@given(data=st.data(), lr=lrs, steps=st.integers(1, 40))
def test_the_learning_rate_at_every_step_is_pytorchs(name, data, lr, steps):
    kw = data.draw(SCHEDULES[name])
    run(lambda module, opt: getattr(module, name)(opt, **kw), steps, lr=lr)


CLOSED = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
          "ConstantLR", "PolynomialLR"]


@pytest.mark.parametrize("name", CLOSED)
@given(data=st.data(), lr=lrs)
def test_the_closed_forms_are_pytorchs(name, data, lr):
    kw = data.draw(SCHEDULES[name])
    epochs = data.draw(st.lists(st.integers(0, 40), min_size=1, max_size=15))
    run(lambda module, opt: getattr(module, name)(opt, **kw), len(epochs), lr=lr, epochs=epochs)


@given(data=st.data(), lr=lrs)
def test_warm_restarts_at_any_epoch_are_pytorchs(data, lr):
    """CosineAnnealingWarmRestarts stepped by epoch, fractions of one included (a step per
    batch: ``step(epoch + i/iters)``)."""
    kw = data.draw(SCHEDULES["CosineAnnealingWarmRestarts"])
    epochs = data.draw(st.lists(st.one_of(st.integers(0, 60), st.floats(0, 60)), min_size=1,
                                max_size=15))
    run(lambda module, opt: module.CosineAnnealingWarmRestarts(opt, **kw), len(epochs), lr=lr,
        epochs=epochs)


@given(lr=lrs, steps=st.integers(1, 40), gamma=st.floats(0.5, 0.99), t_max=st.integers(1, 20))
def test_chained_scheduler(lr, steps, gamma, t_max):
    def make(module, opt):
        return module.ChainedScheduler([module.ConstantLR(opt, factor=0.1, total_iters=2),
                                        module.ExponentialLR(opt, gamma=gamma),
                                        module.CosineAnnealingLR(opt, T_max=t_max)])
    run(make, steps, lr=lr)


@given(lr=lrs, steps=st.integers(1, 60), max_factor=st.floats(1.5, 20),
       up=st.integers(1, 10), down=st.one_of(st.none(), st.integers(1, 10)),
       mode=st.sampled_from(["triangular", "triangular2", "exp_range"]),
       gamma=st.floats(0.9, 1.0), optimizer=st.sampled_from(["momentum", "adam", "sgd"]))
def test_cyclic_lr_and_its_momentum(lr, steps, max_factor, up, down, mode, gamma, optimizer):
    cycle = optimizer != "sgd"
    run(lambda module, opt: module.CyclicLR(opt, base_lr=lr, max_lr=lr * max_factor,
                                            step_size_up=up, step_size_down=down, mode=mode,
                                            gamma=gamma, cycle_momentum=cycle),
        steps, optimizer=optimizer, lr=lr)


@given(lr=lrs, total=st.integers(2, 60), pct=st.floats(0.05, 0.9),
       strategy=st.sampled_from(["cos", "linear"]), three=st.booleans(),
       optimizer=st.sampled_from(["momentum", "adam"]), data=st.data())
def test_one_cycle_lr_and_its_momentum(lr, total, pct, strategy, three, optimizer, data):
    steps = data.draw(st.integers(1, total))
    run(lambda module, opt: module.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=pct,
                                              anneal_strategy=strategy, three_phase=three),
        steps - 1, optimizer=optimizer, lr=lr)


@given(lr=lrs, mode=st.sampled_from(["min", "max"]), factor=st.floats(0.05, 0.9),
       patience=st.integers(0, 5), threshold=st.floats(0, 0.1),
       threshold_mode=st.sampled_from(["rel", "abs"]), cooldown=st.integers(0, 3),
       min_lr=st.floats(0, 1e-4), metrics=st.lists(st.floats(0.0, 2.0), min_size=1,
                                                     max_size=40))
def test_reduce_lr_on_plateau(lr, mode, factor, patience, threshold, threshold_mode, cooldown,
                              min_lr, metrics):
    run(lambda module, opt: module.ReduceLROnPlateau(
        opt, mode=mode, factor=factor, patience=patience, threshold=threshold,
        threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr),
        len(metrics), lr=lr, metrics=metrics)


@given(lr=lrs, m1=st.integers(1, 10), m2=st.integers(11, 20), steps=st.integers(1, 40))
def test_sequential_lr(lr, m1, m2, steps):
    def make(module, opt):
        return module.SequentialLR(opt, [module.LinearLR(opt, start_factor=0.1, total_iters=m1),
                                         module.StepLR(opt, step_size=3, gamma=0.5),
                                         module.CosineAnnealingLR(opt, T_max=7)],
                                   milestones=[m1, m2])
    run(make, steps, lr=lr)


def test_a_wrong_schedule_fails():
    """The comparison can fail: a gamma off by 1e-12 is told apart."""
    with pytest.raises(AssertionError, match="step"):
        ours, theirs = pair(None)
        a = NS.ExponentialLR(ours, gamma=0.9)
        b = torch.optim.lr_scheduler.ExponentialLR(theirs, gamma=0.9 * (1 + 1e-12))
        for _ in range(3):
            theirs.step()
            a.step()
            b.step()
        assert ours.lr == theirs.param_groups[0]["lr"], "step 3"


def test_every_schedule_of_the_issue_is_here():
    assert set(NS.NAMES) == {"StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                             "LinearLR", "ConstantLR", "PolynomialLR", "OneCycleLR", "CyclicLR",
                             "ReduceLROnPlateau", "SequentialLR", "LambdaLR", "MultiplicativeLR",
                             "ChainedScheduler", "CosineAnnealingWarmRestarts"}
    for name in NS.NAMES:
        assert hasattr(torch.optim.lr_scheduler, name)


@pytest.mark.parametrize("bad,words", [
    (lambda o: NS.StepLR(o, step_size=0), "step_size must be an int >= 1"),
    (lambda o: NS.ExponentialLR(o, gamma=-1), "gamma must be"),
    (lambda o: NS.ReduceLROnPlateau(o, factor=1.5), "factor must be a number in (0, 1)"),
    (lambda o: NS.ReduceLROnPlateau(o, mode="up"), "mode must be one of"),
    (lambda o: NS.CyclicLR(npref.optim.make("adagrad"), base_lr=0.1, max_lr=1.0),
     "must support momentum or beta1"),
    (lambda o: NS.OneCycleLR(o, max_lr=0.1), "total_steps must be given"),
    (lambda o: NS.StepLR(np.zeros(2), step_size=1), "npref optimizer"),
    (lambda o: NS.CosineAnnealingWarmRestarts(o, T_0=0), "T_0 must be an int >= 1"),
    (lambda o: NS.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5), "T_mult must be an int"),
    (lambda o: NS.MultiplicativeLR(o, lr_lambda=0.9), "lr_lambda must be a function"),
    (lambda o: NS.ChainedScheduler([]), "at least one scheduler"),
    (lambda o: NS.ChainedScheduler([NS.StepLR(o, step_size=1),
                                    NS.StepLR(npref.optim.make("sgd"), step_size=1)]),
     "another optimizer"),
])
def test_bad_arguments_are_refused_by_name(bad, words):
    opt = npref.optim.make("momentum", lr=0.1)
    with pytest.raises((ValueError, TypeError), match=words.replace("(", r"\(").replace(")", r"\)")):
        bad(opt)
