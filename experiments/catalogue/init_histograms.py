"""init-histograms: activations of a 5-layer net under four weight scales (book figures 6-10…6-14).

1,000 random inputs pass through 5 layers of 100 units, ``a ← f(a·W)`` with no bias, for weights
drawn with std 1, std 0.01, the book's "Xavier" (√(1/n), LeCun) and He (√(2/n)), under sigmoid,
tanh and ReLU. The book's findings: std 1 saturates sigmoid units at 0 and 1 (vanishing
gradients); std 0.01 crowds every activation near 0.5 (the units all say the same thing);
Xavier keeps sigmoid/tanh activations spread through all five layers, He does so for ReLU.
"""

from __future__ import annotations

import numpy as np

import npref.init
from experiments.registry import PER_OPERATION, Experiment, register

INITS = {"std=1": 1.0, "std=0.01": 0.01, "Xavier (book)": "xavier", "He": "he"}
ACTIVATIONS = ("sigmoid", "tanh", "relu")
RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 1.0)}

DEFAULTS = {"n_inputs": 1000, "layers": 5, "units": 100, "bins": 30, "dtype": "float64"}


def compute(backend, config, seed, data_dir):
    rng = np.random.default_rng(seed)
    units, dtype = config["units"], config["dtype"]
    x = rng.standard_normal((config["n_inputs"], units))
    series, final, arrays, extra = {}, {}, {}, {}
    for init_name, spec in INITS.items():
        draw = npref.init.get(spec)
        weights = [draw((units, units), rng) for _ in range(config["layers"])]
        for activation in ACTIVATIONS:
            acts = backend.activations(x, weights, activation, dtype)
            key = f"{init_name}/{activation}"
            series[f"{key}.mean"] = [float(a.mean()) for a in acts]
            series[f"{key}.std"] = [float(a.std()) for a in acts]
            final[f"{key}.std"] = series[f"{key}.std"][-1]
            arrays[key] = {f"layer{i + 1}": a for i, a in enumerate(acts)}
            extra[key] = [np.histogram(a, config["bins"], range=RANGES[activation])[0]
                          for a in acts]
    return {"series": series, "final": final, "arrays": arrays, "extra": extra}


def findings(result, config):
    from experiments.catalogue.claims import finding, num

    std = {k[:-len(".std")]: v for k, v in result["series"].items() if k.endswith(".std")}
    last = config["layers"]
    return [
        finding("std 1 pushes sigmoid activations to 0 and 1 (where the gradient vanishes)",
                f"std of layer-{last} sigmoid activations: {num(std['std=1/sigmoid'][-1])} "
                "(0.5 is every value at 0 or 1)", std["std=1/sigmoid"][-1] > 0.4),
        finding("std 0.01 crowds sigmoid activations near 0.5",
                f"std of layer-{last} sigmoid activations: {num(std['std=0.01/sigmoid'][-1])}",
                std["std=0.01/sigmoid"][-1] < 0.05),
        finding("He keeps ReLU activations spread through every layer while std 0.01 collapses "
                "them",
                f"std of ReLU activations, layer 1 → {last}: He {num(std['He/relu'][0])} → "
                f"{num(std['He/relu'][-1])}, std 0.01 {num(std['std=0.01/relu'][0])} → "
                f"{num(std['std=0.01/relu'][-1])}",
                std["He/relu"][-1] > 0.5 * std["He/relu"][0]
                and std["std=0.01/relu"][-1] < 1e-3 * std["std=0.01/relu"][0]),
    ]


def plot(results, config, out_dir):
    import matplotlib.pyplot as plt

    from experiments.plotting import histogram, save

    names = []
    for activation in ACTIVATIONS:
        lo, hi = RANGES[activation]
        edges = np.linspace(lo, hi, config["bins"] + 1)
        fig, axes = plt.subplots(len(INITS), config["layers"], figsize=(14, 10), sharex=True)
        for row, init_name in enumerate(INITS):
            key = f"{init_name}/{activation}"
            for col in range(config["layers"]):
                ax = axes[row, col]
                for backend, result in results.items():
                    histogram(ax, backend, edges, result["extra"][key][col])
                if row == 0:
                    ax.set_title(f"layer {col + 1}")
                if col == 0:
                    ax.set_ylabel(init_name)
                if row == len(INITS) - 1:
                    ax.set_xlabel(f"{activation}(a·W)")
                ax.tick_params(labelsize=7)
        axes[0, 0].legend(fontsize=7)
        fig.supylabel("activations per bin (rows: initial weights)")
        fig.suptitle(f"{activation}: activation histograms, {config['layers']} layers × "
                     f"{config['units']} units, {config['n_inputs']} inputs")
        names.append(save(fig, out_dir, f"init-histograms-{activation}.png"))
    return names


register(Experiment(
    name="init-histograms",
    description="Activation histograms of a 5×100 net for std 1, std 0.01, Xavier and He "
                "(sigmoid, tanh, ReLU; book figures 6-10…6-14)",
    concept="{n_inputs:,} random inputs pass through {layers} layers a ← f(a·W) of {units} units. With std 1 "
            "the sigmoid saturates at 0 and 1, where its gradient vanishes; with std 0.01 "
            "every activation crowds near 0.5 and the units lose their individuality; the "
            "book's Xavier (std √(1/n)) keeps sigmoid and tanh activations spread through the "
            "layers, and He (std √(2/n)) does the same for ReLU, which zeroes half its inputs.",
    defaults=DEFAULTS, compute=compute, plot=plot,
    data=lambda config, data_dir: {"name": "standard normal inputs", "source": "drawn from "
                                   "numpy.random.default_rng(seed)", "n_train": 0, "n_test": 0},
    tolerance=PER_OPERATION, findings=findings, rule=(
        {"formula": "He: W ~ N(0, 2/n), n the fan-in (Xavier, the book's: N(0, 1/n))",
         "npref": "npref.init:he_normal", "torch": "torchref.init:he_normal",
         "book": "the book calls N(0, 1/n) “Xavier”; Glorot's own Xavier is "
                 "N(0, 2/(fan_in + fan_out))"},)))
