"""The NumPy side of :mod:`experiments.backends`, built on npref."""

from __future__ import annotations

import numpy as np

import npref.optim
from npref import training
from npref.guard import check_finite
from npref.nets import MultiLayerNet


class NumpyBackend:
    name = "numpy"
    device = "cpu"

    def descend(self, objective, start, optimizer, hyper, steps, dtype):
        params = {k: np.array(v, dtype=dtype) for k, v in start.items()}
        opt = npref.optim.make(optimizer, **hyper)
        path = {k: [v.item()] for k, v in params.items()}
        # An overflow shows as inf and is reported by the guard, naming the step, not as a warning.
        with np.errstate(over="ignore", invalid="ignore"):
            for step in range(1, steps + 1):
                grads = {k: np.asarray(g, dtype=dtype)
                         for k, g in objective.grad(**params).items()}
                check_finite(f"{optimizer}: gradient", step, list(grads.values()))
                opt.update(params, grads)
                check_finite(f"{optimizer}: parameters", step, list(params.values()))
                for k, v in params.items():
                    path[k].append(v.item())
        return {k: np.array(v) for k, v in path.items()}

    def train(self, arch, init, optimizer, hyper, data, *, dtype, seed, batch_size,
              iterations=None, epochs=None, sampling="shuffle", evaluate_every=1,
              early_stopping=None, label=""):
        net = MultiLayerNet(**arch, rng=np.random.default_rng(seed), dtype=dtype)
        net.load_params(init)
        stopper = training.EarlyStopping(**early_stopping) if early_stopping else None
        with np.errstate(over="ignore", invalid="ignore"):   # the guard names the iteration
            history = training.train(
                net, npref.optim.make(optimizer, **hyper), data.cast(dtype),
                batch_size=batch_size, rng=np.random.default_rng(seed), iterations=iterations,
                epochs=epochs, sampling=sampling, early_stopping=stopper,
                evaluate_every=evaluate_every, label=f"{label} numpy")
        return history, {k: v.copy() for k, v in net.params.items()}

