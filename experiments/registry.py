"""The experiment catalogue's order: every module of :mod:`experiments.catalogue` declares one
:class:`~experiments.experiment.Experiment` as its ``EXPERIMENT``; this module lists them and finds
one by its CLI name. The catalogue never imports this module (no cycle): the list is read here."""

from __future__ import annotations

import difflib
import importlib

from experiments.experiment import Experiment

#: Modules that define experiments, one each, imported on first use (in catalogue order).
MODULES = tuple(f"experiments.catalogue.{name}" for name in (
    "optimizer_paths", "optimizer_mnist", "init_histograms", "init_mnist", "batchnorm_mnist",
    "overfit.weight_decay", "overfit.dropout", "hyperparameter_search", "deep_mnist_exercises",
    "breast_cancer.init", "breast_cancer.regularization", "breast_cancer.learning_rate",
    "breast_cancer.validation", "breast_cancer.early_stopping", "breast_cancer.minibatch",
    "breast_cancer.dropout", "breast_cancer.optimizers", "sanity_checks", "lecture_errata",
    "lr_schedule"))

#: Experiments known by name: the catalogue's, read on first use, and any a caller adds (a test).
_REGISTRY: dict[str, Experiment] = {}


def all_experiments() -> dict[str, Experiment]:
    """Every experiment, in the catalogue's order (:data:`MODULES`), then any added elsewhere."""
    catalogue = {}
    for module in MODULES:
        experiment = importlib.import_module(module).EXPERIMENT
        if experiment.name in catalogue:
            raise ValueError(f"experiment {experiment.name!r} is declared twice ({module})")
        catalogue[experiment.name] = _REGISTRY.setdefault(experiment.name, experiment)
    return {**catalogue, **{name: e for name, e in _REGISTRY.items() if name not in catalogue}}


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
