"""What an experiment is: the record each module of :mod:`experiments.catalogue` declares as its
``EXPERIMENT``, and the parity tolerances it chooses from. (:mod:`experiments.registry` lists the
catalogue; this module knows none of it, so an experiment imports this and nothing imports back.)"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from experiments import settings as settings_mod
from experiments.i18n import _

__all__ = ["PER_OPERATION", "WHOLE_RUN", "Experiment"]

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
    :mod:`experiments.findings.wording`). ``rules(config) -> [Rule]``: every rule the page
    shows side by side (:mod:`experiments.report.panels`), for the configuration that ran.
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
