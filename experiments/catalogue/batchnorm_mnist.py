"""batchnorm-mnist: with and without BatchNorm across 16 weight scales (book figure 6-19,
batch_norm_test.py)."""

from __future__ import annotations

import numpy as np

from experiments.catalogue.variants import Variant, run_variants
from experiments.data import mnist
from experiments.registry import Experiment, register
from npref.training import Schedule

DEFAULTS = {"n_train": 1000, "n_test": 0, "hidden": [100, 100, 100, 100, 100], "lr": 0.01,
            "batch_size": 100, "epochs": 20, "scales": 16, "convention": "book",
            "dtype": "float64", "sampling": "replacement"}
PROFILES = {"quick": {"scales": 6, "epochs": 10, "n_test": 1000}}


def scales(config):
    """The book's weight scales: np.logspace(0, −4, 16)."""
    return np.logspace(0, -4, config["scales"])


def compute(backend, config, seed, data_dir):
    data = mnist.for_experiment(config, data_dir).data
    # A plain net at the largest scales can blow up (activations ×√n per layer, then an
    # overflowing softmax): a run whose loss passes 1e3 is stopped and drawn as diverged.
    schedule = Schedule(batch_size=config["batch_size"], epochs=config["epochs"],
                        sampling=config["sampling"], max_loss=1e3)
    variants = {}
    for i, std in enumerate(scales(config)):
        for bn in (True, False):
            arch = {"input_size": 784, "hidden_sizes": config["hidden"], "output_size": 10,
                    "activation": "relu", "weight_init": float(std), "use_batchnorm": bn,
                    "convention": config["convention"]}
            name = f"{'BatchNorm' if bn else 'plain'} w={std:.2e}"
            # Both nets of a scale start from the same weights (BatchNorm adds γ = 1, β = 0).
            variants[name] = Variant(arch, "sgd", {"lr": config["lr"]}, schedule,
                                     init_seed=seed + 1000 * i)
    return run_variants(backend, variants, data=data, config=config, seed=seed,
                        label="batchnorm-mnist")


def plot(results, config, out_dir):
    import matplotlib.pyplot as plt

    from experiments.plotting import label, line, save

    stds = scales(config)
    cols = 4
    rows = int(np.ceil(len(stds) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.8 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for ax, std in zip(axes.flat, stds):
        for bn, color in ((True, "#d62728"), (False, "#1f77b4")):
            name = f"{'BatchNorm' if bn else 'plain'} w={std:.2e}"
            for backend, result in results.items():
                acc = result["series"].get(f"{name}.train_acc", [])
                if f"{name}.exploded_at" in result["final"]:
                    ax.text(0.05, 0.9 if bn else 0.8, f"{'BN' if bn else 'plain'}: diverged",
                            transform=ax.transAxes, fontsize=7, color=color)
                ax.plot(np.arange(1, len(acc) + 1), acc, **line(
                    backend, color=color, label=label(backend, "BatchNorm" if bn else "without")))
        ax.set_title(f"W std {std:.3g}", fontsize=9)
        ax.set_ylim(0, 1)
    for ax in axes.flat[len(stds):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=6)
    fig.supxlabel("epoch")
    fig.supylabel("training accuracy")
    fig.suptitle(f"MNIST ({config['n_train']} images), 784-[100×{len(config['hidden'])}]-10 "
                 f"ReLU, SGD lr {config['lr']}: with and without BatchNorm")
    return [save(fig, out_dir, "batchnorm-mnist.png")]


def findings(result, config):
    from experiments.catalogue.claims import finding, pct

    f = result["final"]
    acc = {(bn, std): f.get(f"{'BatchNorm' if bn else 'plain'} w={std:.2e}.train_acc", 0.0)
           for std in scales(config) for bn in (True, False)}
    # "Does not learn": at chance (10 classes: ≤ 15%); "learns": three times chance or more.
    stuck = [std for std in scales(config) if acc[False, std] <= 0.15]
    learns = [std for std in stuck if acc[True, std] >= 0.3]
    wins = sum(acc[True, std] > acc[False, std] for std in scales(config))
    return [
        finding("at small weight scales the plain network does not learn at all, while "
                "BatchNorm does",
                f"W std {stuck[0] if stuck else 0:.2g} and below: plain at chance (≤ 15%, "
                f"{len(stuck)} scales), BatchNorm "
                + ", ".join(pct(acc[True, s]) for s in stuck)
                + " (learning: ≥ 30%, three times chance)", bool(stuck) and learns == stuck),
        finding("BatchNorm learns faster at nearly every scale",
                f"final training accuracy higher with BatchNorm at {wins} of "
                f"{config['scales']} scales", wins >= 2 * config["scales"] / 3),
    ]


def concept(config):
    hidden = config["hidden"]
    return (
        f"A 784-[{hidden[0]}×{len(hidden)}]-10 ReLU net trained by SGD (lr {config['lr']:g}) on "
        f"{config['n_train']:,} images for {config['epochs']} epochs, from weights of std "
        f"logspace(0, −4, {config['scales']}), once plain and once with BatchNorm "
        "(x̂ = (x − μ)/√(σ² + eps), then γ·x̂ + β) before each ReLU. The book's finding: "
        "BatchNorm learns fast at nearly every scale, including small ones where the plain "
        "network's signal vanishes and it does not learn at all.")


register(Experiment(
    name="batchnorm-mnist",
    description="With vs without BatchNorm across weight scales from 1 to 1e-4 (book figure "
                "6-19)",
    concept=concept,
    defaults=DEFAULTS, profiles=PROFILES, compute=compute, plot=plot,
    data=lambda config, data_dir: mnist.for_experiment(config, data_dir).describe(),
    findings=findings, rule=(
        {"formula": "BatchNorm (training): x̂ = (x − μ_B)/√(σ²_B + eps);  y = γ·x̂ + β",
         "npref": "npref.layers:BatchNorm.forward", "torch": "torchref.layers:BatchNorm",
         "book": "the book's running averages use momentum 0.9 on the old value and the "
                 "biased batch variance; PyTorch's use 0.1 on the new value and the unbiased "
                 "one (see the conventions page)"},)))
