r"""The layers of :mod:`npref.layers` as ``nn.Module`` objects, PyTorch's own wherever it has them.

=====================  ===================================================================
``Affine(W, b)``       ``nn.Linear`` holding ``W`` (given in npref's (fan_in, fan_out) layout,
                       stored transposed as PyTorch does) and ``b``
``ReLU``, ``Sigmoid``,  ``nn.ReLU``, ``nn.Sigmoid``, ``nn.Tanh``
``Tanh``
``SoftmaxWithLoss``    ``nn.CrossEntropyLoss`` ("torch"); :class:`BookSoftmaxWithLoss` ("book"),
                       integer labels or probability rows
``SigmoidWithLoss``    ``nn.BCEWithLogitsLoss``, taking (N, 1) or (N,) scores and N targets
``BatchNorm``          ``nn.BatchNorm1d`` ("torch"); :class:`BookBatchNorm1d` ("book")
``Dropout``            :class:`Dropout`: ``nn.functional.dropout`` unless a keep-mask is given
=====================  ===================================================================

Backward is autograd's. Training and evaluation follow ``module.train()`` / ``module.eval()``.
"""

from __future__ import annotations

import torch
from torch import nn

from npref import _validate
from npref.layers import BATCHNORM_DEFAULTS, BOOK_LOG_DELTA
from torchref.device import resolve

__all__ = ["Affine", "ReLU", "Sigmoid", "Tanh", "SoftmaxWithLoss", "BookSoftmaxWithLoss",
           "SigmoidWithLoss", "BatchNorm", "BookBatchNorm1d", "Dropout"]

ReLU = nn.ReLU
Sigmoid = nn.Sigmoid
Tanh = nn.Tanh


def SoftmaxWithLoss(convention: str = "torch") -> nn.Module:
    """``nn.CrossEntropyLoss`` for the torch convention, :class:`BookSoftmaxWithLoss` for the
    book's."""
    convention = _validate.convention(convention)
    return nn.CrossEntropyLoss() if convention == "torch" else BookSoftmaxWithLoss()


class _BookCrossEntropy(torch.autograd.Function):
    """The book's loss value with the book's backward, ``(y − t)/N`` (not the 1e-7 formula's own
    derivative, which autograd would take)."""

    @staticmethod
    def forward(ctx, x, t):
        n = x.shape[0]
        y = torch.softmax(x, dim=1)
        log_y = torch.log(y + BOOK_LOG_DELTA)
        if t.dim() == 1:
            loss = -log_y[torch.arange(n, device=x.device), t].sum() / n
        else:
            loss = -(t * log_y).sum() / n
        ctx.save_for_backward(y, t)
        return loss

    @staticmethod
    def backward(ctx, grad):
        y, t = ctx.saved_tensors
        n = y.shape[0]
        dx = y.clone()
        if t.dim() == 1:
            dx[torch.arange(n, device=y.device), t] -= 1
        else:
            dx -= t
        return dx * (grad / n), None


class BookSoftmaxWithLoss(nn.Module):
    r"""The book's softmax cross-entropy: ``L = −(1/N)·Σ t·log(y + 1e-7)`` with
    ``y = softmax(x)``; the gradient is ``(y − t)/N`` as in the book (and as for the exact loss).

    ``forward(scores, target)`` with integer labels of shape (N,) or rows of shape (N, C), as
    ``nn.CrossEntropyLoss``.
    """

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if input.dim() != 2 or input.shape[0] < 1:
            raise ValueError(f"BookSoftmaxWithLoss needs scores of shape (N, C), got "
                             f"{tuple(input.shape)}")
        target = target if target.dim() == 1 else target.to(input.dtype)
        return _BookCrossEntropy.apply(input, target)


def Affine(W: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    """An ``nn.Linear`` computing ``x·W + b`` for ``W`` of shape (fan_in, fan_out)."""
    if W.dim() != 2 or b.shape != (W.shape[1],) or b.dtype != W.dtype:
        raise ValueError(f"Affine needs W of shape (fan_in, fan_out) and b of shape (fan_out,) "
                         f"with W's dtype; got W {tuple(W.shape)} {W.dtype}, b "
                         f"{tuple(b.shape)} {b.dtype}")
    # skip_init: nn.Linear's own initialization would draw from PyTorch's global generator.
    linear = nn.utils.skip_init(nn.Linear, W.shape[0], W.shape[1], dtype=W.dtype,
                                device=W.device)
    with torch.no_grad():
        linear.weight.copy_(W.T)
        linear.bias.copy_(b)
    return linear


class SigmoidWithLoss(nn.BCEWithLogitsLoss):
    """``nn.BCEWithLogitsLoss`` that also takes (N, 1) scores with N targets, as npref does."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not isinstance(target, torch.Tensor) or target.is_complex():
            got = target.dtype if isinstance(target, torch.Tensor) else type(target).__name__
            raise ValueError(f"target must be a tensor of real numbers in [0, 1], got {got}")
        if input.dim() == 2 and input.shape[1] == 1:
            input = input.reshape(-1)
        if target.dim() != 1:
            target = target.reshape(-1)
        if target.dtype != input.dtype:
            target = target.to(input.dtype)
        return super().forward(input, target)


def BatchNorm(num_features: int, momentum: float | None = None, eps: float | None = None,
              convention: str = "torch", *, dtype=torch.float64, device="cpu") -> nn.Module:
    """``nn.BatchNorm1d`` for the torch convention, :class:`BookBatchNorm1d` for the book's."""
    num_features = _validate.positive_int("num_features", num_features)
    convention = _validate.convention(convention)
    defaults = BATCHNORM_DEFAULTS[convention]
    momentum = _validate.unit_interval("momentum",
                                       defaults["momentum"] if momentum is None else momentum)
    eps = _validate.positive("eps", defaults["eps"] if eps is None else eps)
    dtype = _float_dtype(dtype)
    cls = nn.BatchNorm1d if convention == "torch" else BookBatchNorm1d
    return cls(num_features, eps=eps, momentum=momentum, dtype=dtype, device=resolve(device))


def _float_dtype(dtype) -> torch.dtype:
    """float32 or float64, as npref's layers take (an integer BatchNorm has no gradient):
    :func:`torchref.nets.as_torch_dtype`, the one check (imported here, as nets imports this
    module)."""
    from torchref.nets import as_torch_dtype

    return as_torch_dtype(dtype)


class BookBatchNorm1d(nn.Module):
    r"""The book's BatchNorm: momentum weighs the old running value, biased running variance.

    Training: ``x̂ = (x − μ)/√(σ² + eps)``, ``out = γ·x̂ + β``, then
    ``mean_r ← m·mean_r + (1 − m)·μ`` and ``var_r ← m·var_r + (1 − m)·σ²`` (σ² biased);
    ``running_var`` starts at 0. Evaluation uses the running statistics. Defaults m = 0.9,
    eps = 1e-6.
    """

    def __init__(self, num_features: int, eps: float = 1e-6, momentum: float = 0.9, *,
                 dtype=torch.float64, device="cpu"):
        super().__init__()
        self.num_features = _validate.positive_int("num_features", num_features)
        self.eps = _validate.positive("eps", eps)
        self.momentum = _validate.unit_interval("momentum", momentum)
        dtype = _float_dtype(dtype)
        device = resolve(device)
        self.weight = nn.Parameter(torch.ones(num_features, dtype=dtype, device=device))
        self.bias = nn.Parameter(torch.zeros(num_features, dtype=dtype, device=device))
        self.register_buffer("running_mean", torch.zeros(num_features, dtype=dtype,
                                                         device=device))
        self.register_buffer("running_var", torch.zeros(num_features, dtype=dtype,
                                                        device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BookBatchNorm1d({self.num_features}) needs input of shape "
                             f"(N, {self.num_features}), got {tuple(x.shape)}")
        if self.training:
            if x.shape[0] < 2:
                raise ValueError("BatchNorm in training needs a batch of at least 2 samples, "
                                 f"got {x.shape[0]}")
            mu = x.mean(dim=0)
            xc = x - mu
            var = (xc * xc).mean(dim=0)
            xn = xc / torch.sqrt(var + self.eps)
            with torch.no_grad():
                m = self.momentum
                self.running_mean.copy_(m * self.running_mean + (1 - m) * mu)
                self.running_var.copy_(m * self.running_var + (1 - m) * var)
        else:
            xn = (x - self.running_mean) / torch.sqrt(self.running_var + self.eps)
        return self.weight * xn + self.bias

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class Dropout(nn.Module):
    r"""Dropout with drop probability ``p`` that can be handed its keep-mask.

    ``forward(x, mask=None)``: in training, with a boolean ``mask`` of x's shape,
    ``x·mask·(1/(1 − p))`` ("torch", as ``F.dropout`` computes it) or ``x·mask`` ("book"). In
    evaluation, ``x`` ("torch") or ``x·(1 − p)`` ("book").

    Without a mask, one is drawn as :class:`npref.layers.Dropout` draws it,
    ``rng.random(x.shape) >= p`` from a ``numpy.random.Generator`` (``None``: a fresh one) — so
    the same seed gives both backends the same mask. ``F.dropout`` itself is not used for the
    draw: it takes PyTorch's global generator, which no seed of ours controls.
    """

    def __init__(self, p: float = 0.5, convention: str = "torch", rng=None):
        super().__init__()
        self.p = _validate.fraction("p", p)
        self.convention = _validate.convention(convention)
        self.rng = _validate.generator(rng, optional=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        keep = 1.0 - self.p
        if not self.training:
            return x if self.convention == "torch" else x * keep
        if mask is None:
            mask = torch.as_tensor(self.rng.random(tuple(x.shape)) >= self.p, device=x.device)
        if mask.shape != x.shape or mask.dtype != torch.bool:
            raise ValueError(f"Dropout mask must be a boolean tensor of x's shape "
                             f"{tuple(x.shape)}, got {mask.dtype} {tuple(mask.shape)}")
        if self.convention == "torch":
            scale = torch.tensor(1.0, dtype=x.dtype) / keep   # 1/(1−p) rounded once, as F.dropout
            return x * mask * scale.to(x.device)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, convention={self.convention!r}"
