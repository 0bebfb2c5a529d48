r"""Training: the minibatch loop, early stopping, and batch order drawn from a NumPy Generator.

Randomness is always an explicit ``numpy.random.Generator``: the batch indices and dropout masks
drawn here are what both backends consume (:mod:`torchref.training` runs the very same loop with
a PyTorch step), so a NumPy run and a PyTorch run see the same batches and masks in the same
order, and fill a :class:`History` the same way.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

import numpy as np

from . import _validate
from . import optim as _optim
from .guard import NonFiniteError, check_finite

__all__ = ["Schedule", "EarlyStopping", "minibatches", "sample_batch", "dropout_masks", "Data",
           "History", "train", "fit", "Progress", "SAMPLINGS", "watch_name", "Trainer",
           "BOOK_OPTIMIZERS"]


class EarlyStopping:
    r"""Stop when the monitored value (a validation loss) has stopped improving.

    ``step(value, params=None) -> bool`` is called once per epoch (epochs count from 0). An epoch
    *improves* when ``value < best − min_delta``: the wait counter resets, ``best`` and
    ``best_epoch`` are updated and, with ``restore_best``, a copy of ``params`` is kept in
    ``best_params``. Otherwise the counter grows by one, and once it reaches ``patience``
    ``step`` returns True and ``stopped_epoch`` records the epoch. :meth:`restore` copies the
    best parameters back into a dict of arrays, in place.

    A NaN or infinite value raises :class:`npref.guard.NonFiniteError` naming the epoch: a
    diverged run is an error, not a plateau.
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0, restore_best: bool = True):
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) \
                or patience < 1:
            raise ValueError(f"patience must be an int >= 1, got {patience!r}")
        self.patience = int(patience)
        self.min_delta = _validate.nonnegative("min_delta", min_delta)
        if not isinstance(restore_best, bool):
            raise ValueError(f"restore_best must be True or False, got {restore_best!r}")
        self.restore_best = restore_best
        self.best = math.inf
        self.best_epoch = None
        self.stopped_epoch = None
        self.best_params = None
        self.wait = 0
        self.epoch = -1

    def step(self, value: float, params=None) -> bool:
        """Record this epoch's value; True when training should stop."""
        self.epoch += 1
        value = float(value)
        if not math.isfinite(value):
            raise NonFiniteError(f"the monitored value became {value} at epoch {self.epoch}: "
                                 "stopping here")
        if self.stopped_epoch is not None:
            return True
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, self.epoch, 0
            if self.restore_best and params is not None:
                self.best_params = self._copy(params)
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = self.epoch
            return True
        return False

    def restore(self, params) -> None:
        """Copy ``best_params`` back into ``params`` (a dict of arrays), in place."""
        if self.best_params is None:
            raise ValueError("no best parameters kept: pass params to step() with "
                             "restore_best=True")
        for key, value in self.best_params.items():
            params[key][...] = value

    def _copy(self, params):
        return {key: np.array(value, copy=True) for key, value in params.items()}

    def __repr__(self):
        return (f"{type(self).__name__}(patience={self.patience}, min_delta={self.min_delta}, "
                f"restore_best={self.restore_best}; best={self.best} at epoch "
                f"{self.best_epoch}, stopped at {self.stopped_epoch})")


def minibatches(n: int, batch_size: int, rng: np.random.Generator, shuffle: bool = True,
                drop_last: bool = False) -> list[np.ndarray]:
    """The index arrays of one epoch: a permutation of ``range(n)`` cut into batches.

    The last batch is shorter when ``batch_size`` does not divide ``n``, unless ``drop_last``.
    """
    n = _validate.positive_int("n", n)
    batch_size = _validate.positive_int("batch_size", batch_size)
    order = _validate.generator(rng).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]


def sample_batch(n: int, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """The book's minibatch: ``batch_size`` indices drawn from ``range(n)`` with replacement
    (``np.random.choice(train_size, batch_size)``)."""
    n = _validate.positive_int("n", n)
    batch_size = _validate.positive_int("batch_size", batch_size)
    return _validate.generator(rng).choice(n, batch_size)


def dropout_masks(rng: np.random.Generator, batch_size: int, sizes, p: float) -> list:
    """One boolean keep-mask per dropout layer, ``rng.random((batch_size, h)) >= p`` each — the
    rule of :class:`npref.layers.Dropout` — or ``[]`` without dropout."""
    if p <= 0:
        return []
    return [_validate.generator(rng).random((batch_size, h)) >= p for h in sizes]


@dataclass
class Data:
    """Training data and, optionally, test and validation data (NumPy arrays, labels as ints)."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray | None = None
    t_test: np.ndarray | None = None
    x_val: np.ndarray | None = None
    t_val: np.ndarray | None = None

    def cast(self, dtype) -> "Data":
        """The same data with the inputs in ``dtype`` (labels and targets are kept as they are)."""
        return Data(**{k: v.astype(dtype, copy=False) if k.startswith("x") and v is not None
                       else v for k, v in vars(self).items()})

    def __post_init__(self):
        for part in ("train", "test", "val"):
            x, t = getattr(self, f"x_{part}"), getattr(self, f"t_{part}")
            if (x is None) != (t is None) or (x is not None and len(x) != len(t)):
                raise ValueError(f"x_{part} and t_{part} must both be given, with one target per "
                                 f"sample")
            for name, array in ((f"x_{part}", x), (f"t_{part}", t)):
                _check_finite_data(name, array)


def _check_finite_data(name: str, array) -> None:
    """NaN or Inf in the data is bad data — said so here, before a training run would report it
    as a diverged loss (and suggest a smaller learning rate)."""
    if array is None:
        return
    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise ValueError(f"{name} holds NaN or Inf (first in sample {row}): bad data, not a "
                         "diverged run; clean or drop those samples")


@dataclass
class History:
    """What a training run of :func:`fit` records, filled alike by both backends.

    ``loss`` has one entry per iteration. By default it is the minibatch loss of the forward pass
    that the iteration's update used: computed *before* the update, in training mode (dropout
    masks applied, BatchNorm on batch statistics). With ``Schedule(loss_after_update=True)`` it
    is the book's ``train_loss_list`` entry instead: the same minibatch's loss *after* the
    update, in evaluation mode. ``epoch_loss`` has one entry per epoch (an epoch is
    ⌈n/batch_size⌉ iterations): the mean of its ``loss`` entries, weighted by batch size (the
    lecture's epoch loss).

    The per-evaluation lists have one entry per evaluation, made at the end of an epoch (every
    ``evaluate_every`` epochs, and after the last): ``epoch_iterations`` (iterations done so far),
    ``train_acc``, ``test_acc``, ``val_loss``, ``val_acc`` (the last ones when there is such
    data), all in evaluation mode. ``observed`` holds what an ``observe`` callback reported after
    each iteration (a watched weight, update/weight ratios); ``exploded_at`` the iteration at
    which the loss passed ``max_loss``, when it did.

    This is not the book's ``Trainer`` bookkeeping, which evaluates after updates 1, 1 + k, …
    (k = n/batch_size as a float) and runs int(epochs·k) iterations: that is :class:`Trainer`.
    """

    loss: list = field(default_factory=list)
    epoch_loss: list = field(default_factory=list)
    epoch_iterations: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    observed: dict = field(default_factory=dict)
    stopped_epoch: int | None = None
    best_epoch: int | None = None
    exploded_at: int | None = None
    seconds: float = 0.0

    def series(self) -> dict:
        """The non-empty per-iteration and per-epoch lists, by name (``observed`` ones too)."""
        names = ("loss", "epoch_loss", "train_acc", "test_acc", "val_loss", "val_acc")
        out = {n: [float(v) for v in getattr(self, n)] for n in names if getattr(self, n)}
        out.update({n: [float(v) for v in values] for n, values in self.observed.items()})
        return out


SAMPLINGS = ("shuffle", "replacement")


@dataclass(frozen=True)
class Schedule:
    r"""How a training run proceeds — validated once, taken by every training loop.

    ``batch_size``
        samples per iteration (an int >= 1).
    ``iterations`` | ``epochs``
        the length of the run: exactly one of them, an int >= 1. An epoch is ⌈n/batch_size⌉
        iterations whatever the sampling.
    ``sampling``
        ``"shuffle"``: each epoch goes through a fresh permutation (:func:`minibatches`);
        ``"replacement"``: each batch is drawn with replacement (:func:`sample_batch`, the book's
        ``np.random.choice``).
    ``evaluate_every``
        evaluate after every this many epochs (and always after the last).
    ``early_stopping``
        ``None``, or the keywords of :class:`EarlyStopping` (``{"patience": 10}``; an
        ``EarlyStopping`` is read for its settings): stop once the validation loss has not
        improved for ``patience`` evaluations, and restore the best parameters. Needs
        ``evaluate_every == 1``.
    ``watch``
        ``(key, index)`` pairs of single weights to record after every iteration (as
        ``"W1[0, 0]"``).
    ``update_ratios``
        record ‖ΔW‖/‖W‖ of every weight matrix after every iteration (as ``"update/W1"``).
    ``max_loss``
        ``None``, or a finite number > 0: once a batch loss exceeds it (or is NaN) the run stops
        there and ``History.exploded_at`` names the iteration — the babysitting rule for a
        learning rate that explodes.
    ``loss_after_update``
        ``False`` (default): ``History.loss`` records each batch's training-mode loss from the
        forward pass its update used. ``True``: the book's record — the same batch's loss after
        the update, in evaluation mode (one more forward pass per iteration).

    A ``Schedule`` is frozen: ``dataclasses.replace(schedule, epochs=5)`` makes a validated copy.
    """

    batch_size: int
    iterations: int | None = None
    epochs: int | None = None
    sampling: str = "shuffle"
    evaluate_every: int = 1
    early_stopping: Mapping | None = None
    watch: tuple = ()
    update_ratios: bool = False
    max_loss: float | None = None
    loss_after_update: bool = False

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "batch_size", _validate.positive_int("batch_size", self.batch_size))
        if (self.iterations is None) == (self.epochs is None):
            raise ValueError("give exactly one of iterations and epochs (an int >= 1), got "
                             f"iterations={self.iterations!r}, epochs={self.epochs!r}")
        if self.iterations is not None:
            set_(self, "iterations", _validate.positive_int("iterations", self.iterations))
        else:
            set_(self, "epochs", _validate.positive_int("epochs", self.epochs))
        _validate.choice("sampling", self.sampling, SAMPLINGS)
        set_(self, "evaluate_every",
             _validate.positive_int("evaluate_every", self.evaluate_every))
        set_(self, "early_stopping", _stopping_settings(self.early_stopping))
        if self.early_stopping is not None and self.evaluate_every != 1:
            raise ValueError("early_stopping needs an evaluation every epoch (evaluate_every=1), "
                             f"got evaluate_every={self.evaluate_every}")
        set_(self, "watch", _watch_pairs(self.watch))
        if not isinstance(self.update_ratios, bool):
            raise ValueError(f"update_ratios must be True or False, got {self.update_ratios!r}")
        if self.max_loss is not None:
            set_(self, "max_loss", _validate.positive("max_loss", self.max_loss))
        if not isinstance(self.loss_after_update, bool):
            raise ValueError(f"loss_after_update must be True or False, got "
                             f"{self.loss_after_update!r}")

    def iterations_per_epoch(self, n_train: int) -> int:
        """⌈n_train / batch_size⌉."""
        return math.ceil(_validate.positive_int("n_train", n_train) / self.batch_size)

    def total_iterations(self, n_train: int) -> int:
        """The run's length in iterations for ``n_train`` training samples."""
        if self.iterations is not None:
            return self.iterations
        return self.epochs * self.iterations_per_epoch(n_train)

    def early_stopper(self, kind: type | None = None) -> "EarlyStopping | None":
        """A fresh :class:`EarlyStopping` (or ``kind``, a subclass) with this schedule's
        settings, or None."""
        if self.early_stopping is None:
            return None
        return (kind or EarlyStopping)(**self.early_stopping)


def _stopping_settings(value):
    """EarlyStopping's keywords, checked by building one (a frozen mapping), or None."""
    if value is None:
        return None
    if isinstance(value, EarlyStopping):
        value = {"patience": value.patience, "min_delta": value.min_delta,
                 "restore_best": value.restore_best}
    if not isinstance(value, Mapping):
        raise ValueError("early_stopping must be None, an EarlyStopping or a dict of its keywords "
                         f"(patience, min_delta, restore_best), got {value!r}")
    unknown = set(value) - {"patience", "min_delta", "restore_best"}
    if unknown:
        raise ValueError(f"early_stopping: unknown keyword(s) {', '.join(sorted(unknown))}; "
                         "valid: patience, min_delta, restore_best")
    EarlyStopping(**value)
    return MappingProxyType(dict(value))


def _watch_pairs(value) -> tuple:
    """``watch`` as a tuple of ``(key, index tuple)`` pairs."""
    pairs = []
    for item in value:
        try:
            key, index = item
            index = tuple(int(i) for i in index)
        except (TypeError, ValueError):
            raise ValueError(f"watch must hold (key, index) pairs like ('W1', (0, 0)), got "
                             f"{item!r}") from None
        if not isinstance(key, str):
            raise ValueError(f"watch keys must be parameter names like 'W1', got {key!r}")
        pairs.append((key, index))
    return tuple(pairs)


#: The keywords of :class:`Schedule`: the older keyword form of ``fit``/``train`` accepts them.
SCHEDULE_KEYWORDS = tuple(f.name for f in fields(Schedule))


def _resolve_schedule(schedule, keywords: dict, where: str):
    """``(schedule, stopper)`` from a Schedule or the older keyword form; ``stopper`` is the
    EarlyStopping instance the caller handed in (kept, so the caller can inspect it), if any."""
    unknown = set(keywords) - set(SCHEDULE_KEYWORDS)
    if unknown:
        raise TypeError(f"{where}() got unexpected keyword argument(s): "
                        f"{', '.join(sorted(unknown))}")
    if schedule is not None:
        if keywords:
            raise ValueError(f"{where}: give a Schedule or its keywords "
                             f"({', '.join(sorted(keywords))}), not both")
        if not isinstance(schedule, Schedule):
            raise ValueError(f"schedule must be an npref.training.Schedule, got "
                             f"{type(schedule).__name__}")
        return schedule, None
    stopper = keywords.get("early_stopping")
    schedule = Schedule(**keywords)
    return schedule, stopper if isinstance(stopper, EarlyStopping) else None


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
        **schedule_keywords) -> History:
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

    The older keyword form — ``fit(step, evaluate, n_train=…, batch_size=…, epochs=…, rng=…,
    early_stopping=EarlyStopping(…))`` — builds the Schedule from those keywords.
    """
    schedule, handed = _resolve_schedule(schedule, schedule_keywords, "fit")
    n_train = _validate.positive_int("n_train", n_train)
    stopper = stopper or handed or schedule.early_stopper(stopper_type)
    total = schedule.total_iterations(n_train)
    history = History()
    bar = Progress(total, label, progress)
    start = time.perf_counter()
    done, epoch = 0, 0
    while done < total:
        done = _epoch(step, schedule, history, n_train, rng, dropout_sizes, dropout, observe,
                      bar, done, total, label)
        if history.exploded_at is not None:
            break
        epoch += 1
        if epoch % schedule.evaluate_every and done < total:
            continue
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
    if stopper is not None:
        history.best_epoch = stopper.best_epoch
        last_epoch = len(history.epoch_iterations) - 1
        if stopper.best_params is not None and stopper.best_epoch != last_epoch:
            stopper.restore(params)
    bar.update(total)
    history.seconds = time.perf_counter() - start
    return history


def _epoch(step, schedule, history, n_train, rng, dropout_sizes, dropout, observe, bar, done,
           total, label) -> int:
    """One epoch of iterations (fewer when the run ends or explodes); returns iterations done."""
    if schedule.sampling == "shuffle":
        batches = minibatches(n_train, schedule.batch_size, rng)
    else:
        batches = (sample_batch(n_train, schedule.batch_size, rng)
                   for _ in range(schedule.iterations_per_epoch(n_train)))
    epoch_sum, epoch_count = 0.0, 0
    for indices in batches:
        masks = dropout_masks(rng, len(indices), dropout_sizes, dropout)
        loss = step(indices, masks)
        epoch_sum += float(loss) * len(indices)
        epoch_count += len(indices)
        done += 1
        if schedule.max_loss is not None and not loss <= schedule.max_loss:   # NaN is past it
            history.loss.append(float(loss))
            history.exploded_at = done
            return done
        check_finite(f"{label}: training loss", done, loss)
        history.loss.append(float(loss))
        if observe is not None:
            for name, value in observe().items():
                history.observed.setdefault(name, []).append(float(value))
        bar.update(done, f"loss {loss:.4g}")
        if done == total:
            break
    history.epoch_loss.append(epoch_sum / epoch_count)
    return done


def train(net, optimizer, data: Data, schedule: Schedule | None = None, *,
          rng: np.random.Generator, progress: bool | None = None, label: str = "npref",
          **schedule_keywords) -> History:
    """Train an npref :class:`~npref.nets.MultiLayerNet` with an npref optimizer as ``schedule``
    says (see :func:`fit`; the older keyword form ``batch_size=…, epochs=…`` still works).

    Evaluation after each epoch: accuracy on the training and test data, and loss and accuracy on
    the validation data, all in evaluation mode. ``schedule.watch`` and
    ``schedule.update_ratios`` record single weights and ‖ΔW‖/‖W‖ after every iteration.
    """
    schedule, stopper = _resolve_schedule(schedule, schedule_keywords, "train")
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
               progress=progress, label=label)


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


# -- the book's Trainer ---------------------------------------------------------------------------

#: The optimizer names the book's Trainer accepts (any case), built with ``convention="book"``.
BOOK_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
#: The book's spellings of optimizer keywords, and ours.
_BOOK_KEYWORDS = {"decay_rate": "alpha"}


def book_optimizer_keywords(name: str, optimizer_param) -> tuple[str, dict]:
    """``(lower-case name, keywords)`` for :func:`npref.optim.make` /
    :func:`torchref.optim.make` from the book's Trainer arguments: ``convention="book"`` added
    (SGD has none), the book's ``decay_rate`` read as ``alpha`` and ``beta1``/``beta2`` as
    ``betas``."""
    if not isinstance(name, str) or name.lower() not in BOOK_OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(map(repr, BOOK_OPTIMIZERS))} "
                         f"(any case), got {name!r}")
    if not isinstance(optimizer_param, Mapping):
        raise ValueError(f"optimizer_param must be a dict of keywords like {{'lr': 0.01}}, got "
                         f"{optimizer_param!r}")
    name, kw = name.lower(), {_BOOK_KEYWORDS.get(k, k): v for k, v in optimizer_param.items()}
    if "beta1" in kw or "beta2" in kw:
        kw["betas"] = (kw.pop("beta1", 0.9), kw.pop("beta2", 0.999))
    if kw.get("convention", "book") != "book":
        raise ValueError(f"the book's Trainer builds its optimizers with convention='book', got "
                         f"convention={kw['convention']!r}")
    kw.pop("convention", None)
    if name != "sgd":
        kw["convention"] = "book"
    return name, kw


class Trainer:
    r"""The book's ``Trainer`` (``common/trainer.py``): its loop and its bookkeeping, exactly.

    ``Trainer(network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
    optimizer="SGD", optimizer_param={"lr": 0.01}, evaluate_sample_num_per_epoch=None,
    verbose=True, rng=None)`` trains an npref :class:`~npref.nets.MultiLayerNet`. With
    n = ``len(x_train)`` and b = ``mini_batch_size``:

    * ``iter_per_epoch`` k = max(n/b, 1), a float; ``max_iter`` = int(epochs·k) iterations;
    * :meth:`train_step`: the batch ``rng.choice(n, b)`` (with replacement, the book's
      ``np.random.choice``) — then, for a network with dropout, one keep-mask per dropout layer,
      ``rng.random((b, h)) >= p``, from the same ``rng`` (the book draws both from the one global
      stream, in this order); the gradient in training mode, the optimizer's update; then the
      *same batch's loss after the update, in evaluation mode*, appended to
      ``train_loss_list``; and when ``current_iter % k == 0`` (before it is incremented: after
      updates 1, 1 + k, 1 + 2k, … where these are whole numbers), the accuracy on the training
      and the test data (their first ``evaluate_sample_num_per_epoch`` samples when given),
      appended to ``train_acc_list`` and ``test_acc_list``;
    * :meth:`train`: ``max_iter`` steps, then the accuracy on the whole test set (returned, and
      printed when ``verbose``).

    ``optimizer`` is one of the book's names (``sgd, momentum, nesterov, adagrad, rmsprop,
    adam``, any case), built with ``convention="book"`` from ``optimizer_param`` (the book's
    ``decay_rate``, ``beta1``, ``beta2`` are read as ``alpha`` and ``betas``). ``verbose`` prints
    the loss of every step and each evaluation, as the book does. A NaN or infinite loss stops
    training with :class:`npref.guard.NonFiniteError` naming the iteration.

    This is not :func:`train`'s bookkeeping (:class:`History`: loss before the update in training
    mode, evaluation at each epoch's end, epochs of ⌈n/b⌉ iterations).
    :class:`torchref.training.Trainer` has the same signature and fills the same lists.
    """

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs: int = 20,
                 mini_batch_size: int = 100, optimizer: str = "SGD",
                 optimizer_param: Mapping = MappingProxyType({"lr": 0.01}),
                 evaluate_sample_num_per_epoch: int | None = None, verbose: bool = True,
                 rng: np.random.Generator | None = None):
        self.network = network
        self.verbose = bool(verbose)
        self.x_train, self.t_train = self._data(x_train), self._data(t_train)
        self.x_test, self.t_test = self._data(x_test), self._data(t_test)
        for part in ("train", "test"):
            x, t = getattr(self, f"x_{part}"), getattr(self, f"t_{part}")
            if len(x) != len(t) or len(x) < 1:
                raise ValueError(f"x_{part} and t_{part} need the same number of samples, at "
                                 f"least one; got {len(x)} and {len(t)}")
        self.epochs = _validate.positive_int("epochs", epochs)
        self.batch_size = _validate.positive_int("mini_batch_size", mini_batch_size)
        if evaluate_sample_num_per_epoch is not None:
            evaluate_sample_num_per_epoch = _validate.positive_int(
                "evaluate_sample_num_per_epoch", evaluate_sample_num_per_epoch)
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.rng = _validate.generator(rng, optional=True)
        name, keywords = book_optimizer_keywords(optimizer, optimizer_param)
        self.optimizer = self._make_optimizer(name, keywords)

        self.train_size = len(self.x_train)
        self.iter_per_epoch = max(self.train_size / self.batch_size, 1)
        self.max_iter = int(self.epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list: list[float] = []
        self.train_acc_list: list[float] = []
        self.test_acc_list: list[float] = []

    # -- the backend's part (torchref.training.Trainer overrides these) ---------------------------

    def _data(self, a):
        return np.asarray(a)

    def _make_optimizer(self, name: str, keywords: dict):
        return _optim.make(name, **keywords)

    def _update(self, x, t, masks) -> None:
        grads = self.network.gradient(x, t, **({"masks": masks} if masks else {}))
        self.optimizer.update(self.network.params, grads)

    def _loss(self, x, t) -> float:
        return float(self.network.loss(x, t, train=False))

    def _accuracy(self, x, t) -> float:
        return float(self.network.accuracy(x, t))

    def _batch(self, indices):
        return self.x_train[indices], self.t_train[indices]

    # -- the book's loop -------------------------------------------------------------------------

    def train_step(self) -> None:
        """One iteration: a batch, an update, the loss after it, maybe an evaluation."""
        indices = self.rng.choice(self.train_size, self.batch_size)
        net = self.network
        masks = dropout_masks(self.rng, self.batch_size, net.hidden_sizes, net.dropout) \
            if len(getattr(net, "dropouts", ())) else []
        x_batch, t_batch = self._batch(indices)
        self._update(x_batch, t_batch, masks)
        loss = self._loss(x_batch, t_batch)
        check_finite("Trainer: training loss", self.current_iter + 1, loss)
        self.train_loss_list.append(loss)
        if self.verbose:
            print(f"train loss:{loss}")

        if self.current_iter % self.iter_per_epoch == 0:
            self.current_epoch += 1
            k = self.evaluate_sample_num_per_epoch
            x_tr, t_tr, x_te, t_te = self.x_train, self.t_train, self.x_test, self.t_test
            if k is not None:
                x_tr, t_tr, x_te, t_te = x_tr[:k], t_tr[:k], x_te[:k], t_te[:k]
            train_acc, test_acc = self._accuracy(x_tr, t_tr), self._accuracy(x_te, t_te)
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose:
                print(f"=== epoch:{self.current_epoch}, train acc:{train_acc}, "
                      f"test acc:{test_acc} ===")
        self.current_iter += 1

    def train(self) -> float:
        """``max_iter`` steps, then the accuracy on the whole test set (returned)."""
        for _ in range(self.max_iter):
            self.train_step()
        test_acc = self._accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print(f"test acc:{test_acc}")
        return test_acc
