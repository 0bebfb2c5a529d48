"""Running one experiment on one or both backends, and writing ``OUT/NAME/metrics.json``."""

from __future__ import annotations

import hashlib
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

import npref
from experiments import backends as backend_registry
from experiments import config as config_mod
from experiments import io, registry
from experiments.backends import parity as judging


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
    """Run experiment ``name``; write its results as one set under ``out/name`` — metrics.json,
    figures and page, swapped in together — and return the metrics."""
    experiment = registry.get(name)
    # Everything that can be refused is refused before anything runs.
    config = config_mod.resolve(experiment.defaults, experiment.profiles, profile, sets,
                                constraints=experiment.constraints)
    seed = config_mod.check_seed(seed)
    out = check_out(out)
    sides = {b: backend_registry.get(b, device) for b in backends}
    data = experiment.data(config, data_dir)

    compute = _computer(experiment, config, seed, data_dir)
    results, timings = {}, {}
    for b, backend in sides.items():
        log(f"{name}: running on {b} ({backend.device}) ...")
        start = time.perf_counter()
        results[b] = compute(backend)
        timings[b] = time.perf_counter() - start
        log(f"{name}: {b} took {timings[b]:.2f} s")
    parity = _parity(results, judging.tolerance(experiment, config))
    if parity["passed"] is False and "arrays" in results["numpy"]:
        judging.judge_against_sensitivity(
            parity, results,
            lambda k, parts: compute(backend_registry.get("numpy", perturbation=k,
                                                          only_parts=parts)),
            log=lambda message: log(f"{name}: {message}"))
    metrics = {
        "experiment": name, "profile": profile, "seed": seed, "config": config, "data": data,
        "backends": {b: {"series": r["series"], "final": r["final"], "seconds": timings[b],
                         "device": sides[b].device,
                         **({"checks": r["checks"]} if "checks" in r else {})}
                     for b, r in results.items()},
        "parity": parity,
        **({"table": experiment.table(results, config)} if experiment.table else {}),
        "findings": findings(experiment, results, config),
        "versions": _versions(),
        "fingerprint": fingerprint(name, profile, seed, config, backends, device, data_dir),
    }
    metrics = _write_set(experiment, results, config, metrics, out)
    _refresh_index(out)
    _log_parity(name, parity)
    _log_findings(name, metrics["findings"])
    log(f"{name}: wrote {out / name} (metrics.json, {len(metrics['figures'])} figures, page)")
    return metrics


def _write_set(experiment, results: dict, config: dict, metrics: dict, out: Path) -> dict:
    """Figures, metrics.json (with each figure's SHA-256) and the experiment's page, written
    into a fresh folder and swapped in for ``out/NAME`` together."""
    from experiments.report import page_for

    with io.result_set(out / experiment.name) as folder:
        figures = experiment.plot(results, config, folder)
        metrics = {**metrics, "figures": figures,
                   "figure_sha256": {f: io.sha256(folder / f) for f in figures}}
        metrics = _finite_or_null(metrics)
        io.write_json(folder / "metrics.json", metrics)
        io.write_text(folder / "index.html", page_for(metrics, experiment, out))
    return metrics


def findings(experiment, results: dict, config: dict) -> list:
    """The source's claims, each judged on every backend's result: ``[{claim, measured,
    reproduced: {backend: bool}, needs}]`` (``measured`` from the first backend; parity keeps
    the others' numbers the same to many digits)."""
    if experiment.findings is None:
        return []
    judged = {b: experiment.findings(r, config) for b, r in results.items()}
    first = next(iter(judged.values()))
    return [{"claim": f["claim"], "measured": f["measured"],
             "reproduced": {b: judged[b][i]["holds"] for b in judged}, "needs": f["needs"]}
            for i, f in enumerate(first)]


def _log_findings(name: str, found: list) -> None:
    for f in found:
        marks = ", ".join(f"{b} {'yes' if ok else 'NO'}" for b, ok in f["reproduced"].items())
        log(f"{name}: finding: {f['claim']} — {f['measured']} ({marks})")


def _refresh_index(out: Path) -> None:
    """A report's index, where one exists under ``out``, rewritten from the results now on
    disk, so that the experiment just run shows its new row."""
    from experiments.report import refresh_index

    if (out / "index.html").exists():
        refresh_index(out)


def _log_parity(name: str, parity: dict) -> None:
    if parity["passed"] is None:
        log(f"{name}: parity not measured (one backend ran)")
        return
    verdict = "passed" if parity["passed"] else "FAILED"
    log(f"{name}: parity {verdict}: max relative difference {parity['max_rel_diff']:.3g} "
        f"(tolerance {parity['tolerance']:.0e})")
    if parity.get("chaotic"):
        log(f"{name}: chaotic parts, within {judging.SENSITIVITY_FACTOR}× their own "
            "sensitivity: "
            + ", ".join(f"{p} ({parity['by_part'][p]:.2g} vs {parity['sensitivity'][p]:.2g})"
                        for p in parity["chaotic"]))


def check_out(out) -> Path:
    """The output folder, or a :class:`~experiments.config.ConfigError` before any work."""
    try:
        return io.check_out(out)
    except ValueError as error:
        raise config_mod.ConfigError(str(error)) from None


def _computer(experiment, config: dict, seed: int, data_dir):
    """``compute(backend)`` for this run: the experiment's shared step (``prepare``), if it
    declares one, is computed here, once, and handed to every backend's run."""
    if experiment.prepare is None:
        return lambda backend: experiment.compute(backend, config, seed, data_dir)
    shared = experiment.prepare(config, seed, data_dir)
    return lambda backend: experiment.compute(backend, config, seed, data_dir, shared)


def _parity(results: dict, tol: float) -> dict:
    if set(results) != {"numpy", "torch"}:
        return {"max_abs_diff": None, "max_rel_diff": None, "tolerance": tol, "passed": None,
                "floor": judging.PARITY_FLOOR, "where": "only one backend ran"}
    return judging.judge(results, tol)


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
