"""Training several optimizers from one starting point, on one backend: the shared core of the
training experiments (written once, against :mod:`experiments.backends`)."""

from __future__ import annotations

import numpy as np

from npref.nets import MultiLayerNet


def initial_params(arch: dict, seed: int, dtype: str) -> dict:
    """The starting parameters, drawn once in NumPy from ``seed`` and handed to both backends."""
    net = MultiLayerNet(**arch, rng=np.random.default_rng(seed), dtype=dtype)
    return {k: v.copy() for k, v in net.params.items()}


def run_optimizers(backend, *, arch: dict, optimizers: dict, data, config: dict, seed: int,
                   schedule: dict, label: str) -> dict:
    """Train one network per optimizer, all from the same start, on the same batches.

    ``optimizers`` maps a display name to ``(npref name, keywords)``; ``schedule`` holds
    ``batch_size`` and ``iterations`` or ``epochs`` (and optionally ``sampling``,
    ``evaluate_every``). Returns the experiment result: per optimizer the loss per iteration and
    the accuracies per evaluation as series, the last values as finals, and the final parameters
    as arrays (compared between backends, not written to metrics.json).
    """
    dtype = config["dtype"]
    init = initial_params(arch, seed, dtype)
    series, final, arrays = {}, {}, {}
    for i, (name, (optimizer, hyper)) in enumerate(optimizers.items()):
        history, params = backend.train(arch, init, optimizer, hyper, data, dtype=dtype,
                                        seed=seed + 1 + i, label=f"{label} {name}", **schedule)
        for key, values in history.series().items():
            series[f"{name}.{key}"] = values
            final[f"{name}.{key}"] = values[-1]
        series[f"{name}.epoch_iterations"] = [float(v) for v in history.epoch_iterations]
        arrays[name] = params
    return {"series": series, "final": final, "arrays": arrays}
