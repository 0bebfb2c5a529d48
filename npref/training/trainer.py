"""The book's ``Trainer`` (``common/trainer.py``): its loop and its bookkeeping, exactly."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from .. import _validate
from .. import optim as _optim
from ..guard import check_finite
from .batches import dropout_masks

__all__ = ["Trainer", "BOOK_OPTIMIZERS", "book_optimizer_keywords"]


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
    return name, _optim.with_convention(name, kw, "book")


class Trainer:
    r"""The book's ``Trainer`` (``common/trainer.py``): its loop and its bookkeeping, exactly.

    ``Trainer(network, x_train, t_train, x_test, t_test, *, epochs=20, mini_batch_size=100,
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

    def __init__(self, network, x_train, t_train, x_test, t_test, *, epochs: int = 20,
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
