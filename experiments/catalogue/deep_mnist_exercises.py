"""deep-mnist-exercises: the exercise notebook's networks (seed 004), done right.

Its 3-layer net with Xavier and with He weights (SGD, lr 0.1); its 4-layer net with BatchNorm and
Adam; its 7-layer net on 300 images with BatchNorm and Adam, plain, with weight decay 0.001 and
with dropout 0.15. Where the notebook deviates (an L2 penalty in the loss but not the gradient,
γ and β never updated, accuracy measured in training mode) the lecture-as-written section shows
it; here every rule is the correct one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments import settings as S
from experiments.backends.variants import Variant, run_variants
from experiments.data import mnist
from experiments.experiment import Experiment
from experiments.i18n import N_, _
from npref.training import Data, Schedule


@dataclass(frozen=True)
class Settings:
    """The exercise notebook's settings."""
    n_train: int = S.setting(0, S.count, "training images")
    n_test: int = S.setting(0, S.count, "test images")
    batch_size: int = S.setting(100, S.positive_int, "images per iteration")
    sgd_lr: float = S.setting(0.1, S.positive, "the 3-layer nets' SGD learning rate")
    adam_lr: float = S.setting(0.001, S.positive, "the deeper nets' Adam learning rate")
    iterations_3layer: int = S.setting(10000, S.positive_int, "the 3-layer nets' iterations")
    epochs_4layer: int = S.setting(20, S.positive_int, "the 4-layer net's epochs")
    iterations_7layer: int = S.setting(12000, S.positive_int, "the 7-layer nets' iterations")
    small_train: int = S.setting(300, S.positive_int, "the 7-layer nets' training images")
    weight_decay: float = S.setting(0.001, S.nonnegative, "λ of the 7-layer net's L2 penalty")
    dropout: float = S.setting(0.15, S.fraction, "the 7-layer net's drop probability")
    evaluate_every_7layer: int = S.setting(200, S.positive_int,
                                           "epochs between the 7-layer nets' evaluations")
    convention: str = S.convention("book")
    dtype: str = S.dtype()


PROFILES = {"quick": Settings(n_train=4000, n_test=1000, iterations_3layer=300,
                              epochs_4layer=3, iterations_7layer=300,
                              evaluate_every_7layer=10)}

NAMES = ("3-layer Xavier", "3-layer He", "4-layer BN Adam", "7-layer BN Adam",
         "7-layer BN Adam + decay", "7-layer BN Adam + dropout")
#: Each network as the page names it (translated where shown; the names above are keys).
LABELS = {"3-layer Xavier": N_("3-layer Xavier"), "3-layer He": N_("3-layer He"),
          "4-layer BN Adam": N_("4-layer BN Adam"), "7-layer BN Adam": N_("7-layer BN Adam"),
          "7-layer BN Adam + decay": N_("7-layer BN Adam + decay"),
          "7-layer BN Adam + dropout": N_("7-layer BN Adam + dropout")}


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
                      sampling="replacement")
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
    from experiments.findings.claims import accuracy_holds, finding, pct
    from experiments.findings.wording import POINT_WORDS, ranking, relation

    s, f = result.series, result.final
    # "Faster" is the whole run's mean loss (the area under the curve): late in a long run
    # both nets sit near zero, and the last third could not tell them apart.
    loss = {n: float(np.mean(s[f"{n}.loss"])) for n in ("3-layer Xavier", "3-layer He")}
    train = {n: f[f"{n}.train_acc"] for n in NAMES[3:]}
    test = {n: f[f"{n}.test_acc"] for n in NAMES[3:]}
    gap = {n: train[n] - test[n] for n in NAMES[3:]}
    plain, decay, dropout = NAMES[3:]
    n = config["small_train"]

    def cure(name, label, needs):
        held = relation(test[name], test[plain], scale="points", lower_is_better=False)
        rule, holds = accuracy_holds(test[name], test[plain], _("the plain net's"))
        return finding(
            _("{label} narrows the train − test gap without giving up test accuracy",
              label=label),
            _("gap: plain {plain_gap:.1f} points, {label} {gap:.1f}; test accuracy plain "
              "{plain_test}, {label} {test} ({held})", plain_gap=100 * gap[plain], label=label,
              gap=100 * gap[name], plain_test=pct(test[plain]), test=pct(test[name]),
              held=_(held)),
            {_("the gap narrows by {points:g} points or more", points=POINT_WORDS[0][0]):
                 100 * (gap[plain] - gap[name]) >= POINT_WORDS[0][0],
             rule: holds}, needs=needs)

    return [
        finding(_("He weights train the ReLU net faster than the book's Xavier"),
                _("mean loss over all {iterations:,} iterations: {ranking}",
                  iterations=config['iterations_3layer'],
                  ranking=ranking({_(LABELS[k]): v for k, v in loss.items()},
                                  best_word=_("fastest"))),
                {_("He's loss is lower than Xavier's by more than 10%"):
                     relation(loss["3-layer He"], loss["3-layer Xavier"]) == "ahead"}),
        finding(_("the 7-layer net overfits its {n} images", n=n),
                _("train {train}, test {test}", train=pct(train[plain]), test=pct(test[plain])),
                {_("training accuracy of 98% or more"): train[plain] >= 0.98,
                 _("test accuracy more than 15 points below it"): gap[plain] > 0.15}),
        cure(dropout, _("dropout {p:g}", p=config['dropout']), "quick"),
        # Not "needs full": the book's settings do not show it either on seed 0 (gap 20.3 →
        # 22.0 points); the 7-layer weight-decay result turns with the seed.
        cure(decay, _("weight decay {lam:g}", lam=config['weight_decay']), "quick"),
    ]


def plot(results, config, out_dir):
    import matplotlib.pyplot as plt

    from experiments.plotting import legend, line, mark_point, save

    fig, axes = plt.subplots(2, 3, figsize=(14, 8.4), sharey=True)
    kinds = (("train_acc", N_("train"), "#1f77b4"), ("test_acc", N_("test"), "#d62728"))
    for ax, name in zip(axes.flat, NAMES):
        first = next(iter(results.values()))
        for backend, result in results.items():
            its = result.series[f"{name}.epoch_iterations"]
            for kind, _label, color in kinds:
                ax.plot(its, result.series[f"{name}.{kind}"], **line(
                    backend, marker=True, color=color))
        its = first.series[f"{name}.epoch_iterations"]
        if len(its) == 1:                    # a single evaluation: its value beside the marker
            for kind, _label, color in kinds:
                value = first.series[f"{name}.{kind}"][0]
                mark_point(ax, its[0], value, f"{value:.3f}", color=color)
        final = first.final
        ax.set_title(_("{name}\ntrain {train:.3f} / test {test:.3f}", name=_(LABELS[name]),
                       train=final[name + '.train_acc'], test=final[name + '.test_acc']))
        ax.set_xlabel(_("iteration"))
        ax.set_ylim(0, 1.02)
    for ax in axes[:, 0]:
        ax.set_ylabel(_("accuracy"))
    legend(axes[0, 0], [(_(label), color) for _kind, label, color in kinds], results,
           marker=True, loc="lower right")
    fig.suptitle(_("3-, 4- and 7-layer networks on MNIST: training and test accuracy"))
    return [save(fig, out_dir, "deep-mnist-exercises.png", source=_("the exercise notebook"))]


def rules(config):
    from experiments import panels as R

    book = config["convention"]
    seven = {"activation": "relu", "convention": book, "weight_init": 0.01,
             "use_batchnorm": True}
    adam = {"lr": config["adam_lr"], "convention": book}
    return [
        R.optimizer("adam", adam),
        R.layer("batchnorm", seven, optimizer_name="adam", hyper=adam,
                formula_text=_("BatchNorm (training): x̂ = (x − μ_B)/√(σ²_B + eps);  "
                               "y = γ·x̂ + β")),
        R.layer("dropout", {**seven, "dropout": config["dropout"]}, optimizer_name="adam",
                hyper=adam,
                formula_text=_("Dropout: training y = x·mask; evaluation y = x·(1 − p)")
                if book == "book" else _("inverted dropout: training y = x·mask/(1 − p)")),
        R.penalty("l2", formula_text=_("L2 weight decay: L ← L + ½·λ·ΣW²;  ∇W ← ∇W + λ·W")),
    ]


EXPERIMENT = Experiment(
    name="deep-mnist-exercises",
    description=N_("The exercise notebook's 3-, 4- and 7-layer MNIST nets: Xavier/He, "
                   "BatchNorm + Adam, weight decay, dropout 0.15"),
    concept=N_("The exercise notebook builds deeper networks step by step: a 784-50-100-10 net "
               "with the book's Xavier (std √(1/n)) or He (√(2/n)) weights trained by SGD (lr "
               "{sgd_lr:g}, {iterations_3layer} iterations); a 4-layer net with BatchNorm and "
               "Adam (lr {adam_lr:g}) from std 0.01 weights for {epochs_4layer} epochs; and a "
               "7-layer net with BatchNorm and Adam on {small_train} images for "
               "{iterations_7layer} iterations — which overfits — plain, with L2 weight decay "
               "{weight_decay:g} and with dropout {dropout:g}."),
    settings=Settings, profiles=PROFILES, compute=compute, plot=plot,
    data=lambda config, data_dir: mnist.for_experiment(config, data_dir).describe(),
    findings=findings, rules=rules)
