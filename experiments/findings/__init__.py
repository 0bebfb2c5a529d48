"""Judging what a page claims from the numbers it measured.

* :func:`finding` — one claim of the source (book, lecture, slides), judged on one backend's
  result: what was measured in words, whether it bears the claim out, and why not;
* :mod:`experiments.findings.claims` — what the findings of several experiments share: a curve's
  tail, the finals of a set of variants, numbers in words;
* :mod:`experiments.findings.wording` — comparative words ("about the same", "far behind") from
  measured numbers, by one stated rule.
"""

from __future__ import annotations

from experiments.i18n import _

__all__ = ["finding"]


def finding(claim: str, measured: str, holds, needs: str = "quick", *, diverged=(),
            why: str | None = None) -> dict:
    """One claim of the source, as judged on one backend's result.

    ``measured`` says the numbers in words. ``holds`` is whether they bear the claim out: a
    bool, or — for a claim that says several things — ``{condition: bool}``, every part of the
    claim in words, which holds only when all do (a regularizer that narrows the gap *and*
    keeps the test accuracy). ``diverged``: the runs the claim rests on that diverged; such a
    claim never holds. ``why`` says why it does not hold (by default, the conditions that
    failed, or the runs that diverged). ``needs`` is the profile in which the claim is expected
    to hold (``"full"`` where the quick run is too short; the runner then says so)."""
    conditions = dict(holds) if isinstance(holds, dict) else {}
    ok = all(conditions.values()) if conditions else bool(holds)
    if diverged:
        ok = False
        why = why or _("{runs} diverged: there is nothing to compare",
                       runs=_(" and ").join(diverged))
    if not ok and why is None:
        why = (_("not shown: {conditions}", conditions="; ".join(
                   c for c, passed in conditions.items() if not passed))
               if conditions else _("the numbers measured do not bear the claim out"))
    return {"claim": claim, "measured": measured, "holds": ok, "needs": needs,
            "why": None if ok else why}
