"""overfit-dropout: the overfitting setting without and with dropout 0.2 (book figures 6-22,
6-23)."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import settings as S
from experiments import panels as rules
from experiments.backends.variants import Variant
from experiments.catalogue import overfit
from experiments.experiment import Experiment
from experiments.i18n import N_, _


#: The book's drop probability (overfit_dropout.py's dropout_ratio).
BOOK_P = 0.2


@dataclass(frozen=True)
class Settings(overfit.Settings):
    epochs: int = S.setting(301, S.positive_int, "epochs of training")
    dropout: float = S.setting(BOOK_P, S.fraction, "the drop probability p")


#: Quick: half the book's epochs, and a gentler dropout. At the book's p = 0.2 the net trains
#: so much more slowly that even the book's 301 epochs end before its test accuracy catches up
#: (training 63 %, test 54 % against the plain net's 78 %, full profile, NumPy); at 151 epochs
#: p = 0.05 narrows the gap (26.1 → 22.8 points) with the test accuracy held (73.9 → 74.9 %).
QUICK = {**overfit.QUICK, "dropout": 0.05}


def compute(backend, config, seed, data_dir):
    variants = {f"dropout {p:g}": Variant(overfit.arch(config, dropout=p), "sgd",
                                          {"lr": config["lr"]}, overfit.schedule(config),
                                          init_seed=seed)
                for p in (0.0, config["dropout"])}
    return overfit.run(backend, config, seed, data_dir, variants, "overfit-dropout")


def concept(config) -> str:
    text = _("The same {n_train} images and network, {epochs} epochs; dropout switches each "
             "hidden unit off with probability p = {dropout:g} at every training step (the "
             "book's convention: x·mask in "
             "training, x·(1 − p) in evaluation). Fewer units learn from each step, so training "
             "is slower: in the same epochs the net sees its images less often.").format(**config)
    if config["dropout"] != BOOK_P:
        text += " " + _("At the book's p (the full profile's) this net is still learning when "
                        "the book's epochs end (training accuracy 63%, test 54% against 78% "
                        "without dropout: the full profile on MNIST's 10,000 test images, "
                        "NumPy), so this run takes p = {dropout:g}.", dropout=config["dropout"])
    return text


def labels(config) -> list:
    """The two variants as the page names them, in the current language."""
    return [_("dropout {p:g}", p=p) for p in (0.0, config["dropout"])]


def plot(results, config, out_dir):
    return overfit.plot(results, ["dropout 0", f"dropout {config['dropout']:g}"], out_dir,
                        "overfit-dropout",
                        _("{n_train} MNIST images, 784-[100×6]-10, SGD lr {lr}: dropout "
                          "(convention={convention!r})", n_train=config['n_train'],
                          lr=config['lr'], convention=config['convention']),
                        _("book figures 6-20, 6-23"), labels=labels(config))


EXPERIMENT = Experiment(
    name="overfit-dropout",
    description=N_("The same overfitting setting without and with dropout {dropout:g} (book "
                   "figures 6-22, 6-23)"),
    concept=concept,
    settings=Settings, profiles={"quick": Settings(**QUICK)}, compute=compute, plot=plot,
    data=overfit.describe,
    findings=lambda result, config: overfit.findings(
        result, config, ["dropout 0", f"dropout {config['dropout']:g}"], _("dropout"),
        labels=labels(config)),
    rules=lambda config: [rules.layer(
        "dropout", overfit.arch(config, dropout=config["dropout"]),
        formula_text=_("Dropout: training y = x·mask, mask ~ Bernoulli(1 − p); evaluation "
                       "y = x·(1 − p)") if config["convention"] == "book" else
                     _("inverted dropout: training y = x·mask/(1 − p); evaluation y = x"),
        book=_("the book scales at evaluation (x·(1 − p)); PyTorch's inverted dropout scales in "
               "training (x·mask/(1 − p)) and passes x unchanged at evaluation"))])
