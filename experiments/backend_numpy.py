"""The NumPy side of :mod:`experiments.backends`, built on npref."""

from __future__ import annotations

import numpy as np

import npref.optim
from npref.guard import check_finite


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
