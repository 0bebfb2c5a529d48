r"""Training utilities for torch tensors, driven by npref's NumPy index arrays.

The minibatch order is drawn once, by :func:`npref.training.minibatches` /
:func:`npref.training.sample_batch` from a ``numpy.random.Generator``; here the same arrays become
index tensors on a device, or a ``torch.utils.data`` batch sampler for a ``DataLoader`` — so a
PyTorch run sees exactly the batches a NumPy run sees.

Every public name of :mod:`npref.training` is here too. What needs no torch is npref's own
object, re-exported: :class:`~npref.training.Schedule`, :class:`~npref.training.Data` (NumPy
arrays; :func:`train` moves them to the network's device), :class:`~npref.training.History`, the
loop :func:`~npref.training.fit` (it calls a ``step`` closure, whatever that runs on),
:func:`~npref.training.dropout_masks` (NumPy masks, which torchref's networks take),
``Progress``, ``watch_name`` and the constants. :class:`EarlyStopping`, :func:`minibatches`,
:func:`sample_batch`, :func:`train` and :class:`Trainer` are torch versions;
:class:`IndexBatchSampler` is torch's alone.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Sampler

from npref import training as _np_training
from npref.guard import check_finite
from npref.training import (
    BOOK_OPTIMIZERS,
    SAMPLINGS,
    Data,
    History,
    Progress,
    Schedule,
    dropout_masks,
    fit,
    watch_name,
)
from torchref import optim as _optim
from torchref.device import resolve

__all__ = ["Schedule", "EarlyStopping", "minibatches", "sample_batch", "dropout_masks", "Data",
           "History", "train", "fit", "Progress", "SAMPLINGS", "watch_name", "Trainer",
           "BOOK_OPTIMIZERS", "IndexBatchSampler"]


class EarlyStopping(_np_training.EarlyStopping):
    """:class:`npref.training.EarlyStopping` keeping and restoring tensors.

    ``params`` may be a dict of tensors or an ``nn.Module`` (whose ``state_dict`` is kept).
    """

    def _copy(self, params):
        if isinstance(params, nn.Module):
            params = params.state_dict()
        return {key: value.detach().clone() for key, value in params.items()}

    @torch.no_grad()
    def restore(self, params) -> None:
        """Copy ``best_params`` back into a dict of tensors or an ``nn.Module``, in place."""
        if self.best_params is None:
            raise ValueError("no best parameters kept: pass params to step() with "
                             "restore_best=True")
        if isinstance(params, nn.Module):
            params.load_state_dict(self.best_params)
            return
        for key, value in self.best_params.items():
            params[key].copy_(value)


def minibatches(n, batch_size, rng, shuffle=True, drop_last=False, device="cpu"):
    """npref's index arrays for one epoch, as index tensors on ``device``."""
    device = resolve(device)
    return [torch.as_tensor(ix, device=device)
            for ix in _np_training.minibatches(n, batch_size, rng, shuffle, drop_last)]


def sample_batch(n, batch_size, rng, device="cpu"):
    """npref's sample with replacement (the book's ``np.random.choice``), as a tensor."""
    return torch.as_tensor(_np_training.sample_batch(n, batch_size, rng), device=resolve(device))


class IndexBatchSampler(Sampler):
    """A batch sampler for ``DataLoader(dataset, batch_sampler=...)`` yielding given batches.

    ``IndexBatchSampler(npref.training.minibatches(n, 32, rng))`` makes a DataLoader follow the
    NumPy run's order exactly.
    """

    def __init__(self, batches):
        self.batches = [list(map(int, b)) for b in batches]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def _check_inputs(net, optimizer, schedule) -> None:
    """Refused before training starts: an optimizer of the other backend, a watched weight the
    network does not have."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError("optimizer must be a torch.optim.Optimizer over net.parameters() "
                         f"(torchref.optim.make(...)), got {type(optimizer).__module__}."
                         f"{type(optimizer).__name__}; an npref optimizer goes with "
                         "npref.training.train")
    if schedule.lr_schedule is not None and optimizer in _optim.CONSTANT_LR_ONLY:
        raise ValueError("lr_schedule needs convention='torch' for Momentum and Nesterov: the "
                         "book's velocity form (v ← μ·v − lr·g) equals torch.optim.SGD's buffer "
                         "form (b ← μ·b + g; p ← p − lr·b) only while lr stays constant")
    _np_training.check_watch(schedule.watch,
                             {k: tuple(v.shape) for k, v in net.params.items()})


def train(net, optimizer, data, schedule: Schedule | None = None, *, rng,
          progress=None, label: str = "torchref", after_step=None, **schedule_keywords):
    """Train a torchref :class:`~torchref.nets.MultiLayerNet` with a ``torch.optim`` optimizer as
    ``schedule`` (an :class:`npref.training.Schedule`) says; the older keyword form
    ``batch_size=…, epochs=…`` still works.

    The loop is :func:`npref.training.fit` itself — batch order and dropout masks drawn from the
    same NumPy ``rng`` in the same order — with a PyTorch step (:class:`_Steps`): the data (an
    :class:`npref.training.Data` of NumPy arrays) moves to the network's device once, and each
    iteration indexes it there, runs ``loss.backward()`` and ``optimizer.step()``; the
    schedule's ``lr_schedule`` is ``torch.optim.lr_scheduler``'s class of that name on
    ``optimizer``. ``after_step(done, loss)`` is called after each iteration (see
    :func:`npref.training.fit`). Returns the same :class:`npref.training.History` as npref's
    ``train``.
    """
    schedule, stopper = _np_training._resolve_schedule(schedule, schedule_keywords, "train")
    _check_inputs(net, optimizer, schedule)
    steps = _Steps(net, optimizer, schedule, _on_device(data, net), label)
    net.train()
    observe = steps.observe if schedule.watch or schedule.update_ratios else None
    scheduler = _np_training.lr_scheduler(schedule, optimizer, torch.optim.lr_scheduler)
    return _np_training.fit(
        steps.step, steps.evaluate, schedule, n_train=len(data.t_train), rng=rng,
        dropout_sizes=net.hidden_sizes if len(net.dropouts) else (), dropout=net.dropout,
        params=net.params if schedule.early_stopping is not None else None,
        check_params=steps.check_params, stopper=stopper, stopper_type=EarlyStopping,
        observe=observe, progress=progress, label=label, after_step=after_step,
        scheduler=scheduler)


def _on_device(data: Data, net) -> dict:
    """``data``'s arrays as tensors on the network's device, once: inputs in its dtype, targets
    checked and converted as :meth:`~torchref.nets.MultiLayerNet.loss` checks a batch's (here
    the whole set at once, before training, not every batch again)."""
    out = {}
    for name, value in vars(data).items():
        if value is None:
            out[name] = None
        elif name.startswith("x"):
            out[name] = torch.as_tensor(value, device=net.device).to(net.dtype)
        else:
            out[name] = net._targets(torch.as_tensor(value, device=net.device), len(value))
    return out


class _Steps:
    """What :func:`npref.training.fit` calls, run in PyTorch on ``tensors`` (the data on the
    network's device, targets checked): one training ``step``, an ``evaluate`` pass, an
    ``observe`` of the watched weights and update ratios, and a ``check_params`` for NaN/Inf.

    Per step only PyTorch's own work and what a hand-written loop does too
    (:mod:`experiments.bench.floor` holds one, and times both): the network called once, the
    loss from its scores, ``backward()``, ``step()``, one ``.item()``."""

    def __init__(self, net, optimizer, schedule: Schedule, tensors: dict, label: str):
        self.net, self.optimizer, self.schedule = net, optimizer, schedule
        self.tensors, self.label = tensors, label
        self.device = net.device
        # Only BatchNorm and dropout compute differently in evaluation: without them the
        # network is not switched back and forth (a walk over every module, twice a step).
        self.modal = bool(len(net.batchnorms) or len(net.dropouts))
        self.previous = {}                 # each weight before the last step (update ratios)

    def step(self, indices, masks):
        net, device = self.net, self.device
        index = torch.as_tensor(indices, device=device)
        masks = [torch.as_tensor(m, device=device) for m in masks] or None
        self.optimizer.zero_grad(set_to_none=True)
        xb, tb = self.tensors["x_train"][index], self.tensors["t_train"][index]
        loss = net._loss_of(net(xb, masks), tb)
        loss.backward()
        if self.schedule.update_ratios:
            self.previous.update({k: p.detach().clone() for k, p in net.params.items()
                                  if k.startswith("W")})
        self.optimizer.step()
        if self.schedule.loss_after_update:   # the book's record: this batch, after the update
            with torch.no_grad():
                return self._evaluated(lambda: net._loss_of(net(xb), tb).item())
        return loss.item()

    def _evaluated(self, compute):
        """``compute()`` with the network in evaluation mode, then back in training mode."""
        if not self.modal:
            return compute()
        self.net.eval()
        try:
            return compute()
        finally:
            self.net.train()

    @torch.no_grad()
    def observe(self):
        params = self.net.params
        seen = {watch_name(key, index): params[key][index].item()
                for key, index in self.schedule.watch}
        for key, before in self.previous.items():
            seen[f"update/{key}"] = (torch.linalg.norm(params[key] - before)
                                     / torch.linalg.norm(before)).item()
        return seen

    @torch.no_grad()
    def evaluate(self):
        return self._evaluated(self._metrics)

    def _metrics(self):
        net, tensors = self.net, self.tensors
        metrics = {"train_acc": net._accuracy_of(net(tensors["x_train"]), tensors["t_train"])}
        if tensors["x_test"] is not None:
            metrics["test_acc"] = net._accuracy_of(net(tensors["x_test"]), tensors["t_test"])
        if tensors["x_val"] is not None:
            scores = net(tensors["x_val"])
            metrics["val_loss"] = net._loss_of(scores, tensors["t_val"]).item()
            metrics["val_acc"] = net._accuracy_of(scores, tensors["t_val"])
        return metrics

    @torch.no_grad()
    def check_params(self, done):
        flat = torch.cat([p.reshape(-1) for p in self.net.parameters()])
        if not bool(torch.isfinite(flat).all()):
            check_finite(f"{self.label}: parameters", done, flat.cpu().numpy())


class Trainer(_np_training.Trainer):
    """The book's ``Trainer`` for a torchref :class:`~torchref.nets.MultiLayerNet`: the signature,
    loop, batches and lists of :class:`npref.training.Trainer` (written once, there).

    The data (NumPy arrays or tensors) moves to the network's device once; each step indexes it
    with the batch drawn from the NumPy ``rng``, hands the dropout masks drawn after it to the
    network, runs autograd's gradient and ``optimizer.step()`` (``torchref.optim.make(name,
    convention="book")``), then records the batch's loss after the update in evaluation mode. The
    lists hold Python floats, as npref's.
    """

    def _data(self, a):
        net = self.network
        a = torch.as_tensor(a, device=net.device)
        return a.to(net.dtype) if a.is_floating_point() else a

    def _make_optimizer(self, name, keywords):
        return _optim.make(name, self.network.parameters(), **keywords)

    def _batch(self, indices):
        index = torch.as_tensor(indices, device=self.network.device)
        return self.x_train[index], self.t_train[index]

    def _update(self, x, t, masks):
        masks = [torch.as_tensor(m, device=self.network.device) for m in masks] or None
        self.network.gradient(x, t, masks=masks)      # sets .grad of every parameter
        self.optimizer.step()

    @torch.no_grad()
    def _loss(self, x, t):
        return self.network.loss(x, t, train=False).item()
