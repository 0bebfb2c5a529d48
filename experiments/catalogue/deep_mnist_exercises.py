"""deep-mnist-exercises: the exercise notebook's networks (seed 004), done right.

Its 3-layer net with Xavier and with He weights (SGD, lr 0.1); its 4-layer net with BatchNorm and
Adam; its 7-layer net on 300 images with BatchNorm and Adam, plain, with weight decay 0.001 and
with dropout 0.15. Where the notebook deviates (an L2 penalty in the loss but not the gradient,
γ and β never updated, accuracy measured in training mode) the lecture-as-written section shows
it; here every rule is the correct one.
"""

from __future__ import annotations

from experiments.catalogue.variants import Variant, run_variants
from experiments.data import mnist
from experiments.registry import Experiment, register
from npref.training import Data, Schedule

DEFAULTS = {"n_train": 0, "n_test": 0, "batch_size": 100, "sgd_lr": 0.1, "adam_lr": 0.001,
            "iterations_3layer": 10000, "epochs_4layer": 20, "iterations_7layer": 12000,
            "small_train": 300, "weight_decay": 0.001, "dropout": 0.15,
            "evaluate_every_7layer": 200, "convention": "book", "dtype": "float64"}
PROFILES = {"quick": {"n_train": 4000, "n_test": 1000, "iterations_3layer": 300,
                      "epochs_4layer": 3, "iterations_7layer": 300,
                      "evaluate_every_7layer": 10}}

NAMES = ("3-layer Xavier", "3-layer He", "4-layer BN Adam", "7-layer BN Adam",
         "7-layer BN Adam + decay", "7-layer BN Adam + dropout")


def variants(config, data: Data, seed):
    book = config["convention"]
    sgd = ("sgd", {"lr": config["sgd_lr"]})
    adam = ("adam", {"lr": config["adam_lr"], "convention": book})
    base = {"input_size": 784, "output_size": 10, "activation": "relu", "convention": book}
    three = {**base, "hidden_sizes": [50, 100]}
    four = {**base, "hidden_sizes": [50, 100, 100], "weight_init": 0.01, "use_batchnorm": True}
    seven = {**base, "hidden_sizes": [100] * 6, "weight_init": 0.01, "use_batchnorm": True}
    n = config["small_train"]
    small = Data(data.x_train[:n], data.t_train[:n], data.x_test, data.t_test)
    batch = config["batch_size"]
    long_3 = Schedule(batch_size=batch, iterations=config["iterations_3layer"],
                      sampling="replacement",
                      evaluate_every=max(1, len(data.t_train) // batch))
    epochs_4 = Schedule(batch_size=batch, epochs=config["epochs_4layer"], sampling="replacement")
    long_7 = Schedule(batch_size=batch, iterations=config["iterations_7layer"],
                      sampling="replacement", evaluate_every=config["evaluate_every_7layer"])
    return {
        "3-layer Xavier": Variant({**three, "weight_init": "xavier"}, *sgd, long_3, init_seed=seed),
        "3-layer He": Variant({**three, "weight_init": "he"}, *sgd, long_3, init_seed=seed),
        "4-layer BN Adam": Variant(four, *adam, epochs_4, init_seed=seed),
        "7-layer BN Adam": Variant(seven, *adam, long_7, data=small, init_seed=seed),
        "7-layer BN Adam + decay": Variant(
            {**seven, "regularizer": ("l2", {"lam": config["weight_decay"]})}, *adam,
            long_7, data=small, init_seed=seed),
        "7-layer BN Adam + dropout": Variant({**seven, "dropout": config["dropout"]}, *adam,
                                             long_7, data=small, init_seed=seed),
    }


def compute(backend, config, seed, data_dir):
    data = mnist.for_experiment(config, data_dir).data
    return run_variants(backend, variants(config, data, seed), data=data, config=config,
                        seed=seed, label="deep-mnist-exercises")


def findings(result, config):
    from experiments.catalogue.claims import finding, pct, tail_mean

    s, f = result["series"], result["final"]
    loss = {n: tail_mean(s[f"{n}.loss"]) for n in ("3-layer Xavier", "3-layer He")}
    gap = {n: f[f"{n}.train_acc"] - f[f"{n}.test_acc"] for n in NAMES[3:]}
    plain, decay, dropout = NAMES[3:]
    n = config["small_train"]
    return [
        finding("He weights train the ReLU net faster than the book's Xavier",
                f"mean loss over the last third: Xavier {loss['3-layer Xavier']:.3f}, "
                f"He {loss['3-layer He']:.3f}", loss["3-layer He"] < loss["3-layer Xavier"]),
        finding(f"the 7-layer net overfits its {n} images",
                f"train {pct(f[plain + '.train_acc'])}, test {pct(f[plain + '.test_acc'])}",
                f[plain + ".train_acc"] >= 0.98 and gap[plain] > 0.15),
        finding(f"dropout {config['dropout']:g} narrows the train − test gap",
                f"gap: plain {100 * gap[plain]:.1f} points, dropout {100 * gap[dropout]:.1f}",
                gap[dropout] < gap[plain]),
        finding(f"weight decay {config['weight_decay']:g} narrows the train − test gap",
                f"gap: plain {100 * gap[plain]:.1f} points, weight decay "
                f"{100 * gap[decay]:.1f}", gap[decay] < gap[plain], needs="full"),
    ]


def plot(results, config, out_dir):
    import matplotlib.pyplot as plt

    from experiments.plotting import label, line, save

    fig, axes = plt.subplots(2, 3, figsize=(14, 8), sharey=True)
    for ax, name in zip(axes.flat, NAMES):
        for backend, result in results.items():
            its = result["series"][f"{name}.epoch_iterations"]
            for kind, color in (("train_acc", "#1f77b4"), ("test_acc", "#d62728")):
                ax.plot(its, result["series"][f"{name}.{kind}"], **line(
                    backend, marker=True, color=color,
                    label=label(backend, kind.replace("_acc", ""))))
        final = next(iter(results.values()))["final"]
        ax.set_title(f"{name}\ntrain {final[name + '.train_acc']:.3f} / test "
                     f"{final[name + '.test_acc']:.3f}", fontsize=9)
        ax.set_xlabel("iteration")
        ax.set_ylim(0, 1.02)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("the exercise notebook's networks on MNIST: training (blue) and test (red) "
                 "accuracy")
    return [save(fig, out_dir, "deep-mnist-exercises.png")]


register(Experiment(
    name="deep-mnist-exercises",
    description="The exercise notebook's 3-, 4- and 7-layer MNIST nets: Xavier/He, BatchNorm + "
                "Adam, weight decay, dropout 0.15",
    concept="The exercise notebook builds deeper networks step by step: a 784-50-100-10 net "
            "with the book's Xavier (std √(1/n)) or He (√(2/n)) weights trained by SGD (lr "
            "{sgd_lr:g}, {iterations_3layer} iterations); a 4-layer net with BatchNorm and Adam "
            "(lr {adam_lr:g}) from std 0.01 weights for {epochs_4layer} epochs; and a 7-layer "
            "net with BatchNorm and Adam on {small_train} images for {iterations_7layer} "
            "iterations — which overfits — plain, with L2 weight decay {weight_decay:g} and "
            "with dropout {dropout:g}.",
    defaults=DEFAULTS, profiles=PROFILES, compute=compute, plot=plot,
    data=lambda config, data_dir: mnist.for_experiment(config, data_dir).describe(),
    findings=findings))
