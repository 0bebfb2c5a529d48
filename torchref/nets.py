r"""``MultiLayerNet`` as an ``nn.Module``, with the constructor and methods of npref's.

The blocks are PyTorch's own modules (``nn.Linear``, ``nn.BatchNorm1d``, ``nn.ReLU``…, see
:mod:`torchref.layers`), and the gradient is autograd's. Parameters are exchangeable with npref in
both directions: :attr:`MultiLayerNet.params` gives ``{"W1": …, "b1": …, "gamma1": …}`` in npref's
layout (``W`` as (fan_in, fan_out): the transpose of ``nn.Linear.weight``, as a view), and
:meth:`MultiLayerNet.load_params` copies npref's arrays (or tensors) in. BatchNorm's running
statistics travel the same way (:meth:`running_stats`, :meth:`load_running_stats`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from npref import _validate
from torchref import init as init_mod
from torchref import layers
from torchref.device import resolve
from torchref.regularizers import from_npref

__all__ = ["MultiLayerNet", "ACTIVATIONS", "as_torch_dtype"]

ACTIVATIONS = {"relu": layers.ReLU, "sigmoid": layers.Sigmoid, "tanh": layers.Tanh}


def as_torch_dtype(dtype) -> torch.dtype:
    """``torch.float32``/``float64`` from a torch dtype, a NumPy dtype or a name."""
    if isinstance(dtype, torch.dtype):
        result = dtype
    else:
        result = {"float32": torch.float32, "float64": torch.float64}.get(np.dtype(dtype).name)
    if result not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return result


class MultiLayerNet(nn.Module):
    """A fully connected network; the same constructor as :class:`npref.nets.MultiLayerNet`.

    ``rng`` is a ``numpy.random.Generator`` (``None``: a fresh one), as npref's: the initial
    weights come from ``torch.nn.init`` on a ``torch.Generator`` it seeds, and the dropout masks
    from it directly; ``device`` is ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a
    ``torch.device``. After construction :attr:`device` is the parameters' device: it follows
    ``.to()`` / ``.cuda()`` / ``.cpu()``, and inputs, masks and targets go there.
    """

    def __init__(self, input_size: int, hidden_sizes, output_size: int, activation: str = "relu",
                 weight_init="he", use_batchnorm: bool = False, dropout: float = 0.0,
                 regularizer=None, convention: str = "torch", rng=None, dtype=torch.float64,
                 device="cpu"):
        super().__init__()
        self.input_size = _validate.positive_int("input_size", input_size)
        self.hidden_sizes = _validate.layer_sizes("hidden_sizes", hidden_sizes)
        self.output_size = _validate.positive_int("output_size", output_size)
        self.activation = _validate.choice("activation", activation, tuple(ACTIVATIONS))
        init_mod.get(weight_init)                                  # validates the spec
        self.use_batchnorm = _validate.flag("use_batchnorm", use_batchnorm)
        self.dropout = _validate.fraction("dropout", dropout)
        self.regularizer = from_npref(regularizer)
        self.convention = _validate.convention(convention)
        self.dtype = as_torch_dtype(dtype)
        device = resolve(device)
        self.rng = _validate.generator(rng, optional=True)

        sizes = [self.input_size, *self.hidden_sizes, self.output_size]
        factory = {"dtype": self.dtype, "device": device}
        # Created without nn.Linear's own draw (PyTorch's global generator), then initialized.
        self.affines = nn.ModuleList(
            nn.utils.skip_init(nn.Linear, sizes[i - 1], sizes[i], **factory)
            for i in range(1, len(sizes)))
        for linear in self.affines:
            init_mod.init_linear_(linear, weight_init, self.rng)
        self.batchnorms = nn.ModuleList(
            layers.BatchNorm(h, convention=self.convention, **factory) for h in self.hidden_sizes
        ) if self.use_batchnorm else nn.ModuleList()
        self.activations = nn.ModuleList(ACTIVATIONS[self.activation]() for _ in self.hidden_sizes)
        self.dropouts = nn.ModuleList(
            layers.Dropout(self.dropout, self.convention, self.rng) for _ in self.hidden_sizes
        ) if self.dropout > 0 else nn.ModuleList()
        self.last_layer = (layers.SigmoidWithLoss() if self.output_size == 1
                           else layers.SoftmaxWithLoss(self.convention))
        self._device = self.affines[0].weight.device

    @property
    def device(self) -> torch.device:
        """Where the parameters are now: ``.to()``, ``.cuda()``, ``.cpu()`` move them, and this
        follows (kept by :meth:`_apply`, which every one of them goes through: reading it from
        the first weight took a ModuleList lookup each time, several times a step)."""
        return self._device

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self._device = self.affines[0].weight.device
        return result

    # -- forward --------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, masks=None) -> torch.Tensor:
        """Scores for a batch; training or evaluation as set by ``train()`` / ``eval()``."""
        if not (isinstance(x, torch.Tensor) and x.dim() == 2 and x.dtype == self.dtype
                and x.device == self._device):
            x = self._tensor(x).reshape(x.shape[0], -1)
        # The ModuleLists read once, as plain lists, from the module table itself: nn.Module's
        # attribute lookup, a ModuleList's iteration and its indexing cost a microsecond or
        # more each, several times a step (6 µs of a 45 µs forward, measured).
        table = self._modules
        affines, activations, batchnorms, dropouts = (
            [*table[name]._modules.values()]
            for name in ("affines", "activations", "batchnorms", "dropouts"))
        if masks is not None and len(masks) != len(dropouts):
            raise ValueError(f"masks: {len(dropouts)} dropout layers, got {len(masks)} masks")
        for i, activation in enumerate(activations):
            x = affines[i](x)
            if batchnorms:
                x = batchnorms[i](x)
            x = activation(x)
            if dropouts:
                x = dropouts[i](x, None if masks is None else self._mask(masks[i]))
        return affines[-1](x)

    def predict(self, x, train: bool = False, masks=None) -> torch.Tensor:
        """Scores in evaluation mode (or training mode with ``train=True``)."""
        was = self.training
        if was != train:              # train() walks every submodule: only when it changes
            self.train(train)
        try:
            return self(x, masks if train else None)
        finally:
            if was != train:
                self.train(was)

    def loss(self, x, t, train: bool | None = None, masks=None) -> torch.Tensor:
        """Mean cross-entropy plus the regularizer's penalty on the weights (a 0-dim tensor).

        ``train=None``: training mode under ``"torch"``, evaluation under ``"book"`` (the book's
        ``train_flg=False``), as npref's.
        """
        if train is None:
            train = self.convention == "torch"
        scores = self.predict(x, train, masks)
        return self._loss_of(scores, self._targets(t, scores.shape[0]))

    def _loss_of(self, scores: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """:meth:`loss` from the scores, for targets :meth:`_targets` has checked already (a
        training loop checks its whole training set once, not each batch again)."""
        data_loss = self.last_layer(scores, t)
        if self.regularizer is None:
            return data_loss
        return data_loss + self.regularizer.penalty(self.weights())

    def gradient(self, x, t, masks=None) -> dict[str, torch.Tensor]:
        """Autograd's gradient of :meth:`loss` in training mode, keyed and laid out as npref's."""
        self.zero_grad(set_to_none=True)
        self.loss(x, t, train=True, masks=masks).backward()
        return {key: p.grad.T if key.startswith("W") else p.grad
                for key, p in self._named().items()}

    @torch.no_grad()
    def accuracy(self, x, t) -> float:
        x = torch.as_tensor(x, device=self.device)
        if (x.is_floating_point() and x.device.type != "meta"
                and not bool(torch.isfinite(x).all())):
            raise ValueError("x holds NaN or Inf")
        scores = self.predict(x, train=False)
        return self._accuracy_of(scores, self._targets(t, scores.shape[0]))

    def _accuracy_of(self, scores: torch.Tensor, t: torch.Tensor) -> float:
        """:meth:`accuracy` from the scores, for targets :meth:`_targets` has checked."""
        if self.output_size == 1:
            correct = (scores.reshape(-1) > 0) == (t.reshape(-1) > 0.5)
        else:
            correct = scores.argmax(dim=1) == (t if t.dim() == 1 else t.argmax(dim=1))
        return correct.sum().item() / correct.numel()

    # -- exchange with npref --------------------------------------------------------------------

    def _named(self) -> dict[str, nn.Parameter]:
        named = {}
        for i, linear in enumerate(self.affines, 1):
            named[f"W{i}"], named[f"b{i}"] = linear.weight, linear.bias
        for i, bn in enumerate(self.batchnorms, 1):
            named[f"gamma{i}"], named[f"beta{i}"] = bn.weight, bn.bias
        return {k: named[k] for k in sorted(named, key=_npref_order)}

    @property
    def params(self) -> dict[str, torch.Tensor]:
        """npref's keys and layout: ``W`` is a transposed view of ``nn.Linear.weight``."""
        return {key: p.T if key.startswith("W") else p for key, p in self._named().items()}

    def weights(self) -> list[torch.Tensor]:
        return [linear.weight for linear in self.affines]

    @torch.no_grad()
    def load_params(self, params: dict) -> None:
        """Copy npref-layout arrays or tensors (keys ``W1, b1, …``) into the parameters."""
        named = self._named()
        if set(params) != set(named):
            raise ValueError(f"params must have the keys {sorted(named)}, got {sorted(params)}")
        for key, value in params.items():
            value = self._tensor(value)
            target = named[key].T if key.startswith("W") else named[key]
            if value.shape != target.shape:
                raise ValueError(f"params[{key!r}] must have shape {tuple(target.shape)}, got "
                                 f"{tuple(value.shape)}")
            target.copy_(value)

    def numpy_params(self) -> dict[str, np.ndarray]:
        """Copies of :attr:`params` as NumPy arrays, ready for npref."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.params.items()}

    def running_stats(self) -> dict[str, torch.Tensor]:
        stats = {}
        for i, bn in enumerate(self.batchnorms, 1):
            stats[f"running_mean{i}"] = bn.running_mean.clone()
            stats[f"running_var{i}"] = bn.running_var.clone()
        return stats

    @torch.no_grad()
    def load_running_stats(self, stats: dict) -> None:
        expected = {f"running_{k}{i}" for i in range(1, len(self.batchnorms) + 1)
                    for k in ("mean", "var")}
        if set(stats) != expected:
            raise ValueError(f"running stats must have the keys {sorted(expected)}, "
                             f"got {sorted(stats)}")
        for i, bn in enumerate(self.batchnorms, 1):
            bn.running_mean.copy_(self._tensor(stats[f"running_mean{i}"]))
            bn.running_var.copy_(self._tensor(stats[f"running_var{i}"]))

    # -- helpers --------------------------------------------------------------------------------

    def _tensor(self, x) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and x.dtype == self.dtype:
            device = self.device
            if x.device == device:
                return x                   # what as_tensor returns, without its conversions
            return x.to(device)
        return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x,
                               dtype=self.dtype, device=self.device)

    def _mask(self, mask) -> torch.Tensor:
        return torch.as_tensor(mask, dtype=torch.bool, device=self.device)

    def _targets(self, t, n: int) -> torch.Tensor:
        """Targets for ``n`` scores, checked as npref checks them: integer labels in [0, C),
        rows of non-negative finite weights, or binary targets in [0, 1]."""
        t = torch.as_tensor(t, device=self.device)
        values = t.device.type != "meta"           # a meta tensor has a shape but no values
        if self.output_size == 1:
            t = t.to(self.dtype)
            if t.numel() != n or (values and not bool(((t >= 0) & (t <= 1)).all())):
                raise ValueError(f"binary targets must be {n} values in [0, 1] (no NaN), got "
                                 f"shape {tuple(t.shape)}")
            return t
        if t.dim() == 2:
            if tuple(t.shape) != (n, self.output_size):
                raise ValueError(f"targets must be labels of shape ({n},) or rows of shape "
                                 f"({n}, {self.output_size}), got {tuple(t.shape)}")
            t = t.to(self.dtype)
            if values and bool(torch.isnan(t).any()):
                raise ValueError("targets hold NaN")
            if values and not bool((torch.isfinite(t) & (t >= 0)).all()):
                raise ValueError("target rows must be non-negative and finite (one-hot rows or "
                                 "probabilities)")
            return t
        if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
            raise ValueError(f"integer class labels expected, got dtype {t.dtype}")
        if t.dim() != 1 or t.shape[0] != n:
            raise ValueError(f"{t.shape[0] if t.dim() else t.numel()} labels for {n} samples")
        if values and n:
            low, high = (v.item() for v in torch.aminmax(t))        # one pass, not two
            if low < 0 or high >= self.output_size:
                raise ValueError(f"labels must lie in [0, {self.output_size}), got "
                                 f"{low}…{high}")
        return t.long()


def _npref_order(key: str):
    kind = key.rstrip("0123456789")
    return ({"W": 0, "b": 0, "gamma": 1, "beta": 1}[kind], int(key[len(kind):]),
            {"W": 0, "b": 1, "gamma": 0, "beta": 1}[kind])
