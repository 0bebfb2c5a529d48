"""Two runs side by side, one step at a time: the first step, array and element where they part.

A port of a training loop is exact when, fed the same start and the same data, it walks the same
path as the original. Comparing only the end of the run says *that* they parted, not where:
:func:`lockstep` calls both runs one step at a time and stops at the first step where a returned
array differs beyond the tolerance — naming the step, the array, the element, both values, and
the same element one step earlier.

The measure is :mod:`npref.testing.comparison`'s, with the running floor of a trajectory: each
element's relative difference is

    |a − b| / max(|b|, largest |b| this element reached so far)

so that a value which travelled from 1e3 back to 1e-9 is judged on the scale of the terms that
produced it, not on its last, cancelled value. An element that has been exactly zero on ``b``'s
side at every step so far must be exactly zero on ``a``'s side too.

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
    """Where two runs part: at ``step`` (counted from 1), array ``name``, element ``index``.

    ``a`` and ``b`` are the two values there, ``rel_diff`` their relative difference (measured
    against ``floor``, the element's largest magnitude on ``b``'s side so far) and ``tol`` the
    tolerance it exceeds. ``previous_a``, ``previous_b`` and ``previous_rel_diff`` are the same
    element one step earlier — or, for an array not returned at every step (a per-epoch metric),
    when it was last returned, at ``previous_step`` (all ``None`` the first time it is returned).
    ``others``: further arrays beyond the tolerance at the same step (``name`` is the worst, by
    relative difference over tolerance). ``names`` label the two runs in :meth:`__str__`.

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

    @property
    def where(self) -> str:
        """``'W1'[2, 0]``: the array and the element."""
        return repr(self.name) + (f"[{', '.join(map(str, self.index))}]" if self.index else "")

    def __str__(self) -> str:
        na, nb = self.names
        lines = [f"step {self.step}, {self.where}: {na} = {self.a!r} and {nb} = {self.b!r} "
                 f"differ by {self.rel_diff:.3g} relative (tolerance {self.tol:.3g}; floor "
                 f"{self.floor:.3g}, the element's largest magnitude so far)"]
        if self.previous_a is None:
            lines.append("one step earlier: nothing to compare (" + (
                "this is the first step)" if self.step == 1
                else f"the first step to return {self.name!r})"))
        else:
            when = (f"one step earlier (step {self.previous_step})"
                    if self.previous_step == self.step - 1
                    else f"when last returned (step {self.previous_step})")
            lines.append(f"{when}: {na} = {self.previous_a!r}, "
                         f"{nb} = {self.previous_b!r} (relative difference "
                         f"{self.previous_rel_diff:.3g})")
        if self.others:
            lines.append(f"also beyond the tolerance at step {self.step}: "
                         f"{', '.join(map(repr, self.others))}")
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


def _check_arguments(step_a, step_b, steps, tol, nudged, names) -> list:
    """lockstep's arguments, refused with a clear error; the nudged runs as a list."""
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
    return nudged


def lockstep(step_a: Callable, step_b: Callable, *, steps: int, tol: float | None = None,
             nudged: Callable | Sequence[Callable] | None = None,
             names: tuple[str, str] = ("a", "b")) -> Divergence | None:
    """Run two step functions side by side; return the first :class:`Divergence`, or ``None``.

    ``step_a(t)`` and ``step_b(t)``, for t = 1 … ``steps``, each advance their own run by one
    step and return ``{name: array or tensor}`` — parameters, state buffers, a loss. (Arrays are
    copied as they arrive, so returning arrays that the next step updates in place is fine.)
    Both are called each step and compared name by name, element by element, against each
    element's largest magnitude on ``b``'s side so far (see the module docstring). ``b`` is the
    reference.

    ``tol``: the relative tolerance; ``None`` is each array's dtype's (1e-12 float64, 1e-5
    float32; integer and boolean arrays must be equal). The first step where some array
    differs by more returns its worst element as a :class:`Divergence`, whose ``str()`` says
    where and by how much.

    ``nudged``: optionally a third step function (or several): A again, from a start moved one
    ulp (:func:`nudge`). Where the runs part, an array whose difference is within
    :data:`SENSITIVITY_FACTOR` times what the nudge did to A is *chaotic*, not a bug: lockstep
    goes on, and returns the first step that is not chaotic (``chaotic=False``) or, if every
    parting was chaotic, the first chaotic one (``chaotic=True``).

    ``names`` label the two runs in messages. At any step, a name returned by one run only, or an
    array whose shape or dtype differs between the runs (or changes from one step to the next),
    raises ``ValueError`` naming it. Python numbers take the other side's dtype.
    """
    nudged = _check_arguments(step_a, step_b, steps, tol, nudged, names)
    na, nb = names

    floors: dict = {}          # name -> largest |b| so far, per element
    previous: dict = {}        # name -> (a, b, floor, step) when last returned
    sensitivity: dict = {}     # name -> largest relative move of A under a nudge, so far
    first_chaotic = None
    for t in range(1, steps + 1):
        ra = _results(step_a(t), na, t)
        rb = _results(step_b(t), nb, t)
        _same_structure(ra, rb, t, (na, nb))
        rn = []
        for k, fn in enumerate(nudged):
            label = f"nudged {na}" + (f" #{k + 1}" if len(nudged) > 1 else "")
            run = _results(fn(t), label, t)
            _same_structure(run, ra, t, (label, na))
            rn.append(run)

        parted = []            # (rel/tol, name, flat index, rel array, tol)
        current = {}           # name -> (a, b, floor, step) at this step
        for name, b in rb.items():
            a, b, dtype = _typed(ra[name], b, name, t, (na, nb))
            if name in floors and floors[name].shape != b.shape:
                raise ValueError(f"step {t}: {name!r} changed shape from {floors[name].shape} "
                                 f"to {b.shape}; lockstep follows the same arrays step by step")
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            floor = np.fmax(floors.get(name, np.zeros(b.shape)), np.abs(b64))
            floors[name] = floor
            current[name] = (a64, b64, floor, t)
            limit = _tolerance(tol, dtype, name, t)
            rel = _relative(a64, b64, floor)
            if rn:
                moved = max(float(np.max(_relative(np.asarray(r[name], np.float64), a64, floor),
                                         initial=0.0)) for r in rn)
                sensitivity[name] = max(sensitivity.get(name, 0.0), moved)
            worst = int(np.argmax(rel)) if rel.size else 0
            if rel.size and rel.flat[worst] > limit:
                score = math.inf if limit == 0 else rel.flat[worst] / limit
                parted.append((score, name, worst, rel, limit))

        if parted:
            chaotic = ({name: bool(rel.flat[i] <= SENSITIVITY_FACTOR * sensitivity[name])
                        for _, name, i, rel, _ in parted} if rn else None)
            bugs = [p for p in parted if not (chaotic and chaotic[p[1]])]
            chosen = max(bugs or parted, key=lambda p: p[0])
            found = _divergence(t, chosen, parted, current, previous, (na, nb),
                                sensitivity if rn else None, chaotic,
                                first_chaotic.step if first_chaotic else None)
            if bugs:
                return found
            first_chaotic = first_chaotic or found
        previous.update(current)
    return first_chaotic


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


def _relative(a64, b64, floor):
    same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.where(same, 0.0, np.abs(a64 - b64))
        rel = np.where(diff == 0, 0.0, diff / np.fmax(np.abs(b64), floor))
    return np.where(np.isnan(rel), np.inf, rel)


def _divergence(t, chosen, parted, current, previous, names, sensitivity, chaotic,
                chaotic_since) -> Divergence:
    _, name, i, rel, limit = chosen
    a64, b64, floor, _ = current[name]
    index = tuple(int(j) for j in np.unravel_index(i, b64.shape)) if b64.ndim else ()
    prev_a = prev_b = prev_rel = prev_step = None
    if name in previous:
        pa, pb, pf, prev_step = previous[name]
        prev_a, prev_b = float(pa.flat[i]), float(pb.flat[i])
        prev_rel = float(_relative(pa.flat[i], pb.flat[i], pf.flat[i]))
    return Divergence(
        step=t, name=name, index=index, a=float(a64.flat[i]), b=float(b64.flat[i]),
        rel_diff=float(rel.flat[i]), tol=limit, floor=float(floor.flat[i]),
        previous_a=prev_a, previous_b=prev_b, previous_rel_diff=prev_rel, previous_step=prev_step,
        others=tuple(p[1] for p in sorted(parted, key=lambda p: -p[0]) if p[1] != name),
        names=tuple(names),
        sensitivity=None if sensitivity is None else sensitivity[name],
        chaotic=None if chaotic is None else chaotic[name],
        chaotic_since=chaotic_since)
