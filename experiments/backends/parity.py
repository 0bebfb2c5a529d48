"""Judging parity: how far apart the two backends' results land, and whether that is a bug.

Every series is judged against the largest magnitude it reached (see :mod:`npref.testing`), a
final value that ends a series as that series' last point, final parameters against their
layer's largest magnitude — at the experiment's tolerance. Where a part differs by more, the
run's own sensitivity to rounding decides (:func:`judge_against_sensitivity`): a *chaotic* part
is one whose backends differ no more than a one-ulp change of the starting weights moves the
NumPy run itself.
"""

from __future__ import annotations

import re

import numpy as np

from experiments.results import split_key
from npref.testing import SENSITIVITY_FACTOR, compare, layer_floors, tolerance_for

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


#: A run is "chaotic" where its backends differ by more than the tolerance but by no more than
#: SENSITIVITY_FACTOR times what a one-ulp change of its starting weights does to the NumPy run
#: itself — the rule, and the figure, of :mod:`npref.testing` (see there why it is 100).
SENSITIVITY_RUNS = 2


def judge_against_sensitivity(parity: dict, results: dict, rerun, log=lambda message: None):
    """Where the backends disagree beyond the tolerance, measure the run's own sensitivity.

    Some runs amplify any rounding difference exponentially — L1's subgradient flips sign as a
    weight crosses zero, BatchNorm at tiny weight scales divides by √(σ² + eps), a large
    learning rate bounces around the minimum — and no two implementations can agree on their
    path to 1e-9. NumPy runs the parts that disagree again, ``SENSITIVITY_RUNS`` times, with every
    starting weight one ulp away: ``rerun(perturbation, only_parts)`` returns that run's result
    (the runner builds a NumPy backend with those declared hooks). A part whose backends differ
    by no more than ``SENSITIVITY_FACTOR`` times that own sensitivity is *chaotic*: the
    implementations agree as closely as the problem allows. Updates ``parity`` in place.
    """
    log(f"the backends differ by {parity['max_rel_diff']:.3g}; measuring the run's own "
        f"sensitivity (NumPy with its starting weights moved by one ulp)")
    tol = parity["tolerance"]
    suspects = {part for part, value in parity["by_part"].items() if value > tol}
    sensitivity: dict[str, float] = {}
    for k in range(1, SENSITIVITY_RUNS + 1):
        try:
            nudged = rerun(k, suspects)
        except (KeyError, IndexError):
            # The experiment needs parts it was not given (a second stage built on the first,
            # checks across variants): run it whole.
            nudged = rerun(k, None)
        for part in suspects:
            sub = {"numpy": results["numpy"].part(part), "torch": nudged.part(part)}
            moved = judge(sub, tol)["max_rel_diff"]
            sensitivity[part] = max(sensitivity.get(part, 0.0), moved)
    chaotic, failed = [], []
    for part, value in parity["by_part"].items():
        if value <= tol:
            continue
        if value <= SENSITIVITY_FACTOR * sensitivity.get(part, 0.0):
            chaotic.append(part)
        else:
            failed.append(part)
    parity.update({"sensitivity": sensitivity, "chaotic": chaotic, "failed_parts": failed,
                   "passed": not failed,
                   "criterion": f"each part within {tol:g}, or, for a chaotic part, within "
                                f"{SENSITIVITY_FACTOR}× the difference that moving NumPy's "
                                f"starting weights by one ulp makes"})


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
