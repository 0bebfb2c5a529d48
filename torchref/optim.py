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

Each function's docstring states its update rule as math, with every hyperparameter, the
conventions and their defaults (as :mod:`npref.optim` does). Notation: ``p`` a parameter, ``g``
its gradient, ``t`` the step count (from 1), ``lr`` the learning rate, ``wd`` the weight decay.
``foreach=True`` / ``fused=True`` select PyTorch's multi-tensor and single-kernel implementations
of the same rule (faster; checked against npref by the parity suite like the default path);
``None`` leaves the choice to PyTorch.

Non-finite gradients are not checked: a NaN or Inf in ``p.grad`` flows into the parameter and the
state as ``torch.optim``'s ``step`` lets it (the same as :mod:`npref.optim`'s ``update``); the
training loop (:func:`torchref.training.train`) stops on a non-finite loss or parameter and names
the step.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Mapping

import torch

import npref.optim
from npref.optim import NAMES, REFUSED

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW", "BookAdam",
           "make", "counterpart", "NAMES"]  # and the factories of the rules beyond chapter 6


def _checked(name: str, **kwargs) -> dict:
    """The keywords of rule ``name`` checked and resolved by npref's description of it — the one
    place they are validated (:mod:`npref.optim.base`). Built as the class is (the book's
    defaults of docs/api.md for what is left out): every factory passes all its keywords."""
    return npref.optim.RULES[name](**kwargs).hyperparameters()


def _torch_keywords(h: dict) -> dict:
    """Resolved keywords as ``torch.optim`` takes them (no ``convention``)."""
    return {k: v for k, v in h.items() if k != "convention"}


def _params(params):
    # npref hands parameters around as {name: array}; accept the same dict of tensors.
    if isinstance(params, Mapping):
        return list(params.items())
    if params is None or isinstance(params, (torch.Tensor, str, bytes)) or \
            not isinstance(params, Iterable):
        raise ValueError(f"params must be an iterable of tensors (model.parameters()), of "
                         f"parameter groups, or a dict of named tensors, got "
                         f"{type(params).__name__}")
    return params


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


def SGD(params, *, lr: float = 0.01, weight_decay: float = 0.0, momentum: float = 0.0,
        dampening: float = 0.0, nesterov: bool = False, maximize: bool = False, foreach=None,
        fused=None) -> torch.optim.SGD:
    r"""Stochastic gradient descent, as ``torch.optim.SGD`` (one rule: the conventions agree)::

        g ← −g                   (only with maximize=True)
        g ← g + wd·p             (only when weight_decay > 0)
        p ← p − lr·g

    With PyTorch's momentum μ > 0 (state ``momentum_buffer``), dampening d, Nesterov::

        b ← g on the first step, then b ← μ·b + (1 − d)·g
        p ← p − lr·b,   or with nesterov=True   p ← p − lr·(g + μ·b)

    Hyperparameters and defaults: ``lr`` 0.01 (the book's; ``make("sgd", …)`` takes PyTorch's
    1e-3), ``weight_decay`` (wd, L2 decay folded into the gradient) 0, ``momentum`` 0,
    ``dampening`` 0, ``nesterov`` False (needs μ > 0 and d = 0), ``maximize`` False.
    """
    h = _checked("sgd", lr=lr, weight_decay=weight_decay, momentum=momentum,
                 dampening=dampening, nesterov=nesterov, maximize=maximize)
    return torch.optim.SGD(_params(params), **_torch_keywords(h), **_fast(foreach, fused))


#: The optimizers built for the book's velocity form (Momentum and Nesterov with
#: ``convention="book"``): PyTorch's buffer form computes it only while ``lr`` stays constant,
#: so :func:`torchref.training.train` refuses them a learning-rate schedule.
CONSTANT_LR_ONLY = weakref.WeakSet()


def _heavy_ball(params, lr, momentum, weight_decay, convention, nesterov, maximize, fast):
    # Both conventions are the same update while lr is constant; torch stores buf.
    h = _checked("nesterov" if nesterov else "momentum", lr=lr, momentum=momentum,
                 weight_decay=weight_decay, convention=convention, maximize=maximize)
    # torch refuses nesterov=True with momentum 0, where the rule is plain SGD: g + 0·buf = g.
    made = torch.optim.SGD(_params(params), lr=h["lr"], momentum=h["momentum"],
                           weight_decay=h["weight_decay"], maximize=h["maximize"],
                           nesterov=nesterov and h["momentum"] > 0, **fast)
    if h["convention"] == "book" and h["momentum"] > 0:
        CONSTANT_LR_ONLY.add(made)
    return made


def Momentum(params, *, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0,
             convention: str = "torch", maximize: bool = False, foreach=None,
             fused=None) -> torch.optim.SGD:
    r"""Heavy-ball momentum μ, as ``torch.optim.SGD(momentum=μ)`` in either convention.

    convention="torch" (PyTorch's rule; state ``momentum_buffer``)::

        g ← g + wd·p             (only when weight_decay > 0)
        b ← μ·b + g              (b = g on the first step)
        p ← p − lr·b

    convention="book" is the book's velocity form, ``v ← μ·v − lr·g; p ← p + v``: the same
    update with ``v = −lr·b`` (while lr stays constant), so PyTorch's class computes it and
    keeps ``b``.

    Hyperparameters and defaults (both conventions): ``lr`` 0.01, ``momentum`` (μ, in [0, 1))
    0.9, ``weight_decay`` 0, ``convention`` "torch", ``maximize`` False (ascend: g ← −g first).
    ``make("momentum", …)`` takes PyTorch's SGD lr, 1e-3, where lr is left out.
    """
    return _heavy_ball(params, lr, momentum, weight_decay, convention, False, maximize,
                       _fast(foreach, fused))


def Nesterov(params, *, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0,
             convention: str = "torch", maximize: bool = False, foreach=None,
             fused=None) -> torch.optim.SGD:
    r"""Nesterov momentum μ, as ``torch.optim.SGD(momentum=μ, nesterov=True)`` in either convention.

    convention="torch" (PyTorch's rule; state ``momentum_buffer``)::

        g ← g + wd·p             (only when weight_decay > 0)
        b ← μ·b + g              (b = g on the first step)
        p ← p − lr·(g + μ·b)

    convention="book" is the book's form, ``p ← p + μ²·v − (1+μ)·lr·g; v ← μ·v − lr·g``: the
    same update with ``v = −lr·b``, so PyTorch's class computes it. At μ = 0 the rule is plain
    SGD, and PyTorch is given ``nesterov=False`` (it refuses Nesterov without momentum).

    Hyperparameters and defaults (both conventions): ``lr`` 0.01, ``momentum`` (μ, in [0, 1))
    0.9, ``weight_decay`` 0, ``convention`` "torch", ``maximize`` False (ascend: g ← −g first).
    ``make("nesterov", …)`` takes PyTorch's SGD lr, 1e-3, where lr is left out.
    """
    return _heavy_ball(params, lr, momentum, weight_decay, convention, True, maximize,
                       _fast(foreach, fused))


def AdaGrad(params, *, lr: float = 0.01, eps: float | None = None, weight_decay: float = 0.0,
            convention: str = "torch", lr_decay: float = 0.0,
            initial_accumulator_value: float = 0.0, maximize: bool = False, foreach=None,
            fused=None) -> torch.optim.Adagrad:
    r"""AdaGrad, as ``torch.optim.Adagrad`` in either convention (state ``sum``)::

        g ← g + wd·p             (only when weight_decay > 0)
        h ← h + g²               (h starts at h₀, initial_accumulator_value)
        p ← p − lr/(1 + (t − 1)·lr_decay) · g / (√h + eps)

    The conventions share the formula and differ in eps: ``eps=None`` means 1e-10 ("torch",
    PyTorch's default) or 1e-7 ("book"). Other defaults: ``lr`` 0.01, ``weight_decay`` 0,
    ``convention`` "torch", PyTorch's ``lr_decay`` 0 and ``initial_accumulator_value`` 0,
    ``maximize`` False (g ← −g first).
    """
    h = _checked("adagrad", lr=lr, eps=eps, weight_decay=weight_decay, convention=convention,
                 lr_decay=lr_decay, initial_accumulator_value=initial_accumulator_value,
                 maximize=maximize)
    return torch.optim.Adagrad(_params(params), **_torch_keywords(h), **_fast(foreach, fused))


def RMSprop(params, *, lr: float = 0.01, alpha: float = 0.99, eps: float | None = None,
            weight_decay: float = 0.0, convention: str = "torch", momentum: float = 0.0,
            centered: bool = False, maximize: bool = False,
            foreach=None) -> torch.optim.RMSprop:
    r"""RMSprop, as ``torch.optim.RMSprop`` in either convention (state ``square_avg``)::

        g ← g + wd·p             (only when weight_decay > 0)
        h ← α·h + (1−α)·g²       (h starts at 0)
        p ← p − lr·g / (√h + eps)

    PyTorch's options: ``centered`` divides by √(h − ḡ²) + eps, ḡ ← α·ḡ + (1−α)·g (state
    ``grad_avg``); ``momentum`` μ > 0 keeps B ← μ·B + g/(…) and steps p ← p − lr·B (state
    ``momentum_buffer``).

    The conventions share the formula and differ in eps: ``eps=None`` means 1e-8 ("torch",
    PyTorch's default) or 1e-7 ("book"; the book calls α ``decay_rate``). Other defaults: ``lr``
    0.01, ``alpha`` (α, in [0, 1)) 0.99, ``weight_decay`` 0, ``convention`` "torch",
    ``momentum`` 0, ``centered`` False, ``maximize`` False. Of the fast paths, ``foreach`` only.
    """
    h = _checked("rmsprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                 convention=convention, momentum=momentum, centered=centered, maximize=maximize)
    return torch.optim.RMSprop(_params(params), **_torch_keywords(h), **_fast(foreach, None))


def Adam(params, *, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
         eps: float | None = None, weight_decay: float = 0.0, convention: str = "torch",
         amsgrad: bool = False, decoupled_weight_decay: bool = False, maximize: bool = False,
         foreach=None, fused=None) -> torch.optim.Optimizer:
    r"""Adam: bias-corrected moving averages of the gradient (m) and of its square (v).

    Both conventions keep the same averages::

        g ← g + wd·p             (only when weight_decay > 0)
        m ← β1·m + (1−β1)·g
        v ← β2·v + (1−β2)·g²     (m, v start at 0)

    convention="torch" returns ``torch.optim.Adam`` (state ``exp_avg``, ``exp_avg_sq``)::

        p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)

    convention="book" returns :class:`BookAdam` (state ``m``, ``v``), since PyTorch's class
    cannot put eps on the raw √v::

        lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ)
        p ← p − lr_t · m / (√v + eps)

    Defaults: ``lr`` 0.001, ``betas`` (β1, β2, each in [0, 1)) (0.9, 0.999), ``weight_decay`` 0,
    ``convention`` "torch"; ``eps=None`` means 1e-8 ("torch") or 1e-7 ("book"); ``maximize``
    False (g ← −g first). PyTorch's options, "torch" only: ``amsgrad`` (divide by the largest
    v so far, state ``max_exp_avg_sq``), ``decoupled_weight_decay`` (AdamW's decay). ``foreach``
    / ``fused`` select PyTorch's fast paths for "torch"; :class:`BookAdam` has none, so "book"
    refuses ``True`` for either (``None``/``False`` pass).
    """
    h = _checked("adam", lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                 convention=convention, amsgrad=amsgrad,
                 decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    fast = _fast(foreach, fused)
    keywords = _torch_keywords(h)
    if convention == "book":
        for flag, value in fast.items():
            if value:
                raise ValueError(f"{flag}=True is not available with convention='book': "
                                 "BookAdam has no multi-tensor or fused path (use "
                                 f"{flag}=None, or convention='torch')")
        return BookAdam(_params(params), **{k: h[k] for k in ("lr", "betas", "eps",
                                                              "weight_decay", "maximize")})
    return torch.optim.Adam(_params(params), **keywords, **fast)


def AdamW(params, *, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
          eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False,
          maximize: bool = False, foreach=None, fused=None) -> torch.optim.AdamW:
    r"""AdamW (Loshchilov & Hutter), as ``torch.optim.AdamW`` — PyTorch's rule only, no
    convention (state ``exp_avg``, ``exp_avg_sq``)::

        p ← p·(1 − lr·wd)        (decoupled decay: g is left as it is)
        m ← β1·m + (1−β1)·g
        v ← β2·v + (1−β2)·g²
        p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)

    Defaults, PyTorch's: ``lr`` 0.001, ``betas`` (0.9, 0.999), ``eps`` 1e-8, ``weight_decay``
    0.01, ``amsgrad`` False (divide by the largest v so far), ``maximize`` False.
    """
    h = _checked("adamw", lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                 amsgrad=amsgrad, maximize=maximize)
    return torch.optim.AdamW(_params(params), **h, **_fast(foreach, fused))


class BookAdam(torch.optim.Optimizer):
    r"""The book's Adam (convention="book"), with eps added to the raw √v, which
    ``torch.optim.Adam`` cannot express::

        g ← g + wd·p                         (only when weight_decay > 0)
        lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ)
        m ← m + (1−β1)·(g − m)
        v ← v + (1−β2)·(g² − v)
        p ← p − lr_t · m / (√v + eps)

    Defaults as the book: lr 0.001, betas (0.9, 0.999), eps 1e-7; ``maximize`` (g ← −g first)
    False. Per-parameter state: ``step``
    (an int), ``m`` and ``v``, as in :class:`npref.optim.Adam` with ``convention="book"``.
    """

    def __init__(self, params: Iterable, lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-7,
                 weight_decay: float = 0.0, maximize: bool = False):
        h = _checked("adam", lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                     convention="book", maximize=maximize)
        defaults = {k: h[k] for k in ("lr", "betas", "eps", "weight_decay", "maximize")}
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
                g = -p.grad if group["maximize"] else p.grad
                if group["weight_decay"] != 0:
                    g = g + p * group["weight_decay"]
                m, v = state["m"], state["v"]
                lr_t = group["lr"] * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
                m.add_((g - m).mul_(1 - beta1))
                v.add_((g * g - v).mul_(1 - beta2))
                p.addcdiv_(m, v.sqrt().add_(group["eps"]), value=-lr_t)
        return loss


class Lion(torch.optim.Optimizer):
    r"""Lion (Chen et al., 2023), which PyTorch has no class for — :class:`npref.optim.Lion`'s
    rule in PyTorch::

        g ← −g                               (only with maximize=True)
        c = β1·m + (1 − β1)·g
        p ← p·(1 − lr·wd) − lr·sign(c)
        m ← β2·m + (1 − β2)·g

    Defaults (the paper's): lr 1e-4, betas (0.9, 0.99), weight_decay 0, maximize False. State
    ``step`` and ``exp_avg`` (m). Each product is rounded before its sum, as NumPy rounds it
    (``add_`` with ``alpha`` would fuse them): where c cancels, its sign decides a step of lr, so
    the same rounding keeps npref and torchref together. No multi-tensor path (``foreach=True``
    is refused; None and False pass).
    """

    def __init__(self, params: Iterable, lr: float = 1e-4,
                 betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0,
                 maximize: bool = False, foreach=None):
        h = _checked("lion", lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)
        if _fast(foreach, None).get("foreach"):
            raise ValueError("foreach=True is not offered for Lion: torchref's Lion has no "
                             "multi-tensor path (use foreach=None)")
        super().__init__(_params(params), h)

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one update of every parameter that has a gradient; returns ``closure()``."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse or p.is_complex():
                    raise RuntimeError("Lion supports dense real tensors only")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                g = -p.grad if group["maximize"] else p.grad
                m = state["exp_avg"]
                if wd != 0:
                    p.mul_(1 - lr * wd)
                c = m * beta1 + g * (1 - beta1)
                p.sub_(c.sign_().mul_(lr))
                m.mul_(beta2).add_(g * (1 - beta2))
        return loss


#: torchref's own optimizers, by class name: BookAdam, and the rules of npref.optim PyTorch has no
#: class for (their ``torch_class`` names one defined here) — every torch.optim.Optimizer class
#: this module defines.
OWN = {name: obj for name, obj in list(globals().items())
       if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer)
       and obj.__module__ == __name__}


def counterpart(name: str) -> type:
    """The class that computes rule ``name`` (npref.optim's name) in PyTorch: ``torch.optim``'s
    (``"nadam"`` → ``torch.optim.NAdam``), or where PyTorch has none torchref's own
    (``"lion"`` → :class:`Lion`) — as the rule's description names it (``torch_class``)."""
    rule = npref.optim.RULES[name.lower()]
    return getattr(torch.optim, rule.torch_class, None) or OWN[rule.torch_class]


def _factory(name: str):
    """The factory of a rule PyTorch has and chapter 6 does not: npref's description checks the
    keywords (PyTorch's names), PyTorch's own class computes it. A rule PyTorch lacks is its
    torchref class itself (which checks its keywords by the same description)."""
    rule = npref.optim.RULES[name]
    torch_class = counterpart(name)
    if torch_class.__module__ == __name__:
        return torch_class

    def factory(params, *, foreach=None, **kwargs) -> torch.optim.Optimizer:
        h = _checked(name, **kwargs)
        keywords = {rule.hyper[k].torch or k: v for k, v in h.items()}
        if foreach and "foreach" not in rule.fast:
            raise ValueError(f"foreach=True is not offered for {rule.__name__}: PyTorch's foreach "
                             "path computes it differently from the single-tensor path npref "
                             "matches (see npref.optim." + rule.__name__ + "); use foreach=None")
        return torch_class(_params(params), **keywords, **_fast(foreach, None))

    factory.__name__ = factory.__qualname__ = rule.__name__
    factory.__doc__ = (f"``torch.optim.{rule.torch_class}``, its keywords checked by npref's "
                       f"description of the rule (:class:`npref.optim.{rule.__name__}`, whose "
                       f"docstring states it)::\n\n{rule.__doc__}")
    return factory


#: The rules beyond chapter 6, one factory each, made from their descriptions (npref's class
#: names: ``torchref.optim.NAdam`` …).
_MORE = {name: _factory(name) for name in NAMES if name not in npref.optim.CHAPTER_6}
globals().update({factory.__name__: factory for factory in _MORE.values()})
__all__ += [factory.__name__ for factory in _MORE.values()]

_FACTORIES = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, **_MORE}
assert tuple(_FACTORIES) == NAMES


def make(name: str, params, **kwargs) -> torch.optim.Optimizer:
    """Build an optimizer by lower-case name, e.g. ``make("adam", model.parameters(), lr=1e-3)``
    — the PyTorch door, as :func:`npref.optim.make`: ``torch.optim``'s keywords and options, and
    for a keyword left out PyTorch's default (``make("sgd", ps)`` is ``torch.optim.SGD(ps)``,
    lr 1e-3), or with ``convention="book"`` the book's. ``foreach`` / ``fused`` as the
    factories take them."""
    key = name.lower() if isinstance(name, str) else name
    if key in REFUSED:
        raise ValueError(REFUSED[key])
    factory = _FACTORIES.get(key)
    if factory is None:
        raise ValueError(f"name must be one of {', '.join(map(repr, NAMES))}, got {name!r}")
    flags = {k: kwargs.pop(k) for k in ("foreach", "fused") if k in kwargs}
    return factory(params, **npref.optim.make(key, **kwargs).hyperparameters(), **flags)
