"""overfit-weight-decay and overfit-dropout: 300 MNIST images, a 7-layer net, and the two cures
(book figures 6-20…6-23)."""

from __future__ import annotations

from experiments.catalogue.variants import Variant, run_variants
from experiments.data import mnist
from experiments.registry import Experiment, register
from npref.training import Schedule

DEFAULTS = {"n_train": 300, "n_test": 0, "hidden": [100] * 6, "lr": 0.01, "batch_size": 100,
            "dtype": "float64", "sampling": "replacement", "convention": "book"}


def _arch(config, **changes):
    return {"input_size": 784, "hidden_sizes": config["hidden"], "output_size": 10,
            "activation": "relu", "weight_init": "he", "convention": config["convention"],
            **changes}


def _run(backend, config, seed, data_dir, variants, label):
    data = mnist.for_experiment(config, data_dir).data
    return run_variants(backend, variants, data=data, config=config, seed=seed, label=label)


def _schedule(config):
    return Schedule(batch_size=config["batch_size"], epochs=config["epochs"],
                    sampling=config["sampling"])


def compute_weight_decay(backend, config, seed, data_dir):
    variants = {f"λ={lam:g}": Variant(
        _arch(config, regularizer=("l2", {"lam": lam}) if lam else None),
        "sgd", {"lr": config["lr"]}, _schedule(config), init_seed=seed)
        for lam in (0.0, config["weight_decay"])}
    result = _run(backend, config, seed, data_dir, variants, "overfit-weight-decay")
    result["checks"] = gap_check(result, list(variants))
    return result


def compute_dropout(backend, config, seed, data_dir):
    variants = {f"dropout {p:g}": Variant(_arch(config, dropout=p), "sgd", {"lr": config["lr"]},
                                          _schedule(config), init_seed=seed)
                for p in (0.0, config["dropout"])}
    result = _run(backend, config, seed, data_dir, variants, "overfit-dropout")
    result["checks"] = gap_check(result, list(variants))
    return result


def _plot(results, names, out_dir, filename, title):
    import matplotlib.pyplot as plt

    from experiments.io import save_figure
    from experiments.plotting import BACKEND_STYLE, COLORS

    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.5), sharey=True)
    for ax, name, color in zip(axes, names, COLORS):
        for backend, result in results.items():
            style = BACKEND_STYLE[backend]
            for kind, marker in (("train_acc", "o"), ("test_acc", "s")):
                acc = result["series"][f"{name}.{kind}"]
                ax.plot(range(len(acc)), acc, color=color if kind == "train_acc" else "0.4",
                        alpha=0.45 if backend == "numpy" else 1.0,
                        linestyle=style["linestyle"], linewidth=style["linewidth"],
                        label=f"{kind.replace('_acc', '')} ({style['label']})")
        final = next(iter(results.values()))["final"]
        gap = final[f"{name}.train_acc"] - final[f"{name}.test_acc"]
        ax.set_title(f"{name}: final gap train − test = {gap:.3f}")
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    save_figure(fig, out_dir / f"{filename}.png")
    plt.close(fig)
    return [f"{filename}.png"]


def plot_weight_decay(results, config, out_dir):
    return _plot(results, ["λ=0", f"λ={config['weight_decay']:g}"], out_dir,
                 "overfit-weight-decay", f"{config['n_train']} MNIST images, 784-[100×6]-10, "
                 f"SGD lr {config['lr']}: L2 weight decay")


def plot_dropout(results, config, out_dir):
    return _plot(results, ["dropout 0", f"dropout {config['dropout']:g}"], out_dir,
                 "overfit-dropout", f"{config['n_train']} MNIST images, 784-[100×6]-10, SGD lr "
                 f"{config['lr']}: dropout (convention={config['convention']!r})")


def gap_check(result, names) -> dict:
    """The finding both experiments test: the cure narrows the final train − test gap."""
    f = result["final"]
    gaps = [f[f"{n}.train_acc"] - f[f"{n}.test_acc"] for n in names]
    return {"gap narrows": {"value": gaps[1] - gaps[0], "passed": bool(gaps[1] < gaps[0]),
                            "criterion": f"gap({names[1]}) < gap({names[0]})"}}


def _data(config, data_dir):
    return mnist.for_experiment(config, data_dir).describe()


register(Experiment(
    name="overfit-weight-decay",
    description="300 MNIST images, 784-[100×6]-10: train vs test accuracy without and with L2 "
                "weight decay λ = 0.1 (book figures 6-20, 6-21)",
    concept="A seven-layer network trained on only 300 images learns them by heart: training "
            "accuracy reaches 100% while test accuracy stalls far below. Weight decay adds "
            "½·λ·ΣW² to the loss (λ·W to each weight's gradient), keeping the weights small; "
            "the book's finding is that the train/test gap narrows.",
    defaults={**DEFAULTS, "epochs": 201, "weight_decay": 0.1},
    profiles={"quick": {"n_test": 1000}}, compute=compute_weight_decay, plot=plot_weight_decay,
    data=_data))

register(Experiment(
    name="overfit-dropout",
    description="The same overfitting setting without and with dropout 0.2 (book figures "
                "6-22, 6-23)",
    concept="The same 300 images and network; dropout switches each hidden unit off with "
            "probability p = 0.2 at every training step (the book's convention: x·mask in "
            "training, x·(1 − p) in evaluation). The book's finding: the train/test gap "
            "narrows, at the price of slower training.",
    defaults={**DEFAULTS, "epochs": 301, "dropout": 0.2},
    profiles={"quick": {"n_test": 1000}}, compute=compute_dropout, plot=plot_dropout,
    data=_data))
