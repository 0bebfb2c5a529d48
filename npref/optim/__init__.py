r"""Parameter-update rules, in NumPy: the seven of chapter 6 and the rest of ``torch.optim`` for
dense parameters.

Every optimizer updates a dict of parameter arrays in place from a dict of gradients with the same
keys, exactly like the book::

    opt = Adam(lr=1e-3)
    opt.update(params, grads)      # params[key] changes in place

Each rule is a row of data — its hyperparameters with their checks, its state with PyTorch's
names, its conventions, its ``torch.optim`` twin (:mod:`npref.optim.base`) — and its update
(:mod:`npref.optim.chapter6`: SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW, in the
"torch" and "book" conventions of docs/conventions.md; :mod:`npref.optim.more`: Adadelta, Adamax,
NAdam, RAdam, ASGD, Rprop, Adafactor, PyTorch's rules). The arrays keep their dtype.

Non-finite gradients: ``update`` checks keys, shapes, dtypes and that no array appears under two
keys, but not the gradient's values. A NaN or Inf in a gradient does to the parameter and the state
exactly what it does in ``torch.optim``'s ``step``. The training loops
(:func:`npref.training.fit`) stop on a non-finite loss or parameter and name the step.

Not covered, refused by :func:`make` with the reason (:data:`REFUSED`): LBFGS, SparseAdam, Muon.
"""

from __future__ import annotations

from . import chapter6, more
from .base import _SAME, DEFINED, Buffer, Optimizer, Param, Phrase  # noqa: F401 (the pieces)
from .chapter6 import DEFAULT_EPS, SGD, AdaGrad, Adam, AdamW, Momentum, Nesterov, RMSprop
from .more import *  # noqa: F401,F403 (every rule more.py defines, by its __all__)

#: Every rule, by the lower-case name :func:`make` takes: chapter 6's in the book's order, then
#: the rest (:mod:`npref.optim.more`: the rest of ``torch.optim``, and rules PyTorch lacks).
#: A class defined there is a rule here, in torchref and in the parity suite: nothing lists them.
RULES = dict(DEFINED)
NAMES = tuple(RULES)
#: The book's seven.
CHAPTER_6 = tuple(name for name, cls in RULES.items() if cls.__module__ == chapter6.__name__)

__all__ = ["Optimizer", *chapter6.__all__, *more.__all__, "make", "NAMES", "CHAPTER_6", "REFUSED",
           "RULES", "has_conventions", "with_convention"]

#: ``torch.optim``'s optimizers npref does not cover, and why.
REFUSED = {
    "lbfgs": "LBFGS is not covered: its step re-evaluates the loss through a closure several "
             "times per update, which an update(params, grads) rule cannot do",
    "sparseadam": "SparseAdam is not covered: it updates sparse gradients, and npref's "
                  "parameters and gradients are dense arrays",
    "muon": "Muon is not covered: its Newton–Schulz orthogonalization runs in bfloat16 matrix "
            "products, whose rounding and CPU summation order no NumPy code reproduces; a NumPy "
            "Muon could agree with PyTorch's to about three digits, not to the tolerances of "
            "docs/parity.md",
}


def make(name: str, **kwargs) -> Optimizer:
    """Build an optimizer by lower-case name — the PyTorch door.

    The keywords are ``torch.optim``'s names for every rule and every option
    (``make("sgd", momentum=0.9, dampening=0.5, nesterov=True)``, ``make("adam", amsgrad=True)``,
    ``make("rmsprop", centered=True, momentum=0.5)``, ``maximize=True`` for any); a keyword left
    out takes **PyTorch's default** (``make("sgd")`` steps like ``torch.optim.SGD(params)``, lr
    1e-3), or with ``convention="book"`` the book's (``make("adam", convention="book")``: eps
    1e-7). An ``lr`` may be a 0-d tensor or array, read as the number it holds. The classes
    themselves (``SGD()`` …) keep the book's defaults of docs/api.md.
    """
    key = name.lower() if isinstance(name, str) else name
    if key in REFUSED:
        raise ValueError(REFUSED[key])
    cls = RULES.get(key)
    if cls is None:
        raise ValueError(f"name must be one of {', '.join(map(repr, NAMES))}, got {name!r}")
    if kwargs.get("convention", "torch") == "torch":
        kwargs = {**{k: p.torch_default for k, p in cls.hyper.items()
                     if k not in kwargs and p.torch_default is not _SAME}, **kwargs}
    return cls(**kwargs)


def has_conventions(name: str) -> bool:
    """Whether rule ``name`` exists in the book's convention too."""
    return RULES[name.lower()].has_conventions


def with_convention(name: str, hyper: dict, convention: str) -> dict:
    """``hyper`` with ``convention`` added where the rule has conventions (SGD, AdamW and the
    rules the book lacks take none): the question experiments ask the rule."""
    return {**hyper, "convention": convention} if has_conventions(name) else dict(hyper)
