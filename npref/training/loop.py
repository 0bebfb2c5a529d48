"""The minibatch loop, written once for both backends (:func:`fit`), and npref's training of a
:class:`~npref.nets.MultiLayerNet` on it (:func:`train`)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from .. import _validate
from ..guard import check_finite
from .batches import dropout_masks, minibatches, sample_batch
from .data import Data
from .early_stopping import EarlyStopping
from .history import History
from .schedule import Schedule, resolve_schedule

__all__ = ["fit", "train", "Progress", "check_watch", "watch_name", "lr_scheduler"]


class Progress:
    """A one-line progress bar on stderr, redrawn at most every half second (only on a terminal
    unless asked for)."""

    def __init__(self, total: int, label: str = "", enabled: bool | None = None):
        self.total, self.label = total, label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.start = self.last = time.perf_counter()

    def update(self, done: int, note: str = "") -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.5 and done < self.total):
            return
        self.last = now
        width = 24
        filled = int(width * done / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {done}/{self.total} {now - self.start:.1f}s "
                         f"{note}".ljust(78))
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def fit(step, evaluate, schedule: Schedule | None = None, *, n_train: int,
        rng: np.random.Generator, dropout_sizes=(), dropout: float = 0.0, params=None,
        check_params=None, observe=None, progress: bool | None = None, label: str = "training",
        stopper: EarlyStopping | None = None, stopper_type: type | None = None,
        scheduler=None, after_step=None, **schedule_keywords) -> History:
    r"""The minibatch loop, written once for both backends, run as ``schedule`` says.

    ``step(indices, masks) -> float`` runs forward, backward and the optimizer's update on the
    batch ``indices`` with the given dropout ``masks`` and returns the batch loss;
    ``evaluate() -> dict`` returns the epoch's ``train_acc``/``test_acc``/``val_loss``/``val_acc``
    (those it has). Batches come from ``rng`` as :class:`Schedule`'s ``sampling`` says; dropout
    masks (:func:`dropout_masks`, one per size in ``dropout_sizes``) are drawn from ``rng`` after
    each batch.

    After each iteration, ``observe()`` (if given) returns ``{name: float}`` to record in
    ``history.observed``; once the loss exceeds ``schedule.max_loss`` the run stops there, with
    ``history.exploded_at`` set.

    After each epoch (every ``evaluate_every`` epochs, and always after the last):
    ``check_params(done)`` (a NaN/Inf check), evaluation, and early stopping on ``val_loss`` —
    ``stopper`` if given, else a fresh ``schedule.early_stopper(stopper_type)``; when it says
    stop, the loop ends, and with ``restore_best`` the best parameters are copied back into
    ``params``. A NaN or Inf loss stops the run with :class:`npref.guard.NonFiniteError` naming
    the iteration.

    ``scheduler`` is the learning-rate schedule ``schedule.lr_schedule`` describes, built on the
    step's optimizer (``train`` builds it: :func:`npref.schedulers.build`, or
    ``torch.optim.lr_scheduler`` for a torch optimizer); it steps after each update or after
    each epoch as ``schedule.lr_schedule_every`` says — ``ReduceLROnPlateau`` on the epoch's
    ``val_loss``, else its ``epoch_loss`` — and ``history.lr`` records each epoch's rate.

    ``after_step(done, loss)`` (if given) is called at the end of each iteration, after the
    schedule's per-update step and ``observe``, with the iterations done so far and the batch
    loss: the experiments' shadowed parity (:mod:`experiments.backends.shadow`) takes and loads
    the state there.

    The older keyword form — ``fit(step, evaluate, n_train=…, batch_size=…, epochs=…, rng=…,
    early_stopping=EarlyStopping(…))`` — builds the Schedule from those keywords.
    """
    schedule, handed = resolve_schedule(schedule, schedule_keywords, "fit")
    n_train = _validate.positive_int("n_train", n_train)
    stopper = stopper or handed or schedule.early_stopper(stopper_type)
    if (schedule.lr_schedule is None) != (scheduler is None):
        raise ValueError("scheduler must be given exactly when the schedule has an lr_schedule "
                         f"(lr_schedule={schedule.lr_schedule!r}, scheduler={scheduler!r}); "
                         "train() builds it from the Schedule")
    total = schedule.total_iterations(n_train)
    history = History()
    per_update = scheduler if schedule.lr_schedule_every == "iteration" else None
    run = _Run(step, schedule, history, rng, total, label=label, n_train=n_train,
               dropout_sizes=tuple(dropout_sizes), dropout=dropout, observe=observe,
               bar=Progress(total, label, progress), scheduler=scheduler,
               per_update=per_update, after_step=after_step)
    start = time.perf_counter()
    done, epoch = 0, 0
    while done < total:
        done = _epoch(run, done)
        if history.exploded_at is not None:
            break
        epoch += 1
        metrics = {}
        if not (epoch % schedule.evaluate_every and done < total):
            if check_params is not None:
                check_params(done)
            metrics = evaluate()
            history.epoch_iterations.append(done)
            for name, value in metrics.items():
                getattr(history, name).append(float(value))
            if stopper is not None:
                if "val_loss" not in metrics:
                    raise ValueError("early stopping needs validation data (x_val, t_val)")
                if stopper.step(metrics["val_loss"], params):
                    history.stopped_epoch = epoch - 1
                    break
        if scheduler is not None and per_update is None:
            if schedule.lr_schedule[0] == "ReduceLROnPlateau":
                scheduler.step(metrics.get("val_loss", history.epoch_loss[-1]))
            else:
                scheduler.step()
    if stopper is not None:
        history.best_epoch = stopper.best_epoch
        last_epoch = len(history.epoch_iterations) - 1
        if stopper.best_params is not None and stopper.best_epoch != last_epoch:
            stopper.restore(params)
    run.bar.update(total)
    history.seconds = time.perf_counter() - start
    return history


@dataclass(frozen=True)
class _Run:
    """What every epoch of one :func:`fit` needs: the step, the schedule, the history it
    fills, the Generator, the length, and the dropout masks and observations to draw."""

    step: object
    schedule: Schedule
    history: History
    rng: np.random.Generator
    total: int
    label: str
    n_train: int
    dropout_sizes: tuple
    dropout: float
    observe: object
    bar: Progress
    scheduler: object = None
    per_update: object = None
    after_step: object = None


def _epoch(run: _Run, done: int) -> int:
    """One epoch of iterations (fewer when the run ends or explodes); returns iterations done."""
    schedule, history, rng = run.schedule, run.history, run.rng
    if schedule.sampling == "shuffle":
        batches = minibatches(run.n_train, schedule.batch_size, rng)
    else:
        batches = (sample_batch(run.n_train, schedule.batch_size, rng)
                   for _ in range(schedule.iterations_per_epoch(run.n_train)))
    epoch_sum, epoch_count = 0.0, 0
    if run.scheduler is not None:
        history.lr.append(float(run.scheduler.get_last_lr()[0]))
    for indices in batches:
        masks = dropout_masks(rng, len(indices), run.dropout_sizes, run.dropout)
        loss = run.step(indices, masks)
        epoch_sum += float(loss) * len(indices)
        epoch_count += len(indices)
        done += 1
        if run.per_update is not None:
            run.per_update.step()
        if schedule.max_loss is not None and not loss <= schedule.max_loss:   # NaN is past it
            history.loss.append(float(loss))
            history.exploded_at = done
            return done
        check_finite(f"{run.label}: training loss", done, loss)
        history.loss.append(float(loss))
        if run.observe is not None:
            for name, value in run.observe().items():
                history.observed.setdefault(name, []).append(float(value))
        if run.after_step is not None:
            run.after_step(done, loss)
        run.bar.update(done, f"loss {loss:.4g}")
        if done == run.total:
            break
    history.epoch_loss.append(epoch_sum / epoch_count)
    return done


def train(net, optimizer, data: Data, schedule: Schedule | None = None, *,
          rng: np.random.Generator, progress: bool | None = None, label: str = "npref",
          after_step=None, **schedule_keywords) -> History:
    """Train an npref :class:`~npref.nets.MultiLayerNet` with an npref optimizer as ``schedule``
    says (see :func:`fit`; the older keyword form ``batch_size=…, epochs=…`` still works).

    Evaluation after each epoch: accuracy on the training and test data, and loss and accuracy on
    the validation data, all in evaluation mode. ``schedule.watch`` and
    ``schedule.update_ratios`` record single weights and ‖ΔW‖/‖W‖ after every iteration;
    ``after_step(done, loss)`` is called after each (see :func:`fit`).
    """
    schedule, stopper = resolve_schedule(schedule, schedule_keywords, "train")
    if not callable(getattr(optimizer, "update", None)):
        raise ValueError("optimizer must be an npref optimizer with update(params, grads) "
                         f"(npref.optim.make(...)), got {type(optimizer).__module__}."
                         f"{type(optimizer).__name__}; a torch.optim optimizer goes with "
                         "torchref.training.train")
    check_watch(schedule.watch, {k: np.shape(v) for k, v in net.params.items()})
    previous = {}

    def step(indices, masks):
        x, t = data.x_train[indices], data.t_train[indices]
        loss, grads = net.loss_and_gradient(x, t, masks=masks)
        if schedule.update_ratios:
            previous.update({k: net.params[k].copy() for k in net.params if k.startswith("W")})
        optimizer.update(net.params, grads)
        if schedule.loss_after_update:
            return net.loss(x, t, train=False)
        return loss

    def observe():
        seen = {watch_name(key, index): net.params[key][index] for key, index in schedule.watch}
        for key, before in previous.items():
            seen[f"update/{key}"] = (np.linalg.norm(net.params[key] - before)
                                     / np.linalg.norm(before))
        return seen

    def evaluate():
        metrics = {"train_acc": net.accuracy(data.x_train, data.t_train)}
        if data.x_test is not None:
            metrics["test_acc"] = net.accuracy(data.x_test, data.t_test)
        if data.x_val is not None:
            metrics["val_loss"] = net.loss(data.x_val, data.t_val, train=False)
            metrics["val_acc"] = net.accuracy(data.x_val, data.t_val)
        return metrics

    def check_params(done):
        check_finite(f"{label}: parameters", done, net.params)

    return fit(step, evaluate, schedule, n_train=len(data.t_train), rng=rng,
               dropout_sizes=net.hidden_sizes if net.dropouts else (), dropout=net.dropout,
               params=net.params, check_params=check_params, stopper=stopper,
               observe=observe if schedule.watch or schedule.update_ratios else None,
               progress=progress, label=label, scheduler=lr_scheduler(schedule, optimizer),
               after_step=after_step)


def lr_scheduler(schedule: Schedule, optimizer, module=None):
    """The schedule's ``lr_schedule`` built on ``optimizer`` (from ``module``, a torch one's
    ``torch.optim.lr_scheduler``), or None."""
    if schedule.lr_schedule is None:
        return None
    from .. import schedulers

    return schedulers.build(schedule.lr_schedule, optimizer, module)


def check_watch(watch, shapes: dict) -> None:
    """Every watched ``(key, index)`` names a parameter and an element inside it — checked
    before training starts, not at the first iteration's lookup."""
    for key, index in watch:
        if key not in shapes:
            raise ValueError(f"watch: no parameter {key!r}; the network has "
                             f"{', '.join(shapes)}")
        shape = shapes[key]
        if len(index) != len(shape) or any(not -s <= i < s for i, s in zip(index, shape)):
            raise ValueError(f"watch: index {tuple(index)} is outside {key} of shape "
                             f"{tuple(shape)}")


def watch_name(key: str, index) -> str:
    """The series name of a watched weight: ``"W1[0, 0]"``."""
    return f"{key}[{', '.join(map(str, index))}]"
