"""The physical floor of the PyTorch side: each experiment run by a plain, hand-written PyTorch
loop with the same arithmetic as torchref's, beside torchref in the same process.

:class:`PlainTorch` is a backend (:mod:`experiments.backends.protocol`) whose ``train`` is
what a careful user would write by hand: the weights as leaf tensors (the
network's own, drawn and laid out once as torchref lays them out), ``F.linear``, the activation,
``F.batch_norm`` / the book's BatchNorm formula (written out here, as a user without the module
would), ``x * mask * scale`` for dropout, ``F.binary_cross_entropy_with_logits`` /
``F.cross_entropy`` / the book's loss, the penalty, ``loss.backward()`` and the optimizer's
``step()`` — no module calls, no checks of inputs already checked, no
per-step conversions. The loop around the steps is :func:`npref.training.fit`, the one both
backends share (batches and dropout masks from the same NumPy generator), so every result equals
torchref's bit for bit (``tests/test_floor.py``) and the time between the two is torchref's own.

``python -m experiments bench --floor`` measures each experiment's PyTorch side both ways,
alternating, and prints torchref / plain and torch / NumPy per experiment (:func:`measure`).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

import torchref.training
from experiments.backends.torch_backend import TorchBackend
from npref import training as np_training
from torchref.device import full_float32
from torchref.layers import _BookCrossEntropy

ACT = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


class PlainTorch(TorchBackend):
    """torchref's backend with its ``train`` written as a plain PyTorch loop. (``descend``, the
    optimizer paths' loop, is the backend's own: a plain loop already — ``torch.optim``'s step
    on two tensors, each point kept as a tensor and the path read out once.)"""

    name = "torch"

    @full_float32()
    def train(self, arch, init, optimizer, hyper, data, schedule, *, dtype, seed, label=""):
        net, opt = self._built(arch, init, optimizer, hyper, dtype)
        plain = _Plain(net, opt, schedule, data.cast(dtype), f"{label} plain")
        schedule_, stopper = np_training._resolve_schedule(schedule, {}, "train")
        history = np_training.fit(
            plain.step, plain.evaluate, schedule_, n_train=len(data.t_train),
            rng=np.random.default_rng(seed), dropout_sizes=net.hidden_sizes if net.dropout else (),
            dropout=net.dropout, params=net.params if schedule_.early_stopping else None,
            check_params=plain.check_params, stopper=stopper,
            stopper_type=torchref.training.EarlyStopping,
            observe=plain.observe if schedule_.watch or schedule_.update_ratios else None,
            progress=False, label=f"{label} plain",
            scheduler=np_training.lr_scheduler(schedule_, opt, torch.optim.lr_scheduler))
        return history, net.numpy_params()


class _Plain(torchref.training._Steps):
    """One network's step and evaluation, by hand. What is not part of a step — the data's
    move to the device and its targets' check (once, before training), the watched weights, the
    NaN/Inf check of the parameters — is torchref's own (:class:`torchref.training._Steps`)."""

    def __init__(self, net, opt, schedule, data, label):
        super().__init__(net, opt, schedule, torchref.training._on_device(data, net), label)
        self.W = [a.weight for a in net.affines]
        self.b = [a.bias for a in net.affines]
        self.bn = list(net.batchnorms)
        self.act = ACT[net.activation]
        self.p, self.book = net.dropout, net.convention == "book"
        self.scale = torch.tensor(1.0, dtype=net.dtype) / (1.0 - self.p) if self.p < 1 else None
        self.regularizer = net.regularizer
        self.binary = net.output_size == 1

    def forward(self, x, train, masks=None):
        last = len(self.W) - 1
        for i in range(last):
            x = F.linear(x, self.W[i], self.b[i])
            if self.bn:
                x = self._batchnorm(self.bn[i], x, train)
            x = self.act(x)
            if self.p:
                if train:
                    x = x * masks[i] if self.book else x * masks[i] * self.scale
                elif self.book:
                    x = x * (1.0 - self.p)
        return F.linear(x, self.W[last], self.b[last])

    def _batchnorm(self, bn, x, train):
        if not self.book:
            return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, train,
                                bn.momentum, bn.eps)
        if train:
            mu = x.mean(dim=0)
            xc = x - mu
            var = (xc * xc).mean(dim=0)
            xn = xc / torch.sqrt(var + bn.eps)
            with torch.no_grad():
                m = bn.momentum
                bn.running_mean.copy_(m * bn.running_mean + (1 - m) * mu)
                bn.running_var.copy_(m * bn.running_var + (1 - m) * var)
        else:
            xn = (x - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps)
        return bn.weight * xn + bn.bias

    def loss(self, x, t, train, masks=None):
        scores = self.forward(x, train, masks)
        if self.binary:
            data_loss = F.binary_cross_entropy_with_logits(scores.reshape(-1), t.reshape(-1))
        elif self.book:
            data_loss = _BookCrossEntropy.apply(scores, t)
        else:
            data_loss = F.cross_entropy(scores, t)
        if self.regularizer is None:
            return data_loss
        return data_loss + self.regularizer.penalty(self.W)

    def step(self, indices, masks):
        index = torch.as_tensor(indices, device=self.device)
        masks = [torch.as_tensor(m, device=self.device) for m in masks]
        self.optimizer.zero_grad(set_to_none=True)
        xb, tb = self.tensors["x_train"][index], self.tensors["t_train"][index]
        loss = self.loss(xb, tb, True, masks)
        loss.backward()
        if self.schedule.update_ratios:
            self.previous = {f"W{i}": W.detach().T.clone() for i, W in enumerate(self.W, 1)}
        self.optimizer.step()
        if self.schedule.loss_after_update:
            with torch.no_grad():
                return self.loss(xb, tb, False).item()
        return loss.item()

    @torch.no_grad()
    def accuracy(self, x, t):
        scores = self.forward(x, False)
        if self.binary:
            correct = (scores.reshape(-1) > 0) == (t.reshape(-1) > 0.5)
        else:
            correct = scores.argmax(dim=1) == (t if t.dim() == 1 else t.argmax(dim=1))
        return correct.sum().item() / correct.numel()

    @torch.no_grad()
    def evaluate(self):
        d = self.tensors
        metrics = {"train_acc": self.accuracy(d["x_train"], d["t_train"])}
        if d["x_test"] is not None:
            metrics["test_acc"] = self.accuracy(d["x_test"], d["t_test"])
        if d["x_val"] is not None:
            metrics["val_loss"] = self.loss(d["x_val"], d["t_val"], False).item()
            metrics["val_acc"] = self.accuracy(d["x_val"], d["t_val"])
        return metrics


def measure(names, *, profile="quick", rounds=2, log=print) -> dict:
    """Each experiment's compute on NumPy once and on torchref and :class:`PlainTorch` in turn,
    ``rounds`` times each (alternating, the order reversed every other round), on one thread as
    the runner runs them, after one untimed run of each side (caches warm, data loaded: time
    that belongs to no experiment). Returns the rows —
    median seconds and the ratios — and the load average before and after."""
    import os

    from experiments import parallel, registry
    from experiments.backends import get as backend
    from experiments.runner import _computer

    load = os.getloadavg()[0]
    rows = []
    with parallel.task_threads(torch_too=True):
        sides = {"torchref": backend("torch", "cpu"), "plain": PlainTorch("cpu")}
        warm = registry.get("optimizer-paths")
        for side in sides.values():
            _computer(warm, warm.config_for("quick"), 0, None)(side)
        for name in names:
            experiment = registry.get(name)
            compute = _computer(experiment, experiment.config_for(profile), 0, None)
            times = {"numpy": [_timed(compute, backend("numpy"))], "torchref": [], "plain": []}
            for r in range(rounds):
                for side in (("torchref", "plain") if r % 2 == 0 else ("plain", "torchref")):
                    times[side].append(_timed(compute, sides[side]))
            row = {"experiment": name, **{k: statistics.median(v) for k, v in times.items()},
                   "rounds": times}
            row["torchref/plain"] = row["torchref"] / row["plain"]
            row["torch/numpy"] = row["torchref"] / row["numpy"]
            log(f"{name:30} numpy {row['numpy']:6.2f} s  torchref {row['torchref']:6.2f} s  "
                f"plain {row['plain']:6.2f} s  torchref/plain {row['torchref/plain']:4.2f}  "
                f"torch/numpy {row['torch/numpy']:4.2f}")
            rows.append(row)
    return {"profile": profile, "rounds": rounds, "rows": rows,
            "load_average": {"before": load, "after": os.getloadavg()[0]}}


def _timed(compute, side) -> float:
    start = time.perf_counter()
    compute(side)
    return time.perf_counter() - start
