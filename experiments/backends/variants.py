"""Variants: training a set of networks on one backend — the shared core of the training
experiments (written once, against :mod:`experiments.backends.protocol`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.results import Computed, series_key
from npref.nets import MultiLayerNet
from npref.training import Schedule

#: What each recorded series is plotted against (the rest, observed after every iteration:
#: iterations).
AXES = {"epoch_loss": "epoch", "lr": "epoch", "train_acc": "evaluation", "test_acc": "evaluation",
        "val_loss": "evaluation", "val_acc": "evaluation"}


def initial_params(arch: dict, seed: int, dtype: str) -> dict:
    """The starting parameters, drawn once in NumPy from ``seed`` and handed to both backends."""
    # The regularizer (a name and keywords, built by each backend) does not change the draw.
    net = MultiLayerNet(**{**arch, "regularizer": None}, rng=np.random.default_rng(seed),
                        dtype=dtype)
    return {k: v.copy() for k, v in net.params.items()}


@dataclass
class Variant:
    """One training run of an experiment: the network, its optimizer and its schedule.

    ``arch``: ``MultiLayerNet``'s keywords but ``rng``, ``dtype``; a regularizer as a name and
    keywords, ``("l2", {"lam": 0.1})``. ``schedule``: an :class:`npref.training.Schedule`.
    ``data``: this variant's own data, else the experiment's. ``init_seed``: the seed of the
    starting weights (variants that share it start from the same weights where the architecture
    allows); ``init``: the starting weights themselves. ``batch_seed``: the seed of the batch
    order and dropout masks (variants that share it train on the same batches; by default each
    variant draws its own).
    """

    arch: dict
    optimizer: str
    hyper: dict
    schedule: Schedule
    data: object = None
    init_seed: int | None = None
    init: dict | None = None          # explicit starting weights (NumPy), instead of init_seed
    batch_seed: int | None = None

    def __post_init__(self):
        if not isinstance(self.schedule, Schedule):
            raise TypeError(f"schedule must be an npref.training.Schedule, got "
                            f"{type(self.schedule).__name__}")


def run_variants(backend, variants: dict, *, data, config: dict, seed: int, label: str) -> dict:
    """Train every variant; returns the experiment result.

    Series ``NAME.loss`` (per iteration), ``NAME.train_acc``/``test_acc``/``val_loss``… (per
    evaluation), ``NAME.epoch_iterations``, and any observed series; the last value of each as a
    final, plus ``NAME.stopped_epoch``/``NAME.exploded_at`` where they apply; the final parameters
    as arrays, compared between the backends but not written out (biases feeding BatchNorm left
    out: see :meth:`npref.nets.MultiLayerNet.inert_params`).
    """
    dtype = config["dtype"]
    series, final, arrays, axes = {}, {}, {}, {}
    # When the runner measures a run's sensitivity it needs only the parts that disagreed.
    for i, (name, v) in enumerate(variants.items()):
        if backend.only_parts is not None and name not in backend.only_parts:
            continue
        if v.init is not None:
            init = {k: np.asarray(a, dtype=dtype) for k, a in v.init.items()}
        else:
            init = initial_params(v.arch, seed if v.init_seed is None else v.init_seed, dtype)
        history, params = backend.train(v.arch, init, v.optimizer, v.hyper,
                                        data if v.data is None else v.data, v.schedule,
                                        dtype=dtype, label=f"{label} {name}",
                                        seed=seed + 1 + i if v.batch_seed is None
                                        else v.batch_seed)
        for key, values in history.series().items():
            series[series_key(name, key)] = values
            final[series_key(name, key)] = values[-1]
            axes[series_key(name, key)] = AXES.get(key, "iteration")
        series[series_key(name, "epoch_iterations")] = [float(x) for x in
                                                          history.epoch_iterations]
        axes[series_key(name, "epoch_iterations")] = "evaluation"
        for key in ("stopped_epoch", "best_epoch", "exploded_at"):
            if getattr(history, key) is not None:
                final[f"{name}.{key}"] = float(getattr(history, key))
        inert = [f"b{j}" for j in range(1, len(v.arch["hidden_sizes"]) + 1)
                 if v.arch.get("use_batchnorm")]
        arrays[name] = {k: p for k, p in params.items() if k not in inert}
    return Computed(series, final, arrays, axes=axes)


def run_optimizers(backend, *, arch: dict, optimizers: dict, data, config: dict, seed: int,
                   schedule: Schedule, label: str) -> dict:
    """One network per optimizer (``{display name: (npref name, keywords)}``), all from the same
    starting weights and on the same batches."""
    variants = {name: Variant(arch, optimizer, hyper, schedule, init_seed=seed)
                for name, (optimizer, hyper) in optimizers.items()}
    return run_variants(backend, variants, data=data, config=config, seed=seed, label=label)
