"""Running one experiment on one or both backends, and writing ``OUT/NAME/metrics.json``."""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

import npref
from experiments import backends as backend_registry
from experiments import config as config_mod
from experiments import registry
from experiments.io import write_json
from npref.testing import compare, layer_floors, tolerance_for

#: How parity between the backends is judged in every metrics.json: each series against the
#: largest magnitude it reached (see npref.testing), final parameters against their layer's
#: largest magnitude, at the tolerance of the dtype (or of the experiment, for whole runs).
PARITY_FLOOR = "history"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def code_version() -> str:
    """A hash of the project's code (npref, torchref, experiments): results computed by other
    code are never reused."""
    digest = hashlib.sha256()
    root = Path(npref.__file__).resolve().parent.parent
    for package in ("npref", "torchref", "experiments"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(name, profile, seed, config, backends, device, data_dir) -> str:
    """What determines an experiment's results: reuse them only when every part is the same."""
    resolved = device
    if "torch" in backends:
        try:
            from torchref.device import resolve
            resolved = str(resolve(device))
        except (ImportError, ValueError):
            pass
    key = json.dumps({"name": name, "profile": profile, "seed": seed, "config": config,
                      "backends": list(backends), "device": resolved,
                      "data_dir": str(data_dir) if data_dir else None,
                      "code": code_version(), "versions": _versions()}, sort_keys=True,
                     default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def run(name: str, *, backends=("numpy", "torch"), device: str = "auto", profile: str = "quick",
        seed: int = 0, data_dir=None, out="results", sets=()) -> dict:
    """Run experiment ``name``; write its metrics and figures under ``out/name``; return metrics."""
    experiment = registry.get(name)
    config = config_mod.resolve(experiment.defaults, experiment.profiles, profile, sets)
    out_dir = Path(out) / name
    # Everything that can be refused is refused before anything runs.
    sides = {b: backend_registry.get(b, device) for b in backends}
    data = experiment.data(config, data_dir)

    run_key = fingerprint(name, profile, seed, config, backends, device, data_dir)
    results, timings = {}, {}
    for b, backend in sides.items():
        log(f"{name}: running on {b} ({backend.device}) ...")
        start = time.perf_counter()
        results[b] = experiment.compute(backend, config, seed, data_dir)
        timings[b] = time.perf_counter() - start
        log(f"{name}: {b} took {timings[b]:.2f} s")

    parity = _parity(results, config, experiment)
    if parity["passed"] is False and "arrays" in results["numpy"]:
        _judge_against_sensitivity(parity, experiment, config, seed, data_dir, results)
    figures = experiment.plot(results, config, out_dir)
    metrics = {
        "experiment": name,
        "profile": profile,
        "seed": seed,
        "config": config,
        "data": data,
        "backends": {b: {"series": r["series"], "final": r["final"], "seconds": timings[b],
                         "device": sides[b].device,
                         **({"checks": r["checks"]} if "checks" in r else {})}
                     for b, r in results.items()},
        "parity": parity,
        "figures": figures,
        **({"table": experiment.table(results, config)} if experiment.table else {}),
        "versions": _versions(),
        "fingerprint": run_key,
    }
    write_json(out_dir / "metrics.json", _finite_or_null(metrics))
    if parity["passed"] is None:
        log(f"{name}: parity not measured (one backend ran)")
    else:
        verdict = "passed" if parity["passed"] else "FAILED"
        log(f"{name}: parity {verdict}: max relative difference {parity['max_rel_diff']:.3g} "
            f"(tolerance {parity['tolerance']:.0e})")
        if parity.get("chaotic"):
            log(f"{name}: chaotic parts, within {SENSITIVITY_FACTOR}× their own sensitivity: "
                + ", ".join(f"{p} ({parity['by_part'][p]:.2g} vs {parity['sensitivity'][p]:.2g})"
                            for p in parity["chaotic"]))
    log(f"{name}: wrote {out_dir / 'metrics.json'}")
    return metrics


def _parity(results: dict, config: dict, experiment) -> dict:
    dtype = config.get("dtype", "float64")
    tol = experiment.tolerance.get(dtype) or tolerance_for(dtype)
    if set(results) != {"numpy", "torch"}:
        return {"max_abs_diff": None, "max_rel_diff": None, "tolerance": tol, "passed": None,
                "floor": PARITY_FLOOR, "where": "only one backend ran"}
    numpy_side = {k: results["numpy"][k] for k in ("series", "final")}
    torch_side = {k: results["torch"][k] for k in ("series", "final")}
    floors = {"series": PARITY_FLOOR, "final": _final_floors(torch_side)}
    if "arrays" in results["numpy"]:
        # Final parameters: each against the largest magnitude in its layer.
        numpy_side["arrays"] = results["numpy"]["arrays"]
        torch_side["arrays"] = results["torch"]["arrays"]
        floors["arrays"] = {name: _array_floors(arrays)
                            for name, arrays in torch_side["arrays"].items()}
    result = compare(numpy_side, torch_side, tol=tol, floor=floors, check_dtype=False,
                     names=("numpy", "torch"))
    return {**result.as_dict(), "floor": PARITY_FLOOR, "where": result.where,
            "compared": result.count, "by_part": _by_part(numpy_side, torch_side, floors, tol)}


#: A run is "chaotic" where its backends differ by more than the tolerance but by no more than
#: this many times what a one-ulp change of its starting weights does to the NumPy run itself.
SENSITIVITY_FACTOR = 10
SENSITIVITY_RUNS = 2


def _judge_against_sensitivity(parity, experiment, config, seed, data_dir, results):
    """Where the backends disagree beyond the tolerance, measure the run's own sensitivity.

    Some runs amplify any rounding difference exponentially — L1's subgradient flips sign as a
    weight crosses zero, BatchNorm at tiny weight scales divides by √(σ² + eps), a large
    learning rate bounces around the minimum — and no two implementations can agree on their
    path to 1e-9. NumPy runs the parts that disagree again, ``SENSITIVITY_RUNS`` times, with every
    starting weight one ulp away; a part whose backends differ by no more than
    ``SENSITIVITY_FACTOR`` times that own sensitivity is *chaotic*: the implementations agree as
    closely as the problem allows.
    """
    log(f"{experiment.name}: the backends differ by {parity['max_rel_diff']:.3g}; measuring the "
        f"run's own sensitivity (NumPy with its starting weights moved by one ulp)")
    tol = parity["tolerance"]
    suspects = {part for part, value in parity["by_part"].items() if value > tol}
    numpy_backend = backend_registry.get("numpy")
    numpy_backend.only_parts = suspects
    sensitivity: dict[str, float] = {}
    for k in range(1, SENSITIVITY_RUNS + 1):
        numpy_backend.perturbation = k
        try:
            nudged = experiment.compute(numpy_backend, config, seed, data_dir)
        except (KeyError, IndexError):
            # The experiment needs parts it was not given (a second stage built on the first,
            # checks across variants): run it whole.
            numpy_backend.only_parts = None
            nudged = experiment.compute(numpy_backend, config, seed, data_dir)
        for part in suspects:
            sub = {"numpy": _part(results["numpy"], part), "torch": _part(nudged, part)}
            moved = _parity(sub, config, experiment)["max_rel_diff"]
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


def _part(result: dict, part: str) -> dict:
    """The series, finals and arrays of one part of a result."""
    keep = {k: {key: v for key, v in result[k].items() if key.rsplit(".", 1)[0] == part}
            for k in ("series", "final")}
    keep["arrays"] = {part: result["arrays"][part]} if part in result.get("arrays", {}) else {}
    return keep


def _final_floors(side: dict) -> dict:
    """A final value that ends a series is judged as the series' last point: against the largest
    magnitude the series reached. (A loss that fell from 0.7 to 4e-10 carries the rounding of
    its 0.7-sized terms — PyTorch's ``BCEWithLogitsLoss`` computes log(1 + e^−|z|) to an absolute,
    not a relative, 1e-16 — and judging it against 4e-10 would measure that, not the run.)"""
    floors = {}
    for key, value in side["final"].items():
        series = side["series"].get(key)
        floors[key] = (float(np.max(np.abs(np.asarray(series, dtype=np.float64))))
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
            parts.setdefault(key.rsplit(".", 1)[0], {"series": {}, "final": {}})[kind][key] = None
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


def _versions() -> dict:
    versions = {"npref": npref.__version__, "numpy": np.__version__,
                "python": platform.python_version()}
    try:
        import torch
        versions["torch"] = torch.__version__
    except ImportError:
        pass
    return versions


def _finite_or_null(obj):
    """JSON has no NaN or Infinity: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    return obj
