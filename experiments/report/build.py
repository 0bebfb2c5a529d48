"""Building the report: run the experiments (or reuse their saved results), measure the
conventions (or reuse the measurements), and write every page atomically.

Results are reused when an experiment's fingerprint — its configuration, profile, seed, device,
data folder and the hash of the project's code — matches the one recorded in its metrics.json
(``force`` reruns everything).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from experiments import config as config_mod
from experiments import registry
from experiments.io import write_json, write_text
from experiments.report import render
from experiments.runner import code_version, fingerprint, log, run

#: The pages at the report's root.
PAGES = {"index": "index.html", "conventions": "conventions.html"}


def build(*, out="results", profile="quick", only=None, device="auto", seed=0, data_dir=None,
          force=False):
    """Run (or reuse) the experiments, measure the conventions, write every page.

    Returns (the index's path, the names whose parity failed).
    """
    out = Path(out)
    experiments = registry.all_experiments()
    names = list(experiments) if not only else list(only)
    for name in names:
        if name not in experiments:
            raise KeyError(f"unknown experiment {name!r}; known: {', '.join(experiments)}")
    metrics = {}
    for i, name in enumerate(names, 1):
        experiment = experiments[name]
        config = config_mod.resolve(experiment.defaults, experiment.profiles, profile)
        key = fingerprint(name, profile, seed, config, ("numpy", "torch"), device, data_dir)
        saved = _saved(out / name, key)
        if saved is not None and not force:
            log(f"[{i}/{len(names)}] {name}: unchanged since its last run, reusing its results")
            metrics[name] = saved
            continue
        log(f"[{i}/{len(names)}] {name}")
        metrics[name] = run(name, backends=("numpy", "torch"), device=device, profile=profile,
                            seed=seed, data_dir=data_dir, out=out)
    index = _write_pages(out, metrics, experiments, _conventions(out, force), profile)
    failed = [n for n, m in metrics.items() if m["parity"]["passed"] is False]
    log(f"report: wrote {index} ({len(names)} experiments, {len(failed)} parity failures)")
    return index, failed


def _write_pages(out: Path, metrics: dict, experiments: dict, conventions: dict,
                 profile: str) -> Path:
    """Every page; the experiments' pages exist (empty) before any page links to them."""
    for name in metrics:
        write_text(out / name / "index.html", "")
    extras = render.optional_pages(out)
    for name, m in metrics.items():
        write_text(out / name / "index.html",
                   _sanitize(render.render_experiment(m, experiments[name], extras)))
    write_text(out / PAGES["conventions"],
               _sanitize(render.render_conventions(conventions, extras)))
    index = out / PAGES["index"]
    write_text(index, _sanitize(render.render_index(metrics, experiments, profile, extras)))
    return index


def _saved(folder: Path, key: str):
    path = folder / "metrics.json"
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if m.get("fingerprint") != key or not all((folder / f).exists() for f in m["figures"]):
        return None
    return m


def _conventions(out: Path, force: bool) -> dict:
    from experiments.report import conventions

    folder = out / "conventions"
    path = folder / "conventions.json"
    version = code_version()
    if not force and path.exists():
        saved = json.loads(path.read_text())
        if saved.get("code") == version and all((folder / f).exists()
                                                for f in saved["figures"].values()):
            log("conventions: unchanged, reusing the measurements")
            return saved
    log("conventions: measuring each book-vs-torch difference on the standard task ...")
    measured = conventions.measure()
    measured["figures"] = conventions.plot(measured, folder)
    measured["code"] = version
    write_json(path, measured)
    return measured


def _sanitize(text: str) -> str:
    """No absolute paths of the machine the report was built on: the working folder becomes
    relative, the home folder ``~``."""
    for path, replacement in ((str(Path.cwd()) + os.sep, ""), (str(Path.home()) + os.sep, "~/")):
        text = text.replace(path, replacement)
    return text


def write_bench_page(result, out) -> Path:
    """The benchmark's page, ``OUT/bench/index.html`` (it exists before its navigation is made,
    so it links to itself)."""
    path = Path(out) / "bench" / "index.html"
    write_text(path, "")
    write_text(path, render.render_bench(result, render.optional_pages(out)))
    return path
