"""Building the report: run the experiments (or reuse their saved results), measure the
conventions (or reuse the measurements), and write every page atomically.

Results are reused when an experiment's fingerprint — its configuration, profile, seed, device,
data folder and the hash of the project's code — matches the one recorded in its metrics.json
(``force`` reruns everything).
"""

from __future__ import annotations

import os
from pathlib import Path

from experiments import atomic, explore, i18n, notebook, parallel, registry, results
from experiments.backends import BACKENDS
from experiments.backends.parity import failure_summary
from experiments.report import render
from experiments.runner import (RunSpec, compute_seed, finish, load_for_writing, log, plan,
                                position_jobs, position_label, warm)

#: The pages at the report's root.
PAGES = {"index": "index.html", "conventions": "conventions.html"}


def build(*, out="results", profile="quick", only=None, device="auto", seed=0, data_dir=None,
          force=False, seeds=1, jobs=1, executor="local", scheduler=None):
    """Run (or reuse) the experiments, measure the conventions, write every page. The runs —
    every experiment that needs one, ``seeds`` seeds each — are tasks for the executor
    (:mod:`experiments.parallel`); the results do not depend on ``jobs`` or the executor.

    Returns (the index's path, the names whose parity failed).
    """
    experiments = registry.all_experiments()
    names = list(experiments) if not only else list(only)
    for name in names:
        if name not in experiments:
            raise KeyError(registry.unknown(name, experiments))
    specs = {name: RunSpec(name, profile=profile, seed=seed, seeds=seeds, device=device,
                           data_dir=data_dir, out=out) for name in names}
    parallel.check(executor, jobs, scheduler)
    out = next(iter(specs.values())).out if specs else RunSpec("-", out=out).out
    found, torun = {}, []
    for i, name in enumerate(names, 1):
        spec = specs[name]
        key = results.fingerprint(spec, experiments[name].config_for(profile))
        saved = None if force else results.saved(out / name, key)
        if (saved is not None and saved.explore is None and explore.lessons_for(name)
                and set(saved.backends) == {"numpy", "torch"} and explore.enabled()):
            log(f"[{i}/{len(names)}] {name}: its saved results lack the page's explorable "
                f"lessons (a notebook's run): running it again with them")
            saved = None
        if saved is not None:
            log(f"[{i}/{len(names)}] {name}: unchanged since its last run, reusing its results")
            found[name] = saved
            continue
        torun.append(spec)
    # The workers start (PyTorch imported in each) while this process plans the runs.
    with parallel.workers(executor, jobs, scheduler, tasks=len(torun) * seeds,
                          warm=(warm, (BACKENDS, device))) as pool:
        planned = [plan(spec) for spec in torun]
        written, conventions = _run_planned(planned, pool, executor, jobs, out, force)
        found.update(written)
    # The index lists every result set on disk, not only the ones this build ran.
    on_disk = results.on_disk(out, experiments)
    found = {n: found.get(n, on_disk.get(n)) for n in experiments if n in found or n in on_disk}
    if conventions is None:
        conventions = _conventions(out, force)
    index = _write_pages(out, found, experiments, conventions, profile)
    ship_wheel(out)
    failed = [n for n, r in found.items() if r.parity.passed is False]
    log(f"report: wrote {index} ({len(names)} experiments, {len(failed)} parity failures)")
    for n in failed:
        log(f"report: {failure_summary(n, found[n].parity)}")
    return index, failed


#: How long one seed of each experiment takes as a task of a quick report (seconds, its
#: shadowing and the lecture's listings included; measured on the 2-core development machine,
#: ``report --profile quick --jobs 2``, 2026-12-07). Only the order of the tasks depends on it:
#: J workers take the longest first, so that no long task starts last while the other cores
#: wait (lecture-errata, last in the catalogue, ran alone for its final 63 s). An experiment
#: missing here counts as the shortest.
TASK_SECONDS = {
    "lecture-errata": 66, "optimizer-mnist": 37, "hyperparameter-search": 36,
    "deep-mnist-exercises": 35, "breast-cancer-regularization": 20,
    "overfit-weight-decay": 16, "overfit-dropout": 15, "batchnorm-mnist": 14,
    "lr-schedule": 14, "breast-cancer-minibatch": 13, "init-mnist": 12,
    "breast-cancer-learning-rate": 7, "breast-cancer-init": 6, "breast-cancer-dropout": 4,
    "breast-cancer-optimizers": 4, "breast-cancer-early-stopping": 3,
    "breast-cancer-validation": 3, "sanity-checks": 2, "init-histograms": 2,
    "optimizer-paths": 0.2,
}


def longest_first(jobs: list) -> list:
    """The order in which J workers take ``jobs`` (indices into it): the longest tasks first
    (:data:`TASK_SECONDS`; the catalogue's order among equals), the classic schedule that
    keeps every core busy to the end. The results do not depend on it."""
    return sorted(range(len(jobs)), key=lambda i: -TASK_SECONDS.get(jobs[i].experiment, 0))


def _run_planned(planned: list, pool, executor, jobs, out, force) -> tuple:
    """Every planned experiment's seeds as one list of tasks for the executor (so that J
    workers share the whole report; the longest first where there are several workers), then
    each experiment's set written from its seeds. Returns (``{name: Result}``, the
    conventions' measurements where they were made as tasks too, else None)."""
    # each experiment's seeds, then the runs of its page's explorable lessons: tasks alike
    parts = [(made, made.jobs, position_jobs(made)) for made in planned]
    every = [(job, False, job.label) for _made, seeds, _positions in parts for job in seeds] + [
        (job, True, position_label(made, job)) for made, _seeds, positions in parts
        for job in positions]
    # one job after the other: the catalogue's order, the one a reader of the log expects
    order = (longest_first([job for job, *_ in every]) if pool.jobs > 1
             else list(range(len(every))))
    if every:
        log(f"report: {len(every)} runs to make ({len(planned)} experiments), on "
            f"{executor} with --jobs {jobs}")
    done = pool.map(compute_seed, [every[i][:2] for i in order],
                    labels=[every[i][2] for i in order], log=log,
                    meanwhile=lambda: load_for_writing(planned))
    outcomes = [None] * len(every)
    for i, outcome in zip(order, done):
        outcomes[i] = outcome
    writes, start = [], 0
    for made, seeds, _positions in parts:
        writes.append((made, outcomes[start:start + len(seeds)], []))
        start += len(seeds)
    for (made, _seeds, positions), write in zip(parts, writes):
        write[2].extend(outcomes[start:start + len(positions)])
        start += len(positions)
    if executor != "local" or pool.jobs < 2 or not writes:
        # a Dask cluster's workers may write to another machine's disk: written here
        return {made.experiment.name: finish(made, seeds, pages=page_writers(made.experiment, out),
                                             explored=explored)
                for made, seeds, explored in writes}, None
    # Each set — its figures in every language, its page and notebook — is written by the
    # workers too, J at a time: drawing the figures is most of a report's time after its runs;
    # and the conventions, where they are to be measured, first (the longest task).
    lang, todo = i18n.current(), []
    if force or _saved_conventions(out / "conventions", results.code_version()) is None:
        todo.append((("conventions", out, force), "measuring the conventions"))
    todo += [(("set", made.spec, made.config, made.data, made.jobs, seeds, out, lang, explored),
              f"writing {made.experiment.name}") for made, seeds, explored in writes]
    done = pool.map(_write, [task for task, _label in todo],
                    labels=[label for _task, label in todo], log=log)
    conventions = done.pop(0) if todo[0][0][0] == "conventions" else None
    return {made.experiment.name: result for (made, *_), result in zip(writes, done)}, \
        conventions


def _write(kind, *args):
    """A writing task of :func:`_run_planned`: ``("set", …)`` one experiment's set
    (:func:`write_experiment_set`), ``("conventions", out, force)`` the conventions
    (:func:`_conventions`)."""
    return _conventions(*args) if kind == "conventions" else write_experiment_set(*args)


def write_experiment_set(spec, config, data, jobs, outcomes, out, lang, explored=None):
    """One planned experiment's set written from its seeds' outcomes and its explorables'
    (:func:`finish`), its page and notebook in ``lang``: a task a worker can take (an
    experiment's declaration does not travel between processes; its name does)."""
    from experiments.runner import Plan

    with i18n.language(lang):
        made = Plan(spec, registry.get(spec.experiment), config, data, jobs)
        return finish(made, outcomes, pages=page_writers(made.experiment, out),
                      explored=explored)


def page_writers(experiment, out) -> list:
    """The pages a result set of ``experiment`` holds: its page and its notebook (the run's
    settings, outputs empty: :mod:`experiments.notebook`), rendered from the result."""
    return [("index.html", lambda result: page_for(result, experiment, out)),
            (notebook.file_name(experiment.name),
             lambda result: notebook_for(result, experiment))]


def notebook_for(result, experiment) -> str:
    """The notebook of a result set: the run's settings, in the page's language."""
    return notebook.text(notebook.make(experiment, result.config, profile=result.profile,
                                       seed=result.seed, lang=i18n.current()))


def _write_pages(out: Path, metrics: dict, experiments: dict, conventions: dict,
                 profile: str) -> Path:
    """Every page, each rendered in full and written atomically (never blanked first). An
    experiment's page and notebook are written under its set's lock, from the set on disk then:
    a ``run`` into the same folder that replaced the set meanwhile is what the page describes,
    never a mix of the two."""
    extras = render.optional_pages(out, coming=[f"{name}/index.html" for name in metrics])
    for name in list(metrics):
        with atomic.locked(out / name):
            m = metrics[name] = results.read(out / name) or metrics[name]
            atomic.write_text(out / name / "index.html",
                              _sanitize(render.render_experiment(m, experiments[name], extras,
                                                                 _notebook_link(name))))
            # the notebook in the pages' language, as the pages are (a reused set too)
            atomic.write_text(out / name / notebook.file_name(name),
                              notebook_for(m, experiments[name]))
    atomic.write_text(out / PAGES["conventions"],
                      _sanitize(render.render_conventions(conventions, extras)))
    index = out / PAGES["index"]
    with atomic.locked(index):
        atomic.write_text(index, _sanitize(render.render_index(metrics, experiments, profile,
                                                               extras)))
    return index


def refresh_index(out) -> Path:
    """Rewrite ``out/index.html`` from the result sets on disk (after ``run`` replaced one),
    under the index's lock: two runs finishing together leave the later one's view."""
    out = Path(out)
    index = out / PAGES["index"]
    with atomic.locked(index):
        found = results.on_disk(out, registry.all_experiments())
        profiles = sorted({r.profile for r in found.values()})
        extras = render.optional_pages(out)
        atomic.write_text(index, _sanitize(render.render_index(
            found, registry.all_experiments(), " / ".join(profiles), extras)))
    return index


def page_for(result, experiment, out) -> str:
    """One experiment's page, as ``run`` writes it into the experiment's result set."""
    extras = render.optional_pages(out, coming=[f"{experiment.name}/index.html"])
    return _sanitize(render.render_experiment(result, experiment, extras,
                                              _notebook_link(experiment.name)))


def ship_wheel(out) -> Path:
    """The project's wheel at the report's root: what each page's notebook installs in Colab
    (its pages link it)."""
    return notebook.build_wheel(out)


def _notebook_link(name: str) -> tuple:
    """What a page links as "Open as notebook": its notebook, and the wheel at the report's root
    that the notebook installs in Colab."""
    return notebook.file_name(name), notebook.wheel_name()


def _conventions(out: Path, force: bool) -> dict:
    """The conventions' measurements (numbers only: the page words them when it is rendered),
    with their figures in every language: ``figures`` the English ones, ``translations:
    {lang: {"figures": {section: NAME.<lang>.png}}}`` the others', drawn beside them."""
    from experiments import i18n, plotting
    from experiments.report import conventions

    folder = out / "conventions"
    version = results.code_version()
    saved = None if force else _saved_conventions(folder, version)
    if saved is not None:
        log("conventions: unchanged, reusing the measurements")
        return saved
    log("conventions: measuring each book-vs-torch difference on the standard task ...")
    measured = conventions.measure()
    with atomic.result_set(folder) as new:
        with i18n.language("en"):
            measured["figures"] = conventions.plot(measured, new)
        measured["translations"] = {}
        for lang in i18n.LANGUAGES[1:]:
            with i18n.language(lang), plotting.fonts():
                measured["translations"][lang] = {"figures": conventions.plot(measured, new)}
        measured["figure_sha256"] = {f: atomic.sha256(new / f) for f in _every_figure(measured)}
        measured["code"] = version
        atomic.write_json(new / "conventions.json", measured)
    return measured


def _every_figure(measured: dict) -> list:
    """The file names of the conventions' figures, English first, then each translation's."""
    return [*measured["figures"].values(),
            *(f for words in measured["translations"].values()
              for f in words["figures"].values())]


def _saved_conventions(folder: Path, version: str):
    from experiments import i18n

    atomic.tidy(folder)
    saved = atomic.read_json_object(folder / "conventions.json")
    if saved is None or saved.get("code") != version or not isinstance(saved.get("figures"), dict):
        return None
    translations = saved.get("translations")
    if not isinstance(translations, dict) or any(
            not isinstance(translations.get(lang), dict)
            or not isinstance(translations[lang].get("figures"), dict)
            for lang in i18n.LANGUAGES[1:]):
        return None
    return saved if results.figures_intact(folder, _every_figure(saved),
                                           saved.get("figure_sha256")) else None


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
    atomic.write_text(path, render.render_bench(
        result, render.optional_pages(out, coming=["bench/index.html"])))
    return path
