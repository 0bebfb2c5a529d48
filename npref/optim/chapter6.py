r"""The parameter-update rules of chapter 6: SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam,
AdamW — each a row of data (:mod:`npref.optim.base`) and its update rule.

Each rule exists in two conventions (docs/conventions.md) where the book has it:
``convention="torch"`` is PyTorch's documented rule and default constants, and matches
``torch.optim`` to the last bits; ``convention="book"`` is the textbook's formula and constants.
Notation: ``p`` a parameter, ``g`` its gradient, ``t`` the step count (from 1), ``lr`` the
learning rate, ``wd`` the weight decay. With ``weight_decay > 0`` every rule first replaces ``g``
by ``g + wd·p`` (L2 decay applied by the optimizer to every parameter it is handed, as
``torch.optim`` does); AdamW instead decays the parameter directly. The arithmetic follows the
order of operations of its source (``torch.optim`` or the book's listing), so float64 results
agree to the last few bits; :mod:`npref.textbook` writes the same rules in the book's notation.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _validate
from .. import textbook as book
from .base import Buffer, Optimizer, Param, Phrase, fraction_pair

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW", "DEFAULT_EPS"]

#: The eps each convention uses when ``eps=None``.
DEFAULT_EPS = {
    "adagrad": {"torch": 1e-10, "book": 1e-7},
    "rmsprop": {"torch": 1e-8, "book": 1e-7},
    "adam": {"torch": 1e-8, "book": 1e-7},
}

LR = Param(0.01, _validate.positive, draw="lr")
#: SGD's, Momentum's and Nesterov's learning rate: the book's 0.01; PyTorch's SGD defaults to 1e-3.
SGD_LR = Param(0.01, _validate.positive, draw="lr", torch_default=1e-3)
DECAY = Param(0.0, _validate.nonnegative, draw="decay")
TORCH = ("torch",)


def _velocity(opt) -> float:
    """The book's velocity v is −lr times PyTorch's momentum buffer."""
    return -opt.lr


class SGD(Optimizer):
    r"""Stochastic gradient descent (the same in both conventions)::

        p ← p − lr·g

    Equals ``torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)``. With PyTorch's options
    it is ``torch.optim.SGD`` whole — momentum μ, dampening d, Nesterov (state
    ``momentum_buffer``, only when μ > 0)::

        b ← g on the first step, then b ← μ·b + (1 − d)·g
        p ← p − lr·b,   or with nesterov=True   p ← p − lr·(g + μ·b)

    (the book's Momentum and Nesterov are these rules under their own names, with the book's
    velocity form as a convention). Defaults: lr 0.01 here (the book's); ``make("sgd")`` takes
    PyTorch's 1e-3. momentum 0, dampening 0, nesterov False, maximize False.
    """

    name = "sgd"
    torch_class = "SGD"
    formula = "SGD: p ← p − lr·g"
    textbook = {"torch": (book.sgd, ()), "book": (book.sgd, ())}
    fast = ("foreach", "fused")
    hyper = {"lr": SGD_LR, "weight_decay": DECAY,
             "momentum": Param(0.0, _validate.fraction, draw="momentum", option=TORCH),
             "dampening": Param(0.0, _validate.unit_interval, draw="fraction", option=TORCH),
             "nesterov": Param(False, _validate.flag, option=TORCH)}
    # Made by the first step with momentum (a copy of g, as PyTorch's ``buf is None``), also
    # when a schedule (CyclicLR) turns momentum on later.
    buffers = {"torch": (Buffer("momentum_buffer", when=lambda opt: opt.momentum > 0,
                                init=lambda opt, p: None),)}

    def _check_options(self):
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"nesterov=True needs momentum > 0 and dampening 0 (as "
                             f"torch.optim.SGD), got momentum={self.momentum!r}, "
                             f"dampening={self.dampening!r}")

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        a = work[0]
        if self.momentum > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g)      # b ← g
            else:
                buf *= self.momentum
                if self.dampening == 0:
                    buf += g                         # b ← μ·b + g
                else:
                    np.multiply(g, 1 - self.dampening, out=a)
                    buf += a                         # b ← μ·b + (1 − d)·g
            if self.nesterov:
                np.multiply(buf, self.momentum, out=a)
                a += g
                g = a                                # g + μ·b
            else:
                g = buf
        np.multiply(g, self.lr, out=a)               # lr·g
        p -= a


class Momentum(Optimizer):
    r"""SGD with (heavy-ball) momentum μ.

    convention="torch" (``torch.optim.SGD(momentum=μ)``, state ``momentum_buffer``)::

        b ← μ·b + g          (b = g on the first step)
        p ← p − lr·b

    convention="book" (state ``v``, the velocity)::

        v ← μ·v − lr·g
        p ← p + v

    The two are the same update with ``v = −lr·b`` (while lr stays constant).
    """

    name = "momentum"
    torch_class = "SGD"
    formula = {"book": Phrase("Momentum (the book's): v ← μ·v − lr·g;  p ← p + v"),
               "torch": Phrase("Momentum (PyTorch's): b ← μ·b + g;  p ← p − lr·b")}
    note = Phrase("the book keeps the velocity v = −lr·b; PyTorch the buffer b of gradients: "
                  "the same steps while lr stays constant (see the conventions page)")
    textbook = {"book": (book.momentum, ("v",)), "torch": (book.momentum_buffer, ("b",))}
    fast = ("foreach", "fused")
    hyper = {"lr": SGD_LR, "momentum": Param(0.9, _validate.fraction, draw="momentum"),
             "weight_decay": DECAY}
    buffers = {"torch": (Buffer("momentum_buffer"),),
               "book": (Buffer("v", torch="momentum_buffer", scale=_velocity),)}

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        a = work[0]
        if self.convention == "torch":
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g                                 # b ← μ·b + g
            np.multiply(buf, self.lr, out=a)
            p -= a                                   # p ← p − lr·b
        else:
            v = state["v"]
            v *= self.momentum
            np.multiply(g, self.lr, out=a)
            v -= a                                   # v ← μ·v − lr·g
            p += v


class Nesterov(Momentum):
    r"""Nesterov's accelerated gradient, momentum μ.

    convention="torch" (``torch.optim.SGD(momentum=μ, nesterov=True)``)::

        b ← μ·b + g
        p ← p − lr·(g + μ·b)

    convention="book" (Bengio et al.'s reformulation, velocity ``v``)::

        p ← p + μ²·v − (1+μ)·lr·g
        v ← μ·v − lr·g

    The same update with ``v = −lr·b``. (Some printings of the book's listing update ``v``
    before moving ``p``; that is a different, slightly wrong rule and is not reproduced here.)
    """

    name = "nesterov"
    formula = {"book": Phrase("Nesterov (the book's): p ← p + μ²·v − (1 + μ)·lr·g;  "
                              "v ← μ·v − lr·g"),
               "torch": Phrase("Nesterov (PyTorch's): b ← μ·b + g;  p ← p − lr·(g + μ·b)")}
    note = Phrase("the book's velocity form and PyTorch's buffer form take the same steps "
                  "while lr stays constant")
    textbook = {"book": (book.nesterov, ("v",)), "torch": (book.nesterov_buffer, ("b",))}

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        mu, a = self.momentum, work[0]
        if self.convention == "torch":
            buf = state["momentum_buffer"]
            buf *= mu
            buf += g                                 # b ← μ·b + g
            np.multiply(buf, mu, out=a)
            a += g
            a *= self.lr
            p -= a                                   # p ← p − lr·(g + μ·b)
        else:
            v = state["v"]
            np.multiply(v, mu * mu, out=a)
            p += a                                   # p ← p + μ²·v
            np.multiply(g, (1 + mu) * self.lr, out=a)
            p -= a                                   #       − (1+μ)·lr·g
            v *= mu
            np.multiply(g, self.lr, out=a)
            v -= a                                   # v ← μ·v − lr·g


class AdaGrad(Optimizer):
    r"""AdaGrad: a per-element learning rate that shrinks with the sum of squared gradients::

        h ← h + g²
        p ← p − lr·g / (√h + eps)

    The formula is the same in both conventions; eps defaults to 1e-10 ("torch",
    ``torch.optim.Adagrad``, state ``sum``) or 1e-7 ("book", state ``h``).
    """

    name = "adagrad"
    torch_class = "Adagrad"
    formula = "AdaGrad: h ← h + g²;  p ← p − lr·g/(√h + eps)"
    note = Phrase("the book's eps is 1e-7, PyTorch's default 1e-10")
    textbook = {"book": (book.adagrad, ("h",)), "torch": (book.adagrad, ("h",))}
    fast = ("foreach", "fused")
    hyper = {"lr": LR, "eps": Param(DEFAULT_EPS["adagrad"], _validate.positive, draw="eps"),
             "weight_decay": DECAY,
             "lr_decay": Param(0.0, _validate.nonnegative, draw="small_positive",
                               option=("torch", "book")),
             "initial_accumulator_value": Param(0.0, _validate.nonnegative, draw="small_positive",
                                                option=("torch", "book"))}
    buffers = {"torch": (Buffer("sum", nonnegative=True),),
               "book": (Buffer("h", torch="sum", nonnegative=True),)}

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        h = state[self.state_names[self.convention][0]]
        a, b = work
        if state["step"] == 1 and self.initial_accumulator_value:
            h += self.initial_accumulator_value     # h starts at h₀ (0 + h₀: exact)
        np.multiply(g, g, out=a)
        h += a                                       # h ← h + g²
        lr = self.lr
        if self.lr_decay:
            lr = lr / (1 + (state["step"] - 1) * self.lr_decay)   # lr/(1 + (t − 1)·decay)
        _divided_step(p, g, h, lr, self.eps, a, b)


class RMSprop(Optimizer):
    r"""RMSprop: AdaGrad with an exponential moving average of squared gradients, decay α::

        h ← α·h + (1−α)·g²
        p ← p − lr·g / (√h + eps)

    The formula is the same in both conventions; eps defaults to 1e-8 ("torch",
    ``torch.optim.RMSprop``, state ``square_avg``) or 1e-7 ("book", state ``h``; the book calls α
    ``decay_rate``).
    """

    name = "rmsprop"
    torch_class = "RMSprop"
    formula = "RMSprop: h ← α·h + (1 − α)·g²;  p ← p − lr·g/(√h + eps)"
    note = Phrase("the book's eps is 1e-7, PyTorch's default 1e-8")
    textbook = {"book": (book.rmsprop, ("h",)), "torch": (book.rmsprop, ("h",))}
    hyper = {"lr": LR, "alpha": Param(0.99, _validate.fraction, draw="alpha"),
             "eps": Param(DEFAULT_EPS["rmsprop"], _validate.positive, draw="eps"),
             "weight_decay": DECAY,
             "momentum": Param(0.0, _validate.fraction, draw="momentum",
                               option=("torch", "book")),
             "centered": Param(False, _validate.flag, draw="flag", option=("torch", "book"))}
    _options = (Buffer("grad_avg", when=lambda opt: opt.centered),
                Buffer("momentum_buffer", when=lambda opt: opt.momentum > 0))
    buffers = {"torch": (Buffer("square_avg", nonnegative=True), *_options),
               "book": (Buffer("h", torch="square_avg", nonnegative=True), *_options)}

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        h = state["square_avg" if self.convention == "torch" else "h"]
        a, b = work
        h *= self.alpha
        np.multiply(g, 1 - self.alpha, out=a)
        a *= g
        h += a                                       # h ← α·h + (1−α)·g²
        if not (self.centered or self.momentum > 0):
            _divided_step(p, g, h, self.lr, self.eps, a, b)
            return
        if self.centered:                            # the variance: h − ḡ², ḡ the mean of g
            avg = state["grad_avg"]
            _lerp_(avg, g, 1 - self.alpha, a)        # ḡ ← α·ḡ + (1−α)·g
            _fused_square_difference(h, avg, b)      # h − ḡ², rounded once
            np.sqrt(b, out=b)
        else:
            np.sqrt(h, out=b)
        b += self.eps                                # √(h − ḡ²) + eps, or √h + eps
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            np.divide(g, b, out=a)
            buf += a                                 # B ← μ·B + g/(…)
            np.multiply(buf, self.lr, out=a)
            p -= a                                   # p ← p − lr·B
        else:
            np.divide(g, b, out=a)
            a *= self.lr
            p -= a                                   # p ← p − lr·g/(…)


class Adam(Optimizer):
    r"""Adam: moving averages of the gradient (m) and its square (v), bias-corrected.

    Both conventions keep the same averages::

        m ← β1·m + (1−β1)·g
        v ← β2·v + (1−β2)·g²

    and differ in where eps enters the step.

    convention="torch" (``torch.optim.Adam``, eps 1e-8, state ``exp_avg``, ``exp_avg_sq``)::

        p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)

    convention="book" (eps 1e-7, state ``m``, ``v``)::

        lr_t = lr·√(1−β2ᵗ)/(1−β1ᵗ)
        p ← p − lr_t · m / (√v + eps)

    The book adds eps to the raw √v, PyTorch to the bias-corrected one: the updates differ by a
    factor (√v + eps·√(1−β2ᵗ)) / (√v + eps), which ``torch.optim.Adam`` cannot express.
    """

    name = "adam"
    torch_class = "Adam"
    formula = {"book": Phrase("Adam (the book's): m ← m + (1 − β₁)·(g − m);  "
                              "v ← v + (1 − β₂)·(g² − v);  "
                              "p ← p − lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)·m/(√v + eps)"),
               "torch": Phrase("Adam (PyTorch's): m ← β₁·m + (1 − β₁)·g;  "
                               "v ← β₂·v + (1 − β₂)·g²;  "
                               "p ← p − lr/(1 − β₁ᵗ)·m/(√v/√(1 − β₂ᵗ) + eps)")}
    note = Phrase("the book folds both bias corrections into the rate and adds eps 1e-7 to the "
                  "raw √v; PyTorch adds eps 1e-8 to the corrected √v̂ (see the conventions page)")
    textbook = {"book": (book.adam, ("m", "v", "t")), "torch": (book.adam_torch, ("m", "v", "t"))}
    fast = ("foreach", "fused")
    hyper = {"lr": Param(0.001, _validate.positive, draw="lr"),
             "betas": Param((0.9, 0.999), fraction_pair, draw="betas"),
             "eps": Param(DEFAULT_EPS["adam"], _validate.positive, draw="eps"),
             "weight_decay": DECAY,
             "amsgrad": Param(False, _validate.flag, draw="flag", option=TORCH),
             "decoupled_weight_decay": Param(False, _validate.flag, draw="flag", option=TORCH)}
    _amsgrad = Buffer("max_exp_avg_sq", nonnegative=True, when=lambda opt: opt.amsgrad)
    buffers = {"torch": (Buffer("exp_avg"), Buffer("exp_avg_sq", nonnegative=True), _amsgrad),
               "book": (Buffer("m"), Buffer("v", nonnegative=True))}
    _decoupled = False

    @property
    def decay(self) -> str:
        return "decoupled" if self._decoupled or self.decoupled_weight_decay else "L2"

    def _step(self, p, g, state, work):
        beta1, beta2 = self.betas
        t = state["step"]
        if self._decoupled or self.decoupled_weight_decay:
            if self.weight_decay != 0.0:
                p *= 1 - self.lr * self.weight_decay
        else:
            g = self._decayed(p, g)
        a, b = work
        if self.convention == "torch":
            m, v = state["exp_avg"], state["exp_avg_sq"]
            _lerp_(m, g, 1 - beta1, a)                   # m ← β1·m + (1−β1)·g
            v *= beta2
            np.multiply(g, 1 - beta2, out=a)
            a *= g
            v += a                                       # v ← β2·v + (1−β2)·g²
            if self.amsgrad:                             # the largest v so far
                v = state["max_exp_avg_sq"]
                np.maximum(v, state["exp_avg_sq"], out=v)
            np.sqrt(v, out=b)
            b /= (1 - beta2 ** t) ** 0.5
            b += self.eps                                # √v/√(1−β2ᵗ) + eps
            np.multiply(m, self.lr / (1 - beta1 ** t), out=a)
            a /= b
            p -= a                                       # p ← p − lr/(1−β1ᵗ) · m / (…)
        else:
            m, v = state["m"], state["v"]
            lr_t = self.lr * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
            np.subtract(g, m, out=a)
            a *= 1 - beta1
            m += a                                       # m ← m + (1−β1)·(g − m)
            np.multiply(g, g, out=a)
            a -= v
            a *= 1 - beta2
            v += a                                       # v ← v + (1−β2)·(g² − v)
            np.sqrt(v, out=b)
            b += self.eps
            np.multiply(m, lr_t, out=a)
            a /= b
            p -= a                                       # p ← p − lr_t·m / (√v + eps)


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, PyTorch's rule only::

        p ← p·(1 − lr·wd)
        then Adam's torch-convention step with the raw gradient g

    Equals ``torch.optim.AdamW``; its defaults (eps 1e-8, weight_decay 0.01) are PyTorch's.
    """

    name = "adamw"
    torch_class = "AdamW"
    formula = Phrase("AdamW: p ← p·(1 − lr·wd), then PyTorch's Adam step")
    note = None
    textbook = {"torch": (book.adamw, ("m", "v", "t")), "book": (book.adamw, ("m", "v", "t"))}
    fast = ("foreach", "fused")
    hyper = {"lr": Param(0.001, _validate.positive, draw="lr"),
             "betas": Param((0.9, 0.999), fraction_pair, draw="betas"),
             "eps": Param(1e-8, _validate.positive, draw="small_eps"),
             "weight_decay": Param(0.01, _validate.nonnegative, draw="decoupled_decay"),
             "amsgrad": Param(False, _validate.flag, draw="flag", option=TORCH)}
    buffers = {"torch": (Buffer("exp_avg"), Buffer("exp_avg_sq", nonnegative=True),
                         Adam._amsgrad)}
    _decoupled = True
    decoupled_weight_decay = True


def _lerp_(m: np.ndarray, g: np.ndarray, w: float, a: np.ndarray) -> None:
    """``m ← m + w·(g − m)`` in place (``a``: scratch), rounded as ``torch.lerp`` rounds it.

    PyTorch takes the weight in the tensor's dtype, and for ``w ≥ 0.5`` evaluates
    ``g − (g − m)·(1 − w)`` instead, which is exact at ``w = 1`` (Adam with β1 = 0 keeps m = g);
    the textbook form would leave the rounding of ``g − m`` in m.
    """
    w = m.dtype.type(w)
    np.subtract(g, m, out=a)
    if w < 0.5:
        a *= w
        m += a
    else:
        a *= 1 - w
        np.subtract(g, a, out=m)


def _fused_square_difference(h: np.ndarray, m: np.ndarray, out: np.ndarray) -> None:
    """``out ← h − m²`` rounded once, as PyTorch's ``addcmul`` computes it with a fused
    multiply-add. Where the variance h − m² cancels (a gradient that hardly changes) the result
    is all rounding, and RMSprop divides by its root: rounding m² first, as plain NumPy would,
    would change the step by far more than the dtype's tolerance. Dekker's product gives m² as
    hi + lo exactly (hi = m·m rounded); ``(h − hi) − lo`` is then exact up to one rounding
    wherever the two cancel (h − hi is exact there, Sterbenz), and within an ulp elsewhere."""
    split = m.dtype.type(134217729.0 if m.dtype == np.float64 else 4097.0)   # 2^⌈p/2⌉ + 1
    hi = m * m
    c = m * split
    m_hi = c - (c - m)                       # m = m_hi + m_lo, each half the mantissa
    m_lo = m - m_hi
    lo = ((m_hi * m_hi - hi) + 2 * m_hi * m_lo) + m_lo * m_lo      # m² − hi, exactly
    np.subtract(h, hi, out=out)
    out -= lo


def _divided_step(p, g, h, lr, eps, a, b) -> None:
    """``p ← p − lr·g / (√h + eps)``, the step AdaGrad and RMSprop share."""
    np.sqrt(h, out=b)
    b += eps
    np.multiply(g, lr, out=a)
    a /= b
    p -= a
