"""The NumPy side of :mod:`experiments.backends.protocol`, built on npref."""

from __future__ import annotations

import numpy as np

import npref.optim
import npref.regularizers
from experiments.backends.protocol import build_arch, hooks, nudge
from npref import training
from npref.guard import check_finite
from npref.layers import ReLU, Sigmoid, Tanh
from npref.nets import MultiLayerNet

_ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}


class NumpyBackend:
    name = "numpy"
    device = "cpu"

    def __init__(self, *, perturbation: int | None = None, only_parts=None, shadow=None):
        self.perturbation, self.only_parts, self.shadow = hooks(perturbation, only_parts, shadow)

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

    def train(self, arch, init, optimizer, hyper, data, schedule, *, dtype, seed, label=""):
        net = MultiLayerNet(**build_arch(arch, npref.regularizers),
                            rng=np.random.default_rng(seed), dtype=dtype)
        net.load_params(nudge(init, self.perturbation))
        opt = npref.optim.make(optimizer, **hyper)
        lead = None if self.shadow is None else self.shadow.lead(label, net, opt)
        with np.errstate(over="ignore", invalid="ignore"):   # the guard names the iteration
            history = training.train(net, opt, data.cast(dtype), schedule,
                                     rng=np.random.default_rng(seed), label=f"{label} numpy",
                                     after_step=lead)
        if lead is not None:
            self.shadow.lead_end(label, history)
        return history, {k: v.copy() for k, v in net.params.items()}

    def activations(self, x, weights, activation, dtype):
        a, out = np.asarray(x, dtype=dtype), []
        for W in weights:
            a = _ACTIVATIONS[activation]().forward(a @ np.asarray(W, dtype=dtype))
            out.append(a)
        return out

