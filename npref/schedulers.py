r"""Learning-rate schedules for any npref optimizer: the schedules of
``torch.optim.lr_scheduler``, with PyTorch's class names, arguments and ``step()`` semantics.

::

    opt = npref.optim.make("sgd", lr=0.1)
    sched = npref.schedulers.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        ...                        # opt.update(params, grads), every batch
        sched.step()               # after the epoch's updates, as in PyTorch
    sched.get_last_lr()            # [0.001]

A scheduler drives the optimizer's ``lr`` (npref's optimizers have one parameter group: the
learning rates are lists of one, as ``get_last_lr()`` returns them in PyTorch), and, for
:class:`OneCycleLR` and :class:`CyclicLR` with ``cycle_momentum``, its ``momentum`` or
``betas[0]`` — as PyTorch does. Construction takes the first step (``last_epoch`` 0, the
schedule's first learning rate); each ``step()`` computes the next one by the chainable form
PyTorch computes (from the current lr), ``step(epoch)`` by the closed form where PyTorch has
one. Every number is computed with the same Python float operations in the same order as
``torch.optim.lr_scheduler``, so the learning rates agree to the last bit
(``parity_tests/test_schedulers.py``).

The schedule's starting learning rate is kept on the optimizer as ``initial_lr`` (PyTorch's
param-group key, shared by schedulers of one optimizer: :class:`SequentialLR` relies on it).
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections import Counter

from . import _validate

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
           "LinearLR", "ExponentialLR", "SequentialLR", "PolynomialLR", "CosineAnnealingLR",
           "ChainedScheduler", "ReduceLROnPlateau", "CyclicLR", "OneCycleLR",
           "CosineAnnealingWarmRestarts", "NAMES", "build", "check_spec"]


def _optimizer(optimizer):
    if not isinstance(getattr(optimizer, "lr", None), numbers.Real) \
            or not callable(getattr(optimizer, "update", None)):
        raise TypeError(f"optimizer must be an npref optimizer (npref.optim.make(...)), got "
                        f"{type(optimizer).__name__}")
    return optimizer


def _one(name, value):
    """PyTorch's per-group value (a number, or a list of one per group) for npref's one group."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"{name} must have the same length as the optimizer's parameter "
                             f"groups (1 for npref), got {len(value)} values")
        return value[0]
    return value


class LRScheduler:
    """The base: ``step()``, ``get_last_lr()``, ``get_lr()`` (the chainable form), and the first
    step taken on construction."""

    _is_initial = False

    def __init__(self, optimizer, last_epoch: int = -1):
        self.optimizer = _optimizer(optimizer)
        if last_epoch == -1:
            if getattr(optimizer, "initial_lr", None) is None:
                optimizer.initial_lr = optimizer.lr
        elif getattr(optimizer, "initial_lr", None) is None:
            raise KeyError("initial_lr is not set on the optimizer when resuming a schedule "
                           "with last_epoch >= 0")
        self.base_lrs = [optimizer.initial_lr]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rate the last step set, as a list (one per group: one)."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """One step of the schedule (an epoch, or an iteration, as the schedule is used)."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = (self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr")
                      else self.get_lr())
        self.optimizer.lr = values[0]
        self._last_lr = [self.optimizer.lr]

    def _lrs(self) -> list[float]:
        return [self.optimizer.lr]

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self.optimizer.lr!r})"


def _lambdas(lr_lambda) -> list:
    """PyTorch's ``lr_lambda`` (a function of the epoch, or a list of one per group) as npref's
    one-group list, checked."""
    lambdas = [_one("lr_lambda", lr_lambda)]
    if not callable(lambdas[0]):
        raise ValueError(f"lr_lambda must be a function of the epoch, got {lr_lambda!r}")
    return lambdas


class LambdaLR(LRScheduler):
    """lr = initial_lr · lr_lambda(epoch)."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        self.lr_lambdas = _lambdas(lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * lmbda(self.last_epoch)
                for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(LRScheduler):
    """lr ← lr · lr_lambda(epoch) at each step (the factor of each epoch, compounded)."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        self.lr_lambdas = _lambdas(lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._lrs()
        return [lr * lmbda(self.last_epoch) for lmbda, lr in zip(self.lr_lambdas, self._lrs())]


class StepLR(LRScheduler):
    """lr × gamma every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = _validate.positive_int("step_size", step_size)
        self.gamma = _validate.positive("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [self.optimizer.lr * self.gamma]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr × gamma at each milestone epoch."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = Counter(_validate.positive_int("milestones", m) for m in milestones)
        self.gamma = _validate.positive("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._lrs()
        return [self.optimizer.lr * self.gamma ** self.milestones[self.last_epoch]]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base_lr in self.base_lrs]


def _factor(name, value, low_open=False):
    value = _validate._real(name, value, "a number in [0, 1]")
    if value > 1.0 or value < 0 or (low_open and value == 0):
        accepted = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must be a number in {accepted}, got {value!r}")
    return value


class ConstantLR(LRScheduler):
    """lr × factor until ``total_iters``, then lr."""

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        self.factor = _factor("factor", factor)
        self.total_iters = _validate.positive_int("total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [self.optimizer.lr * self.factor]
        if self.last_epoch != self.total_iters:
            return self._lrs()
        return [self.optimizer.lr * (1.0 / self.factor)]

    def _get_closed_form_lr(self):
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """The factor goes linearly from ``start_factor`` to ``end_factor`` in ``total_iters``."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        self.start_factor = _factor("start_factor", start_factor, low_open=True)
        self.end_factor = _factor("end_factor", end_factor)
        self.total_iters = _validate.positive_int("total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [self.optimizer.lr * self.start_factor]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._lrs()
        return [self.optimizer.lr * (1.0 + (self.end_factor - self.start_factor)
                                     / (self.total_iters * self.start_factor
                                        + (self.last_epoch - 1)
                                        * (self.end_factor - self.start_factor)))]

    def _get_closed_form_lr(self):
        return [base_lr * (self.start_factor + (self.end_factor - self.start_factor)
                           * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr × gamma every epoch."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = _validate.positive("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._lrs()
        return [self.optimizer.lr * self.gamma]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr decays as (1 − t/total_iters)^power, then stays."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1):
        self.total_iters = _validate.positive_int("total_iters", total_iters)
        self.power = _validate.nonnegative("power", power)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._lrs()
        decay_factor = ((1.0 - self.last_epoch / self.total_iters)
                        / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [self.optimizer.lr * decay_factor]

    def _get_closed_form_lr(self):
        return [base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters)
                ** self.power for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr follows half a cosine from initial_lr down to ``eta_min`` in ``T_max`` epochs (and
    back up, and down again, if stepped on)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max = _validate.positive_int("T_max", T_max)
        self.eta_min = _validate.nonnegative("eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lr, base_lr = self.optimizer.lr, self.base_lrs[0]
        if self._is_initial:
            return [lr]
        if self._step_count == 1 and self.last_epoch > 0:
            return [self.eta_min + (base_lr - self.eta_min)
                    * (1 + math.cos(self.last_epoch * math.pi / self.T_max)) / 2]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [lr + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2]
        return [(1 + math.cos(math.pi * self.last_epoch / self.T_max))
                / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
                * (lr - self.eta_min) + self.eta_min]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


def _of_one(schedulers, optimizer, owner: str) -> list:
    """``schedulers`` as a list, checked: at least one, none a ReduceLROnPlateau (its step needs
    the metric), every one driving ``optimizer``."""
    schedulers = list(schedulers)
    if len(schedulers) < 1:
        raise ValueError("schedulers must hold at least one scheduler, got none")
    for i, scheduler in enumerate(schedulers):
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"schedulers[{i}]: {owner} cannot run ReduceLROnPlateau, whose "
                             "step needs the metric")
        if getattr(scheduler, "optimizer", None) is not optimizer:
            raise ValueError(f"schedulers[{i}] drives another optimizer; all must drive this "
                             "one")
    return schedulers


class SequentialLR(LRScheduler):
    """Each of ``schedulers`` in turn, switching at each of ``milestones`` (one fewer)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        schedulers = _of_one(schedulers, optimizer, "SequentialLR")
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"milestones must hold one fewer than schedulers "
                             f"({len(schedulers) - 1}), got {len(milestones)}")
        self._schedulers, self._milestones = schedulers, milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = _optimizer(optimizer)
        self.optimizer.lr = self.optimizer.initial_lr
        self._recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _recursive_undo(self, sched=None) -> None:
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self._recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(LRScheduler):
    """Several schedules of one optimizer stepped together, each from the lr the previous one
    left (``step()`` steps every one of ``schedulers`` in order)."""

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if optimizer is None and schedulers:
            optimizer = getattr(schedulers[0], "optimizer", None)
        self._schedulers = _of_one(schedulers, optimizer, "ChainedScheduler")
        self.optimizer = _optimizer(optimizer)
        self._last_lr = self._lrs()

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._lrs()


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from the initial lr to ``eta_min`` over ``T_0`` epochs, then a restart,
    each period ``T_mult`` times the previous (SGDR, Loshchilov & Hutter)::

        lr = eta_min + (initial_lr − eta_min)·(1 + cos(π·T_cur/T_i))/2
    """

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1):
        self.T_0 = self.T_i = _validate.positive_int("T_0", T_0)
        self.T_mult = _validate.positive_int("T_mult", T_mult)
        self.eta_min = _validate.nonnegative("eta_min", eta_min)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch=None) -> None:
        """One step (``epoch`` may be fractional: an iteration's share of an epoch)."""
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            epoch = _validate._real("epoch", epoch, "a finite number >= 0")
            if epoch < 0:
                raise ValueError(f"epoch must be a finite number >= 0, got {epoch!r}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self.optimizer.lr = self.get_lr()[0]
        self._last_lr = [self.optimizer.lr]


class ReduceLROnPlateau:
    """lr × factor once the metric handed to ``step(metric)`` has not improved for ``patience``
    epochs (by ``threshold``, relative or absolute), then ``cooldown`` epochs of rest."""

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0, eps: float = 1e-8):
        factor = _validate._real("factor", factor, "a number in (0, 1)")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be a number in (0, 1), got {factor!r}")
        self.factor = factor
        self.optimizer = _optimizer(optimizer)
        self.min_lrs = [_validate.nonnegative("min_lr", _one("min_lr", min_lr))]
        self.patience = _count("patience", patience)
        self.cooldown = _count("cooldown", cooldown)
        self.eps = _validate.nonnegative("eps", eps)
        self.last_epoch = 0
        self._last_lr = [optimizer.lr]
        self.mode = _validate.choice("mode", mode, ("min", "max"))
        self.threshold = _validate.nonnegative("threshold", threshold)
        self.threshold_mode = _validate.choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best, self.cooldown_counter, self.num_bad_epochs = self.mode_worse, 0, 0

    def get_last_lr(self) -> list[float]:
        return self._last_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a, best) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics, epoch=None) -> None:
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old_lr = float(self.optimizer.lr)
            new_lr = max(old_lr * self.factor, self.min_lrs[0])
            if old_lr - new_lr > self.eps:
                self.optimizer.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [self.optimizer.lr]


def _count(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return int(value)


def _momentum(optimizer):
    """How the optimizer holds its momentum: ``"betas"`` (its β1) or ``"momentum"``."""
    if hasattr(optimizer, "betas"):
        return "betas"
    if hasattr(optimizer, "momentum"):
        return "momentum"
    raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option "
                     f"enabled; {type(optimizer).__name__} has neither")


def _set_momentum(optimizer, kind: str, value: float) -> None:
    if kind == "betas":
        optimizer.betas = (value, *optimizer.betas[1:])
    else:
        optimizer.momentum = value


class CyclicLR(LRScheduler):
    """lr cycles between ``base_lr`` and ``max_lr`` (``step_size_up`` iterations up,
    ``step_size_down`` down), in ``mode`` triangular, triangular2 or exp_range; with
    ``cycle_momentum`` the momentum (or β1) cycles the other way."""

    def __init__(self, optimizer, base_lr, max_lr, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: float = 0.8,
                 max_momentum: float = 0.9, last_epoch: int = -1):
        self.optimizer = _optimizer(optimizer)
        base_lrs = [_validate.positive("base_lr", _one("base_lr", base_lr))]
        if last_epoch == -1:
            optimizer.lr = base_lrs[0]
        self.max_lrs = [_validate.positive("max_lr", _one("max_lr", max_lr))]
        step_size_up = float(_validate.positive_int("step_size_up", step_size_up))
        step_size_down = (float(_validate.positive_int("step_size_down", step_size_down))
                          if step_size_down is not None else step_size_up)
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"mode must be one of 'triangular', 'triangular2', 'exp_range' "
                             f"(or give scale_fn), got {mode!r}")
        self.mode, self.gamma = mode, _validate.positive("gamma", gamma)
        self._scale_fn_custom, self.scale_mode = scale_fn, scale_mode
        if scale_fn is None:
            self._scale_fn_ref, self.scale_mode = {
                "triangular": (lambda x: 1.0, "cycle"),
                "triangular2": (lambda x: 1 / 2.0 ** (x - 1), "cycle"),
                "exp_range": (lambda x: self.gamma ** x, "iterations")}[mode]
        self.cycle_momentum = _validate.flag("cycle_momentum", cycle_momentum)
        if self.cycle_momentum:
            self._kind = _momentum(optimizer)
            self.base_momentums = [_one("base_momentum", base_momentum)]
            self.max_momentums = [_one("max_momentum", max_momentum)]
            if last_epoch == -1:
                _set_momentum(optimizer, self._kind, self.max_momentums[0])
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x) -> float:
        return self._scale_fn_custom(x) if self._scale_fn_custom is not None \
            else self._scale_fn_ref(x)

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [base_lr + ((max_lr - base_lr) * scale_factor) * self.scale_fn(at)
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            base_height = (self.max_momentums[0] - self.base_momentums[0]) * scale_factor
            _set_momentum(self.optimizer, self._kind,
                          self.max_momentums[0] - base_height * self.scale_fn(at))
        return lrs


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018): lr warms up from max_lr/div_factor to
    ``max_lr`` over ``pct_start`` of the steps, then anneals to max_lr/div_factor/
    final_div_factor (``three_phase``: back down first); momentum (or β1) the other way."""

    def __init__(self, optimizer, max_lr, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1):
        self.optimizer = _optimizer(optimizer)
        if total_steps is not None:
            self.total_steps = _validate.positive_int("total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_validate.positive_int("epochs", epochs)
                                * _validate.positive_int("steps_per_epoch", steps_per_epoch))
        else:
            raise ValueError("total_steps must be given, or epochs and steps_per_epoch")
        if isinstance(pct_start, bool) or not isinstance(pct_start, float) \
                or not 0 <= pct_start <= 1:
            raise ValueError(f"pct_start must be a float in [0, 1], got {pct_start!r}")
        end_up = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._phases = [(end_up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                             "base_momentum", "max_momentum"),
                            (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum",
                             "max_momentum")]
        else:
            self._phases = [(end_up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (self.total_steps - 1, "max_lr", "min_lr", "base_momentum",
                             "max_momentum")]
        self._anneal = {"cos": self._annealing_cos, "linear": self._annealing_linear}[
            _validate.choice("anneal_strategy", anneal_strategy, ("cos", "linear"))]
        max_lr = _validate.positive("max_lr", _one("max_lr", max_lr))
        self.group = {}
        if last_epoch == -1:
            optimizer.initial_lr = max_lr / _validate.positive("div_factor", div_factor)
            self.group = {"max_lr": max_lr, "min_lr": optimizer.initial_lr
                          / _validate.positive("final_div_factor", final_div_factor)}
        self.cycle_momentum = _validate.flag("cycle_momentum", cycle_momentum)
        if self.cycle_momentum:
            self._kind = _momentum(optimizer)
            if last_epoch == -1:
                _set_momentum(optimizer, self._kind, _one("max_momentum", max_momentum))
                self.group.update(max_momentum=_one("max_momentum", max_momentum),
                                  base_momentum=_one("base_momentum", base_momentum))
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _annealing_cos(start, end, pct):
        cos_out = math.cos(math.pi * pct) + 1
        return end + (start - end) / 2.0 * cos_out

    @staticmethod
    def _annealing_linear(start, end, pct):
        return (end - start) * pct + start

    def _value(self, key):
        return self.optimizer.initial_lr if key == "initial_lr" else self.group[key]

    def get_lr(self):
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"tried to step {step_num} times; total_steps is "
                             f"{self.total_steps}")
        start_step = 0.0
        for i, (end_step, start_lr, end_lr, start_m, end_m) in enumerate(self._phases):
            if step_num <= end_step or i == len(self._phases) - 1:
                pct = (step_num - start_step) / (end_step - start_step)
                lr = self._anneal(self._value(start_lr), self._value(end_lr), pct)
                if self.cycle_momentum:
                    _set_momentum(self.optimizer, self._kind,
                                  self._anneal(self._value(start_m), self._value(end_m), pct))
                break
            start_step = end_step
        return [lr]


#: The schedules, by PyTorch's class names.
NAMES = tuple(n for n in __all__ if n not in ("LRScheduler", "NAMES", "build", "check_spec"))


def build(spec, optimizer, module=None):
    """A schedule from its description ``(name, keywords)`` — ``("StepLR", {"step_size": 10})``;
    SequentialLR's and ChainedScheduler's ``schedulers`` are descriptions too — for
    ``optimizer``: from this module for an npref optimizer, or from ``module`` (``torch.optim.lr_scheduler``, whose classes take the
    same names and keywords) for a torch one. What lets one ``Schedule`` drive both backends."""
    import sys

    module = module or sys.modules[__name__]
    name, keywords = spec[0], dict(spec[1])
    if name in ("SequentialLR", "ChainedScheduler"):
        keywords = {**keywords, "schedulers": [build(s, optimizer, module)
                                               for s in keywords["schedulers"]]}
    if name == "ChainedScheduler":          # PyTorch's signature: (schedulers, optimizer=None)
        return getattr(module, name)(keywords.pop("schedulers"), optimizer=optimizer, **keywords)
    return getattr(module, name)(optimizer, **keywords)


def check_spec(spec, optimizer_name: str = "momentum") -> tuple[str, dict]:
    """``(name, keywords)`` of a schedule's description, checked by building it on a stand-in
    npref optimizer ``optimizer_name`` (with momentum, for the schedules that cycle it): a bad
    name or keyword is refused here, with the schedule's own message, before any training."""
    from collections.abc import Mapping

    if (not isinstance(spec, (tuple, list)) or len(spec) != 2 or not isinstance(spec[0], str)
            or not isinstance(spec[1], Mapping)):
        raise ValueError(f"lr_schedule must be (name, keywords) like ('StepLR', {{'step_size': "
                         f"10}}), got {spec!r}")
    name, keywords = spec[0], dict(spec[1])
    _validate.choice("lr_schedule", name, NAMES)
    if name in ("SequentialLR", "ChainedScheduler"):
        if not isinstance(keywords.get("schedulers"), (list, tuple)):
            raise ValueError(f"lr_schedule: {name}'s schedulers must be a list of (name, "
                             "keywords) descriptions")
        keywords["schedulers"] = [check_spec(s, optimizer_name)
                                  for s in keywords["schedulers"]]
    from . import optim

    stand_in = optim.make(optimizer_name, lr=0.1,
                          **({"momentum": 0.9} if optimizer_name == "momentum" else {}))
    try:
        build((name, keywords), stand_in)
    except TypeError as error:          # a keyword the schedule does not take
        raise ValueError(f"lr_schedule {name}: {error}") from None
    return name, keywords
