"""breast-cancer-optimizers: full-batch GD, Momentum, RMSprop and Adam on the lecture's net, from
the same Glorot start (the lecture runs them for 10,000–15,000 epochs)."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import settings as S
from experiments.backends.variants import run_optimizers
from experiments.catalogue.breast_cancer import arch, describe
from experiments.data import breast_cancer
from experiments.experiment import Experiment
from experiments.i18n import N_, _
from npref.training import Schedule

OPTIMIZERS = {"GD": ("sgd", {"lr": 1.0}), "Momentum": ("momentum", {"lr": 0.01}),
              "RMSprop": ("rmsprop", {"lr": 0.1}), "Adam": ("adam", {"lr": 0.01})}

@dataclass(frozen=True)
class Settings:
    """The lecture's optimizer listings (10,000 epochs; RMSprop 15,000 in the lecture)."""
    epochs: int = S.setting(10000, S.positive_int, "epochs of training")
    units: int = S.setting(10, S.positive_int, "hidden units")
    weight_init: str = S.setting("glorot_normal", S.weight_init, "initial weights")
    convention: str = S.convention("book")
    dtype: str = S.dtype()
    evaluate_every: int = S.setting(100, S.positive_int, "epochs between evaluations")
    lr_gd: float = S.setting(1.0, S.positive, "gradient descent's learning rate")
    lr_momentum: float = S.setting(0.01, S.positive, "Momentum's learning rate")
    momentum: float = S.setting(0.9, S.fraction, "Momentum's μ")
    lr_rmsprop: float = S.setting(0.1, S.positive, "RMSprop's learning rate")
    alpha: float = S.setting(0.99, S.fraction, "RMSprop's α")
    lr_adam: float = S.setting(0.01, S.positive, "Adam's learning rate")


def compute(backend, config, seed, data_dir):
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
    return run_optimizers(backend, arch=arch(config), optimizers=optimizers, data=data,
                          config=config, seed=seed, schedule=schedule,
                          label="breast-cancer-optimizers")


def plot(results, config, out_dir):
    from experiments.plotting import plot_training
    return plot_training(results, list(OPTIMIZERS), out_dir, "breast-cancer-optimizers",
                         title=_("breast cancer, 30-{units}-1 sigmoid, full batch, "
                                 "convention={convention!r}", units=config["units"],
                                 convention=config["convention"]),
                         x_label="epoch", accuracy="test_acc", loss_ylim=(0, 0.7),
                         source=_("the breast-cancer lecture"))


def findings(result, config):
    from experiments.findings.claims import finals, finding
    from experiments.findings.wording import ranking, relation

    loss = finals(result, "loss", OPTIMIZERS)
    return [finding(_("the adaptive rules, RMSprop and Adam, reach a lower training loss than "
                      "plain gradient descent in the same epochs"),
                    _("final training loss after {epochs:,} epochs: {ranking}",
                      epochs=config["epochs"], ranking=ranking(loss, best_word=_("lowest"))),
                    {_("{name}'s loss is lower than GD's by more than 10%", name=n):
                         relation(loss[n], loss["GD"]) == "ahead" for n in ("RMSprop", "Adam")})]


def rules(config):
    from experiments import panels as R

    book = {"convention": config["convention"]}
    return [R.optimizer("sgd", {"lr": config["lr_gd"]}, label="GD"),
            R.optimizer("momentum", {"lr": config["lr_momentum"], "momentum": config["momentum"],
                                     **book}),
            R.optimizer("rmsprop", {"lr": config["lr_rmsprop"], "alpha": config["alpha"], **book}),
            R.optimizer("adam", {"lr": config["lr_adam"], **book})]


EXPERIMENT = Experiment(
    name="breast-cancer-optimizers",
    description=N_("Full-batch GD, Momentum, RMSprop and Adam on the lecture's 30-{units}-1 "
                   "sigmoid net (breast cancer)"),
    concept=N_("The lecture's network trained for {epochs:,} epochs from the same "
               "Glorot-initialized weights by plain gradient descent at its implicit learning "
               "rate {lr_gd:g}, and by Momentum (lr {lr_momentum:g}, μ {momentum:g}), RMSprop "
               "(lr {lr_rmsprop:g}, α {alpha:g}) and Adam (lr {lr_adam:g}) — the correct rules, "
               "where the lecture's listings deviate (see the lecture-as-written section). Every "
               "epoch is one full-batch step: loss = mean binary cross-entropy."),
    settings=Settings, profiles={"quick": Settings(epochs=1000, evaluate_every=10)},
    compute=compute, plot=plot, data=describe, findings=findings, rules=rules)
