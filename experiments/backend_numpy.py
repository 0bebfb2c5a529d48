"""The NumPy side of :mod:`experiments.backends`, built on npref."""

from __future__ import annotations

import numpy as np

import npref.optim
from npref import training
from npref.guard import check_finite
from npref.layers import ReLU, Sigmoid, Tanh
from npref.nets import MultiLayerNet

_ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}


class NumpyBackend:
    name = "numpy"
    device = "cpu"
    #: When set (a seed), ``train`` moves every starting weight by one ulp up or down at random:
    #: the runner measures how sensitive a run is to rounding this way (see runner.sensitivity).
    perturbation = None
    #: When set, ``train`` is asked only for these parts (see experiments.training.run_variants).
    only_parts = None

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
              early_stopping=None, watch=(), update_ratios=False, max_loss=None, label=""):
        net = MultiLayerNet(**arch, rng=np.random.default_rng(seed), dtype=dtype)
        net.load_params(init if self.perturbation is None else _nudge(init, self.perturbation))
        stopper = training.EarlyStopping(**early_stopping) if early_stopping else None
        with np.errstate(over="ignore", invalid="ignore"):   # the guard names the iteration
            history = training.train(
                net, npref.optim.make(optimizer, **hyper), data.cast(dtype),
                batch_size=batch_size, rng=np.random.default_rng(seed), iterations=iterations,
                epochs=epochs, sampling=sampling, early_stopping=stopper,
                evaluate_every=evaluate_every, watch=watch, update_ratios=update_ratios,
                max_loss=max_loss, label=f"{label} numpy")
        return history, {k: v.copy() for k, v in net.params.items()}


    def activations(self, x, weights, activation, dtype):
        a, out = np.asarray(x, dtype=dtype), []
        for W in weights:
            a = _ACTIVATIONS[activation]().forward(a @ np.asarray(W, dtype=dtype))
            out.append(a)
        return out


def _nudge(params, seed):
    """Every value moved one ulp, up or down at random."""
    rng = np.random.default_rng(seed)
    return {k: np.nextafter(v, np.where(rng.random(v.shape) < 0.5, -np.inf, np.inf)).astype(v.dtype)
            for k, v in params.items()}
