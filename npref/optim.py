r"""Parameter-update rules of chapter 6, in NumPy.

Every optimizer updates a dict of parameter arrays in place from a dict of gradients with the same
keys, exactly like the book::

    opt = Adam(lr=1e-3)
    opt.update(params, grads)      # params[key] changes in place

Each rule exists in two conventions (docs/conventions.md): ``convention="torch"`` is PyTorch's
documented rule and default constants, and matches ``torch.optim`` to the last bits;
``convention="book"`` is the textbook's formula and constants. Notation below: ``p`` a parameter,
``g`` its gradient, ``t`` the step count (from 1), ``lr`` the learning rate, ``wd`` the weight
decay. With ``weight_decay > 0`` every rule first replaces ``g`` by ``g + wd·p`` (L2 decay applied
by the optimizer to every parameter it is handed, as ``torch.optim`` does); AdamW instead decays the
parameter directly. The arithmetic follows the order of operations of its source (``torch.optim``
or the book's listing), so float64 results agree to the last few bits.

The arrays keep their dtype: float32 in, float32 state and float32 out.

Non-finite gradients: ``update`` checks keys, shapes, dtypes and that no array appears under two
keys, but not the gradient's values. A NaN or Inf in a gradient does to the parameter and the state
exactly what it does in ``torch.optim``'s ``step``: it flows through the formula (an Inf gradient
makes the Adam step NaN, a NaN gradient makes the parameter NaN) and stays there. The training
loops (:func:`npref.training.fit`) stop on a non-finite loss or parameter and name the step.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import numpy as np

from . import _flat, _validate

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW",
           "make", "NAMES", "DEFAULT_EPS"]

#: The eps each convention uses when ``eps=None``.
DEFAULT_EPS = {
    "adagrad": {"torch": 1e-10, "book": 1e-7},
    "rmsprop": {"torch": 1e-8, "book": 1e-7},
    "adam": {"torch": 1e-8, "book": 1e-7},
}


class Optimizer:
    """Base class: validation, per-parameter state, ``state_dict``.

    Subclasses set ``name`` and ``state_names`` (the per-parameter buffers, keyed by convention)
    and implement ``_step(p, g, state, work)``, which updates ``p`` and the buffers in ``state``
    in place (``work``: two scratch arrays).
    ``state[key]["step"]`` counts the updates each parameter has had.
    """

    name = ""
    state_names: Mapping[str, tuple[str, ...]] = {"torch": (), "book": ()}
    #: Buffers that hold sums or averages of squares: never negative.
    nonnegative: tuple[str, ...] = ()
    #: False where the rule exists in one convention only (SGD: both agree; AdamW: torch only).
    has_conventions = True

    def __init__(self, *, lr: float, weight_decay: float = 0.0, convention: str = "torch"):
        self.lr = _validate.positive("lr", lr)
        self.weight_decay = _validate.nonnegative("weight_decay", weight_decay)
        self.convention = _validate.convention(convention)
        self.state: dict[str, dict] = {}
        self._work: dict[str, tuple] = {}       # scratch arrays, reused from step to step
        self._layout: _flat.Layout | None = None  # the flat buffer last seen (see _flat_update)

    # -- the public API -------------------------------------------------------------------------

    def update(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Apply one step to every array in ``params``, in place.

        ``params`` and ``grads`` are dicts with the same keys; each gradient has its parameter's
        shape and dtype. Everything is checked before any parameter or buffer changes.
        """
        layout = self._layout
        names = self.state_names[self.convention]
        step = None if layout is None else layout.ready(params, grads, self.state, names)
        if step is not None:                  # the same arrays as last step: nothing to check
            self._flat_step(layout, grads.buffer, step, names)
            return
        self._check(params, grads)
        if self._flat_update(params, grads):
            return
        for key, p in params.items():
            state = self.state.get(key)
            if state is None:
                state = self.state[key] = self._new_state(p)
            state["step"] += 1
            self._step(p, grads[key], state, self._scratch(key, p))

    def hyperparameters(self) -> dict:
        """The constructor's keywords, with the values in use (eps resolved)."""
        hyper = {"lr": self.lr, "weight_decay": self.weight_decay}
        if self.has_conventions:
            hyper["convention"] = self.convention
        return hyper

    def state_dict(self) -> dict:
        """A deep copy of the hyperparameters and per-parameter state."""
        return {"name": self.name, "hyperparameters": self.hyperparameters(),
                "state": copy.deepcopy(self.state)}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore what ``state_dict`` returned (of an optimizer of the same kind)."""
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"name", "hyperparameters",
                                                                      "state"}:
            raise ValueError("state_dict must be a dict with keys 'name', 'hyperparameters', "
                             "'state', as returned by state_dict()")
        if state_dict["name"] != self.name:
            raise ValueError(f"state_dict is for optimizer {state_dict['name']!r}, "
                             f"not {self.name!r}")
        fresh = type(self)(**state_dict["hyperparameters"])  # validates the hyperparameters
        expected = {"step", *fresh.state_names[fresh.convention]}
        state = {}
        for key, buffers in state_dict["state"].items():
            where = f"state_dict['state'][{key!r}]"
            if not isinstance(buffers, Mapping) or set(buffers) != expected:
                got = sorted(buffers) if isinstance(buffers, Mapping) else type(buffers).__name__
                raise ValueError(f"{where} must have the entries {sorted(expected)}, got {got}")
            step = buffers["step"]
            if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                raise ValueError(f"{where}['step'] must be an int >= 0, got {step!r}")
            for name in expected - {"step"}:
                fresh._check_buffer(f"{where}[{name!r}]", name, buffers[name])
            state[key] = copy.deepcopy(dict(buffers))
        self.__dict__.update(fresh.__dict__)
        self.state = state
        self._work = {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"

    # -- for subclasses -------------------------------------------------------------------------

    def _flat_update(self, params, grads) -> bool:
        """The same step as the loop in :meth:`update`, taken once over whole buffers when every
        parameter is a view of one buffer (as :class:`npref.nets.MultiLayerNet` keeps them), every
        gradient a view of another at the same place, and all have taken the same number of
        steps. The rules are element-wise, so each element meets the same operations in the same
        order — the same rounding — as in the loop. False (nothing done) otherwise."""
        layout = self._layout
        if layout is None or not layout.holds(params) or not layout.base.flags.writeable:
            layout = self._layout = _flat.Layout.of(params)
            if layout is None:
                return False
        flat_g = layout.grads_base(grads)
        if flat_g is None:
            return False
        names = self.state_names[self.convention]
        step = layout.adopt_state(self.state, names)
        if step is None:
            return False
        self._flat_step(layout, flat_g, step, names)
        return True

    def _flat_step(self, layout, flat_g, step, names) -> None:
        for key in layout.keys:
            self.state[key]["step"] = step + 1
        state = {"step": step + 1, **{name: layout.state_flat[name] for name in names}}
        self._step(layout.base, flat_g, state, layout.scratch())

    def _new_state(self, p: np.ndarray) -> dict:
        state = {"step": 0}
        for buffer in self.state_names[self.convention]:
            state[buffer] = np.zeros_like(p)
        return state

    def _scratch(self, key, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two arrays of ``p``'s shape and dtype to compute into, kept from step to step.

        The rules below write every intermediate into these with ``out=`` — the same operations
        in the same order as the formula, so the same rounding — instead of allocating a new
        array per operation.
        """
        work = self._work.get(key)
        if work is None or work[0].shape != p.shape or work[0].dtype != p.dtype:
            work = self._work[key] = (np.empty_like(p), np.empty_like(p))
        return work

    def _decayed(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``g + wd·p``: L2 weight decay folded into the gradient (a new array; ``g`` is kept)."""
        if self.weight_decay == 0.0:
            return g
        return g + self.weight_decay * p

    def _step(self, p: np.ndarray, g: np.ndarray, state: dict, work: tuple) -> None:
        raise NotImplementedError

    def _check_buffer(self, where: str, name: str, value) -> None:
        """A state buffer from outside: a floating NumPy array, finite, and non-negative where
        the rule keeps squares."""
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f"{where} must be a floating NumPy array, got "
                             f"{type(value).__name__}")
        if not np.isfinite(value).all():
            raise ValueError(f"{where} holds NaN or Inf")
        if name in self.nonnegative and (value < 0).any():
            raise ValueError(f"{where} holds negative values; it is a running sum of squares")

    def _check(self, params, grads) -> None:
        if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
            raise TypeError("update(params, grads) takes two dicts of NumPy arrays, got "
                            f"{type(params).__name__} and {type(grads).__name__}")
        if set(params) != set(grads):
            missing = sorted(set(params) - set(grads), key=str)
            extra = sorted(set(grads) - set(params), key=str)
            raise ValueError("params and grads must have the same keys; "
                             f"missing from grads: {missing}, not in params: {extra}")
        _distinct(params)
        for key, p in params.items():
            g = grads[key]
            if not isinstance(p, np.ndarray) or not isinstance(g, np.ndarray):
                raise TypeError(f"params[{key!r}] and grads[{key!r}] must be NumPy arrays, got "
                                f"{type(p).__name__} and {type(g).__name__}")
            if p.dtype.kind != "f":                      # np.floating
                raise ValueError(f"params[{key!r}] must have a floating dtype, got {p.dtype}")
            if not p.flags.writeable:
                raise ValueError(f"params[{key!r}] is read-only; update() changes it in place")
            if g.shape != p.shape or g.dtype != p.dtype:
                raise ValueError(f"grads[{key!r}] must match params[{key!r}]: expected shape "
                                 f"{p.shape} and dtype {p.dtype}, got {g.shape} and {g.dtype}")
            for buffer, value in self.state.get(key, {}).items():
                if isinstance(value, np.ndarray) and (value.shape != p.shape
                                                      or value.dtype != p.dtype):
                    raise ValueError(
                        f"params[{key!r}] has shape {p.shape} and dtype {p.dtype}, but this "
                        f"optimizer's {buffer!r} buffer for it has {value.shape} and "
                        f"{value.dtype}; use a new optimizer for a new set of parameters")


class SGD(Optimizer):
    r"""Stochastic gradient descent (the same in both conventions)::

        p ← p − lr·g

    Equals ``torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)``.
    """

    name = "sgd"
    has_conventions = False

    def __init__(self, *, lr: float = 0.01, weight_decay: float = 0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        a = work[0]
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
    state_names = {"torch": ("momentum_buffer",), "book": ("v",)}

    def __init__(self, *, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0,
                 convention: str = "torch"):
        super().__init__(lr=lr, weight_decay=weight_decay, convention=convention)
        self.momentum = _validate.fraction("momentum", momentum)

    def hyperparameters(self):
        return {**super().hyperparameters(), "momentum": self.momentum}

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
    state_names = {"torch": ("sum",), "book": ("h",)}
    nonnegative = ("sum", "h")

    def __init__(self, *, lr: float = 0.01, eps: float | None = None, weight_decay: float = 0.0,
                 convention: str = "torch"):
        super().__init__(lr=lr, weight_decay=weight_decay, convention=convention)
        self.eps = _resolve_eps(self.name, eps, self.convention)

    def hyperparameters(self):
        return {**super().hyperparameters(), "eps": self.eps}

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        h = state[self.state_names[self.convention][0]]
        a, b = work
        np.multiply(g, g, out=a)
        h += a                                       # h ← h + g²
        _divided_step(p, g, h, self.lr, self.eps, a, b)


class RMSprop(Optimizer):
    r"""RMSprop: AdaGrad with an exponential moving average of squared gradients, decay α::

        h ← α·h + (1−α)·g²
        p ← p − lr·g / (√h + eps)

    The formula is the same in both conventions; eps defaults to 1e-8 ("torch",
    ``torch.optim.RMSprop``, state ``square_avg``) or 1e-7 ("book", state ``h``; the book calls α
    ``decay_rate``).
    """

    name = "rmsprop"
    state_names = {"torch": ("square_avg",), "book": ("h",)}
    nonnegative = ("square_avg", "h")

    def __init__(self, *, lr: float = 0.01, alpha: float = 0.99, eps: float | None = None,
                 weight_decay: float = 0.0, convention: str = "torch"):
        super().__init__(lr=lr, weight_decay=weight_decay, convention=convention)
        self.alpha = _validate.fraction("alpha", alpha)
        self.eps = _resolve_eps(self.name, eps, self.convention)

    def hyperparameters(self):
        return {**super().hyperparameters(), "alpha": self.alpha, "eps": self.eps}

    def _step(self, p, g, state, work):
        g = self._decayed(p, g)
        h = state[self.state_names[self.convention][0]]
        a, b = work
        h *= self.alpha
        np.multiply(g, 1 - self.alpha, out=a)
        a *= g
        h += a                                       # h ← α·h + (1−α)·g²
        _divided_step(p, g, h, self.lr, self.eps, a, b)


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
    state_names = {"torch": ("exp_avg", "exp_avg_sq"), "book": ("m", "v")}
    nonnegative = ("exp_avg_sq", "v")
    _decoupled = False

    def __init__(self, *, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float | None = None, weight_decay: float = 0.0, convention: str = "torch"):
        super().__init__(lr=lr, weight_decay=weight_decay, convention=convention)
        self.betas = _validate.betas(betas)
        self.eps = _resolve_eps("adam", eps, self.convention)

    def hyperparameters(self):
        return {**super().hyperparameters(), "betas": self.betas, "eps": self.eps}

    def _step(self, p, g, state, work):
        beta1, beta2 = self.betas
        t = state["step"]
        if self._decoupled:
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
    has_conventions = False
    _decoupled = True

    def __init__(self, *, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         convention="torch")


def _distinct(params) -> None:
    """One array under two keys would be updated twice per step (and its state kept twice):
    refused, before anything changes. (Identity only: cheap enough for every step.)"""
    if len({id(p) for p in params.values()}) == len(params):
        return
    seen: dict[int, str] = {}
    for key, p in params.items():
        if id(p) in seen:
            raise ValueError(f"params[{seen[id(p)]!r}] and params[{key!r}] are the same array "
                             "under two keys; each parameter must appear once")
        seen[id(p)] = key


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


def _divided_step(p, g, h, lr, eps, a, b) -> None:
    """``p ← p − lr·g / (√h + eps)``, the step AdaGrad and RMSprop share."""
    np.sqrt(h, out=b)
    b += eps
    np.multiply(g, lr, out=a)
    a /= b
    p -= a


def _resolve_eps(name: str, eps, convention: str) -> float:
    if eps is None:
        return DEFAULT_EPS[name][convention]
    return _validate.positive("eps", eps)


_CLASSES = {cls.name: cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW)}

#: Lower-case names accepted by :func:`make`, in the book's order.
NAMES = tuple(_CLASSES)


def make(name: str, **kwargs) -> Optimizer:
    """Build an optimizer by lower-case name, e.g. ``make("adam", lr=1e-3, convention="book")``."""
    cls = _CLASSES.get(name.lower() if isinstance(name, str) else name)
    if cls is None:
        raise ValueError(f"name must be one of {', '.join(map(repr, NAMES))}, got {name!r}")
    return cls(**kwargs)
