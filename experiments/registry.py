"""The experiment catalogue: each experiment registers itself here under its CLI name."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

#: Modules that define experiments, imported on first use (in catalogue order).
MODULES = ("experiments.optimizer_paths", "experiments.optimizer_mnist",
           "experiments.init_histograms", "experiments.init_mnist",
           "experiments.batchnorm_mnist", "experiments.overfit",
           "experiments.hyperparameter_search", "experiments.deep_mnist_exercises",
           "experiments.breast_cancer", "experiments.sanity_checks",
           "experiments.lecture_errata")


@dataclass(frozen=True)
class Experiment:
    """One experiment, written once against :mod:`experiments.backends`.

    ``compute(backend, config, seed, data_dir) -> {"series": {name: [float]}, "final": {name:
    float}}`` runs on one backend (an optional ``"arrays"``, e.g. final parameters, is compared
    between backends but not written out; ``"extra"`` is for the figures alone; ``"checks"``,
    ``{name: {"value", "criterion", "passed"}}``, is written out per backend);
    ``plot(results, config, out_dir) -> [file names]``
    draws the figures from every backend's results (``{backend name: result}``);
    ``data(config, data_dir)`` says what data it uses (``name, source, n_train, n_test``).
    ``tolerance`` maps a dtype name to the parity tolerance of a whole run, where it differs from
    the per-operation tolerance of SPEC section 5. ``table(results, config) -> {"columns",
    "rows"}``, if given, is written to metrics.json and shown on the experiment's page.
    """

    name: str
    description: str
    concept: str
    defaults: dict
    compute: Callable
    plot: Callable
    data: Callable
    profiles: dict = field(default_factory=dict)
    tolerance: dict = field(default_factory=dict)
    table: Callable | None = None


_REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    if experiment.name in _REGISTRY:
        raise ValueError(f"experiment {experiment.name!r} is registered twice")
    _REGISTRY[experiment.name] = experiment
    return experiment


def all_experiments() -> dict[str, Experiment]:
    for module in MODULES:
        importlib.import_module(module)
    return dict(_REGISTRY)


def get(name: str) -> Experiment:
    experiments = all_experiments()
    if name not in experiments:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(experiments)}")
    return experiments[name]
