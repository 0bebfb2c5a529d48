"""Judging parity: how far apart the two backends' results land, and whether that is a bug.

Every series is judged against the largest magnitude it reached (see :mod:`npref.testing`), a
final value that ends a series as that series' last point, final parameters against their
layer's largest magnitude — at the experiment's tolerance. Where a part differs by more, the
shadowed run decides (:func:`judge_shadowed`): a *chaotic* part is one where PyTorch, restarted
from NumPy's state after every iteration, agrees with NumPy at every iteration to one
computation's tolerance — a property of the two implementations that no BLAS kernel, CPU or
thread count can flip (``docs/parity.md``).
"""

from __future__ import annotations

import re

import numpy as np

from experiments.results import split_key
from npref.testing import compare, layer_floors, tolerance_for

#: How parity between the backends is judged in every metrics.json: each series against the
#: largest magnitude it reached (see npref.testing), final parameters against their layer's
#: largest magnitude, at the tolerance of the dtype (or of the experiment, for whole runs).
PARITY_FLOOR = "history"


def tolerance(experiment, config: dict) -> float:
    """The experiment's parity tolerance for the dtype it ran in."""
    dtype = config.get("dtype", "float64")
    return experiment.tolerance.get(dtype) or tolerance_for(dtype)


def judge(results: dict, tol: float) -> dict:
    """The parity record of ``{backend name: result}`` at tolerance ``tol``: the largest
    differences, where, pass/fail, and the largest relative difference per part."""
    numpy_side = {"series": results["numpy"].series, "final": results["numpy"].final}
    torch_side = {"series": results["torch"].series, "final": results["torch"].final}
    floors = {"series": PARITY_FLOOR, "final": _final_floors(torch_side)}
    if results["numpy"].arrays is not None:
        # Final parameters: each against the largest magnitude in its layer.
        numpy_side["arrays"] = results["numpy"].arrays
        torch_side["arrays"] = results["torch"].arrays
        floors["arrays"] = {name: _array_floors(arrays)
                            for name, arrays in torch_side["arrays"].items()}
    result = compare(numpy_side, torch_side, tol=tol, floor=floors, check_dtype=False,
                     names=("numpy", "torch"))
    return {**result.as_dict(), "floor": PARITY_FLOOR, "where": result.where,
            "compared": result.count, "by_part": _by_part(numpy_side, torch_side, floors, tol)}


#: How many one-ulp nudges of NumPy's start measure a chaotic part's own sensitivity — shown on
#: the page as evidence of chaos, not used for the verdict (the shadow decides).
SENSITIVITY_RUNS = 1


def judge_shadowed(parity: dict, results: dict, *, rerun, shadowed, step_tol: float,
                   log=lambda message: None) -> None:
    """Where the backends disagree beyond the tolerance, tell chaos from a bug by the shadow.

    Some runs amplify any rounding difference exponentially — L1's subgradient flips sign as a
    weight crosses zero, BatchNorm at tiny weight scales divides by √(σ² + eps), Adam scales a
    gradient that is rounding noise by lr/eps — and no two implementations can agree on their
    path to 1e-9; how far apart they end depends on the BLAS kernel and the thread count that
    did the rounding. The verdict therefore comes from the *shadowed* run
    (:mod:`experiments.backends.shadow`): ``shadowed(parts)`` trains the parts that disagree on
    both backends with PyTorch restarted from NumPy's state after every iteration, and returns
    ``{training run label: record}``. A part whose every iteration agrees within ``step_tol``
    (one computation's tolerance) is *chaotic — as close as the problem allows*; one that parts
    at some iteration fails, named there.

    As evidence of the chaos, NumPy also runs the parts ``SENSITIVITY_RUNS`` times from a start
    moved by one ulp (``rerun(perturbation, only_parts)``): how far that moves NumPy's own run
    (``sensitivity``, the largest) is shown beside the whole-run difference. Updates ``parity``
    in place.
    """
    tol = parity["tolerance"]
    suspects = {part for part, value in parity["by_part"].items() if value > tol}
    log(f"the backends differ by {parity['max_rel_diff']:.3g} over the whole run; shadowing "
        f"{', '.join(sorted(suspects))}: PyTorch restarted from NumPy's state every iteration")
    try:
        records = shadowed(suspects)
    except (KeyError, IndexError):
        # The experiment needs parts it was not given (a second stage built on the first,
        # checks across variants): run it whole.
        records = shadowed(None)
    sensitivity: dict[str, float] = {}
    for k in range(1, SENSITIVITY_RUNS + 1):
        try:
            nudged = rerun(k, suspects)
        except (KeyError, IndexError):
            nudged = rerun(k, None)
        for part in suspects:
            sub = {"numpy": results["numpy"].part(part), "torch": nudged.part(part)}
            moved = judge(sub, tol)["max_rel_diff"]
            sensitivity[part] = max(sensitivity.get(part, 0.0), moved)
    shadow = {part: shadow_of(part, records, step_tol) for part in sorted(suspects)}
    chaotic = [part for part in parity["by_part"] if part in shadow and shadow[part]["passed"]]
    failed = [part for part in parity["by_part"] if part in shadow and not shadow[part]["passed"]]
    parity.update({"sensitivity": sensitivity, "shadow": shadow, "chaotic": chaotic,
                   "failed_parts": failed, "passed": not failed,
                   "criterion": f"each part within {tol:g} over the whole run, or, shadowed — "
                                f"PyTorch restarted from NumPy's state after every iteration — "
                                f"within {step_tol:g} at every iteration"})


def shadow_of(part: str, records: dict, step_tol: float) -> dict:
    """One part's shadowed verdict from the records of its training runs (those whose label
    ends with the part's name): ``passed``, the iterations compared, the largest difference and
    where, and the first iteration beyond ``step_tol`` (or why the runs could not be compared)."""
    mine = [(label, r) for label, r in records.items()
            if label == part or label.endswith(f" {part}")]
    if not mine:
        return {"passed": False, "steps": 0, "max_rel_diff": None, "tol": step_tol,
                "problem": "no training run of this part could be shadowed"}
    label, worst = max(mine, key=lambda lr: (not lr[1]["max_rel_diff"] <= step_tol,
                                             lr[1]["max_rel_diff"]))
    problem = next((r["problem"] for _, r in mine if r["problem"]), None)
    first = next((r["first_over"] for _, r in mine if r["first_over"]), None)
    return {"passed": problem is None and first is None,
            "steps": sum(r["steps"] for _, r in mine), "max_rel_diff": worst["max_rel_diff"],
            "step": worst["step"], "where": worst["where"], "tol": step_tol,
            "first_over": first, "problem": problem}


def shadow_failure(record: dict | None) -> str:
    """Why a shadowed part failed, in one phrase (in the current language): the iteration and
    array where PyTorch, started from NumPy's state, parted from it — or why the runs could not
    be compared."""
    if not record:
        return "beyond the tolerance, and not shadowed"
    if record.get("problem"):
        return record["problem"]
    from experiments.i18n import _

    first = record["first_over"]
    return _("at iteration {step}, PyTorch started from NumPy's state parts from it in {where} "
             "by {diff} (tolerance {tol})", step=first["step"], where=first["where"],
             diff=f"{first['rel_diff']:.2g}", tol=f"{record['tol']:.0e}")


def failure_summary(name: str, parity) -> str:
    """One line naming the experiment and each failed part, with why (a :class:`Parity`) — in
    English, as every line of the command line is."""
    from experiments import i18n

    with i18n.language("en"):
        return _failure_summary(name, parity)


def _failure_summary(name: str, parity) -> str:
    parts = parity.failed_parts or [part for part, value in (parity.by_part or {}).items()
                                    if not value <= parity.tolerance]
    shadow = parity.shadow or {}
    said = "; ".join(f"{part!r} " + (shadow_failure(shadow[part]) if part in shadow else
                                     f"differs by {parity.by_part[part]:.2g} over the whole run "
                                     f"(tolerance {parity.tolerance:.0e})")
                     for part in parts) or f"differs by {parity.max_rel_diff:.2g}"
    return f"parity FAILED in {name}: {said}"


def _final_floors(side: dict) -> dict:
    """A final value that ends a series is judged as the series' last point: against the largest
    magnitude the series reached. (A loss that fell from 0.7 to 4e-10 carries the rounding of
    its 0.7-sized terms — PyTorch's ``BCEWithLogitsLoss`` computes log(1 + e^−|z|) to an absolute,
    not a relative, 1e-16 — and judging it against 4e-10 would measure that, not the run.)"""
    floors = {}
    for key, value in side["final"].items():
        series = side["series"].get(key)
        floors[key] = (float(np.fmax.reduce(np.abs(np.asarray(series, dtype=np.float64))))
                       if series is not None and len(series) else PARITY_FLOOR)
    return floors


def _array_floors(arrays: dict) -> dict:
    """Network parameters (W1, b1, gamma1, …) against their layer's scale; other arrays (such
    as activations) each against its own largest magnitude."""
    if all(re.fullmatch(r"(W|b|gamma|beta)\d+", key) for key in arrays):
        return layer_floors(arrays)
    return {key: "norm" for key in arrays}


def _by_part(numpy_side, torch_side, floors, tol) -> dict:
    """The largest relative difference per part of the result — a series name up to its last
    dot ("Adam" of "Adam.loss", "L1 0.01" of "L1 0.01.loss"), or an array group's name."""
    parts = {}
    for kind in ("series", "final"):
        for key in torch_side[kind]:
            parts.setdefault(split_key(key)[0], {"series": {}, "final": {}})[kind][key] = None
    out = {}
    for part, keys in parts.items():
        sub_n = {k: {key: numpy_side[k][key] for key in keys[k]} for k in ("series", "final")}
        sub_t = {k: {key: torch_side[k][key] for key in keys[k]} for k in ("series", "final")}
        sub_f = {"series": floors["series"],
                 "final": {key: floors["final"][key] for key in keys["final"]}}
        if part in torch_side.get("arrays", {}):
            sub_n["arrays"] = numpy_side["arrays"][part]
            sub_t["arrays"] = torch_side["arrays"][part]
            sub_f["arrays"] = floors["arrays"][part]
        out[part] = compare(sub_n, sub_t, tol=tol, floor=sub_f, check_dtype=False).max_rel_diff
    return out
