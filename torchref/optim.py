r"""The optimizers of :mod:`npref.optim`, as ``torch.optim.Optimizer`` objects.

Same names, keywords, defaults and validation as npref; the first argument is what
``torch.optim`` takes (an iterable of tensors, of ``(name, tensor)`` pairs, or parameter groups),
or a dict ``{name: tensor}`` like npref's ``params``. Each function returns PyTorch's own class
wherever the rule is PyTorch's:

=========================  =====================================================================
``SGD``                    ``torch.optim.SGD``
``Momentum``               ``torch.optim.SGD(momentum=μ)`` (the book's velocity form is the same
                           update: ``v = −lr·buf``)
``Nesterov``               ``torch.optim.SGD(momentum=μ, nesterov=True)`` (likewise)
``AdaGrad``                ``torch.optim.Adagrad`` (the book only changes eps to 1e-7)
``RMSprop``                ``torch.optim.RMSprop`` (likewise)
``Adam``                   ``torch.optim.Adam``; with ``convention="book"`` :class:`BookAdam`,
                           since ``torch.optim.Adam`` cannot put eps on the raw √v
``AdamW``                  ``torch.optim.AdamW``
=========================  =====================================================================

Update rules, as math, are in the docstrings of :mod:`npref.optim`. ``foreach=True`` /
``fused=True`` select PyTorch's multi-tensor and single-kernel implementations of the same rule
(faster; checked against npref by the parity suite like the default path).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch

from npref import _validate
from npref.optim import DEFAULT_EPS, NAMES

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW", "BookAdam",
           "make", "NAMES"]


def _params(params):
    # npref hands parameters around as {name: array}; accept the same dict of tensors.
    if isinstance(params, Mapping):
        return list(params.items())
    return params


def _eps(name: str, eps, convention: str) -> float:
    return DEFAULT_EPS[name][convention] if eps is None else _validate.positive("eps", eps)


def _fast(foreach, fused) -> dict:
    """PyTorch's multi-tensor (``foreach``) and single-kernel (``fused``) implementations: the
    same rule, faster; ``None`` leaves the choice to PyTorch. The parity suite checks both."""
    out = {}
    for name, value in (("foreach", foreach), ("fused", fused)):
        if value is not None:
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True, False or None, got {value!r}")
            out[name] = value
    return out


def SGD(params, *, lr: float = 0.01, weight_decay: float = 0.0, foreach=None,
        fused=None) -> torch.optim.SGD:
    """``p ← p − lr·g`` as ``torch.optim.SGD``."""
    lr = _validate.positive("lr", lr)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    return torch.optim.SGD(_params(params), lr=lr, weight_decay=weight_decay,
                           **_fast(foreach, fused))


def _heavy_ball(params, lr, momentum, weight_decay, convention, nesterov, fast):
    lr = _validate.positive("lr", lr)
    momentum = _validate.fraction("momentum", momentum)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    _validate.convention(convention)  # both conventions are the same update; torch stores buf
    # torch refuses nesterov=True with momentum 0, where the rule is plain SGD: g + 0·buf = g.
    return torch.optim.SGD(_params(params), lr=lr, momentum=momentum, weight_decay=weight_decay,
                           nesterov=nesterov and momentum > 0, **fast)


def Momentum(params, *, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0,
             convention: str = "torch", foreach=None, fused=None) -> torch.optim.SGD:
    """Heavy-ball momentum as ``torch.optim.SGD(momentum=μ)``, in either convention."""
    return _heavy_ball(params, lr, momentum, weight_decay, convention, False,
                       _fast(foreach, fused))


def Nesterov(params, *, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0,
             convention: str = "torch", foreach=None, fused=None) -> torch.optim.SGD:
    """Nesterov momentum as ``torch.optim.SGD(momentum=μ, nesterov=True)``, in either convention."""
    return _heavy_ball(params, lr, momentum, weight_decay, convention, True,
                       _fast(foreach, fused))


def AdaGrad(params, *, lr: float = 0.01, eps: float | None = None, weight_decay: float = 0.0,
            convention: str = "torch", foreach=None, fused=None) -> torch.optim.Adagrad:
    """AdaGrad as ``torch.optim.Adagrad``; eps 1e-10 ("torch") or 1e-7 ("book")."""
    lr = _validate.positive("lr", lr)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    eps = _eps("adagrad", eps, _validate.convention(convention))
    return torch.optim.Adagrad(_params(params), lr=lr, eps=eps, weight_decay=weight_decay,
                               **_fast(foreach, fused))


def RMSprop(params, *, lr: float = 0.01, alpha: float = 0.99, eps: float | None = None,
            weight_decay: float = 0.0, convention: str = "torch",
            foreach=None) -> torch.optim.RMSprop:
    """RMSprop as ``torch.optim.RMSprop``; eps 1e-8 ("torch") or 1e-7 ("book")."""
    lr = _validate.positive("lr", lr)
    alpha = _validate.fraction("alpha", alpha)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    eps = _eps("rmsprop", eps, _validate.convention(convention))
    return torch.optim.RMSprop(_params(params), lr=lr, alpha=alpha, eps=eps,
                               weight_decay=weight_decay, **_fast(foreach, None))


def Adam(params, *, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
         eps: float | None = None, weight_decay: float = 0.0, convention: str = "torch",
         foreach=None, fused=None) -> torch.optim.Optimizer:
    """Adam: ``torch.optim.Adam`` ("torch", eps 1e-8) or :class:`BookAdam` ("book", eps 1e-7;
    PyTorch's fast paths do not apply to it)."""
    lr = _validate.positive("lr", lr)
    betas = _validate.betas(betas)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    eps = _eps("adam", eps, _validate.convention(convention))
    fast = _fast(foreach, fused)
    if convention == "book":
        return BookAdam(_params(params), lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    return torch.optim.Adam(_params(params), lr=lr, betas=betas, eps=eps,
                            weight_decay=weight_decay, **fast)


def AdamW(params, *, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
          eps: float = 1e-8, weight_decay: float = 0.01, foreach=None,
          fused=None) -> torch.optim.AdamW:
    """AdamW (decoupled weight decay) as ``torch.optim.AdamW``."""
    lr = _validate.positive("lr", lr)
    betas = _validate.betas(betas)
    eps = _validate.positive("eps", eps)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    return torch.optim.AdamW(_params(params), lr=lr, betas=betas, eps=eps,
                             weight_decay=weight_decay, **_fast(foreach, fused))


class BookAdam(torch.optim.Optimizer):
    r"""The book's Adam, with eps added to the raw √v (which ``torch.optim.Adam`` cannot express)::

        g ← g + wd·p                         (only when weight_decay > 0)
        lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ)
        m ← m + (1−β1)·(g − m)
        v ← v + (1−β2)·(g² − v)
        p ← p − lr_t · m / (√v + eps)

    Defaults as the book: lr 0.001, betas (0.9, 0.999), eps 1e-7. Per-parameter state: ``step``
    (an int), ``m`` and ``v``, as in :class:`npref.optim.Adam` with ``convention="book"``.
    """

    def __init__(self, params: Iterable, lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-7,
                 weight_decay: float = 0.0):
        defaults = {"lr": _validate.positive("lr", lr), "betas": _validate.betas(betas),
                    "eps": _validate.positive("eps", eps),
                    "weight_decay": _validate.nonnegative("weight_decay", weight_decay)}
        super().__init__(_params(params), defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one update of every parameter that has a gradient; returns ``closure()``."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse or p.is_complex():
                    raise RuntimeError("BookAdam supports dense real tensors only")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["v"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = state["step"]
                # Every product is rounded before its sum, as NumPy rounds it (add_ with alpha
                # would fuse the two into one FMA): the book's v + (1−β2)·(g² − v) cancels for
                # β2 near 0, and the same rounding keeps npref and torchref together there.
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g + p * group["weight_decay"]
                m, v = state["m"], state["v"]
                lr_t = group["lr"] * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
                m.add_((g - m).mul_(1 - beta1))
                v.add_((g * g - v).mul_(1 - beta2))
                p.addcdiv_(m, v.sqrt().add_(group["eps"]), value=-lr_t)
        return loss


_FACTORIES = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}
assert tuple(_FACTORIES) == NAMES


def make(name: str, params, **kwargs) -> torch.optim.Optimizer:
    """Build an optimizer by lower-case name, e.g. ``make("adam", model.parameters(), lr=1e-3)``."""
    factory = _FACTORIES.get(name.lower() if isinstance(name, str) else name)
    if factory is None:
        raise ValueError(f"name must be one of {', '.join(map(repr, NAMES))}, got {name!r}")
    return factory(params, **kwargs)
