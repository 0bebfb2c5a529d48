r"""L1, L2 and elastic-net penalties with torch tensors (see :mod:`npref.regularizers`).

``penalty(weights)`` returns a 0-dim tensor that autograd differentiates; ``grad(W)`` is the
closed form, for comparing with npref and with autograd.
"""

from __future__ import annotations

import torch

from npref import _validate
from npref.regularizers import regularizer_name

__all__ = ["L1", "L2", "ElasticNet", "make", "from_npref", "REGULARIZERS"]


class L1:
    """lam·Σ|W|; gradient lam·sign(W) (0 at 0, autograd's subgradient of abs)."""

    name = "l1"

    def spec(self) -> tuple[str, dict]:
        """``(name, keywords)``: what :func:`make` builds this from, in either backend."""
        return self.name, {"lam": self.lam}

    def __init__(self, lam: float):
        self.lam = _validate.nonnegative("lam", lam)

    def penalty(self, weights) -> torch.Tensor:
        return self.lam * sum(W.abs().sum() for W in weights)

    def grad(self, W: torch.Tensor) -> torch.Tensor:
        return self.lam * torch.sign(W)


class L2:
    """½·lam·ΣW²; gradient lam·W."""

    name = "l2"

    def spec(self) -> tuple[str, dict]:
        """``(name, keywords)``: what :func:`make` builds this from, in either backend."""
        return self.name, {"lam": self.lam}

    def __init__(self, lam: float):
        self.lam = _validate.nonnegative("lam", lam)

    def penalty(self, weights) -> torch.Tensor:
        return 0.5 * self.lam * sum((W * W).sum() for W in weights)

    def grad(self, W: torch.Tensor) -> torch.Tensor:
        return self.lam * W


class ElasticNet:
    """l1·Σ|W| + ½·l2·ΣW²; gradient l1·sign(W) + l2·W."""

    name = "elastic"

    def spec(self) -> tuple[str, dict]:
        """``(name, keywords)``: what :func:`make` builds this from, in either backend."""
        return self.name, {"l1": self.l1, "l2": self.l2}

    def __init__(self, l1: float, l2: float):
        self.l1 = _validate.nonnegative("l1", l1)
        self.l2 = _validate.nonnegative("l2", l2)

    def penalty(self, weights) -> torch.Tensor:
        weights = list(weights)
        return (self.l1 * sum(W.abs().sum() for W in weights)
                + 0.5 * self.l2 * sum((W * W).sum() for W in weights))

    def grad(self, W: torch.Tensor) -> torch.Tensor:
        return self.l1 * torch.sign(W) + self.l2 * W


def from_npref(regularizer):
    """The torchref twin of an npref regularizer (or the argument itself if it is one already),
    built by name from its ``spec()``."""
    if regularizer is None or isinstance(regularizer, (L1, L2, ElasticNet)):
        return regularizer
    if not callable(getattr(regularizer, "spec", None)):
        raise ValueError(f"regularizer must be an L1, L2 or ElasticNet, got {regularizer!r}")
    name, keywords = regularizer.spec()
    return make(name, **keywords)


#: Regularizers by the name :func:`make` takes (the same names in npref and torchref).
REGULARIZERS = {"l1": L1, "l2": L2, "elastic": ElasticNet}


def make(name: str, **keywords):
    """A regularizer by lower-case name — ``make("l2", lam=0.1)``, ``make("elastic", l1=0.01,
    l2=0.01)`` — the same call in npref and torchref, so that a regularizer crosses from one
    backend to the other by name and keywords (see ``spec()``)."""
    return REGULARIZERS[regularizer_name(name)](**keywords)
