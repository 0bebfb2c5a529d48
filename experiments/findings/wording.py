"""Comparative words from measured numbers: one stated rule, so that no page says "close behind"
beside numbers that say "far behind".

Two scales, each with its thresholds:

* ``"ratio"`` — losses, distances, anything positive where lower is better (or higher, with
  ``lower_is_better=False``): the ratio of the worse value to the better one. Below
  :data:`RATIO_WORDS`' first bound (1.1×) the two are *about the same*; below the second (1.5×)
  the worse is *close behind*; beyond, *far behind*.
* ``"points"`` — accuracies, fractions in [0, 1]: the difference in percentage points. Within 2
  points *about the same*, within 5 *close behind*, beyond *far behind*.

A value that is not finite, or that the caller names as diverged, is *diverged* — never ranked,
never "close". Every comparative word on the pages comes from :func:`relation`, :func:`ranking` (each
against the leader) or :func:`against` (each against the claim's own baseline: "learns faster
than SGD" words every rule against SGD, never against the best of them); tested in
``tests/test_wording.py``.
"""

from __future__ import annotations

import math

from experiments.i18n import N_, _

__all__ = ["ABOUT_THE_SAME", "CLOSE", "DIVERGED", "FAR", "POINT_WORDS", "RATIO_WORDS",
           "against", "close_or_same", "leads", "ranking", "relation"]

ABOUT_THE_SAME, CLOSE, FAR, DIVERGED = (N_("about the same"), N_("close behind"),
                                        N_("far behind"), N_("diverged"))
#: The word relation() returns for a value ahead (shown by the pages as is, in their language).
AHEAD = N_("ahead")

#: (bound, word): the first bound the measure stays below gives the word.
RATIO_WORDS = ((1.1, ABOUT_THE_SAME), (1.5, CLOSE), (math.inf, FAR))
POINT_WORDS = ((2.0, ABOUT_THE_SAME), (5.0, CLOSE), (math.inf, FAR))


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def measure(value: float, reference: float, *, scale: str = "ratio",
            lower_is_better: bool = True) -> float:
    """How far ``value`` trails ``reference``: the ratio worse/better (``"ratio"``, ≥ 1 when
    ``value`` is the worse) or the gap in points (``"points"``, ≥ 0 when it is worse). Negative
    gaps and ratios below 1 mean ``value`` is ahead."""
    if scale == "points":
        gap = 100.0 * (value - reference)
        return gap if lower_is_better else -gap
    if scale != "ratio":
        raise ValueError(f"scale must be 'ratio' or 'points', got {scale!r}")
    if value < 0 or reference < 0:
        raise ValueError("the ratio scale compares non-negative values")
    if value == reference:
        return 1.0
    worse, better = (value, reference) if lower_is_better else (reference, value)
    return math.inf if better == 0 else worse / better


def relation(value: float, reference: float, *, scale: str = "ratio",
             lower_is_better: bool = True, diverged: bool = False) -> str:
    """The word for how ``value`` stands against ``reference``: ``"about the same"`` (either
    way, within the first bound), ``"close behind"``, ``"far behind"``, ``"ahead"`` (``value``
    better by more than the first bound), or ``"diverged"``."""
    if diverged or not _finite(value):
        return DIVERGED
    if not _finite(reference):
        return "ahead"
    words = RATIO_WORDS if scale == "ratio" else POINT_WORDS
    trail = measure(value, reference, scale=scale, lower_is_better=lower_is_better)
    lead = measure(reference, value, scale=scale, lower_is_better=lower_is_better)
    if trail < words[0][0] and lead < words[0][0]:
        return ABOUT_THE_SAME
    if lead > trail:
        return "ahead"
    return next(word for bound, word in words if trail < bound)


def close_or_same(value, reference, **kw) -> bool:
    """``value`` is about the same as ``reference``, or close behind it."""
    return relation(value, reference, **kw) in (ABOUT_THE_SAME, CLOSE)


def leads(values: dict, name: str, *, scale: str = "ratio", lower_is_better: bool = True,
          diverged=()) -> bool:
    """``name`` is ahead of every other finite value by more than "about the same"."""
    return all(relation(values[name], v, scale=scale, lower_is_better=lower_is_better,
                        diverged=name in diverged) == "ahead"
               for other, v in values.items() if other != name and other not in diverged)


def _ratio_text(value, best, scale, lower_is_better) -> str:
    m = measure(value, best, scale=scale, lower_is_better=lower_is_better)
    if scale == "points":
        return _("{points:.1f} points", points=abs(m))
    if math.isinf(m):
        return "∞×"
    return f"{m:.2g}×" if m < 100 else f"{m:,.0f}×"


def ranking(values: dict, *, scale: str = "ratio", lower_is_better: bool = True,
            form=lambda v: f"{v:.3g}", best_word: str | None = None, diverged=()) -> str:
    """The values in order, best first, each after the first with its word against the best:
    ``He 0.618 (best); Xavier 1.98, far behind (3.2×); std 0.01 2.3, far behind (3.7×)``.
    Diverged values (non-finite, or named in ``diverged``) come last, named as such; when the
    first two are about the same, the first is not called ``best_word`` (``"best"`` by default,
    in the current language: pass it translated)."""
    best_word = _("best") if best_word is None else best_word

    def bad(name):
        return name in diverged or not _finite(values[name])

    good = sorted((n for n in values if not bad(n)), key=lambda n: values[n],
                  reverse=not lower_is_better)
    parts = []
    for i, name in enumerate(good):
        text = f"{name} {form(values[name])}"
        if i == 0:
            tied = len(good) > 1 and relation(values[good[1]], values[name], scale=scale,
                                              lower_is_better=lower_is_better) == ABOUT_THE_SAME
            parts.append(text if tied else f"{text} ({best_word})")
            continue
        word = relation(values[name], values[good[0]], scale=scale,
                        lower_is_better=lower_is_better)
        by = _ratio_text(values[name], values[good[0]], scale, lower_is_better)
        parts.append(f"{text}, {_(word)}" if word == ABOUT_THE_SAME
                     else f"{text}, {_(word)} ({by})")
    for name in values:
        if bad(name):
            shown = form(values[name]) if _finite(values[name]) else _("not finite")
            parts.append(_("{name} {value}, diverged", name=name, value=shown))
    return "; ".join(parts)


def against(values: dict, baseline: str, *, scale: str = "ratio", lower_is_better: bool = True,
            form=lambda v: f"{v:.3g}", diverged=()) -> str:
    """Each value beside the claim's baseline, worded against *it*:
    ``SGD 0.41 (the baseline); Momentum 0.12, ahead (3.4×); AdaGrad 0.40, about the same``."""
    base = values[baseline]
    parts = [_("{name} {value} (the baseline)", name=baseline, value=form(base))]
    for name, value in values.items():
        if name == baseline:
            continue
        word = relation(value, base, scale=scale, lower_is_better=lower_is_better,
                        diverged=name in diverged)
        if word == DIVERGED:
            shown = form(value) if _finite(value) else _("not finite")
            parts.append(_("{name} {value}, diverged", name=name, value=shown))
        elif word == ABOUT_THE_SAME:
            parts.append(f"{name} {form(value)}, {_(ABOUT_THE_SAME)}")
        else:
            ahead = word == "ahead"
            by = _ratio_text(base if ahead else value, value if ahead else base, scale,
                             lower_is_better)
            parts.append(f"{name} {form(value)}, {_(word)} ({by})")
    return "; ".join(parts)
