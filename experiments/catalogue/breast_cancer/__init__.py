"""The breast-cancer lecture's experiments: a 30-10-1 sigmoid network on scikit-learn's data.

The lecture (seed 001) trains a two-layer network — 30 inputs, 10 sigmoid units, one sigmoid
output with binary cross-entropy — by full-batch gradient descent, and varies one thing at a time.
These experiments run the correct rules of npref and torchref on the lecture's split; the
lecture's own listings, as written, are reproduced apart, in :mod:`experiments.catalogue.lecture`.
"""

from __future__ import annotations

from dataclasses import replace

from experiments.catalogue.variants import Variant, run_optimizers, run_variants
from experiments.data import breast_cancer
from experiments.registry import Experiment, register
from npref.training import Schedule

#: The lecture's network.
ARCH = {"input_size": 30, "hidden_sizes": [10], "output_size": 1, "activation": "sigmoid"}


def _arch(config, **changes):
    return {**ARCH, "hidden_sizes": [config["units"]], "weight_init": config["weight_init"],
            "convention": config["convention"], **changes}


def _data(config, data_dir, validation=False):
    return breast_cancer.load(validation).describe()


# -- the lecture's other experiments --------------------------------------------------------------

BASE = {"epochs": 1000, "units": 10, "weight_init": "glorot_normal", "convention": "torch",
        "dtype": "float64", "lr": 1.0, "evaluate_every": 1}


def _variants(config, specs, validation=False):
    """{name: (arch changes, optimizer, hyper, schedule changes)} → Variants from one start."""
    data = breast_cancer.load(validation).data
    base = Schedule(batch_size=len(data.t_train), epochs=config["epochs"],
                    evaluate_every=config["evaluate_every"])
    out = {}
    for name, (arch, optimizer, hyper, changes) in specs.items():
        out[name] = Variant(_arch(config, **arch), optimizer, hyper, replace(base, **changes))
    return out, data


def _run(backend, config, seed, specs, label, validation=False):
    variants, data = _variants(config, specs, validation)
    for v in variants.values():
        v.init_seed = seed
    return run_variants(backend, variants, data=data, config=config, seed=seed, label=label)


def _plot(results, names, out_dir, filename, title, accuracy="test_acc", epoch_loss=True,
          extra_panel=None):
    import matplotlib.pyplot as plt

    from experiments.io import save_figure
    from experiments.plotting import BACKEND_STYLE, COLORS

    panels = 2 + (extra_panel is not None)
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5))
    for i, name in enumerate(names):
        for backend, result in results.items():
            style = BACKEND_STYLE[backend]
            common = {"color": COLORS[i % len(COLORS)], "linestyle": style["linestyle"],
                      "linewidth": style["linewidth"], "alpha": 0.45 if backend == "numpy"
                      else 1.0}
            loss = result["series"][f"{name}.{'epoch_loss' if epoch_loss else 'loss'}"]
            axes[0].plot(range(1, len(loss) + 1), loss, label=f"{name} ({style['label']})",
                         **common)
            if f"{name}.{accuracy}" in result["series"]:
                axes[1].plot(result["series"][f"{name}.epoch_iterations"],
                             result["series"][f"{name}.{accuracy}"], **common)
            if extra_panel is not None:
                extra_panel(axes[2], result, name, common)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    axes[0].set_ylim(0, 0.7)
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel(accuracy.replace("_acc", " accuracy").replace("_", " "))
    fig.suptitle(title)
    save_figure(fig, out_dir / f"{filename}.png")
    plt.close(fig)
    return [f"{filename}.png"]


def _experiment(name, description, concept, specs, names, *, defaults=None, validation=False,
                extra=None, plot_kwargs=None, quick=None):
    defaults = {**BASE, **(defaults or {})}

    def compute(backend, config, seed, data_dir):
        result = _run(backend, config, seed, specs(config), name, validation)
        if extra is not None:
            extra(result, config)
        return result

    def plot(results, config, out_dir):
        return _plot(results, names(config), out_dir, name,
                     f"breast cancer, 30-{config['units']}-1 sigmoid: {description}",
                     **(plot_kwargs or {}))

    register(Experiment(name=name, description=f"Breast cancer, 30-10-1 net: {description}",
                        concept=concept, defaults=defaults,
                        profiles={"quick": quick or {}}, compute=compute, plot=plot,
                        data=lambda config, data_dir: _data(config, data_dir, validation)))


def _gd(config, **schedule):
    return ("sgd", {"lr": config["lr"]}, schedule)


_experiment(
    "breast-cancer-init",
    "initial weights: all ones vs N(0, 1) vs Glorot, full-batch GD lr 1, 1000 epochs",
    "Three starts for the same network and gradient descent: every weight 1 (all hidden units "
    "compute the same thing and stay identical — the symmetry problem), N(0, 1), and Glorot's "
    "N(0, 2/(fan_in + fan_out)). The lecture's finding: random starts learn better than the "
    "fixed one.",
    lambda c: {name: ({"weight_init": spec}, *_gd(c)) for name, spec in
               (("ones", "ones"), ("normal(0, 1)", 1.0), ("Glorot", "glorot_normal"))},
    lambda c: ["ones", "normal(0, 1)", "Glorot"])

_experiment(
    "breast-cancer-regularization",
    "no penalty vs L1 0.01 vs L2 0.01 vs elastic net (0.01, 0.01), 1000 epochs",
    "Penalties on the weights (never the biases) added to the loss: L1 λ·Σ|W| (gradient "
    "λ·sign W), L2 ½·λ·ΣW² (gradient λ·W) and both. They keep the weights small at a small "
    "cost in training loss; the lecture compares their test accuracies.",
    lambda c: {name: ({"regularizer": reg}, *_gd(c)) for name, reg in (
        ("none", None), ("L1 0.01", ("l1", {"lam": c["l1"]})),
        ("L2 0.01", ("l2", {"lam": c["l2"]})),
        ("elastic", ("elastic", {"l1": c["l1"], "l2": c["l2"]})))},
    lambda c: ["none", "L1 0.01", "L2 0.01", "elastic"], defaults={"l1": 0.01, "l2": 0.01})


def _weight_panel(ax, result, name, common):
    ax.plot(result["series"][f"{name}.W1[0, 0]"], **common)
    ax.set_xlabel("epoch")
    ax.set_ylabel("W1[0, 0]")


_experiment(
    "breast-cancer-learning-rate",
    "learning rate 1 vs 0.1 vs 0.01, and the path of one weight, 1000 epochs",
    "Gradient descent p ← p − lr·∇L at three learning rates, watching the first weight "
    "W1[0, 0] move. The lecture's finding: with a small rate the weight creeps, and after the "
    "same 1000 epochs the network is further from the minimum and its accuracy lower.",
    lambda c: {f"lr {lr:g}": ({}, "sgd", {"lr": lr}, {"watch": [("W1", (0, 0))]})
               for lr in (1.0, 0.1, 0.01)},
    lambda c: ["lr 1", "lr 0.1", "lr 0.01"], plot_kwargs={"extra_panel": _weight_panel})


def _validation_finals(result, config):
    for epochs in (500, 600, 700, 1000):
        if epochs <= config["epochs"]:
            result["final"][f"GD.test_acc@{epochs}"] = result["series"]["GD.test_acc"][epochs - 1]


_experiment(
    "breast-cancer-validation",
    "training vs validation loss, and test accuracy after 500/600/700/1000 epochs",
    "The training part split again (364 train / 91 validation). The validation loss follows "
    "the training loss down, then turns up while the training loss keeps falling: the network "
    "starts to fit noise. The lecture reads the test accuracy after 500, 600, 700 and 1000 "
    "epochs (one run here: full-batch GD from a fixed start is deterministic).",
    lambda c: {"GD": ({}, *_gd(c))}, lambda c: ["GD"], validation=True,
    extra=_validation_finals, plot_kwargs={"accuracy": "val_loss"})

_experiment(
    "breast-cancer-early-stopping",
    "early stopping on the validation loss, patience 10, up to 1000 epochs",
    "Training stops once the validation loss has not improved (by more than min_delta = 0) for "
    "10 epochs in a row, and the parameters of the best epoch are restored. The lecture's run "
    "stops at epoch 585.",
    lambda c: {"GD + early stopping": ({}, *_gd(c, early_stopping={"patience": c["patience"]}))},
    lambda c: ["GD + early stopping"], validation=True, defaults={"patience": 10},
    plot_kwargs={"accuracy": "val_loss"})

_experiment(
    "breast-cancer-minibatch",
    "minibatches of 32 vs the full batch, 1000 epochs",
    "Minibatch gradient descent: each epoch goes through a fresh permutation of the 455 "
    "samples in batches of 32 (the last one smaller), so an epoch makes 15 steps instead of "
    "one. The loss falls faster per epoch and wobbles; the lecture's test accuracy is the same.",
    lambda c: {"full batch": ({}, *_gd(c)),
               "batch 32": ({}, *_gd(c, batch_size=c["batch_size"]))},
    lambda c: ["full batch", "batch 32"], defaults={"batch_size": 32})

_experiment(
    "breast-cancer-dropout",
    "dropout 0.5 on the hidden layer vs none, 1000 epochs",
    "Inverted dropout (x·mask/(1 − p) in training, x in evaluation) with p = 0.5 on the ten "
    "hidden units. It fights overfitting, which this small problem barely has; the training "
    "loss is noisier and higher.",
    lambda c: {"no dropout": ({}, *_gd(c)), "dropout 0.5": ({"dropout": c["dropout"]}, *_gd(c))},
    lambda c: ["no dropout", "dropout 0.5"], defaults={"dropout": 0.5})


# -- breast-cancer-optimizers ---------------------------------------------------------------------

OPTIMIZERS = {"GD": ("sgd", {"lr": 1.0}), "Momentum": ("momentum", {"lr": 0.01}),
              "RMSprop": ("rmsprop", {"lr": 0.1}), "Adam": ("adam", {"lr": 0.01})}

OPTIMIZER_DEFAULTS = {
    "epochs": 10000, "units": 10, "weight_init": "glorot_normal", "convention": "book",
    "dtype": "float64", "evaluate_every": 100,
    "lr_gd": 1.0, "lr_momentum": 0.01, "momentum": 0.9, "lr_rmsprop": 0.1, "alpha": 0.99,
    "lr_adam": 0.01,
}


def compute_optimizers(backend, config, seed, data_dir):
    data = breast_cancer.load().data
    book = {"convention": config["convention"]}
    optimizers = {
        "GD": ("sgd", {"lr": config["lr_gd"]}),
        "Momentum": ("momentum", {"lr": config["lr_momentum"], "momentum": config["momentum"],
                                  **book}),
        "RMSprop": ("rmsprop", {"lr": config["lr_rmsprop"], "alpha": config["alpha"], **book}),
        "Adam": ("adam", {"lr": config["lr_adam"], **book}),
    }
    schedule = Schedule(batch_size=len(data.t_train), epochs=config["epochs"],
                        evaluate_every=config["evaluate_every"])
    return run_optimizers(backend, arch=_arch(config), optimizers=optimizers, data=data,
                          config=config, seed=seed, schedule=schedule,
                          label="breast-cancer-optimizers")


def plot_optimizers(results, config, out_dir):
    from experiments.plotting import plot_training
    return plot_training(results, list(OPTIMIZERS), out_dir, "breast-cancer-optimizers",
                         title=f"breast cancer, 30-{config['units']}-1 sigmoid, full batch, "
                               f"convention={config['convention']!r}",
                         x_label="epoch", accuracy="test_acc", loss_ylim=(0, 0.7))


register(Experiment(
    name="breast-cancer-optimizers",
    description="Full-batch GD, Momentum, RMSprop and Adam on the lecture's 30-10-1 sigmoid "
                "net (breast cancer)",
    concept="The lecture's network trained from the same Glorot-initialized weights by plain "
            "gradient descent at its implicit learning rate 1, and by Momentum (lr 0.01, "
            "μ 0.9), RMSprop (lr 0.1, α 0.99) and Adam (lr 0.01) — the correct rules, where the "
            "lecture's listings deviate (see the lecture-as-written section). Every epoch is "
            "one full-batch step: loss = mean binary cross-entropy.",
    defaults=OPTIMIZER_DEFAULTS, profiles={"quick": {"epochs": 1000, "evaluate_every": 10}},
    compute=compute_optimizers, plot=plot_optimizers, data=_data))
