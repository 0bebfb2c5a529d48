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

__all__ = ["L1", "L2", "ElasticNet", "make", "REGULARIZERS"]


class L1:
    """lam·Σ|W|; gradient lam·sign(W), 0 where W = 0 (as autograd's subgradient)."""

    name = "l1"

    def spec(self) -> tuple[str, dict]:
        """``(name, keywords)``: what :func:`make` builds this from, in either backend."""
        return self.name, {"lam": self.lam}

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

    name = "l2"

    def spec(self) -> tuple[str, dict]:
        """``(name, keywords)``: what :func:`make` builds this from, in either backend."""
        return self.name, {"lam": self.lam}

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

    name = "elastic"

    def spec(self) -> tuple[str, dict]:
        """``(name, keywords)``: what :func:`make` builds this from, in either backend."""
        return self.name, {"l1": self.l1, "l2": self.l2}

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


#: Regularizers by the name :func:`make` takes (the same names in npref and torchref).
REGULARIZERS = {"l1": L1, "l2": L2, "elastic": ElasticNet}


def make(name: str, **keywords):
    """A regularizer by lower-case name — ``make("l2", lam=0.1)``, ``make("elastic", l1=0.01,
    l2=0.01)`` — the same call in npref and torchref, so that a regularizer crosses from one
    backend to the other by name and keywords (see ``spec()``)."""
    return REGULARIZERS[regularizer_name(name)](**keywords)


def regularizer_name(name) -> str:
    """``name`` as a key of :data:`REGULARIZERS` (any case), or a ValueError listing them; the
    check both backends' ``make`` use."""
    key = str(name).lower()
    if key not in REGULARIZERS:
        raise ValueError(f"regularizer name must be one of {', '.join(map(repr, REGULARIZERS))}, "
                         f"got {name!r}")
    return key
