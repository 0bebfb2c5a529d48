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
from experiments import io, parallel, registry
from experiments.backends import parity as judging
from experiments.parallel import seeds as seeds_mod


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
        seed: int = 0, data_dir=None, out="results", sets=(), seeds: int = 1, jobs=1,
        executor: str = "local", scheduler=None) -> dict:
    """Run experiment ``name`` for ``seeds`` seeds (``seed … seed+seeds−1``), each on every
    backend, on the executor given (:mod:`experiments.parallel`); write its results as one set
    under ``out/name`` — metrics.json, figures and page, swapped in together — and return the
    metrics. The results do not depend on ``jobs`` or the executor."""
    job = plan(name, backends=backends, device=device, profile=profile, seed=seed,
               data_dir=data_dir, out=out, sets=sets, seeds=seeds)
    parallel.check(executor, jobs, scheduler)
    outcomes = parallel.run_all(compute_seed, job["tasks"], executor=executor, jobs=jobs,
                                scheduler=scheduler, labels=job["labels"], log=log)
    return finish(job, outcomes)


def seed_key(seeds: list):
    """What the fingerprint records of the seeds: the seed itself for one (as before seeds
    existed, so such results stay reusable), the list for several."""
    return seeds[0] if len(seeds) == 1 else list(seeds)


def plan(name: str, *, backends=("numpy", "torch"), device="auto", profile="quick", seed=0,
         data_dir=None, out="results", sets=(), seeds=1) -> dict:
    """Everything that can be refused, refused before anything runs; then the tasks: one per
    seed, each ``compute_seed``'s arguments."""
    experiment = registry.get(name)
    config = config_mod.resolve(experiment.defaults, experiment.profiles, profile, sets,
                                constraints=experiment.constraints)
    seed = config_mod.check_seed(seed)
    seeds = config_mod.check_seeds(seeds)
    out = check_out(out)
    for b in backends:
        backend_registry.get(b, device)
    data = experiment.data(config, data_dir)
    chosen = list(range(seed, seed + seeds))
    return {"experiment": experiment, "config": config, "data": data, "out": out,
            "profile": profile, "seeds": chosen, "backends": tuple(backends), "device": device,
            "data_dir": data_dir,
            "tasks": [(name, profile, s, tuple(sets), device, data_dir, tuple(backends))
                      for s in chosen],
            "labels": [f"{name} seed {s}" for s in chosen]}


def compute_seed(name, profile, seed, sets, device, data_dir, backends) -> dict:
    """One seed of one experiment on every backend: results, timings, devices, parity (a chaotic
    part judged against the run's own sensitivity) and findings — all but the files. A
    module-level function of plain arguments, so that a worker process or a Dask worker runs it
    as this process would — on one BLAS and PyTorch thread (:data:`parallel.TASK_THREADS`)."""
    with parallel.task_threads(torch_too="torch" in backends):   # the same bits anywhere
        return _compute_seed(name, profile, seed, sets, device, data_dir, backends)


def _compute_seed(name, profile, seed, sets, device, data_dir, backends) -> dict:
    experiment = registry.get(name)
    config = config_mod.resolve(experiment.defaults, experiment.profiles, profile, sets,
                                constraints=experiment.constraints)
    sides = {b: backend_registry.get(b, device) for b in backends}
    compute = _computer(experiment, config, seed, data_dir)
    results, timings = {}, {}
    for b, backend in sides.items():
        log(f"{name}: seed {seed}: running on {b} ({backend.device}) ...")
        start = time.perf_counter()
        results[b] = compute(backend)
        timings[b] = time.perf_counter() - start
        log(f"{name}: seed {seed}: {b} took {timings[b]:.2f} s")
    parity = _parity(results, judging.tolerance(experiment, config))
    if parity["passed"] is False and "arrays" in results["numpy"]:
        judging.judge_against_sensitivity(
            parity, results,
            lambda k, parts: compute(backend_registry.get("numpy", perturbation=k,
                                                          only_parts=parts)),
            log=lambda message: log(f"{name}: seed {seed}: {message}"))
    return {"seed": seed, "results": results, "timings": timings,
            "devices": {b: side.device for b, side in sides.items()}, "parity": parity,
            "findings": findings(experiment, results, config, profile)}


def finish(job: dict, outcomes: list) -> dict:
    """The metrics of a planned run from its seeds' outcomes (in seed order), written as one
    set; a single seed's metrics are that seed's, several seeds' are combined
    (:mod:`experiments.parallel.seeds`)."""
    experiment, config, out = job["experiment"], job["config"], job["out"]
    name = experiment.name
    per_seed = [o["results"] for o in outcomes]
    results = per_seed[0] if len(outcomes) == 1 else seeds_mod.median_results(per_seed)
    first = outcomes[0]
    metrics = {
        "experiment": name, "profile": job["profile"], "seed": job["seeds"][0],
        **({"seeds": job["seeds"]} if len(outcomes) > 1 else {}),
        "config": config, "data": job["data"],
        "backends": {b: {"series": r["series"], "final": r["final"],
                         "seconds": sum(o["timings"][b] for o in outcomes),
                         "device": first["devices"][b],
                         **({"checks": r["checks"]} if "checks" in r else {})}
                     for b, r in results.items()},
        "parity": (first["parity"] if len(outcomes) == 1 else
                   seeds_mod.parity([o["parity"] for o in outcomes], job["seeds"])),
        **({"table": experiment.table(results, config)} if experiment.table else {}),
        "findings": (first["findings"] if len(outcomes) == 1 else
                     seeds_mod.findings([o["findings"] for o in outcomes])),
        "versions": _versions(),
        "fingerprint": fingerprint(name, job["profile"], seed_key(job["seeds"]), config,
                                   job["backends"], job["device"], job["data_dir"]),
    }
    metrics = _write_set(experiment, results, config, metrics, out,
                         per_seed if len(outcomes) > 1 else None)
    _refresh_index(out)
    _log_parity(name, metrics["parity"])
    _log_findings(name, metrics["findings"])
    log(f"{name}: wrote {out / name} (metrics.json, {len(metrics['figures'])} figures, page)")
    return metrics


def _write_set(experiment, results: dict, config: dict, metrics: dict, out: Path,
               per_seed=None) -> dict:
    """Figures, metrics.json (with each figure's SHA-256) and the experiment's page, written
    into a fresh folder and swapped in for ``out/NAME`` together. With several seeds, the
    figures draw the medians, and one more shows the spread across seeds."""
    from experiments.report import page_for

    with io.result_set(out / experiment.name) as folder:
        figures = list(experiment.plot(results, config, folder))
        if per_seed is not None:
            figures += seeds_mod.plot_spread(per_seed, folder, f"{experiment.name}-seeds",
                                             experiment.name)
        metrics = {**metrics, "figures": figures,
                   "figure_sha256": {f: io.sha256(folder / f) for f in figures}}
        metrics = _finite_or_null(metrics)
        io.write_json(folder / "metrics.json", metrics)
        io.write_text(folder / "index.html", page_for(metrics, experiment, out))
    return metrics


#: Why a claim the quick profile is too short for does not hold there.
TOO_SHORT = "too short in the quick profile: run --profile full"


def findings(experiment, results: dict, config: dict, profile: str = "full") -> list:
    """The source's claims, each judged on every backend's result: ``[{claim, measured,
    reproduced: {backend: bool}, needs, why}]`` (``measured`` from the first backend; parity
    keeps the others' numbers the same to many digits). ``why`` says why a claim does not hold
    (from the first backend where it does not), led by :data:`TOO_SHORT` where the claim needs
    the full profile and this is the quick one; None where it holds everywhere."""
    if experiment.findings is None:
        return []
    judged = {b: experiment.findings(r, config) for b, r in results.items()}
    first = next(iter(judged.values()))
    out = []
    for i, f in enumerate(first):
        failing = [judged[b][i] for b in judged if not judged[b][i]["holds"]]
        why = failing[0]["why"] if failing else None
        if failing and f["needs"] == "full" and profile != "full":
            why = TOO_SHORT + (f" ({why})" if why else "")
        out.append({"claim": f["claim"], "measured": f["measured"],
                    "reproduced": {b: judged[b][i]["holds"] for b in judged},
                    "needs": f["needs"], "why": why})
    return out


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
    verdict = ("chaotic — as close as the problem allows" if parity["passed"] and
               parity.get("chaotic") else "passed" if parity["passed"] else "FAILED")
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
