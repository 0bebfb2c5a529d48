"""init-histograms: activations of a 5-layer net under four weight scales (book figures 6-10…6-14).

1,000 random inputs pass through 5 layers of 100 units, ``a ← f(a·W)`` with no bias, for weights
drawn with std 1, std 0.01, the book's "Xavier" (√(1/n), LeCun) and He (√(2/n)), under sigmoid,
tanh and ReLU. The book's findings: std 1 saturates sigmoid units at 0 and 1 (vanishing
gradients); std 0.01 crowds every activation near 0.5 (the units all say the same thing);
Xavier keeps sigmoid/tanh activations spread through all five layers, He does so for ReLU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import npref.init
from experiments import settings as S
from experiments.experiment import PER_OPERATION, Experiment
from experiments.i18n import N_, _
from experiments.results import Computed

INITS = {"std=1": 1.0, "std=0.01": 0.01, "Xavier (book)": "xavier", "He": "he"}
#: The name each initialization is shown by, where it has words to translate (``_()`` it).
LABELS = {"std=1": N_("std=1"), "std=0.01": N_("std=0.01"),
          "Xavier (book)": N_("Xavier (book)")}
ACTIVATIONS = ("sigmoid", "tanh", "relu")
RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 1.0)}



@dataclass(frozen=True)
class Settings:
    """The book's weight_init_activation_histogram.py."""
    n_inputs: int = S.setting(1000, S.positive_int, "random inputs")
    layers: int = S.setting(5, S.positive_int, "layers")
    units: int = S.setting(100, S.positive_int, "units per layer")
    bins: int = S.setting(30, S.positive_int, "histogram bins")
    dtype: str = S.dtype()


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
    return Computed(series, final, arrays, extra, axes={k: "layer" for k in series})


def findings(result, config):
    from experiments.findings.claims import finding, num

    std = {k[:-len(".std")]: v for k, v in result.series.items() if k.endswith(".std")}
    last = config["layers"]
    xavier, wide, narrow = (std[f"{k}/sigmoid"][-1] for k in ("Xavier (book)", "std=1", "std=0.01"))
    return [
        finding(_("std 1 pushes sigmoid activations to 0 and 1 (where the gradient vanishes)"),
                _("std of layer-{layer} sigmoid activations: {std} (0.5 is every value at 0 "
                  "or 1)", layer=last, std=num(wide)),
                {_("the std of the last layer's sigmoid activations is above 0.4"): wide > 0.4}),
        finding(_("std 0.01 crowds sigmoid activations near 0.5"),
                _("std of layer-{layer} sigmoid activations: {std}", layer=last, std=num(narrow)),
                {_("the std of the last layer's sigmoid activations is below 0.05"):
                     narrow < 0.05}),
        finding(_("the book's Xavier keeps sigmoid activations spread: neither crowded at 0.5 "
                  "nor pushed to 0 and 1"),
                _("std of layer-{layer} sigmoid activations: {std}", layer=last,
                  std=_("Xavier {xavier}, std 0.01 {narrow}, std 1 {wide}", xavier=num(xavier),
                        narrow=num(narrow), wide=num(wide))),
                {_("Xavier's std is at least 4× std 0.01's"): xavier >= 4 * narrow,
                 _("and at most half std 1's"): xavier <= 0.5 * wide}),
        finding(_("He keeps ReLU activations spread through every layer while std 0.01 "
                  "collapses them"),
                _("std of ReLU activations, layer 1 → {last}: He {he_first} → {he_last}, "
                  "std 0.01 {narrow_first} → {narrow_last}", last=last,
                  he_first=num(std["He/relu"][0]), he_last=num(std["He/relu"][-1]),
                  narrow_first=num(std["std=0.01/relu"][0]),
                  narrow_last=num(std["std=0.01/relu"][-1])),
                {_("He's last layer keeps at least half its first layer's std"):
                     std["He/relu"][-1] > 0.5 * std["He/relu"][0],
                 _("std 0.01's last layer has under 1/1000 of its first layer's"):
                     std["std=0.01/relu"][-1] < 1e-3 * std["std=0.01/relu"][0]}),
    ]


#: The book's figures for each activation's histograms, and the counts axis it draws them on
#: (figure 6-14 clips ReLU's bin at zero, which holds about half of the activations, at 7,000).
BOOK_FIGURES = {"sigmoid": (N_("book figures 6-10, 6-11, 6-12"), None),
                "tanh": (N_("book figure 6-13"), None),
                "relu": (N_("book figure 6-14"), 7000)}


def plot(results, config, out_dir):
    import matplotlib.pyplot as plt

    from experiments.plotting import backend_key, histogram, save

    names = []
    scale = config["n_inputs"] * config["units"] / 100_000      # the book's 1000 × 100
    for activation in ACTIVATIONS:
        lo, hi = RANGES[activation]
        edges = np.linspace(lo, hi, config["bins"] + 1)
        source, clip = BOOK_FIGURES[activation]
        fig, axes = plt.subplots(len(INITS), config["layers"], figsize=(14, 10), sharex=True,
                                 sharey=clip is not None)
        for row, init_name in enumerate(INITS):
            key = f"{init_name}/{activation}"
            for col in range(config["layers"]):
                ax = axes[row, col]
                for backend, result in results.items():
                    histogram(ax, backend, edges, result.extra[key][col])
                counts = next(iter(results.values())).extra[key][col]
                if clip is not None:
                    top = clip * scale
                    ax.set_ylim(0, top)
                    if counts[0] > top:       # the zero bin, off the book's scale: say how tall
                        ax.annotate(_("bin at 0: {count:,}", count=counts[0]), xy=(0.98, 0.9),
                                    xycoords="axes fraction", ha="right", fontsize=11)
                if row == 0:
                    ax.set_title(_("layer {layer}", layer=col + 1))
                if col == 0:
                    ax.set_ylabel(_(LABELS.get(init_name, init_name)))
                if row == len(INITS) - 1:
                    ax.set_xlabel(f"{activation}(a·W)")
        axes[-1, -1].legend(handles=backend_key(results), loc="center right", fontsize=11)
        fig.supylabel(_("activations per bin (rows: initial weights)"))
        fig.suptitle(_("{activation}: activation histograms, {layers} layers × {units} units, "
                       "{n_inputs} inputs", activation=activation, layers=config["layers"],
                       units=config["units"], n_inputs=config["n_inputs"])
                     + (_("; counts axis clipped at {top:,.0f} as the book's", top=clip * scale)
                        if clip else ""))
        names.append(save(fig, out_dir, f"init-histograms-{activation}.png",
                          source=_(source)))
    return names


def rules(config):
    from experiments import panels as R

    return [R.initializer(1.0, label=_("std 1"), formula_text="W ~ N(0, 1)"),
            R.initializer(0.01, label=_("std 0.01"), formula_text="W ~ N(0, 0.01²)"),
            R.initializer("xavier", label=_("Xavier (the book's)"),
                          formula_text=_("W ~ N(0, 1/n), n the fan-in"),
                          book=_("the book calls N(0, 1/n) “Xavier”; Glorot's own Xavier is "
                                 "N(0, 2/(fan_in + fan_out))")),
            R.initializer("he", label="He", formula_text=_("W ~ N(0, 2/n), n the fan-in"))]


EXPERIMENT = Experiment(
    name="init-histograms",
    description=N_("Activation histograms of a 5×100 net for std 1, std 0.01, Xavier and He "
                   "(sigmoid, tanh, ReLU; book figures 6-10…6-14)"),
    concept=N_("{n_inputs:,} random inputs pass through {layers} layers a ← f(a·W) of {units} "
               "units, with no bias, from four initial weight scales: std 1, std 0.01, the "
               "book's Xavier (std √(1/n), n = {units} inputs per unit) and He (std √(2/n)). A "
               "sigmoid whose inputs are large sits at 0 or 1, where its gradient vanishes; "
               "inputs near 0 give activations near 0.5, all alike; ReLU zeroes every negative "
               "input, so about half of its activations are exactly 0."),
    settings=Settings, compute=compute, plot=plot,
    data=lambda config, data_dir: {"name": N_("standard normal inputs"),
                                   "source": N_("drawn from numpy.random.default_rng(seed)"),
                                   "n_train": 0, "n_test": 0},
    tolerance=PER_OPERATION, findings=findings, rules=rules)
