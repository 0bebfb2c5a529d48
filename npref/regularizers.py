r"""Weight penalties added to a network's loss: L1, L2 and their mix, the elastic net.

Applied to weight matrices only, never to biases or BatchNorm's γ and β (the book's rule, which
:class:`npref.nets.MultiLayerNet` follows). ``penalty(weights)`` takes an iterable of weight
arrays and returns the term added to the loss; ``grad(W)`` is its gradient for one of them.

===============  ==================================  =====================================
regularizer      penalty                             gradient
===============  ==================================  =====================================
``L1(lam)``      lam·Σ|W|                            lam·sign(W) (the subgradient, 0 at 0)
``L2(lam)``      ½·lam·ΣW²                           lam·W (weight decay)
``ElasticNet``   l1·Σ|W| + ½·l2·ΣW²                  l1·sign(W) + l2·W
===============  ==================================  =====================================
"""

from __future__ import annotations

import numpy as np

from . import _validate

__all__ = ["L1", "L2", "ElasticNet"]


class L1:
    """lam·Σ|W|; gradient lam·sign(W), 0 where W = 0 (as autograd's subgradient)."""

    def __init__(self, lam: float):
        self.lam = _validate.nonnegative("lam", lam)

    def penalty(self, weights) -> float:
        return float(self.lam * sum(np.abs(W).sum() for W in weights))

    def grad(self, W: np.ndarray) -> np.ndarray:
        return self.lam * np.sign(W)

    def __repr__(self):
        return f"L1(lam={self.lam!r})"


class L2:
    """½·lam·ΣW²; gradient lam·W."""

    def __init__(self, lam: float):
        self.lam = _validate.nonnegative("lam", lam)

    def penalty(self, weights) -> float:
        return float(0.5 * self.lam * sum((W * W).sum() for W in weights))

    def grad(self, W: np.ndarray) -> np.ndarray:
        return self.lam * W

    def __repr__(self):
        return f"L2(lam={self.lam!r})"


class ElasticNet:
    """l1·Σ|W| + ½·l2·ΣW²; gradient l1·sign(W) + l2·W."""

    def __init__(self, l1: float, l2: float):
        self.l1 = _validate.nonnegative("l1", l1)
        self.l2 = _validate.nonnegative("l2", l2)

    def penalty(self, weights) -> float:
        weights = list(weights)
        return float(self.l1 * sum(np.abs(W).sum() for W in weights)
                     + 0.5 * self.l2 * sum((W * W).sum() for W in weights))

    def grad(self, W: np.ndarray) -> np.ndarray:
        return self.l1 * np.sign(W) + self.l2 * W

    def __repr__(self):
        return f"ElasticNet(l1={self.l1!r}, l2={self.l2!r})"
