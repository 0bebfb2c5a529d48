"""optimizer-mnist: SGD, Momentum, Nesterov, AdaGrad, RMSprop and Adam training the same network
on MNIST (the book's optimizer_compare_mnist.py, figure 6-9)."""

from __future__ import annotations

from dataclasses import dataclass

import npref.optim
from experiments import settings as S
from experiments.backends.variants import run_optimizers
from experiments.data import mnist
from experiments.experiment import Experiment
from experiments.findings.claims import tail_mean
from experiments.i18n import N_, _
from npref.training import Schedule

#: The book's figure 6-9: chapter 6's rules but AdamW, by their npref class names.
OPTIMIZERS = {npref.optim.RULES[name].__name__: name for name in npref.optim.CHAPTER_6
              if name != "adamw"}

@dataclass(frozen=True)
class Settings:
    """The book's optimizer_compare_mnist.py."""
    iterations: int = S.setting(2000, S.positive_int, "training iterations")
    batch_size: int = S.setting(128, S.positive_int, "images per iteration")
    hidden: list = S.setting([100, 100, 100, 100], S.layer_sizes, "hidden layer sizes")
    weight_init: str = S.setting("he", S.weight_init, "initial weights")
    convention: str = S.convention("book")
    dtype: str = S.dtype()
    sampling: str = S.setting("replacement", S.choice("shuffle", "replacement"),
                              "how batches are drawn")
    # The book's script records each batch's loss after the update (evaluation mode), not the
    # loss of the forward pass the update used: its curve is this one.
    loss_after_update: bool = S.setting(True, S.flag, "record each batch's loss after its "
                                                      "update, as the book's script does")
    n_train: int = S.setting(0, S.count, "training images")
    n_test: int = S.setting(0, S.count, "test images")
    lr_sgd: float = S.setting(0.01, S.positive, "SGD's learning rate")
    lr_momentum: float = S.setting(0.01, S.positive, "Momentum's learning rate")
    lr_nesterov: float = S.setting(0.01, S.positive, "Nesterov's learning rate")
    lr_adagrad: float = S.setting(0.01, S.positive, "AdaGrad's learning rate")
    # The book's RMSprop class defaults to 0.01, but its first step is then lr/√(1−α) = 0.1 on
    # every weight (the loss leaps from 2.3 to over 100) and the run turns chaotic: a rounding
    # difference of 1e-16 grows to 1e-4 within 250 iterations, so no two implementations can
    # agree on its path. The book's comparison leaves RMSprop out; 0.001 keeps it stable.
    lr_rmsprop: float = S.setting(0.001, S.positive, "RMSprop's learning rate")
    lr_adam: float = S.setting(0.001, S.positive, "Adam's learning rate")


PROFILES = {"quick": Settings(iterations=300, n_train=4000, n_test=1000)}


def compute(backend, config, seed, data_dir):
    data = mnist.for_experiment(config, data_dir).data
    arch = {"input_size": 784, "hidden_sizes": config["hidden"], "output_size": 10,
            "activation": "relu", "weight_init": config["weight_init"],
            "convention": config["convention"]}
    optimizers = {}
    for label, name in OPTIMIZERS.items():
        optimizers[label] = (name, npref.optim.with_convention(
            name, {"lr": config[f"lr_{name}"]}, config["convention"]))
    schedule = Schedule(batch_size=config["batch_size"], iterations=config["iterations"],
                        sampling=config["sampling"],
                        loss_after_update=config["loss_after_update"])
    return run_optimizers(backend, arch=arch, optimizers=optimizers, data=data, config=config,
                          seed=seed, schedule=schedule, label="optimizer-mnist")


def plot(results, config, out_dir):
    from experiments.plotting import plot_training
    return plot_training(results, list(OPTIMIZERS), out_dir, "optimizer-mnist",
                         title=_("MNIST, 784-{hidden}-10 ReLU, batch {batch_size}, "
                                 "convention={convention!r}",
                                 hidden="-".join(map(str, config["hidden"])),
                                 batch_size=config["batch_size"],
                                 convention=config["convention"]),
                         smooth=True, x_label="iteration", accuracy="test_acc",
                         source=_("book figure 6-9"), log_loss=True)


def findings(result, config):
    from experiments.findings.claims import finding, listing
    from experiments.findings.wording import against, relation

    n = config["iterations"]
    loss = {label: tail_mean(result.series[f"{label}.loss"]) for label in OPTIMIZERS}
    claimed = ("Momentum", "AdaGrad", "Adam")
    ahead = {label: relation(loss[label], loss["SGD"]) == "ahead" for label in claimed}
    others = {label: v for label, v in loss.items() if label != "SGD" and label not in claimed}
    return [finding(_("Momentum, AdaGrad and Adam learn faster than plain SGD"),
                    _("mean loss over iterations {first}–{last}, against SGD's: {against} (also "
                      "ran, not in the claim: {others}; the lowest of all six: {lowest})",
                      first=n - n // 3 + 1, last=n,
                      against=against({'SGD': loss['SGD'], **{k: loss[k] for k in claimed}},
                                      'SGD'),
                      others=listing(sorted(others.items())), lowest=min(loss, key=loss.get)),
                    {_("{label}'s loss is lower than SGD's by more than 10%", label=label): ok
                     for label, ok in ahead.items()})]


def rules(config):
    from experiments import panels as R

    return [R.optimizer(name, npref.optim.with_convention(name, {"lr": config[f"lr_{name}"]},
                                                          config["convention"]))
            for name in OPTIMIZERS.values()]


def concept(config):
    return _(
        "The same network, from the same He-initialized weights and on the same minibatches "
        "({batch_size} images drawn with replacement, as the book does), is trained "
        "for {iterations} iterations by each optimizer at the book's default "
        "learning rate ({lr_sgd:g}; Adam {lr_adam:g}; RMSprop "
        "{lr_rmsprop:g}, since at 0.01 its first step moves every weight by 0.1 and "
        "the run turns chaotic). As in the book's script, the loss plotted is each "
        "minibatch's loss just after its update; the curves are smoothed as the book smooths "
        "them.", batch_size=config["batch_size"], iterations=config["iterations"],
        lr_sgd=config["lr_sgd"], lr_adam=config["lr_adam"], lr_rmsprop=config["lr_rmsprop"])


EXPERIMENT = Experiment(
    name="optimizer-mnist",
    description=N_("SGD, Momentum, Nesterov, AdaGrad, RMSprop and Adam training a "
                   "784-[100×4]-10 ReLU net on MNIST (book figure 6-9)"),
    concept=concept,
    settings=Settings, profiles=PROFILES, compute=compute, plot=plot,
    data=lambda config, data_dir: mnist.for_experiment(config, data_dir).describe(),
    findings=findings, rules=rules)
