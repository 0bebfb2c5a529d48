"""The experiment catalogue: each experiment registers itself here under its CLI name."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import sys
from dataclasses import dataclass, field
from typing import Callable

from experiments import settings as settings_mod
from experiments.i18n import _

#: Modules that define experiments, one each, imported on first use (in catalogue order).
MODULES = tuple(f"experiments.catalogue.{name}" for name in (
    "optimizer_paths", "optimizer_mnist", "init_histograms", "init_mnist", "batchnorm_mnist",
    "overfit.weight_decay", "overfit.dropout", "hyperparameter_search", "deep_mnist_exercises",
    "breast_cancer.init", "breast_cancer.regularization", "breast_cancer.learning_rate",
    "breast_cancer.validation", "breast_cancer.early_stopping", "breast_cancer.minibatch",
    "breast_cancer.dropout", "breast_cancer.optimizers", "sanity_checks", "lecture_errata",
    "lr_schedule"))

#: Parity tolerance of a whole training run: thousands of steps compound the rounding of each
#: (the per-operation figures of docs/parity.md are for one computation).
WHOLE_RUN = {"float64": 1e-9, "float32": 1e-3}
#: Parity tolerance of an experiment that makes one computation per value, with no training loop
#: to compound rounding: the per-operation figures of docs/parity.md.
PER_OPERATION = {"float64": 1e-12, "float32": 1e-5}


@dataclass(frozen=True)
class Experiment:
    """One experiment, written once against :mod:`experiments.backends.protocol` — the contract
    of ``docs/experiments.md``.

    ``settings``: a frozen dataclass of the experiment's settings, each field declared with its
    default, check and meaning (:func:`experiments.settings.setting`); ``profiles``: named
    instances of it (``{"quick": Settings(epochs=151)}``; ``full`` is the defaults).
    ``compute(backend, config, seed, data_dir) -> Computed`` runs on one backend (``config``: the
    settings as a dict); ``plot(results, config, out_dir) -> [file names]`` draws the figures
    from every backend's :class:`~experiments.results.Computed`; ``data(config, data_dir)`` says
    what data it uses (``name, source, n_train, n_test``). ``tolerance`` maps a dtype name to the
    parity tolerance (:data:`WHOLE_RUN` unless the experiment says :data:`PER_OPERATION`).
    ``prepare(config, seed, data_dir)``, if given, is a step computed once for both backends
    (NumPy-only reference work, say); its result reaches ``compute`` as a fifth argument.
    ``table(results, config) -> {"columns", "rows"}``, if given, is written to metrics.json and
    shown on the experiment's page.

    ``findings(result, config) -> [finding(...)]``: the claims of the source (book, lecture,
    slides) this experiment demonstrates, each judged on one backend's result; the runner
    evaluates it per backend. ``concept`` is the page's prose: a string, or ``concept(config) ->
    str`` when it quotes numbers of the configuration (so that the page never states the full
    profile's numbers beside a quick run); it describes the setting, never a result
    (comparisons of results are the findings', worded from the numbers by
    :mod:`experiments.catalogue.wording`). ``rules(config) -> [Rule]``: every rule the page
    shows side by side (:mod:`experiments.catalogue.rules`), for the configuration that ran.
    """

    name: str
    description: str
    concept: str | Callable
    settings: type
    compute: Callable
    plot: Callable
    data: Callable
    profiles: dict = field(default_factory=dict)
    tolerance: dict = field(default_factory=lambda: dict(WHOLE_RUN))
    table: Callable | None = None
    prepare: Callable | None = None
    findings: Callable | None = None
    rules: Callable | None = None

    def __post_init__(self):
        if not (dataclasses.is_dataclass(self.settings) and isinstance(self.settings, type)):
            raise TypeError(f"{self.name}: settings must be a dataclass (experiments.settings)")
        for profile, value in self.profiles.items():
            if not isinstance(value, self.settings):
                raise TypeError(f"{self.name}: profile {profile!r} must be a "
                                f"{self.settings.__name__}")

    @property
    def defaults(self) -> dict:
        """The settings' defaults (the full profile), as a dict."""
        return settings_mod.defaults(self.settings)

    def config_for(self, profile: str = "full", sets=()) -> dict:
        """The configuration of ``profile`` with the ``--set`` overrides, checked."""
        return settings_mod.resolve(self.settings, self.profiles, profile, sets)

    def rules_for(self, config: dict) -> list:
        """The rules the page shows for the configuration that ran."""
        return [] if self.rules is None else list(self.rules(config))

    def concept_for(self, config: dict) -> str:
        """The concept's prose for the configuration that ran: ``concept(config)``, or the
        string with its ``{key}`` fields filled from the configuration."""
        if callable(self.concept):
            return self.concept(config)
        return _(self.concept).format(**config)

    def description_for(self, config: dict | None = None) -> str:
        """The one-line description with its ``{key}`` fields filled from the configuration that
        ran (the defaults when none is given, as ``list`` prints it)."""
        return _(self.description).format(**(self.defaults if config is None else config))

    def meanings(self) -> dict:
        """Each setting's meaning, in the current language (the page's configuration table)."""
        def translated(meaning):
            if not meaning:
                return ""
            if hasattr(meaning, "message"):      # experiments.settings.named
                return _(meaning.message, **meaning.values)
            return _(meaning)
        return {f.name: translated(f.metadata.get("meaning"))
                for f in dataclasses.fields(self.settings)}


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


_REGISTRY: dict[str, Experiment] = {}


#: name -> the module that registered it (its place in the catalogue's order).
_MODULE_OF: dict[str, str] = {}


def register(experiment: Experiment) -> Experiment:
    if experiment.name in _REGISTRY:
        raise ValueError(f"experiment {experiment.name!r} is registered twice")
    _REGISTRY[experiment.name] = experiment
    _MODULE_OF[experiment.name] = _declaring_module()
    return experiment


def _declaring_module() -> str:
    """The catalogue module whose code is registering (a helper such as
    ``breast_cancer.experiment`` is called from it): the nearest frame in :data:`MODULES`."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module in MODULES:
            return module
        frame = frame.f_back
    return ""


def all_experiments() -> dict[str, Experiment]:
    """Every experiment, in the catalogue's order (:data:`MODULES`) — whichever module was
    imported first (a test importing one directly) — then any registered elsewhere."""
    for module in MODULES:
        importlib.import_module(module)
    rank = {module: i for i, module in enumerate(MODULES)}
    names = sorted(_REGISTRY, key=lambda n: rank.get(_MODULE_OF.get(n), len(MODULES)))
    return {name: _REGISTRY[name] for name in names}


def get(name: str) -> Experiment:
    experiments = all_experiments()
    if name not in experiments:
        raise KeyError(unknown(name, experiments))
    return experiments[name]


def unknown(name: str, experiments) -> str:
    """The message for a name not in the catalogue: the closest names first, then them all."""
    close = difflib.get_close_matches(name, list(experiments), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"unknown experiment {name!r}{hint} (known: {', '.join(experiments)})"
