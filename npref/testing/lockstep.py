"""Two runs side by side, one step at a time: the first step, array and element where they part.

A port of a training loop is exact when, fed the same start and the same data, it walks the same
path as the original. Comparing only the end of the run says *that* they parted, not where:
:func:`lockstep` calls both runs one step at a time and stops at the first step where a returned
array differs beyond the tolerance — naming the step, the array, the element, both values, and
the same element one step earlier.

The measure is :mod:`npref.testing.comparison`'s, with the running floor of a trajectory:
each element's relative difference is

    |a − b| / floor,

``floor="array"`` (the default): the largest magnitude ``b``'s side reached so far in the array
— or, for the names :func:`npref.testing.record` gives, in the array's *group*: a layer's
parameters together (``affine1.W``, ``affine1.b``), their gradients together
(``affine1.W.grad``, ``affine1.b.grad``), each optimizer buffer together — so that a gradient
that is zero in exact arithmetic (a bias that BatchNorm follows), or an element near zero by
cancellation, is judged on the scale of the terms that produced it, and a correct float64 port
passes at 1e-12. ``floor="element"``: each element's own largest magnitude so far (a value that
travelled from 1e3 back to 1e-9 is still judged on 1e3). A number: absolute differences, over
that number. An array that has been exactly zero on ``b``'s side so far must be exactly zero on
``a``'s side too.

The first parting is the first array beyond the tolerance **in the order the step returned
them**: return arrays in dataflow order (the order :meth:`npref.testing.Recorder.take` gives)
and the array named is where the difference originates; every other parted array follows it in
:attr:`Divergence.parted`, each with its own size. ``start`` compares what both sides hold
before the first step (step 0), so a loading bug is named before it spreads; hints
(:mod:`npref.testing.hints`) say which known convention difference the numbers fit. :func:`trace`
runs every step and keeps each array's difference, drawn by :meth:`Trace.heatmap`.

Some runs amplify any rounding difference exponentially (a large learning rate bouncing around a
minimum, an L1 subgradient flipping sign as a weight crosses zero): no two implementations can
agree on their path to 1e-12, and a parting says nothing about a bug. Give ``nudged`` — run A
again from a start moved by one ulp (:func:`nudge`) — and lockstep measures how far that moves A
itself. Where A and B differ by no more than :data:`SENSITIVITY_FACTOR` times that, the problem is
*chaotic* there and the two agree as closely as it allows; the rule the experiments' parity
judgement uses for whole runs.

NumPy only: a torch tensor (any device, with or without grad) is read through its own
``.detach().cpu().numpy()``, so nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from npref.testing import hints as _hints
from npref.testing.comparison import as_array, tolerance_for

#: A step where the two runs differ beyond the tolerance is *chaotic* when they differ by no more
#: than this many times what a one-ulp nudge of A's start does to A itself (the experiments'
#: parity rule, ``experiments.backends.parity``). Not 1: two implementations round differently at
#: every step, a nudge moves the start once. Measured: RMSprop on breast cancer (seed 4) parts
#: from PyTorch 22× as far as the nudge moves it, at that ratio from the first ulp to the end;
#: the same run with PyTorch's eps off by 1e-9 of itself parts 103× as far, and with the wrong
#: convention's eps 1,400× — and at step one, where a bug shows, by a million times or more.
SENSITIVITY_FACTOR = 100


@dataclass(frozen=True)
class Divergence:
    """Where two runs part: at ``step`` (counted from 1; 0 is the state before the first step,
    given as ``start``), array ``name``, element ``index``.

    ``name`` is the *first* array beyond the tolerance in the order the step returned its
    arrays (dataflow order, with :func:`npref.testing.record`). ``a`` and ``b`` are the two values
    at its worst element, ``rel_diff`` their relative difference (measured against ``floor``:
    see the module docstring) and ``tol`` the tolerance it exceeds. ``previous_a``,
    ``previous_b`` and ``previous_rel_diff`` are the same element one step earlier — or, for an
    array not returned at every step (a per-epoch metric), when it was last returned, at
    ``previous_step`` (all ``None`` the first time it is returned). ``parted``: every array
    beyond the tolerance at this step, ``(name, rel_diff)`` in the order returned, ``name``
    first; ``others`` their names but the first. ``hints``: what the numbers fit
    (:mod:`npref.testing.hints`). ``unjudged``: arrays named ``inert`` that differ here (shown,
    not counted). ``names`` label the two runs in :meth:`__str__`.

    With a nudged run (:func:`lockstep`'s ``nudged``): ``sensitivity`` is how far a one-ulp
    nudge of A's start moved A itself in this array (the largest relative difference, so far
    in the run), and ``chaotic`` whether ``rel_diff`` is within :data:`SENSITIVITY_FACTOR` times
    that — a problem that amplifies rounding, not a bug; ``chaotic_since`` the first step that
    was. Without one, all three are ``None``.
    """

    step: int
    name: object
    index: tuple
    a: float
    b: float
    rel_diff: float
    tol: float
    floor: float = math.nan
    previous_a: float | None = None
    previous_b: float | None = None
    previous_rel_diff: float | None = None
    previous_step: int | None = None
    others: tuple = ()
    names: tuple = ("a", "b")
    sensitivity: float | None = None
    chaotic: bool | None = None
    chaotic_since: int | None = None
    parted: tuple = ()
    hints: tuple = ()
    unjudged: tuple = ()
    floor_kind: str = "array"

    @property
    def where(self) -> str:
        """``'W1'[2, 0]``: the array and the element."""
        return repr(self.name) + (f"[{', '.join(map(str, self.index))}]" if self.index else "")

    def __str__(self) -> str:
        na, nb = self.names
        when = "before the first step (step 0)" if self.step == 0 else f"step {self.step}"
        scale = {"array": "the largest magnitude its array (or group) reached so far",
                 "element": "the element's largest magnitude so far",
                 "absolute": "absolute"}[self.floor_kind]
        lines = [f"{when}, {self.where}: {na} = {self.a!r} and {nb} = {self.b!r} "
                 f"differ by {self.rel_diff:.3g} relative (tolerance {self.tol:.3g}; floor "
                 f"{self.floor:.3g}, {scale})"]
        if self.previous_a is None:
            lines.append("one step earlier: nothing to compare (" + (
                "this is the first comparison)" if self.step <= 1 and self.previous_step is None
                else f"the first step to return {self.name!r})"))
        else:
            before = (f"one step earlier (step {self.previous_step})"
                      if self.previous_step == self.step - 1
                      else f"when last returned (step {self.previous_step})")
            lines.append(f"{before}: {na} = {self.previous_a!r}, "
                         f"{nb} = {self.previous_b!r} (relative difference "
                         f"{self.previous_rel_diff:.3g})")
        if len(self.parted) > 1:
            shown = ", ".join(f"{n!r} {r:.3g}" for n, r in self.parted[:6])
            more = len(self.parted) - 6
            lines.append(f"parted at {when}, in the order returned: {shown}"
                         + (f" and {more} more (Divergence.parted)" if more > 0 else ""))
        for hint in self.hints:
            lines.append(f"hint: {hint}")
        if self.unjudged:
            lines.append("not judged (inert): " + ", ".join(map(repr, self.unjudged)))
        if self.chaotic:
            lines.append(f"chaotic: a one-ulp nudge of {na}'s start moves {na} itself by "
                         f"{self.sensitivity:.3g} here; the two agree as closely as the problem "
                         f"allows (within {SENSITIVITY_FACTOR}× that)")
        elif self.chaotic is False:
            since = (f"; the run was chaotic from step {self.chaotic_since}, but this step "
                     f"parts by more") if self.chaotic_since is not None else ""
            lines.append(f"not chaos: a one-ulp nudge of {na}'s start moves {na} itself by only "
                         f"{self.sensitivity:.3g} here, less than 1/{SENSITIVITY_FACTOR} of the "
                         f"difference{since}")
        return "\n  ".join(lines)


@dataclass
class Trace:
    """Every step of two runs side by side (:func:`trace`): ``scores[t][name]``, each array's
    largest relative difference over its tolerance at step ``t`` (above 1: beyond it),
    ``names`` the arrays in the order returned, ``first`` the :class:`Divergence`
    :func:`lockstep` returns (or ``None``), ``inert`` the arrays shown but not judged."""

    steps: list
    names: list
    scores: dict
    first: Divergence | None
    inert: tuple = ()
    labels: tuple = ("a", "b")

    def matrix(self) -> np.ndarray:
        """steps × arrays, NaN where an array was not returned."""
        return np.array([[self.scores[t].get(n, np.nan) for n in self.names]
                         for t in self.steps], dtype=np.float64)

    def heatmap(self, path, *, title: str | None = None) -> str:
        """Draw the trace as a PNG: steps down, arrays across in the order returned, colour how
        far beyond the tolerance (white within it), the first parting boxed. Needs matplotlib;
        returns ``path``."""
        # A Figure of its own, not pyplot's: nothing of the caller's plotting state is touched.
        from matplotlib import colormaps
        from matplotlib.colors import ListedColormap
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        m = self.matrix()
        with np.errstate(divide="ignore", invalid="ignore"):
            shown = np.where(m > 1, np.log10(np.minimum(m, 1e300)), np.nan)
        cmap = ListedColormap(colormaps["magma_r"](np.linspace(0.15, 0.95, 256)),
                              bad="white")
        width = min(16.0, 2.5 + 0.16 * len(self.names))
        height = min(12.0, 2.0 + 0.08 * len(self.steps))
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.subplots()
        image = ax.imshow(shown, aspect="auto", cmap=cmap, interpolation="nearest",
                          vmin=0, vmax=max(1.0, float(np.nanmax(shown, initial=1.0))))
        ax.set_xticks(range(len(self.names)), [str(n) for n in self.names], rotation=90,
                      fontsize=7)
        ax.set_yticks(range(len(self.steps))[::max(1, len(self.steps) // 20)],
                      [str(t) for t in self.steps][::max(1, len(self.steps) // 20)])
        ax.set_ylabel("step")
        for i, name in enumerate(self.names):
            if name in self.inert:
                ax.get_xticklabels()[i].set_color("0.55")
        if self.first is not None:
            row, col = self.steps.index(self.first.step), self.names.index(self.first.name)
            ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, lw=2,
                                   edgecolor="#1f77b4"))
        fig.colorbar(image, ax=ax, label="log10(difference / tolerance), where beyond it")
        na, nb = self.labels
        ax.set_title(title or (f"{na} vs {nb}: " + (
            f"first parting at step {self.first.step}, {self.first.name!r}" if self.first
            else "no parting")), fontsize=10)
        fig.savefig(path, dpi=120)
        return str(path)


def _check_arguments(step_a, step_b, steps, tol, nudged, names, floor, start, inert) -> tuple:
    """lockstep's arguments, refused with a clear error; the nudged runs as a list, the floor."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if tol is not None and not (isinstance(tol, (int, float)) and 0 < tol < math.inf):
        raise ValueError(f"tol must be None or a finite number > 0, got {tol!r}")
    for label, fn in (("step_a", step_a), ("step_b", step_b)):
        if not callable(fn):
            raise ValueError(f"{label} must be a function step(t) -> {{name: array}}, "
                             f"got {fn!r}")
    nudged = ([] if nudged is None else [nudged] if callable(nudged)
              else list(nudged) if isinstance(nudged, Sequence) else [nudged])
    if not all(callable(fn) for fn in nudged):
        raise ValueError(f"nudged must be a step function or a sequence of them, got {nudged!r}")
    if (not isinstance(names, (tuple, list)) or len(names) != 2
            or not all(isinstance(n, str) for n in names)):
        raise ValueError(f"names must be two strings, got {names!r}")
    if isinstance(floor, bool) or not (floor in ("array", "element") or (
            isinstance(floor, (int, float)) and 0 < floor < math.inf)):
        raise ValueError(f"floor must be 'array', 'element' or a finite number > 0 (absolute), "
                         f"got {floor!r}")
    if start is not None and not (isinstance(start, (tuple, list)) and len(start) == 2):
        raise ValueError("start must be None or a pair (a's, b's) of dicts {name: array} (or "
                         f"functions returning them), got {start!r}")
    if isinstance(inert, str) or not all(isinstance(n, str) for n in inert):
        raise ValueError(f"inert must be a sequence of array names, got {inert!r}")
    return nudged, floor


def group(name) -> object:
    """The floor group of an array under ``floor="array"``: a layer's parameters together
    (``"affine1.W"``, ``"affine1.b"`` → ``("affine1", "")``), and for each of their gradients
    and optimizer buffers (``"affine1.W.grad"`` → ``("affine1", "grad")``); any other name is
    its own group."""
    if not isinstance(name, str):
        return name
    parts = name.split(".")
    if len(parts) >= 3:
        return parts[0], parts[-1]
    if len(parts) == 2 and parts[1] not in _ROLES:
        return parts[0], ""
    return name


def lockstep(step_a: Callable, step_b: Callable, *, steps: int, tol: float | None = None,
             nudged: Callable | Sequence[Callable] | None = None,
             names: tuple[str, str] = ("a", "b"), floor="array", start=None,
             inert: Sequence[str] = ()) -> Divergence | None:
    """Run two step functions side by side; return the first :class:`Divergence`, or ``None``.

    ``step_a(t)`` and ``step_b(t)``, for t = 1 … ``steps``, each advance their own run by one
    step and return ``{name: array or tensor}`` — layer outputs, gradients, parameters, state
    buffers, a loss, in dataflow order. (Arrays are copied as they arrive, so returning arrays
    that the next step updates in place is fine.) Both are called each step and compared name
    by name against the floor (``floor``: ``"array"``, ``"element"`` or an absolute number, see
    the module docstring). ``b`` is the reference. ``start``: ``(a's, b's)`` — what both hold
    before the first step, dicts or functions returning them — compared first, as step 0.

    ``tol``: the relative tolerance; ``None`` is each array's dtype's (1e-12 float64, 1e-5
    float32; integer and boolean arrays must be equal). The first step where some array
    differs by more returns the first such array in the order returned, at its worst element,
    as a :class:`Divergence`, whose ``str()`` says where, by how much, what else parted, and
    what the numbers fit (its ``hints``). ``inert``: names (and their sub-names, ``"affine1.b"``
    covers ``"affine1.b.exp_avg"`` but not its ``.grad``) shown but not judged — the biases
    :attr:`npref.testing.Recorder.inert` lists.

    ``nudged``: optionally a third step function (or several): A again, from a start moved one
    ulp (:func:`nudge`). Where the runs part, an array whose difference is within
    :data:`SENSITIVITY_FACTOR` times what the nudge did to A is *chaotic*, not a bug: lockstep
    goes on, and returns the first step that is not chaotic (``chaotic=False``) or, if every
    parting was chaotic, the first chaotic one (``chaotic=True``).

    ``names`` label the two runs in messages. At any step, a name returned by one run only, or an
    array whose shape or dtype differs between the runs (or changes from one step to the next),
    raises ``ValueError`` naming it. Python numbers take the other side's dtype.
    """
    return _run(step_a, step_b, steps=steps, tol=tol, nudged=nudged, names=names, floor=floor,
                start=start, inert=inert, keep_going=False).first


def trace(step_a: Callable, step_b: Callable, *, steps: int, tol: float | None = None,
          nudged: Callable | Sequence[Callable] | None = None,
          names: tuple[str, str] = ("a", "b"), floor="array", start=None,
          inert: Sequence[str] = ()) -> Trace:
    """:func:`lockstep` through every step, keeping each array's difference: a :class:`Trace`,
    whose ``first`` is what lockstep returns and whose :meth:`Trace.heatmap` shows where the
    runs part and how the parting spreads."""
    return _run(step_a, step_b, steps=steps, tol=tol, nudged=nudged, names=names, floor=floor,
                start=start, inert=inert, keep_going=True)


def _run(step_a, step_b, *, steps, tol, nudged, names, floor, start, inert, keep_going):
    nudged, floor = _check_arguments(step_a, step_b, steps, tol, nudged, names, floor, start,
                                     inert)
    na, nb = names
    inert = tuple(inert)
    state = _State(floor)
    result = Trace(steps=[], names=[], scores={}, first=None, inert=(), labels=(na, nb))
    first_chaotic = None
    schedule = ([0] if start is not None else []) + list(range(1, steps + 1))
    for t in schedule:
        if t == 0:
            ra = _results(start[0]() if callable(start[0]) else start[0], na, 0)
            rb = _results(start[1]() if callable(start[1]) else start[1], nb, 0)
            rn = []
        else:
            ra = _results(step_a(t), na, t)
            rb = _results(step_b(t), nb, t)
            rn = []
            for k, fn in enumerate(nudged):
                label = f"nudged {na}" + (f" #{k + 1}" if len(nudged) > 1 else "")
                run = _results(fn(t), label, t)
                _same_structure(run, ra, t, (label, na))
                rn.append(run)
        _same_structure(ra, rb, t, (na, nb))
        parted, unjudged, scores = state.compare(t, ra, rb, rn, tol, (na, nb), inert)
        result.steps.append(t)
        result.scores[t] = scores
        # Columns in step 1's order (step 0 holds only what was loaded).
        if t == 1:
            result.names = [*rb, *(n for n in result.names if n not in rb)]
        else:
            result.names += [n for n in rb if n not in result.names]
        result.inert = tuple(n for n in result.names if _is_inert(n, inert))
        if parted and result.first is None:
            chaotic = ({p[1]: bool(p[3].flat[p[2]] <= SENSITIVITY_FACTOR *
                                   state.sensitivity[p[1]]) for p in parted} if rn else None)
            bugs = [p for p in parted if not (chaotic and chaotic[p[1]])]
            chosen = (bugs or parted)[0]                     # the first in the order returned
            found = state.divergence(t, chosen, parted, unjudged, (na, nb),
                                     state.sensitivity if rn else None, chaotic,
                                     first_chaotic.step if first_chaotic else None)
            if bugs:
                result.first = found
                if not keep_going:
                    return result
            else:
                first_chaotic = first_chaotic or found
        state.advance()
    if result.first is None:
        result.first = first_chaotic
    return result


#: The second part of a recorded name that is not a parameter (npref.testing.recorder.ROLES).
_ROLES = ("out", "dx", "running_mean", "running_var", "mask")


def _is_inert(name, inert) -> bool:
    return isinstance(name, str) and not name.endswith(".grad") and any(
        name == p or name.startswith(p + ".") for p in inert)


class _State:
    """The running floors, the previous step's arrays and the nudge sensitivities of one
    comparison."""

    def __init__(self, floor):
        self.floor = floor
        self.floors: dict = {}           # name -> running max |b| (per element), any mode
        self.group_floor: dict = {}      # group -> running max |b| (floor="array")
        self.previous: dict = {}         # name -> (a, b, floor, step) when last returned
        self.current: dict = {}
        self.sensitivity: dict = {}

    @property
    def kind(self) -> str:
        return self.floor if isinstance(self.floor, str) else "absolute"

    def compare(self, t, ra, rb, rn, tol, names, inert):
        typed = {}
        for name, b in rb.items():
            a, b, dtype = _typed(ra[name], b, name, t, names)
            if name in self.floors and self.floors[name].shape != b.shape:
                raise ValueError(f"step {t}: {name!r} changed shape from "
                                 f"{self.floors[name].shape} to {b.shape}; lockstep follows "
                                 "the same arrays step by step")
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            self.floors[name] = np.fmax(self.floors.get(name, np.zeros(b.shape)), np.abs(b64))
            typed[name] = (a64, b64, dtype)
        if self.floor == "array":
            for name, (_, b64, _) in typed.items():
                g = group(name)
                top = float(np.max(np.abs(b64), initial=0.0))
                self.group_floor[g] = max(self.group_floor.get(g, 0.0), top)
        parted, unjudged, scores = [], [], {}
        self.current = {}
        for name, (a64, b64, dtype) in typed.items():
            floor = self._floor_of(name, b64)
            self.current[name] = (a64, b64, floor, t)
            limit = _tolerance(tol, dtype, name, t)
            rel = _relative(a64, b64, floor, own=self.kind != "absolute")
            if rn:
                moved = max(float(np.max(_relative(np.asarray(r[name], np.float64), a64, floor),
                                         initial=0.0)) for r in rn)
                self.sensitivity[name] = max(self.sensitivity.get(name, 0.0), moved)
            worst = int(np.argmax(rel)) if rel.size else 0
            top = float(rel.flat[worst]) if rel.size else 0.0
            scores[name] = math.inf if (limit == 0 and top > 0) else (
                0.0 if top == 0 else top / limit)
            if rel.size and top > limit:
                if _is_inert(name, inert):
                    unjudged.append(name)
                else:
                    parted.append((scores[name], name, worst, rel, limit))
        return parted, tuple(unjudged), scores

    def _floor_of(self, name, b64):
        if self.floor == "element":
            return self.floors[name]
        if self.floor == "array":
            return np.full(b64.shape, self.group_floor[group(name)])
        return np.full(b64.shape, float(self.floor))

    def advance(self) -> None:
        self.previous.update(self.current)

    def divergence(self, t, chosen, parted, unjudged, names, sensitivity, chaotic,
                   chaotic_since) -> Divergence:
        _, name, i, rel, limit = chosen
        a64, b64, floor, _ = self.current[name]
        index = tuple(int(j) for j in np.unravel_index(i, b64.shape)) if b64.ndim else ()
        prev_a = prev_b = prev_rel = prev_step = None
        if name in self.previous:
            pa, pb, pf, prev_step = self.previous[name]
            prev_a, prev_b = float(pa.flat[i]), float(pb.flat[i])
            prev_rel = float(_relative(pa.flat[i], pb.flat[i], pf.flat[i]))
        context = {k: (v[0], v[1]) for k, v in self.current.items()}
        before = {k: (v[0], v[1]) for k, v in self.previous.items()}
        return Divergence(
            step=t, name=name, index=index, a=float(a64.flat[i]), b=float(b64.flat[i]),
            rel_diff=float(rel.flat[i]), tol=limit, floor=float(floor.flat[i]),
            previous_a=prev_a, previous_b=prev_b, previous_rel_diff=prev_rel,
            previous_step=prev_step,
            others=tuple(p[1] for p in parted if p[1] != name),
            names=tuple(names),
            sensitivity=None if sensitivity is None else sensitivity[name],
            chaotic=None if chaotic is None else chaotic[name],
            chaotic_since=chaotic_since,
            parted=tuple((p[1], float(p[3].flat[p[2]])) for p in parted),
            hints=_hints.explain(name, a64, b64, current=context, previous=before, names=names),
            unjudged=unjudged, floor_kind=self.kind)


def nudge(values, seed: int = 0):
    """A copy of ``values`` (an array, or a dict of arrays) with every element moved one ulp,
    up or down at random (``seed``) — the start of the ``nudged`` run of :func:`lockstep`."""
    rng = np.random.default_rng(seed)

    def one(v):
        v = np.asarray(v)
        if v.dtype.kind != "f":
            raise ValueError(f"nudge moves floating-point arrays only, got dtype {v.dtype}")
        # The direction in the array's own dtype: a float64 infinity would make nextafter step
        # in float64, and the cast back to float32 would round the step away.
        towards = np.where(rng.random(v.shape) < 0.5, -np.inf, np.inf).astype(v.dtype)
        return np.nextafter(v, towards)

    if isinstance(values, Mapping):
        return {k: one(v) for k, v in values.items()}
    return one(values)


# -- pieces ---------------------------------------------------------------------------------------

def _results(returned, label: str, t: int) -> dict:
    if not isinstance(returned, Mapping):
        raise ValueError(f"step {t}: the {label} step must return a dict {{name: array or "
                         f"tensor}}, got {type(returned).__name__}")
    return {name: _array(value, name, label, t) for name, value in returned.items()}


def _array(value, name, label: str, t: int):
    """A NumPy copy of an array, a tensor (read through its own methods: no torch import here),
    a NumPy scalar; Python numbers stay numbers (they take the other side's dtype)."""
    if isinstance(value, (bool, int, float)):
        return value
    try:
        out = np.array(as_array(value), copy=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"step {t}: {label}'s {name!r} is not an array or a tensor "
                         f"({type(value).__name__})") from e
    if out.dtype.kind not in "biuf":
        raise ValueError(f"step {t}: {label}'s {name!r} has dtype {out.dtype}, not a number")
    return out


def _same_structure(ra: dict, rb: dict, t: int, names) -> None:
    if set(ra) == set(rb):
        return
    only_a = [k for k in ra if k not in rb]
    only_b = [k for k in rb if k not in ra]
    parts = [f"only {names[0]} returned {', '.join(map(repr, only_a))}" if only_a else "",
             f"only {names[1]} returned {', '.join(map(repr, only_b))}" if only_b else ""]
    raise ValueError(f"step {t}: the runs return different names: "
                     f"{'; '.join(p for p in parts if p)}")


def _typed(a, b, name, t: int, names):
    """Both sides as arrays of one dtype; a shape or dtype mismatch raises."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.shape != b.shape:
            raise ValueError(f"step {t}: {name!r} has shape {a.shape} in {names[0]} but "
                             f"{b.shape} in {names[1]}")
        if a.dtype != b.dtype:
            raise ValueError(f"step {t}: {name!r} has dtype {a.dtype} in {names[0]} but "
                             f"{b.dtype} in {names[1]}")
        return a, b, b.dtype
    if isinstance(b, np.ndarray):
        a = np.asarray(a, dtype=b.dtype)
    elif isinstance(a, np.ndarray):
        b = np.asarray(b, dtype=a.dtype)
    else:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"step {t}: {name!r} has shape {a.shape} in {names[0]} but "
                         f"{b.shape} in {names[1]}")
    return a, b, b.dtype


def _tolerance(tol, dtype, name, t: int) -> float:
    if tol is not None:
        return float(tol)
    if dtype.kind in "biu":
        return 0.0
    try:
        return tolerance_for(dtype)
    except ValueError:
        raise ValueError(f"step {t}: {name!r} is {dtype}, which has no default tolerance; "
                         f"pass tol=") from None


def _relative(a64, b64, floor, own: bool = True):
    """|a − b| over the floor (and, with ``own``, the element's own |b|); NaN matches NaN."""
    same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.where(same, 0.0, np.abs(a64 - b64))
        scale = np.fmax(np.abs(b64), floor) if own else floor
        rel = np.where(diff == 0, 0.0, diff / scale)
    return np.where(np.isnan(rel), np.inf, rel)
