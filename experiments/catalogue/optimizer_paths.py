"""optimizer-paths: six optimizers walking down f(x, y) = x²/20 + y² from (−7, 2).

The book's figure 6-8: the bowl is 20 times steeper along y than along x, so plain SGD zigzags
across the valley while the adaptive and momentum rules find their way down it. The book gives
the learning rates of SGD (0.95), Momentum (0.1), AdaGrad (1.5) and Adam (0.3); Nesterov and
RMSprop, which the figure omits, get 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments import settings as S
from experiments.registry import PER_OPERATION, Experiment, register
from experiments.results import Computed, split_key

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
LABELS = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adagrad": "AdaGrad",
          "rmsprop": "RMSprop", "adam": "Adam"}


class Bowl:
    """f(x, y) = x²/20 + y², minimum 0 at the origin."""

    @staticmethod
    def value(x, y):
        return x ** 2 / 20.0 + y ** 2

    @staticmethod
    def grad(x, y):
        return {"x": x / 10.0, "y": 2.0 * y}


@dataclass(frozen=True)
class Settings:
    """The book's figure 6-8: its start, its 30 steps and its learning rates."""
    start_x: float = S.setting(-7.0, S.finite, "x of the start")
    start_y: float = S.setting(2.0, S.finite, "y of the start")
    steps: int = S.setting(30, S.positive_int, "steps of each optimizer")
    convention: str = S.convention("book")
    dtype: str = S.dtype()
    lr_sgd: float = S.setting(0.95, S.positive, "SGD's learning rate")
    lr_momentum: float = S.setting(0.1, S.positive, "Momentum's learning rate")
    lr_nesterov: float = S.setting(0.1, S.positive, "Nesterov's learning rate")
    lr_adagrad: float = S.setting(1.5, S.positive, "AdaGrad's learning rate")
    lr_rmsprop: float = S.setting(0.1, S.positive, "RMSprop's learning rate")
    lr_adam: float = S.setting(0.3, S.positive, "Adam's learning rate")


def compute(backend, config, seed, data_dir):
    series, final = {}, {}
    start = {"x": config["start_x"], "y": config["start_y"]}
    for name in OPTIMIZERS:
        hyper = {"lr": config[f"lr_{name}"]}
        if name != "sgd":
            hyper["convention"] = config["convention"]
        path = backend.descend(Bowl, start, name, hyper, config["steps"], config["dtype"])
        label = LABELS[name]
        series[f"{label}.x"] = path["x"].tolist()
        series[f"{label}.y"] = path["y"].tolist()
        final[f"{label}.f"] = float(Bowl.value(path["x"][-1], path["y"][-1]))
    return Computed(series, final, axes={k: "step" for k in series})


def start_value(config) -> float:
    return float(Bowl.value(config["start_x"], config["start_y"]))


def diverged(result, config) -> list[str]:
    """The optimizers whose path ends higher on the bowl than it started (or not finite)."""
    f0 = start_value(config)
    return [label for label in LABELS.values()
            if not np.isfinite(result.final[f"{label}.f"]) or result.final[f"{label}.f"] > f0]


def plot(results, config, out_dir):
    import matplotlib.pyplot as plt

    from experiments.plotting import path, save

    xs, ys = np.meshgrid(np.arange(-10, 10, 0.05), np.arange(-5, 5, 0.05))
    zs = Bowl.value(xs, ys)
    first = next(iter(results.values()))
    gone = diverged(first, config)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), sharex=True, sharey=True)
    for ax, name in zip(axes.flat, OPTIMIZERS):
        label = LABELS[name]
        ax.contour(xs, ys, zs, levels=np.geomspace(0.05, 25, 12), colors="0.75", linewidths=0.8)
        ax.plot(0, 0, "+", color="black", markersize=10)
        for backend, result in results.items():
            ax.plot(result.series[f"{label}.x"], result.series[f"{label}.y"],
                    **path(backend))
        f = first.final[f"{label}.f"]
        verdict = "diverged, " if label in gone else ""
        ax.set_title(f"{label} (lr={config[f'lr_{name}']:g}): {verdict}f = {f:.3g}",
                     color="#b00020" if label in gone else "black")
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_xticks(range(-10, 11, 5))
    for ax in axes[:, 0]:
        ax.set_ylabel("y")
    for ax in axes[-1]:
        ax.set_xlabel("x")
    axes.flat[3].legend(loc="lower right")           # one entry per backend: its own path
    fig.suptitle(f"f(x, y) = x²/20 + y² from ({config['start_x']:g}, {config['start_y']:g}), "
                 f"{config['steps']} steps, convention={config['convention']!r}")
    return [save(fig, out_dir, "optimizer-paths.png", source="book figure 6-8")]


def findings(result, config):
    from experiments.catalogue.claims import finding
    from experiments.catalogue.wording import leads, ranking

    s, f = result.series, result.final
    adaptive = ("AdaGrad", "RMSprop", "Adam")
    flips = {label: int(np.sum(np.diff(np.sign(s[f"{label}.y"])) != 0))
             for label in ("SGD", *adaptive)}
    values = {split_key(k)[0]: v for k, v in f.items()}
    gone = diverged(result, config)
    half = config["steps"] // 2
    where = (f"; {' and '.join(gone)} diverged (f rose from {start_value(config):.3g} at the "
             "start)" if gone else "")
    return [
        finding("SGD zigzags across the steep y direction; the adaptive rules do not",
                f"sign changes of y in {config['steps']} steps: "
                + ", ".join(f"{k} {v}" for k, v in flips.items()) + where,
                {f"SGD's y changes sign in at least half the steps ({half})": flips["SGD"] >= half,
                 "AdaGrad, RMSprop and Adam change sign less often than SGD":
                     all(flips[k] < flips["SGD"] for k in adaptive)},
                diverged=[k for k in gone if k == "SGD"]),
        finding("AdaGrad, scaling each coordinate by its squared gradients, ends nearest the "
                "minimum",
                f"f at the last step: {ranking(values, best_word='nearest', diverged=gone)}",
                {"AdaGrad ends lower than every other optimizer by more than 10%":
                     "AdaGrad" not in gone and leads(values, "AdaGrad", diverged=gone)},
                diverged=[k for k in gone if k == "AdaGrad"]),
    ]


def rules(config):
    from experiments.catalogue import rules as R

    convention = config["convention"]
    return [R.optimizer(name, {"lr": config[f"lr_{name}"],
                               **({} if name == "sgd" else {"convention": convention})})
            for name in OPTIMIZERS]


def data(config, data_dir):
    return {"name": "f(x, y) = x^2/20 + y^2", "source": "analytic function", "n_train": 0,
            "n_test": 0}


register(Experiment(
    name="optimizer-paths",
    description="Paths of SGD, Momentum, Nesterov, AdaGrad, RMSprop and Adam on x²/20 + y² "
                "from (−7, 2) (book figure 6-8)",
    concept="Each optimizer minimizes f(x, y) = x²/20 + y², a bowl twenty times steeper in y "
            "than in x, for {steps} steps from ({start_x:g}, {start_y:g}). SGD (p ← p − lr·∇f) "
            "steps by the gradient alone; Momentum and Nesterov accumulate a velocity; AdaGrad, "
            "RMSprop and Adam divide each coordinate's step by the root of its squared "
            "gradients. Along y the gradient is 2y, so a step of lr > 1 overshoots by more than "
            "it corrects and SGD's path grows instead of shrinking. The NumPy side "
            "differentiates f by hand, the PyTorch side with autograd.",
    settings=Settings, compute=compute, plot=plot, data=data, tolerance=PER_OPERATION,
    findings=findings, rules=rules))
