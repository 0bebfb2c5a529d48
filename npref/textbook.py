r"""The update rules and initializers of chapter 6 as the book writes them: a loop over the
parameters, one line per formula.

These are the forms the report shows beside PyTorch's code. :mod:`npref.optim` and
:mod:`npref.init` compute the same numbers faster (in place, into scratch arrays, over one flat
buffer, with every argument checked); ``tests/test_textbook.py`` proves each pair bit-identical —
every rule, both conventions, float32 and float64, many steps — so reading these is reading what
npref computes.

Notation as in the book's listings: ``params`` and ``grads`` are dicts of arrays with the same
keys; the state (``v``, ``h``, ``m``, …) is a dict of arrays of the same shapes, zero at the
start, updated in place; ``t`` counts the updates from 1. Each function makes one update of every
parameter. Where the order of operations matters for the last bit, it is the order of the
source the convention follows (the book's listing or ``torch.optim``), and a comment says so.
Weight decay is left out (``npref.optim`` folds it into the gradient first: ``g + wd·p``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["sgd", "momentum", "momentum_buffer", "nesterov", "nesterov_buffer", "adagrad",
           "rmsprop", "adam", "adam_torch", "adamw", "constant", "normal", "lecun_normal",
           "glorot_normal", "he_normal", "FORMS"]


def sgd(params, grads, lr):
    """SGD: p ← p − lr·g."""
    for key in params:
        params[key] -= lr * grads[key]


def momentum(params, grads, v, lr, momentum):
    """The book's Momentum: v ← μ·v − lr·g;  p ← p + v."""
    for key in params:
        v[key] *= momentum
        v[key] -= lr * grads[key]
        params[key] += v[key]


def momentum_buffer(params, grads, b, lr, momentum):
    """PyTorch's momentum (SGD(momentum=μ)): b ← μ·b + g;  p ← p − lr·b."""
    for key in params:
        b[key] *= momentum
        b[key] += grads[key]
        params[key] -= lr * b[key]


def nesterov(params, grads, v, lr, momentum):
    """The book's Nesterov: p ← p + μ²·v − (1 + μ)·lr·g;  v ← μ·v − lr·g."""
    for key in params:
        params[key] += momentum * momentum * v[key]
        params[key] -= (1 + momentum) * lr * grads[key]
        v[key] *= momentum
        v[key] -= lr * grads[key]


def nesterov_buffer(params, grads, b, lr, momentum):
    """PyTorch's Nesterov (SGD(nesterov=True)): b ← μ·b + g;  p ← p − lr·(g + μ·b)."""
    for key in params:
        b[key] *= momentum
        b[key] += grads[key]
        params[key] -= lr * (grads[key] + momentum * b[key])


def adagrad(params, grads, h, lr, eps):
    """AdaGrad: h ← h + g²;  p ← p − lr·g/(√h + eps) (eps 1e-7 in the book, 1e-10 in PyTorch)."""
    for key in params:
        h[key] += grads[key] * grads[key]
        params[key] -= lr * grads[key] / (np.sqrt(h[key]) + eps)


def rmsprop(params, grads, h, lr, alpha, eps):
    """RMSprop: h ← α·h + (1 − α)·g²;  p ← p − lr·g/(√h + eps)."""
    for key in params:
        h[key] *= alpha
        h[key] += (1 - alpha) * grads[key] * grads[key]
        params[key] -= lr * grads[key] / (np.sqrt(h[key]) + eps)


def adam(params, grads, m, v, t, lr, beta1, beta2, eps):
    """The book's Adam: the bias corrections folded into the rate, eps on the raw √v."""
    lr_t = lr * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
    for key in params:
        m[key] += (1 - beta1) * (grads[key] - m[key])
        v[key] += (1 - beta2) * (grads[key] * grads[key] - v[key])
        params[key] -= lr_t * m[key] / (np.sqrt(v[key]) + eps)


def adam_torch(params, grads, m, v, t, lr, beta1, beta2, eps):
    """PyTorch's Adam: m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ);  p ← p − lr·m̂/(√v̂ + eps).

    ``m`` moves as ``torch.lerp`` computes it, which for β1 > 0.5 (every β1 in use) is the line
    below; for β1 ≤ 0.5 lerp rounds it as ``g − β1·(g − m)`` (see ``npref.optim``)."""
    for key in params:
        m[key] += (1 - beta1) * (grads[key] - m[key])      # torch.lerp (β1 > 0.5)
        v[key] *= beta2
        v[key] += (1 - beta2) * grads[key] * grads[key]
        denom = np.sqrt(v[key]) / (1 - beta2 ** t) ** 0.5 + eps
        params[key] -= lr / (1 - beta1 ** t) * m[key] / denom


def adamw(params, grads, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """AdamW: p ← p·(1 − lr·wd), then PyTorch's Adam step with the raw gradient."""
    for key in params:
        params[key] *= 1 - lr * weight_decay
    adam_torch(params, grads, m, v, t, lr, beta1, beta2, eps)


def constant(shape, value):
    """Every weight the same value (the symmetry problem: every unit stays the same)."""
    return np.full(shape, float(value))


def normal(shape, std, rng):
    """N(0, std²): the book's ``std * np.random.randn(...)``."""
    return std * rng.standard_normal(shape)


def lecun_normal(shape, rng):
    """The book's "Xavier": N(0, 1/n), n = fan_in = shape[0]."""
    return 1.0 / math.sqrt(shape[0]) * rng.standard_normal(shape)


def glorot_normal(shape, rng):
    """Glorot's Xavier: N(0, 2/(fan_in + fan_out))."""
    fan_in, fan_out = shape
    return math.sqrt(2.0 / (fan_in + fan_out)) * rng.standard_normal(shape)


def he_normal(shape, rng):
    """He: N(0, 2/n), n = fan_in; √2/√n, rounded as PyTorch's gain/√fan rounds it."""
    return math.sqrt(2.0) / math.sqrt(shape[0]) * rng.standard_normal(shape)


def __getattr__(name):
    if name == "FORMS":
        return _forms()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _forms() -> dict:
    """``FORMS``: the book-notation form of each optimizer of :mod:`npref.optim`, by name and
    convention — the function, and the names of its state arrays in the order it takes them
    (``t``: the step) — as each rule's description names it (its ``textbook``)."""
    from . import optim

    return {(rule.name, convention): form for rule in optim.RULES.values()
            for convention, form in rule.textbook.items()}
