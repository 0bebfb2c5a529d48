r"""The rest of ``torch.optim`` for dense parameters: Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop
and Adafactor — PyTorch's rules (``convention="torch"`` only), each a row of data
(:mod:`npref.optim.base`) and its update written as plain NumPy, in the order of operations of
PyTorch's single-tensor implementation, so that float64 results agree with ``torch.optim`` to a
few ulps; and rules PyTorch has no class for (Lion), which torchref implements beside them.
Notation as in :mod:`npref.optim.chapter6`. Every class defined here with a ``name`` is a rule of
:data:`npref.optim.RULES`.

Where PyTorch keeps a per-parameter scalar in a float32 tensor (NAdam's ``mu_product``, ASGD's
``eta`` and ``mu``), npref rounds it to float32 too: that is the number PyTorch's next step reads.
"""

from __future__ import annotations

import numpy as np

from .. import _validate
from .base import Buffer, Optimizer, Param, Phrase, fraction_pair, positive_pair


DECAY = Param(0.0, _validate.nonnegative, draw="decay")


def _float32(x) -> float:
    """A Python float rounded to float32, as PyTorch stores its scalar state."""
    return float(np.float32(x))


def _lerp(m: np.ndarray, g, w: float) -> None:
    """``m ← m + w·(g − m)`` in place, rounded as ``torch.lerp`` rounds it: the weight in the
    array's dtype, and ``g − (g − m)·(1 − w)`` for ``w ≥ ½``."""
    w = m.dtype.type(w)
    if w < 0.5:
        m += (g - m) * w
    else:
        m[...] = g - (g - m) * (1 - w)


def _norm(x: np.ndarray, **kw):
    """‖x‖₂ (over ``axis`` when given), as ``torch.norm`` computes it: √Σx²."""
    return np.sqrt(np.sum(x * x, **kw))


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``::

        g ← g + wd·p                                  (when weight_decay > 0)
        v ← ρ·v + (1 − ρ)·g²
        Δ ← √(u + eps) / √(v + eps) · g
        u ← ρ·u + (1 − ρ)·Δ²
        p ← p − lr·Δ

    Defaults, PyTorch's: lr 1.0, rho 0.9, eps 1e-6, weight_decay 0. State ``square_avg`` (v),
    ``acc_delta`` (u).
    """

    name = "adadelta"
    example_lr = 50.0
    formula = ("Adadelta: v ← ρ·v + (1 − ρ)·g²;  Δ ← √(u + eps)/√(v + eps)·g;"
               "  u ← ρ·u + (1 − ρ)·Δ²;  p ← p − lr·Δ")
    torch_class = "Adadelta"
    hyper = {"lr": Param(1.0, _validate.positive, draw="lr"),
             "rho": Param(0.9, _validate.fraction, draw="alpha"),
             "eps": Param(1e-6, _validate.positive, draw="small_eps"),
             "weight_decay": DECAY}
    buffers = {"torch": (Buffer("square_avg", nonnegative=True),
                         Buffer("acc_delta", nonnegative=True))}

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        rho, eps = self.rho, self.eps
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * delta * delta
        p -= self.lr * delta


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2015: Adam with the infinity norm), as ``torch.optim.Adamax``::

        g ← g + wd·p
        m ← β1·m + (1 − β1)·g                         (torch.lerp)
        u ← max(β2·u, |g| + eps)
        p ← p − lr/(1 − β1ᵗ) · m/u

    Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0. State ``exp_avg``,
    ``exp_inf``.
    """

    name = "adamax"
    example_lr = 0.3
    formula = ("Adamax: m ← β₁·m + (1 − β₁)·g;  u ← max(β₂·u, |g| + eps);"
               "  p ← p − lr/(1 − β₁ᵗ)·m/u")
    torch_class = "Adamax"
    hyper = {"lr": Param(2e-3, _validate.positive, draw="lr"),
             "betas": Param((0.9, 0.999), fraction_pair, draw="betas"),
             "eps": Param(1e-8, _validate.positive, draw="small_eps"),
             "weight_decay": DECAY}
    buffers = {"torch": (Buffer("exp_avg"), Buffer("exp_inf", nonnegative=True))}

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        beta1, beta2 = self.betas
        m, u = state["exp_avg"], state["exp_inf"]
        _lerp(m, g, 1 - beta1)
        u[...] = np.maximum(u * beta2, np.abs(g) + self.eps)
        clr = self.lr / (1 - beta1 ** state["step"])
        p -= clr * (m / u)


class _Decoupled(Optimizer):
    """NAdam and RAdam: L2 decay in the gradient, or (``decoupled_weight_decay=True``) AdamW's
    decay of the parameter."""

    @property
    def decay(self) -> str:
        return "decoupled" if self.decoupled_weight_decay else "L2"

    def _decay(self, p, g):
        if self.weight_decay == 0.0:
            return g
        if self.decoupled_weight_decay:
            p *= 1 - self.lr * self.weight_decay
            return g
        return self._decayed(p, g)


class NAdam(_Decoupled):
    r"""NAdam (Dozat, 2016: Adam with Nesterov momentum), as ``torch.optim.NAdam``::

        μₜ = β1·(1 − ½·0.96^(t·ψ)),  μ₁…ₜ = Πμ                  (ψ: momentum_decay)
        m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
        d = √(v/(1 − β2ᵗ)) + eps
        p ← p − lr·(1 − μₜ)/(1 − μ₁…ₜ) · g/d − lr·μₜ₊₁/(1 − μ₁…ₜ·μₜ₊₁) · m/d

    Weight decay as L2 (``g + wd·p``) or, with ``decoupled_weight_decay=True``, AdamW's
    ``p·(1 − lr·wd)``. Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0,
    momentum_decay 4e-3. State ``exp_avg``, ``exp_avg_sq`` and the scalar ``mu_product``
    (kept in float32, as PyTorch keeps it).
    """

    name = "nadam"
    example_lr = 0.3
    formula = Phrase("NAdam: m, v as Adam's;  p ← p − lr·(1 − μₜ)/(1 − Πμ)·g/d"
               " − lr·μₜ₊₁/(1 − Πμ·μₜ₊₁)·m/d,  d = √(v/(1 − β₂ᵗ)) + eps")
    torch_class = "NAdam"
    flat = False
    hyper = {"lr": Param(2e-3, _validate.positive, draw="lr"),
             "betas": Param((0.9, 0.999), fraction_pair, draw="betas"),
             "eps": Param(1e-8, _validate.positive, draw="small_eps"),
             "weight_decay": DECAY,
             "momentum_decay": Param(4e-3, _validate.nonnegative, draw="small_positive"),
             "decoupled_weight_decay": Param(False, _validate.flag, draw="flag")}
    buffers = {"torch": (Buffer("exp_avg"), Buffer("exp_avg_sq", nonnegative=True),
                         Buffer("mu_product", kind="scalar", init=lambda opt, p: 1.0))}

    def _step(self, p, g, state, work):
        g = self._decay(p, g)
        beta1, beta2 = self.betas
        t, lr, psi = state["step"], self.lr, self.momentum_decay
        m, v = state["exp_avg"], state["exp_avg_sq"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_product = state["mu_product"] = float(np.float32(state["mu_product"]) * np.float32(mu))
        _lerp(m, g, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        denom = np.sqrt(v / (1 - beta2 ** t)) + self.eps
        p += -lr * (1.0 - mu) / (1.0 - mu_product) * (g / denom)
        p += -lr * mu_next / (1.0 - mu_product * mu_next) * (m / denom)


class RAdam(_Decoupled):
    r"""RAdam (Liu et al., 2020: Adam with its variance rectified), as ``torch.optim.RAdam``::

        m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²;   m̂ = m/(1 − β1ᵗ)
        ρ∞ = 2/(1 − β2) − 1;   ρₜ = ρ∞ − 2t·β2ᵗ/(1 − β2ᵗ)
        ρₜ > 5:  p ← p − lr · m̂ · √(1 − β2ᵗ)/(√v + eps) · r,
                 r = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))
        else:    p ← p − lr · m̂

    Weight decay as NAdam's. Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.
    State ``exp_avg``, ``exp_avg_sq``.
    """

    name = "radam"
    example_lr = 0.3
    formula = Phrase("RAdam: m, v as Adam's;"
               "  p ← p − lr·m/(1 − β₁ᵗ)·[r·√(1 − β₂ᵗ)/(√v + eps) once ρₜ > 5, else 1]")
    torch_class = "RAdam"
    hyper = {"lr": Param(1e-3, _validate.positive, draw="lr"),
             "betas": Param((0.9, 0.999), fraction_pair, draw="betas"),
             "eps": Param(1e-8, _validate.positive, draw="small_eps"),
             "weight_decay": DECAY,
             "decoupled_weight_decay": Param(False, _validate.flag, draw="flag")}
    buffers = {"torch": (Buffer("exp_avg"), Buffer("exp_avg_sq", nonnegative=True))}

    def _step(self, p, g, state, work):
        g = self._decay(p, g)
        beta1, beta2 = self.betas
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        _lerp(m, g, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        bias_correction2 = 1 - beta2 ** t
        m_hat = m / (1 - beta1 ** t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2 ** t / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = bias_correction2 ** 0.5 / (np.sqrt(v) + self.eps)
            p -= m_hat * self.lr * adaptive * rect
        else:
            p -= m_hat * self.lr


class ASGD(Optimizer):
    r"""Averaged SGD (Polyak & Juditsky, 1992), as ``torch.optim.ASGD``::

        g ← g + wd·p
        p ← p·(1 − λ·η) − η·g
        a ← p  while μ = 1, else  a ← a + μ·(p − a)         (the average)
        η ← lr/(1 + λ·lr·t)^α;   μ ← 1/max(1, t − t0)

    Defaults: lr 1e-2, lambd 1e-4, alpha 0.75, t0 1e6, weight_decay 0. State ``ax`` (the
    average) and the scalars ``eta``, ``mu`` (float32, as PyTorch keeps them; eta starts at lr).
    This is PyTorch's single-tensor path; its foreach path computes η in float32 arithmetic and
    differs from it by float32 rounding, so torchref refuses ``foreach=True`` here.
    """

    name = "asgd"
    example_lr = 0.95
    formula = ("ASGD: p ← p·(1 − λ·η) − η·g;  a ← a + μ·(p − a);"
               "  η ← lr/(1 + λ·lr·t)^α,  μ ← 1/max(1, t − t₀)")
    torch_class = "ASGD"
    hyper = {"lr": Param(1e-2, _validate.positive, draw="lr"),
             "lambd": Param(1e-4, _validate.nonnegative, draw="small_positive"),
             "alpha": Param(0.75, _validate.nonnegative, draw="alpha"),
             "t0": Param(1e6, _validate.nonnegative, draw="t0"),
             "weight_decay": DECAY}
    buffers = {"torch": (Buffer("eta", kind="scalar", init=lambda opt, p: _float32(opt.lr)),
                         Buffer("mu", kind="scalar", init=lambda opt, p: 1.0),
                         Buffer("ax"))}
    flat = False
    # PyTorch's foreach path computes η from its float32 step tensor in float32 arithmetic, the
    # single-tensor path in float64 (then stores it as float32): the two differ by float32
    # rounding (6e-8 relative), and npref follows the single-tensor path.
    fast = ()

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        eta, t = state["eta"], state["step"]
        p *= 1 - self.lambd * eta
        p -= eta * g
        if state["mu"] != 1:
            ax = state["ax"]
            ax += (p - ax) * state["mu"]
        else:
            state["ax"][...] = p
        state["eta"] = _float32(self.lr / (1 + self.lambd * self.lr * t) ** self.alpha)
        state["mu"] = _float32(1 / max(1, t - self.t0))


def _sign(x) -> np.ndarray:
    """``torch.sign``: (x > 0) − (x < 0), so a NaN gives 0 (NumPy's ``np.sign`` gives NaN), as
    an array even for a 0-d ``x``."""
    x = np.asarray(x)
    return np.array((x > 0).astype(x.dtype) - (x < 0).astype(x.dtype), dtype=x.dtype)


def _etas(name, value):
    accepted = f"{name} must be a pair (etaminus, etaplus) with 0 < etaminus < 1 < etaplus"
    try:
        low, high = positive_pair(name, value)
    except ValueError:
        raise ValueError(f"{accepted}, got {value!r}") from None
    if not (low < 1.0 < high):
        raise ValueError(f"{accepted}, got {value!r}")
    return low, high


class Rprop(Optimizer):
    r"""Resilient backpropagation (Riedmiller & Braun, 1993), as ``torch.optim.Rprop``: a step size
    per element, grown by etaplus while the gradient keeps its sign and cut by etaminus when it
    flips (and that step skipped)::

        s = sign(g·g_prev);  η = etaplus (s > 0), etaminus (s < 0), 1 (s = 0)
        step ← clip(step·η, step_min, step_max);   g ← 0 where s < 0
        p ← p − sign(g)·step;   g_prev ← g

    Defaults: lr 1e-2 (the first step size), etas (0.5, 1.2), step_sizes (1e-6, 50). No weight
    decay. State ``prev``, ``step_size`` (starts at lr).
    """

    name = "rprop"
    example_lr = 0.01
    formula = Phrase("Rprop: s ← s·η₊ where g·g_prev > 0,"
               " s·η₋ where < 0 (and that step skipped);  p ← p − sign(g)·s")
    torch_class = "Rprop"
    decay = None
    flat = False
    hyper = {"lr": Param(1e-2, _validate.positive, draw="lr"),
             "etas": Param((0.5, 1.2), _etas, draw="etas"),
             "step_sizes": Param((1e-6, 50.0), lambda n, v: positive_pair(n, v, ordered=True),
                                 draw="step_sizes")}
    buffers = {"torch": (Buffer("prev"),
                         Buffer("step_size", nonnegative=True,
                                init=lambda opt, p: np.full_like(p, opt.lr)))}

    def _step(self, p, g, state, work):
        etaminus, etaplus = self.etas
        prev, step_size = state["prev"], state["step_size"]
        sign = _sign(g * prev)
        sign[sign > 0] = etaplus
        sign[sign < 0] = etaminus
        sign[sign == 0] = 1
        step_size[...] = np.clip(step_size * sign, *self.step_sizes)
        g = np.array(g)                                   # a copy
        g[sign == etaminus] = 0                           # a flipped sign: skip this step
        p -= _sign(g) * step_size
        prev[...] = g


def _adafactor_eps(name, value):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a pair (eps1 or None, eps2), got {value!r}")
    eps1 = None if value[0] is None else _validate.positive(f"{name}[0]", value[0])
    return eps1, _validate.positive(f"{name}[1]", value[1])


def _nonpositive(name, value):
    value = _validate._real(name, value, "a finite number <= 0")
    if value > 0:
        raise ValueError(f"{name} must be a finite number <= 0, got {value!r}")
    return value


def _at_least_one(name, value):
    value = _validate._real(name, value, "a finite number >= 1")
    if value < 1.0:
        raise ValueError(f"{name} must be a finite number >= 1 (the clipping threshold), got "
                         f"{value!r}")
    return value


def _factored(p) -> bool:
    return p.ndim > 1


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern, 2018), as ``torch.optim.Adafactor``: the second moment of a
    matrix kept as a row and a column average (its outer product, normalized), of a vector as
    itself; the step relative to the parameter's RMS::

        β2ₜ = 1 − t^β2_decay;   ρₜ = min(lr, 1/√t);   α = max(eps2, RMS(p))·ρₜ
        p ← p·(1 − lr·wd)
        matrix:  r ← lerp(r, mean_row(g²), t^β2_decay);  c ← lerp(c, mean_col(g²), …)
                 v̂ = r·c / max(mean(r), eps1)
        vector:  v ← lerp(v, g², t^β2_decay);  v̂ = v
        u = g/√max(v̂, eps1²);   p ← p − α/max(1, RMS(u)/d) · u

    Defaults: lr 1e-2, beta2_decay −0.8, eps (None, 1e-3) — None: the dtype's machine epsilon —
    d 1.0, weight_decay 0. State ``row_var``, ``col_var`` (a parameter of two or more
    dimensions, factored over its last two) or ``variance`` (vectors and scalars).
    """

    name = "adafactor"
    example_lr = 0.1
    formula = Phrase("Adafactor: v̂ ← factored average of g² (rows × columns; a vector's own);"
               "  u = g/√v̂;"
               "  p ← p − min(lr, 1/√t)·max(eps₂, RMS(p))·u/max(1, RMS(u)/d)")
    torch_class = "Adafactor"
    decay = "decoupled"
    flat = False
    hyper = {"lr": Param(1e-2, _validate.positive, draw="lr"),
             "beta2_decay": Param(-0.8, _nonpositive, draw="beta2_decay"),
             "eps": Param((None, 1e-3), _adafactor_eps, draw="adafactor_eps"),
             "d": Param(1.0, _at_least_one, draw="d"),
             "weight_decay": DECAY}
    buffers = {"torch": (
        Buffer("row_var", kind="other", nonnegative=True,
               init=lambda opt, p: np.zeros((*p.shape[:-1], 1), p.dtype) if _factored(p) else None),
        Buffer("col_var", kind="other", nonnegative=True,
               init=lambda opt, p: (np.zeros((*p.shape[:-2], 1, p.shape[-1]), p.dtype)
                                    if _factored(p) else None)),
        Buffer("variance", kind="other", nonnegative=True,
               init=lambda opt, p: None if _factored(p) else np.zeros_like(p)))}

    def _complete(self, names: set) -> bool:
        return {"row_var", "col_var"} <= names or "variance" in names

    def _step(self, p, g, state, work):
        t = state["step"]
        eps1 = np.finfo(p.dtype).eps if self.eps[0] is None else self.eps[0]
        weight = t ** self.beta2_decay
        rho = min(self.lr, 1 / t ** 0.5)
        alpha = max(self.eps[1], float(_norm(p)) / p.size ** 0.5) * rho
        if self.weight_decay != 0:
            p *= 1 - self.lr * self.weight_decay
        if _factored(p):
            row, col = state["row_var"], state["col_var"]
            _lerp(row, _norm(g, axis=-1, keepdims=True) ** 2 / g.shape[-1], weight)
            _lerp(col, _norm(g, axis=-2, keepdims=True) ** 2 / g.shape[-2], weight)
            estimate = row @ col
            estimate /= np.maximum(row.mean(axis=-2, keepdims=True), eps1)
        else:
            _lerp(state["variance"], g * g, weight)
            estimate = state["variance"].copy()
        update = 1 / np.sqrt(np.maximum(estimate, eps1 * eps1)) * g
        denom = max(1.0, float(_norm(update)) / (update.size ** 0.5 * self.d))
        p -= alpha / denom * update


class Lion(Optimizer):
    r"""Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"): the sign of an
    interpolation of the momentum and the gradient, with decoupled weight decay. PyTorch has no
    class for it; ``torchref.optim.Lion`` computes it::

        c = β1·m + (1 − β1)·g
        p ← p·(1 − lr·wd) − lr·sign(c)
        m ← β2·m + (1 − β2)·g

    Every step moves each element by exactly lr (or 0), whatever the gradient's size — so its
    learning rate is usually 3–10 times smaller than AdamW's, and its weight decay as much
    larger. Defaults (the paper's and lucidrains/lion-pytorch's): lr 1e-4, betas (0.9, 0.99),
    weight_decay 0. State ``exp_avg`` (m).
    """

    name = "lion"
    example_lr = 0.3
    formula = ("Lion: c = β₁·m + (1 − β₁)·g;  p ← p·(1 − lr·wd) − lr·sign(c);"
               "  m ← β₂·m + (1 − β₂)·g")
    torch_class = "Lion"
    decay = "decoupled"
    fast = ()
    hyper = {"lr": Param(1e-4, _validate.positive, draw="lr"),
             "betas": Param((0.9, 0.99), fraction_pair, draw="betas"),
             "weight_decay": DECAY}
    buffers = {"torch": (Buffer("exp_avg"),)}

    def _step(self, p, g, state, work):
        beta1, beta2 = self.betas
        m = state["exp_avg"]
        if self.weight_decay != 0:
            p *= 1 - self.lr * self.weight_decay
        c = m * beta1 + g * (1 - beta1)
        p -= _sign(c) * self.lr                  # torch.sign's sign: a NaN gives 0
        m *= beta2
        m += g * (1 - beta2)


#: Every rule defined above (a class with a ``name``): adding one is adding its class.
__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, Optimizer) and obj.__module__ == __name__
           and obj.name]
