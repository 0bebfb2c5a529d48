"""overfit-weight-decay: the overfitting setting without and with L2 weight decay λ = 0.1 (book
figures 6-20, 6-21)."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import settings as S
from experiments import panels as rules
from experiments.backends.variants import Variant
from experiments.catalogue import overfit
from experiments.experiment import Experiment
from experiments.i18n import N_, _


@dataclass(frozen=True)
class Settings(overfit.Settings):
    epochs: int = S.setting(201, S.positive_int, "epochs of training")
    weight_decay: float = S.setting(0.1, S.nonnegative, "λ of the L2 penalty ½·λ·ΣW²")


def compute(backend, config, seed, data_dir):
    variants = {f"λ={lam:g}": Variant(
        overfit.arch(config, regularizer=("l2", {"lam": lam}) if lam else None),
        "sgd", {"lr": config["lr"]}, overfit.schedule(config), init_seed=seed)
        for lam in (0.0, config["weight_decay"])}
    return overfit.run(backend, config, seed, data_dir, variants, "overfit-weight-decay")


def plot(results, config, out_dir):
    return overfit.plot(results, ["λ=0", f"λ={config['weight_decay']:g}"], out_dir,
                        "overfit-weight-decay",
                        _("{n_train} MNIST images, 784-[100×6]-10, SGD lr {lr}: L2 weight decay",
                          n_train=config['n_train'], lr=config['lr']),
                        _("book figures 6-20, 6-21"))


EXPERIMENT = Experiment(
    name="overfit-weight-decay",
    description=N_("300 MNIST images, 784-[100×6]-10: train vs test accuracy without and with "
                   "L2 weight decay (book figures 6-20, 6-21)"),
    concept=N_("A seven-layer network trained on only {n_train} images for {epochs} epochs: the "
               "book's overfitting setting, far more weights than images, so the net can fit its "
               "training images by heart while doing worse on images it has not seen. Weight "
               "decay adds "
               "½·λ·ΣW² (here λ = {weight_decay:g}) to the loss (λ·W to each weight's "
               "gradient), pulling every weight towards zero at each step."),
    settings=Settings, profiles={"quick": Settings(**overfit.QUICK)}, compute=compute, plot=plot, data=overfit.describe,
    findings=lambda result, config: overfit.findings(
        result, config, ["λ=0", f"λ={config['weight_decay']:g}"], _("weight decay")),
    rules=lambda config: [rules.penalty(
        "l2", formula_text=_("L2 weight decay: L ← L + ½·λ·ΣW²;  ∇W ← ∇W + λ·W"))])
