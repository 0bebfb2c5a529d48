r"""Numerical differentiation: the third witness beside backpropagation and autograd.

``numerical_gradient(f, x)`` perturbs each element of ``x`` in place by ±eps, calls ``f(x)`` and
takes the central difference ``(f(x + eps) − f(x − eps)) / 2eps``, whose error is O(eps²) plus the
rounding of f divided by eps. Use float64: in float32 the rounding term swamps the answer.
"""

from __future__ import annotations

import numpy as np

from . import _validate

__all__ = ["numerical_gradient", "check_gradients"]


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of the scalar ``f(x)`` with respect to the array ``x``.

    ``x`` is modified in place during the call (``f`` usually reads it through a closure, as in
    the book: ``numerical_gradient(lambda W: net.loss(x, t), net.params["W1"])``) and restored
    exactly afterwards.
    """
    eps = _validate.positive("eps", eps)
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError("x must be a floating-point NumPy array (changed in place, then restored)")
    grad = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)          # a view: writing flat[i] writes x
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place")
    for i in range(flat.size):
        original = flat[i]
        try:
            flat[i] = original + eps
            up = _scalar(f(x))
            flat[i] = original - eps
            down = _scalar(f(x))
        finally:
            flat[i] = original
        grad.flat[i] = (up - down) / (2 * eps)
    return grad.astype(x.dtype, copy=False)


def _scalar(value) -> float:
    """``f(x)`` as the one number a gradient is of: a vector has a Jacobian, not a gradient."""
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in "fiub":
        got = f"an array of shape {array.shape}" if array.size != 1 else repr(value)
        raise ValueError(f"f must return one real number (a loss), got {got}: differentiate "
                         "each output separately, or sum them")
    return float(array.reshape(()))


def check_gradients(net, x, t, eps: float = 1e-5, **loss_kwargs) -> dict:
    """Backpropagation against central differences for every parameter of a network.

    ``net`` has ``params``, ``loss(x, t, **loss_kwargs)`` and ``gradient(x, t, **loss_kwargs)``
    (as :class:`npref.nets.MultiLayerNet`; pass ``masks=`` so that dropout is the same in every
    call). Returns ``{key: (backprop, numerical)}``. Running statistics that the loss calls
    would change are restored afterwards. The loss is taken in training mode (``train=True``),
    the mode ``gradient`` differentiates, whatever the network's default mode.
    """
    saved = net.running_stats() if hasattr(net, "running_stats") else None
    try:
        backprop = net.gradient(x, t, **loss_kwargs)
        def loss(_):
            return net.loss(x, t, train=True, **loss_kwargs)
        numerical = {key: numerical_gradient(loss, p, eps) for key, p in net.params.items()}
    finally:
        if saved is not None:
            net.load_running_stats(saved)
    return {key: (backprop[key], numerical[key]) for key in net.params}
