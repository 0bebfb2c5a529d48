"""The overfitting setting of book figures 6-20…6-23, shared by :mod:`.weight_decay` and
:mod:`.dropout`: 300 MNIST images, a 7-layer net, one cure each, judged by the same gap."""

from __future__ import annotations

from experiments.catalogue.variants import run_variants
from experiments.data import mnist
from npref.training import Schedule

DEFAULTS = {"n_train": 300, "n_test": 0, "hidden": [100] * 6, "lr": 0.01, "batch_size": 100,
            "dtype": "float64", "sampling": "replacement", "convention": "book"}
#: Quick: half the book's epochs; the plain net has learned its 300 images by then.
PROFILES = {"quick": {"n_test": 1000, "epochs": 151}}


def arch(config, **changes):
    """The book's 784-[100×6]-10 ReLU net with He weights; ``changes`` add the cure."""
    return {"input_size": 784, "hidden_sizes": config["hidden"], "output_size": 10,
            "activation": "relu", "weight_init": "he", "convention": config["convention"],
            **changes}


def schedule(config):
    return Schedule(batch_size=config["batch_size"], epochs=config["epochs"],
                    sampling=config["sampling"])


def run(backend, config, seed, data_dir, variants, label):
    """Train the variants (without and with the cure) and judge the gap."""
    data = mnist.for_experiment(config, data_dir).data
    result = run_variants(backend, variants, data=data, config=config, seed=seed, label=label)
    result["checks"] = gap_check(result, list(variants))
    return result


def findings(result, config, names, cure: str):
    """The book's two findings: without the cure the net learns its images by heart; with it
    the train − test gap narrows."""
    from experiments.catalogue.claims import finals, finding, pct

    train, test = finals(result, "train_acc", names), finals(result, "test_acc", names)
    gap = {n: train[n] - test[n] for n in names}
    plain, cured = names
    return [
        finding(f"on {config['n_train']} images the plain network learns them by heart: "
                "training accuracy near 100%, test accuracy far below",
                f"{plain}: train {pct(train[plain])}, test {pct(test[plain])}",
                train[plain] >= 0.98 and gap[plain] > 0.15),
        finding(f"{cure} narrows the gap between training and test accuracy",
                f"gap train − test: {plain} {100 * gap[plain]:.1f} points, {cured} "
                f"{100 * gap[cured]:.1f} points", gap[cured] < gap[plain]),
    ]


def gap_check(result, names) -> dict:
    """The finding both experiments test: the cure narrows the final train − test gap."""
    f = result["final"]
    gaps = [f[f"{n}.train_acc"] - f[f"{n}.test_acc"] for n in names]
    return {"gap narrows": {"value": gaps[1] - gaps[0], "passed": bool(gaps[1] < gaps[0]),
                            "criterion": f"gap({names[1]}) < gap({names[0]})"}}


def plot(results, names, out_dir, filename, title):
    """One panel per variant: training accuracy in the variant's colour, test accuracy grey."""
    import matplotlib.pyplot as plt

    from experiments.plotting import COLORS, label, line, save

    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.5), sharey=True)
    # Training accuracy keeps one colour in every panel, test accuracy another.
    for ax, name in zip(axes, names):
        for backend, result in results.items():
            for kind, look in (("train_acc", COLORS[0]), ("test_acc", COLORS[1])):
                acc = result["series"][f"{name}.{kind}"]
                ax.plot(range(len(acc)), acc, **line(
                    backend, color=look, label=label(backend, kind.replace("_acc", ""))))
        final = next(iter(results.values()))["final"]
        gap = final[f"{name}.train_acc"] - final[f"{name}.test_acc"]
        ax.set_title(f"{name}: final gap train − test = {gap:.3f}")
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    return [save(fig, out_dir, f"{filename}.png")]


def describe(config, data_dir):
    return mnist.for_experiment(config, data_dir).describe()
