r"""The optimizer base and the description every rule is: its hyperparameters, its state, its
conventions, its PyTorch twin — data, read by the constructor here, by torchref's factories, by
:func:`npref.optim.make`, by the hypothesis strategies and by the parity suite.

A rule is a subclass of :class:`Optimizer` that declares

``hyper``
    ``{keyword: Param(default, check, draw=…, torch=…)}`` — every constructor keyword, its
    default (one value, or ``{convention: value}``), its check (``check(name, value) ->
    value``, raising a ``ValueError`` that names the argument and the accepted range: validation
    written once, here), how the parity suite draws it, and PyTorch's name for it where that
    differs;
``buffers``
    ``{convention: (Buffer(name, torch=…, kind=…, …), …)}`` — the per-parameter state: arrays of
    the parameter's shape (``kind="array"``, the default), scalars (``"scalar"``) or arrays of a
    shape the rule chooses (``"other"``), each with PyTorch's state-dict name and, where it is
    stored differently, the factor between the two;
``torch_class``
    ``"SGD"``, ``"NAdam"`` … — the class that computes the rule in PyTorch: ``torch.optim``'s of
    that name, or where PyTorch has none (``"Lion"``) torchref's own of that name;
``formula``
    the update in one line of the book's notation, for the report (``{convention: text}`` where
    the conventions differ); a :class:`Phrase` where it holds English words to translate;
``note``
    where the book's convention differs from PyTorch's, for the report (a :class:`Phrase`);
``textbook``
    ``{convention: (function, state names)}`` — the rule as the book writes it, a loop in
    :mod:`npref.textbook` that ``tests/test_textbook.py`` proves bit-identical to ``_step``
    (chapter 6); where there is none the report shows ``_step`` itself, as it ran;
``example_lr``
    the learning rate at which the rule walks the book's bowl f = x²/20 + y² in 30 steps (the
    optimizer-paths experiment's second figure; None keeps it out);

and implements ``_step(p, g, state, work)``, which updates ``p`` and ``state`` in place. Adding an
optimizer is that class (its update rule and its description), and — where PyTorch has no class
for it — torchref's; the factories, the parity suite, the report's panels and the paths figure
read the rest.
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .. import _flat, _validate

__all__ = ["Optimizer", "Param", "Buffer", "Phrase", "MAXIMIZE", "fraction_pair",
           "positive_pair"]


class Phrase(str):
    """Text in English words — a formula's words, a note — that the report shows in the page's
    language (experiments' catalogue translates each Phrase of every description; a plain str is
    notation, shown as it is)."""


#: "No PyTorch default of its own": :attr:`Param.torch_default` left out.
_SAME = object()


@dataclass(frozen=True)
class Param:
    """A hyperparameter: its default (a value, or ``{convention: value}``), its check, how the
    parity suite draws it (:data:`npref.testing.strategies.DRAWS`), and PyTorch's keyword where
    it differs. ``None`` given for a keyword whose default depends on the convention means that
    default (``eps=None``)."""

    default: object
    check: Callable
    draw: str = "default"
    torch: str | None = None
    #: PyTorch's default where it differs from ``default`` (the book's, section 4 of the API):
    #: :func:`npref.optim.make`, the PyTorch door, uses it under ``convention="torch"``.
    torch_default: object = _SAME
    #: One of PyTorch's options that the book's rule does not have (``maximize``, ``amsgrad``,
    #: ``centered`` …): shown only when set, and (where it is not None) refused away from the
    #: conventions listed.
    option: tuple[str, ...] | None = None

    def default_for(self, convention: str):
        if isinstance(self.default, Mapping):
            return self.default[convention]
        return self.default

    @property
    def by_convention(self) -> bool:
        return isinstance(self.default, Mapping)


@dataclass(frozen=True)
class Buffer:
    """A piece of per-parameter state.

    ``kind``: ``"array"`` (the parameter's shape and dtype), ``"scalar"`` (a float) or ``"other"``
    (an array of a shape the rule chooses, made by ``init``). ``torch``: PyTorch's state-dict name
    (default: the same). ``scale(opt)``: PyTorch's value is ``scale(opt)`` times ours (the book's
    velocity is −lr times PyTorch's buffer). ``init(opt, p)``: the starting value (default: zeros,
    or 0.0). ``nonnegative``: a sum or average of squares, never negative."""

    name: str
    torch: str | None = None
    kind: str = "array"
    nonnegative: bool = False
    scale: Callable | None = None
    init: Callable | None = None
    #: ``when(opt)``: whether the optimizer keeps this buffer at all (RMSprop's ``grad_avg`` only
    #: when ``centered``); None: always. As PyTorch, which creates it only then.
    when: Callable | None = None

    @property
    def torch_name(self) -> str:
        return self.torch or self.name


def _plain(value):
    """A 0-d array or tensor (PyTorch's own tests pass ``lr=torch.tensor(0.001)``) as the Python
    number it holds, a pair of them element by element; anything else as it is (and checked)."""
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    if (not isinstance(value, (numbers.Number, str, bytes)) and getattr(value, "ndim", None) == 0
            and callable(getattr(value, "item", None))):
        return value.item()
    return value


#: Every rule npref.optim defines, by lower-case name, in the order its modules define them.
DEFINED: dict[str, type] = {}

#: ``maximize``: every rule's, as in ``torch.optim``.
MAXIMIZE = Param(False, _validate.flag, draw="flag", option=("torch", "book"))


def fraction_pair(name: str, value) -> tuple[float, float]:
    """A pair of numbers in [0, 1) (Adam's betas)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), each in [0, 1), got {value!r}")
    return (_validate.fraction(f"{name}[0]", value[0]), _validate.fraction(f"{name}[1]", value[1]))


def positive_pair(name: str, value, ordered: bool = False) -> tuple[float, float]:
    """A pair of finite numbers > 0 (Rprop's etas, its step sizes; ``ordered``: first < second)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a pair of numbers > 0, got {value!r}")
    pair = (_validate.positive(f"{name}[0]", value[0]), _validate.positive(f"{name}[1]", value[1]))
    if ordered and not pair[0] < pair[1]:
        raise ValueError(f"{name} must be a pair (low, high) with 0 < low < high, got {value!r}")
    return pair


class Optimizer:
    """Base class: the constructor and validation (from ``hyper``), per-parameter state (from
    ``buffers``), ``update``, ``state_dict``.

    ``state[key]["step"]`` counts the updates each parameter has had.
    """

    name = ""
    #: Constructor keywords (see the module's docstring); ``convention`` is added where
    #: ``buffers`` has more than one.
    hyper: Mapping[str, Param] = {}
    buffers: Mapping[str, tuple[Buffer, ...]] = {"torch": ()}
    #: The ``torch.optim`` class computing the rule (its name), or None.
    torch_class: str | None = None
    #: The PyTorch fast paths the rule has (``"foreach"``, ``"fused"``).
    fast: tuple[str, ...] = ("foreach",)
    #: How the rule applies ``weight_decay``: ``"L2"`` (``g + wd·p`` folded into the gradient),
    #: ``"decoupled"`` (``p·(1 − lr·wd)``, AdamW's), or None (the rule has none).
    decay: str | None = "L2"
    #: Whether one pass over a network's whole parameter buffer computes the same as the loop:
    #: element-wise rules whose state is arrays starting at zero.
    flat: bool = True

    #: The rule in one line of the book's notation ("Adamax: m ← …; p ← …"), or one per
    #: convention, for the report's rule panels.
    formula: str | Mapping[str, str] | None = None
    #: Where the book's convention differs from PyTorch's (a Phrase), for the report.
    note: str | None = None
    #: ``{convention: (function of npref.textbook, its state arrays in order)}``: the book's form.
    textbook: Mapping[str, tuple] = {}
    #: The learning rate for the book's bowl in optimizer-paths' second figure (None: not there).
    example_lr: float | None = None

    @classmethod
    def formula_for(cls, convention: str = "torch") -> str:
        """The formula shown for ``convention`` (the rule's only one where they agree)."""
        if isinstance(cls.formula, Mapping):
            return cls.formula.get(convention) or next(iter(cls.formula.values()))
        return cls.formula or cls.__name__

    #: Whether the rule exists in the book's convention too (False: SGD, where both agree, and
    #: the rules the book does not have) — set from ``buffers``.
    has_conventions = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name and cls.__module__.startswith("npref.optim."):
            DEFINED[cls.name] = cls             # npref.optim.RULES, in the order defined
        cls.has_conventions = len(cls.buffers) > 1
        if "maximize" not in cls.hyper:          # PyTorch's every rule has it: ascend on g
            cls.hyper = {**cls.hyper, "maximize": MAXIMIZE}
        # The keywords, as a signature: help() and inspect show SGD(*, lr=0.01, …).
        keywords = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY,
                                      default=None if p.by_convention else p.default)
                    for k, p in cls.hyper.items()]
        if cls.has_conventions:
            keywords.append(inspect.Parameter("convention", inspect.Parameter.KEYWORD_ONLY,
                                              default="torch"))
        cls.__signature__ = inspect.Signature(keywords)

    def __init__(self, **kwargs):
        cls = type(self)
        allowed = set(cls.hyper) | ({"convention"} if cls.has_conventions else set())
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {unknown[0]!r}; "
                            f"it takes {', '.join(sorted(allowed))}")
        self.convention = (_validate.convention(kwargs.get("convention", "torch"))
                           if cls.has_conventions else "torch")
        for key, param in cls.hyper.items():
            value = _plain(kwargs.get(key))
            if value is None and (key not in kwargs or param.by_convention):
                value = param.default_for(self.convention)
            value = param.check(key, value)
            if (param.option is not None and self.convention not in param.option
                    and value != param.default_for(self.convention)):
                raise ValueError(f"{key} must be {param.default_for(self.convention)!r} with "
                                 f"convention={self.convention!r}, got {value!r}: it is "
                                 f"PyTorch's option, which the book's {cls.__name__} does not "
                                 "have (use convention='torch')")
            setattr(self, key, value)
        self._check_options()
        self.state: dict[str, dict] = {}
        #: The learning rate a schedule started from (npref.schedulers sets it, as PyTorch
        #: sets a param group's ``initial_lr``).
        self.initial_lr: float | None = None
        self._work: dict[str, tuple] = {}       # scratch arrays, reused from step to step
        self._layout: _flat.Layout | None = None  # the flat buffer last seen (see _flat_update)
        self._owners: dict[str, weakref.ref] = {}  # the array each key's state was built for

    # -- the description, as the rest of the code reads it ----------------------------------------

    @property
    def state_buffers(self) -> tuple[Buffer, ...]:
        """The buffers this optimizer keeps (its convention's; an option's only when set)."""
        return tuple(b for b in self.buffers[self.convention] if b.when is None or b.when(self))

    @property
    def state_names(self) -> Mapping[str, tuple[str, ...]]:
        """The array buffers of the parameter's shape, per convention (an option's only when
        set)."""
        return {c: tuple(b.name for b in bs if b.kind == "array" and (b.when is None
                                                                       or b.when(self)))
                for c, bs in self.buffers.items()}

    def options(self) -> dict:
        """The PyTorch options set away from their defaults (``{"amsgrad": True}``)."""
        return {key: getattr(self, key) for key, p in type(self).hyper.items()
                if p.option is not None and getattr(self, key) != p.default_for(self.convention)}

    @property
    def nonnegative(self) -> tuple[str, ...]:
        return tuple(b.name for bs in self.buffers.values() for b in bs if b.nonnegative)

    def _complete(self, names: set) -> bool:
        """Whether a parameter's state entries ``names`` are a whole set (a rule whose buffers
        depend on the parameter's shape says which sets are)."""
        return True

    def _flat_ok(self) -> bool:
        return self.flat and all(b.kind == "array" and b.init is None for b in self.state_buffers)

    # -- the public API -------------------------------------------------------------------------

    def update(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Apply one step to every array in ``params``, in place.

        ``params`` and ``grads`` are dicts with the same keys; each gradient has its parameter's
        shape and dtype. Everything is checked before any parameter or buffer changes.

        A NaN or Inf in a gradient is not refused, as ``torch.optim``'s ``step`` does not refuse
        it: it flows into the parameter and the state exactly as it does in PyTorch (the same
        elements become NaN or Inf), silently — no NumPy warning. Training
        (:func:`npref.training.fit`) stops at that step with a ``NonFiniteError`` naming it.
        """
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            self._update(params, grads)

    def _update(self, params, grads) -> None:
        layout = self._layout
        names = self.state_names[self.convention]
        step = None if layout is None else layout.ready(params, grads, self.state, names)
        if step is not None:                  # the same arrays as last step: nothing to check
            self._flat_step(layout, grads.buffer, step, names)
            return
        self._check(params, grads)
        if self._flat_ok() and self._flat_update(params, grads):
            return
        for key, p in params.items():
            state = self.state.get(key)
            if state is None:
                state = self.state[key] = self._new_state(p)
            state["step"] += 1
            self._step(p, self._ascent(grads[key]), state, self._scratch(key, p))

    def hyperparameters(self) -> dict:
        """The constructor's keywords, with the values in use (defaults resolved)."""
        hyper = {key: getattr(self, key) for key in type(self).hyper}
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
        # "other" buffers exist for some parameters only (Adafactor: matrices or vectors).
        required = {"step", *(b.name for b in fresh.state_buffers if b.kind != "other")}
        allowed = {"step", *(b.name for b in fresh.state_buffers)}
        state = {}
        for key, buffers in state_dict["state"].items():
            where = f"state_dict['state'][{key!r}]"
            if (not isinstance(buffers, Mapping) or not required <= set(buffers)
                    or not set(buffers) <= allowed or not fresh._complete(set(buffers))):
                got = sorted(buffers) if isinstance(buffers, Mapping) else type(buffers).__name__
                expected = sorted(required) if required == allowed else (
                    f"{sorted(required)} and some of {sorted(allowed - required)}")
                raise ValueError(f"{where} must have the entries {expected}, got {got}")
            step = buffers["step"]
            if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                raise ValueError(f"{where}['step'] must be an int >= 0, got {step!r}")
            for buffer in fresh.state_buffers:
                if buffer.name in buffers:
                    fresh._check_buffer(f"{where}[{buffer.name!r}]", buffer,
                                        buffers[buffer.name])
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
        self._step(layout.base, self._ascent(flat_g), state, layout.scratch())

    def _ascent(self, g: np.ndarray) -> np.ndarray:
        """``−g`` with ``maximize=True`` (a new array: the caller's gradient is kept), as every
        ``torch.optim`` rule negates it before anything else; else ``g``."""
        return np.negative(g) if self.maximize else g

    def _check_options(self) -> None:
        """Checks that involve several hyperparameters (SGD: Nesterov needs momentum)."""

    def _new_state(self, p: np.ndarray) -> dict:
        state = {"step": 0}
        for buffer in self.state_buffers:
            if buffer.init is None:
                state[buffer.name] = 0.0 if buffer.kind == "scalar" else np.zeros_like(p)
                continue
            value = buffer.init(self, p)
            if value is not None:               # None: no such buffer for this parameter
                state[buffer.name] = value
        return state

    def _scratch(self, key, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two arrays of ``p``'s shape and dtype to compute into, kept from step to step.

        The rules write every intermediate into these with ``out=`` — the same operations in the
        same order as the formula, so the same rounding — instead of allocating a new array per
        operation.
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

    def _check_buffer(self, where: str, buffer: Buffer, value) -> None:
        """A state entry from outside: a finite float for a scalar; else a floating NumPy array,
        finite, and non-negative where the rule keeps squares."""
        if buffer.kind == "scalar":
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not math.isfinite(value):
                raise ValueError(f"{where} must be a finite number, got {value!r}")
            return
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f"{where} must be a floating NumPy array, got "
                             f"{type(value).__name__}")
        if not np.isfinite(value).all():
            raise ValueError(f"{where} holds NaN or Inf")
        if buffer.nonnegative and (value < 0).any():
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
        shaped = {b.name for b in self.state_buffers if b.kind == "array"}
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
                if buffer in shaped and (value.shape != p.shape or value.dtype != p.dtype):
                    raise ValueError(
                        f"params[{key!r}] has shape {p.shape} and dtype {p.dtype}, but this "
                        f"optimizer's {buffer!r} buffer for it has {value.shape} and "
                        f"{value.dtype}; use a new optimizer for a new set of parameters")
        self._own(params)

    def _own(self, params) -> None:
        """Say so when a key's state meets another array than the one it was built for — the
        optimizer reused on a second model with the same keys, whose first step would carry on
        the first model's momentum or moments (a ``torch.optim`` optimizer holds its parameters
        and keys its state by them: another model needs another optimizer there). The arrays
        are remembered weakly: a copy made each step, the old one dropped, is not another
        model."""
        others = []
        for key, p in params.items():
            owner = self._owners.get(key)
            before = None if owner is None else owner()
            if before is not None and before is not p and key in self.state:
                others.append(key)
            self._owners[key] = weakref.ref(p)
        if others:
            warnings.warn(
                f"{type(self).__name__}.update: params {others} are not the arrays this "
                f"optimizer updated before, yet they carry on those arrays' state (step "
                f"{self.state[others[0]].get('step')}): one optimizer per model — make a new one "
                "for another model, or load_state_dict() to carry state on purpose",
                UserWarning, stacklevel=5)


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
