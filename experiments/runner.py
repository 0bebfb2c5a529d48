"""Running one experiment on one or both backends, for one or more seeds, and writing its result
set (``docs/results.md``).

A run is a :class:`RunSpec` — what was asked for, validated before anything runs — planned into a
:class:`Plan` (the configuration, the data, one :class:`Job` per seed); the jobs run on the
executor (:mod:`experiments.parallel`), each giving an :class:`Outcome`; :func:`finish` combines
the outcomes into a :class:`~experiments.results.Result` and writes it as one set. Running knows
nothing of pages: whoever runs (the command line, the report) hands in the pages to write into
the set.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from experiments import backends as backend_registry
from experiments import atomic, i18n, parallel, registry, results
from experiments import explore as explorables
from experiments import settings as settings_mod
from experiments.backends import parity as judging
from experiments.backends import shadow
from experiments.parallel import seeds as seeds_mod
from experiments.results import BackendResult, Computed, Finding, Parity, Result
from npref.testing import tolerance_for


_QUIET = threading.local()


def log(message: str) -> None:
    if not getattr(_QUIET, "on", False):
        print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet():
    """No log lines from this thread in the block (an explorable's many small runs: one line
    for all of them, :mod:`experiments.explore`); other threads' lines still show."""
    before, _QUIET.on = getattr(_QUIET, "on", False), True
    try:
        yield
    finally:
        _QUIET.on = before


@dataclass(frozen=True)
class RunSpec:
    """What a run is asked to do: the experiment, its profile and seeds, the ``--set``
    overrides, the backends and device, the data folder and the output folder."""

    experiment: str
    profile: str = "quick"
    seed: int = 0
    seeds: int = 1
    sets: tuple = ()
    backends: tuple = backend_registry.BACKENDS
    device: str = "auto"
    data_dir: str | None = None
    out: Path = Path("results")

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "seed", settings_mod.check_seed(self.seed))
        set_(self, "seeds", settings_mod.check_seeds(self.seeds))
        set_(self, "sets", tuple(self.sets))
        set_(self, "backends", tuple(self.backends))
        try:
            set_(self, "out", atomic.check_out(self.out))
        except ValueError as error:
            raise settings_mod.ConfigError(str(error)) from None

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    def job(self, seed: int) -> "Job":
        return Job(self.experiment, self.profile, seed, self.sets, self.device, self.data_dir,
                   self.backends)


@dataclass(frozen=True)
class Job:
    """One seed of one experiment on every backend: a task for any executor (plain, picklable
    values, so a worker process or a Dask worker computes it as this process would)."""

    experiment: str
    profile: str
    seed: int
    sets: tuple
    device: str
    data_dir: str | None
    backends: tuple

    @property
    def label(self) -> str:
        return f"{self.experiment} seed {self.seed}"


@dataclass
class Outcome:
    """What a :class:`Job` gives: each backend's :class:`Computed`, timings and device, the
    parity record and the findings."""

    seed: int
    results: dict
    timings: dict
    devices: dict
    parity: dict
    findings: list = field(default_factory=list)
    #: the findings worded in the other languages: {lang: [Finding]}
    translated: dict = field(default_factory=dict)
    #: the device the run's ``--device`` came to where it ran (:func:`results.resolved_device`)
    resolved: str | None = None


@dataclass
class Plan:
    """A run made ready: everything that can be refused, refused; the jobs to do."""

    spec: RunSpec
    experiment: object
    config: dict
    data: dict
    jobs: list


def plan(spec: RunSpec) -> Plan:
    """Everything that can be refused, refused before anything runs; then one job per seed."""
    experiment = registry.get(spec.experiment)
    config = experiment.config_for(spec.profile, spec.sets)
    for b in spec.backends:
        backend_registry.check(b, spec.device)
    explorables.enabled()                               # NPREF_EXPLORE checked before any work
    data = experiment.data(config, spec.data_dir)
    return Plan(spec, experiment, config, data, [spec.job(s) for s in spec.seed_list])


def run(spec: RunSpec, *, jobs=1, executor: str = "local", scheduler=None, pages=(),
        explore: bool = True) -> Result:
    """Run ``spec`` — every seed on every backend, on the executor given — and write its result
    set under ``spec.out / NAME`` with ``pages`` (``[(file name, render(result))]``) beside
    ``metrics.json`` and the figures; with ``explore``, the page's explorable lessons
    (:mod:`experiments.explore`) computed too. The results do not depend on ``jobs`` or the
    executor."""
    parallel.check(executor, jobs, scheduler)            # before torch or the data is loaded
    early = []
    try:
        # The workers start (PyTorch imported, the data loaded, in each) while this process
        # plans.
        with parallel.workers(executor, jobs, scheduler, tasks=_task_count(spec, explore),
                              warm=(warm, (spec.backends, spec.device, spec.experiment,
                                           spec.profile, spec.sets, spec.data_dir))) as pool:
            made = plan(spec)
            # The page's explorable lessons' runs are tasks too, beside the seeds'. The
            # figures, drawn from the seeds alone, are drawn here once the seeds are done while
            # the lessons' runs go on (in this process's turn: between its tasks, or as it
            # waits for the last).
            positions, seeds = position_jobs(made, explore), len(made.jobs)
            outcomes = pool.map(
                compute_seed, [(job,) for job in made.jobs] + [(job, True) for job in positions],
                labels=[job.label for job in made.jobs]
                + [position_label(made, job) for job in positions], log=log,
                meanwhile=lambda: load_for_writing([made]),
                ready=(seeds, lambda done: early.append(Drawn(made, done))) if positions
                else None)
        return finish(made, outcomes[:seeds], pages, explore=explore, explored=outcomes[seeds:],
                      drawn=early[0] if early else None)
    finally:
        for drawn in early:
            drawn.discard()


def position_jobs(made: "Plan", explore: bool = True) -> list:
    """The runs of the page's explorable lessons (:func:`explorables.positions`), a
    :class:`Job` each on both backends at the run's first seed: none without ``explore``,
    with ``NPREF_EXPLORE=0`` or where the run is not on both backends."""
    spec = made.spec
    if not explore or set(spec.backends) != {"numpy", "torch"} or not explorables.enabled():
        return []
    return [Job(spec.experiment, spec.profile, spec.seed_list[0], sets, spec.device,
                spec.data_dir, ("numpy", "torch"))
            for sets in explorables.positions(spec.experiment, made.config, spec.sets)]


def position_label(made: "Plan", job: Job) -> str:
    """A position's name in the progress lines: the experiment and the sliders' settings."""
    return f"{job.experiment} at {' '.join(job.sets[len(made.spec.sets):])}"


def _task_count(spec: RunSpec, explore: bool) -> int:
    """How many tasks :func:`run` hands its executor (the seeds, the explorables' positions),
    known before the plan for the workers' count: a setting the plan refuses counts none."""
    count = len(spec.seed_list)
    if explore and set(spec.backends) == {"numpy", "torch"}:
        try:
            if explorables.enabled():
                config = registry.get(spec.experiment).config_for(spec.profile, spec.sets)
                count += len(explorables.positions(spec.experiment, config, spec.sets))
        except (KeyError, ValueError):                  # refused by the plan, in its words
            pass
    return count


def load_for_writing(planned) -> None:
    """What writing the result sets of ``planned`` runs loads first — matplotlib and each
    language's figure fonts, nbformat for the notebooks, the pages' rules (PyTorch with
    torchref's) — loaded while workers compute, rather than after them
    (:func:`experiments.parallel.workers`)."""
    import matplotlib.pyplot  # noqa: F401
    import nbformat  # noqa: F401

    for lang in i18n.LANGUAGES:
        with i18n.language(lang):
            i18n.figure_fonts()
    for made in planned:
        made.experiment.rules_for(made.config)


def warm(backends, device, experiment=None, profile="quick", sets=(), data_dir=None) -> None:
    """A worker's start, before its first task (:func:`experiments.parallel.workers`): the
    backends built once (PyTorch and ``torch._dynamo`` imported) and, given ``experiment``, its
    data loaded into this process's cache — what every task would otherwise do first."""
    for b in backends:
        backend_registry.get(b, device)
    if experiment is not None:
        chosen = registry.get(experiment)
        chosen.data(chosen.config_for(profile, sets), data_dir)


def compute_seed(job: Job, position: bool = False) -> "Outcome | Stopped":
    """One seed of one experiment on every backend: results, timings, devices, parity (a chaotic
    part judged against the run's own sensitivity) and findings — all but the files — on one
    BLAS and PyTorch thread (:data:`parallel.TASK_THREADS`), the same bits anywhere. With
    ``position`` (an explorable lesson's run, :func:`position_jobs`): without its log lines,
    and a run that diverges gives :class:`Stopped` rather than an error of the whole run."""
    with parallel.task_threads(torch_too="torch" in job.backends):
        if not position:
            return _compute_seed(job)
        with quiet():
            try:
                return _compute_seed(job)
            except FloatingPointError as error:     # said on the page, not drawn
                return Stopped(str(error))


@dataclass(frozen=True)
class Stopped:
    """An explorable lesson's run that stopped: training diverged (the reason: the
    ``FloatingPointError``'s words, the step named)."""

    reason: str


def _compute_seed(job: Job) -> Outcome:
    experiment = registry.get(job.experiment)
    config = experiment.config_for(job.profile, job.sets)
    sides = {b: backend_registry.get(b, job.device) for b in job.backends}
    compute = _computer(experiment, config, job.seed, job.data_dir)
    computed, timings = {}, {}
    where = f"{job.experiment}: seed {job.seed}"
    for b, backend in sides.items():
        log(f"{where}: running on {b} ({backend.device}) ...")
        start = time.perf_counter()
        computed[b] = compute(backend)
        timings[b] = time.perf_counter() - start
        log(f"{where}: {b} took {timings[b]:.2f} s")
    parity = _parity(computed, judging.tolerance(experiment, config))
    step_tol = tolerance_for(config.get("dtype", "float64"))
    if (parity["passed"] is False and computed["numpy"].arrays is not None
            and set(sides) == {"numpy", "torch"}):
        judging.judge_shadowed(
            parity, computed,
            rerun=lambda k, parts: compute(backend_registry.get("numpy", perturbation=k,
                                                                only_parts=parts)),
            shadowed=lambda parts: shadow.run_shadowed(compute, parts, step_tol,
                                                       device=job.device),
            step_tol=step_tol, log=lambda message: log(f"{where}: {message}"))
    words = {}
    for lang in i18n.LANGUAGES:              # the same judgement, worded in each language
        with i18n.language(lang):
            words[lang] = findings(experiment, computed, config, job.profile)
    english = words.pop("en")
    return Outcome(job.seed, computed, timings, {b: s.device for b, s in sides.items()},
                   parity, english, words, results.resolved_device(job))


def combine(outcomes: list) -> tuple[list, dict]:
    """The seeds' results (in seed order) and the run's: a single seed's own, several seeds'
    combined (:mod:`experiments.parallel.seeds`)."""
    per_seed = [o.results for o in outcomes]
    return per_seed, seeds_mod.median_results(per_seed) if len(per_seed) > 1 else per_seed[0]


def draw_figures(made: Plan, per_seed: list, combined: dict, folder) -> tuple[list, dict]:
    """A run's figures drawn into ``folder``: the English files, and each other language's
    beside them (NAME.<lang>.png) — ``([files], {lang: [files]})``, as
    :func:`results.write_set` takes them."""
    from experiments import plotting

    experiment, name = made.experiment, made.experiment.name

    def draw_in():
        figures = list(experiment.plot(combined, made.config, folder))
        if len(per_seed) > 1:
            figures += seeds_mod.plot_spread(per_seed, folder, f"{name}-seeds", name)
        return figures

    with i18n.language("en"):
        english = draw_in()
    others = {}
    for lang in i18n.figure_languages()[1:]:
        with i18n.language(lang), plotting.fonts():
            others[lang] = draw_in()
    return english, others


class Drawn:
    """A run's figures drawn ahead (:func:`run`: by this process once its seeds are done, while
    workers compute the lessons' runs), in a folder of their own until :func:`finish` copies
    them into the set it writes; :meth:`discard` removes that folder."""

    def __init__(self, made: Plan, outcomes: list):
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix=f"npref-{made.experiment.name}-figures-"))
        self.files = draw_figures(made, *combine(outcomes), self.folder)

    def into(self, folder) -> tuple[list, dict]:
        import shutil

        for name in results.figure_files(*self.files):
            shutil.copyfile(self.folder / name, Path(folder) / name)
        return self.files

    def discard(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def finish(made: Plan, outcomes: list, pages=(), explore: bool = True,
           explored: list | None = None, drawn: Drawn | None = None) -> Result:
    """The result of a planned run from its seeds' outcomes (in seed order), written as one set;
    a single seed's result is that seed's, several seeds' are combined
    (:mod:`experiments.parallel.seeds`). With ``explore``, the experiment's explorable lessons
    are stored in it: from ``explored``, the outcomes of :func:`position_jobs` (in its order)
    where the executor computed them beside the seeds, else computed here. ``drawn``: its
    figures, drawn already from these outcomes (else drawn here)."""
    spec, experiment, config = made.spec, made.experiment, made.config
    name = experiment.name
    per_seed, combined = combine(outcomes)
    several = len(outcomes) > 1
    first = outcomes[0]

    def table_in(lang):
        """The experiment's table worded in ``lang`` (its numbers the same in every one)."""
        with i18n.language(lang):
            return experiment.table(combined, config)

    result = Result(
        experiment=name, profile=spec.profile, seed=spec.seed_list[0],
        seeds=spec.seed_list if several else None, config=config, data=made.data,
        backends={b: BackendResult(c.series, c.final, sum(o.timings[b] for o in outcomes),
                                   first.devices[b], c.checks, c.axes)
                  for b, c in combined.items()},
        parity=Parity.of(seeds_mod.parity([o.parity for o in outcomes], spec.seed_list)
                         if several else first.parity),
        table=table_in("en") if experiment.table else None,
        findings=(seeds_mod.findings([o.findings for o in outcomes]) if several
                  else first.findings),
        versions=results.versions(),
        fingerprint=results.fingerprint(spec, config, resolved=first.resolved),
        translations={lang: {"findings": [
            {"claim": f.claim, "measured": f.measured, "why": f.why}
            for f in (seeds_mod.findings([o.translated[lang] for o in outcomes]) if several
                      else first.translated[lang])],
            **({"table": table_in(lang)} if experiment.table else {})}
            for lang in first.translated})
    words = {lang: result.in_language(lang).findings for lang in ("en", *result.translations)}
    if explore and explorables.enabled():
        positions = position_jobs(made)
        if not explored:
            explored = [compute_seed(job, position=True) for job in positions]
        at = {job.sets: outcome for job, outcome in zip(positions, explored, strict=True)}

        def run_at(sets):
            """The experiment at ``sets`` on both backends, the run's first seed: one
            position of an explorable lesson."""
            if isinstance(outcome := at[tuple(sets)], Stopped):
                raise FloatingPointError(outcome.reason)
            return outcome

        result = replace(result, explore=explorables.strip_raw(explorables.compute(
            experiment, config, spec.sets, combined, result.parity.as_dict(), words, run_at,
            log=log)))

    def draw(folder):
        if drawn is not None:                       # drawn while the lessons' runs computed
            return drawn.into(folder)
        return draw_figures(made, per_seed, combined, folder)

    result = results.write_set(spec.out / name, result, draw, pages)
    _log_parity(name, result.parity)
    for f in result.findings:
        marks = ", ".join(f"{b} {'yes' if ok else 'NO'}" for b, ok in f.reproduced.items())
        log(f"{name}: finding: {f.claim} — {f.measured} ({marks})")
    log(f"{name}: wrote {spec.out / name} (metrics.json, {len(result.figures)} figures"
        f"{', page' if pages else ''})")
    return result


#: Why a claim the quick profile is too short for does not hold there.
TOO_SHORT = i18n.N_("too short in the quick profile: run --profile full")


def findings(experiment, computed: dict, config: dict, profile: str = "full") -> list[Finding]:
    """The source's claims, each judged on every backend's result (``measured`` from the first
    backend; parity keeps the others' numbers the same to many digits). ``why`` says why a claim
    does not hold (from the first backend where it does not), led by :data:`TOO_SHORT` where the
    claim needs the full profile and this is the quick one; None where it holds everywhere."""
    if experiment.findings is None:
        return []
    judged = {b: experiment.findings(r, config) for b, r in computed.items()}
    first = next(iter(judged.values()))
    out = []
    for i, f in enumerate(first):
        failing = [judged[b][i] for b in judged if not judged[b][i]["holds"]]
        why = failing[0]["why"] if failing else None
        if failing and f["needs"] == "full" and profile != "full":
            why = i18n._(TOO_SHORT) + (f" ({why})" if why else "")
        out.append(Finding(f["claim"], f["measured"],
                           {b: judged[b][i]["holds"] for b in judged}, f["needs"], why))
    return out


def _log_parity(name: str, parity: Parity) -> None:
    if parity.passed is None:
        log(f"{name}: parity not measured (one backend ran)")
        return
    verdict = ("chaotic — as close as the problem allows" if parity.passed and parity.chaotic
               else "passed" if parity.passed else "FAILED")
    log(f"{name}: parity {verdict}: max relative difference {parity.max_rel_diff:.3g} "
        f"(tolerance {parity.tolerance:.0e})")
    if parity.chaotic:
        log(f"{name}: chaotic parts — the whole run parts, every shadowed iteration agrees: "
            + ", ".join(f"{p} (whole run {parity.by_part[p]:.2g}, shadowed "
                        f"{parity.shadow[p]['max_rel_diff']:.2g} over "
                        f"{parity.shadow[p]['steps']} iterations)" for p in parity.chaotic))
    for p in parity.failed_parts or []:
        log(f"{name}: part {p!r} FAILED: {judging.shadow_failure((parity.shadow or {}).get(p))}")


def _computer(experiment, config: dict, seed: int, data_dir):
    """``compute(backend) -> Computed`` for this run: the experiment's shared step
    (``prepare``), if it declares one, is computed here, once, and handed to every backend."""
    if experiment.prepare is None:
        return lambda backend: _computed(experiment.compute(backend, config, seed, data_dir))
    shared = experiment.prepare(config, seed, data_dir)
    return lambda backend: _computed(experiment.compute(backend, config, seed, data_dir, shared))


def _computed(value) -> Computed:
    if isinstance(value, Computed):
        return value
    raise TypeError(f"an experiment's compute returns experiments.results.Computed, got "
                    f"{type(value).__name__}")


def _parity(computed: dict, tol: float) -> dict:
    if set(computed) != {"numpy", "torch"}:
        return {"max_abs_diff": None, "max_rel_diff": None, "tolerance": tol, "passed": None,
                "floor": judging.PARITY_FLOOR, "where": "only one backend ran"}
    return judging.judge(computed, tol)
