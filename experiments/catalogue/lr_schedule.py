"""lr-schedule: learning-rate decay on MNIST — a constant rate against step decay, cosine
annealing and a cut on a validation plateau (the seeds' "learning rate decay", the idea
AdaGrad makes per weight; ``torch.optim.lr_scheduler``'s StepLR, CosineAnnealingLR and
ReduceLROnPlateau, and npref.schedulers' transcriptions of them).

Every schedule starts from the same weights, trains on the same batches and starts at the same
rate — one large enough to learn fast early and to keep the loss bouncing late — so that the
schedule is all that differs. Each backend builds its own schedulers from one
:class:`npref.training.Schedule` (``lr_schedule``): npref's on the NumPy side, PyTorch's own on
the PyTorch side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import npref.optim
from experiments import settings as S
from experiments.backends.variants import Variant, run_variants
from experiments.data import mnist
from experiments.experiment import Experiment
from experiments.i18n import N_, _
from npref.training import Data, Schedule

#: The four runs, in the order the figure and the findings name them; each by the name it is
#: shown by (in the current language: ``_(LABELS[name])``).
NAMES = ("constant", "step", "cosine", "plateau")
LABELS = {"constant": N_("constant"), "step": N_("StepLR (step decay)"),
          "cosine": "CosineAnnealingLR", "plateau": "ReduceLROnPlateau"}
COLORS = {"constant": "#7f7f7f", "step": "#1f77b4", "cosine": "#2ca02c", "plateau": "#d62728"}


@dataclass(frozen=True)
class Settings:
    """Four runs of one network and optimizer, one per learning-rate schedule."""
    n_train: int = S.setting(0, S.count, "images, validation included")
    n_test: int = S.setting(0, S.count, "test images")
    validation: float = S.setting(0.2, S.open_fraction, "the share held out for validation")
    hidden: list = S.setting([100, 100], S.layer_sizes, "hidden layer sizes")
    batch_size: int = S.setting(100, S.positive_int, "images per iteration")
    epochs: int = S.setting(30, S.positive_int, "epochs of every run")
    optimizer: str = S.setting("momentum", S.choice(*npref.optim.NAMES),
                               "the optimizer every schedule drives")
    lr: float = S.setting(0.3, S.positive, "the starting learning rate of every run")
    momentum: float = S.setting(0.9, S.fraction, "the optimizer's momentum (where it has one)")
    step_size: int = S.setting(10, S.positive_int, "StepLR: epochs between decays")
    gamma: float = S.setting(0.1, S.open_fraction, "StepLR: the factor of each decay")
    eta_min: float = S.setting(0.0, S.nonnegative, "CosineAnnealingLR: the last rate")
    patience: int = S.setting(1, S.count, "ReduceLROnPlateau: epochs without improvement "
                                          "it waits before cutting")
    factor: float = S.setting(0.1, S.open_fraction, "ReduceLROnPlateau: the factor of a cut")
    dtype: str = S.dtype()


PROFILES = {"quick": Settings(n_train=4000, n_test=1000, epochs=12, step_size=4)}


def specs(config) -> dict:
    """Each run's ``lr_schedule``, in npref.schedulers' (and PyTorch's) names."""
    return {"constant": None,
            "step": ("StepLR", {"step_size": config["step_size"], "gamma": config["gamma"]}),
            "cosine": ("CosineAnnealingLR", {"T_max": config["epochs"],
                                             "eta_min": config["eta_min"]}),
            "plateau": ("ReduceLROnPlateau", {"patience": config["patience"],
                                              "factor": config["factor"]})}


def hyper(config) -> dict:
    out = {"lr": config["lr"]}
    if "momentum" in npref.optim.RULES[config["optimizer"]].hyper:
        out["momentum"] = config["momentum"]
    # PyTorch's convention: the book's Momentum is PyTorch's only while lr stays constant.
    return npref.optim.with_convention(config["optimizer"], out, "torch")


def split(data: Data, config, seed) -> Data:
    """Shuffle the training images (from ``seed``) and hold out the first ``validation`` share;
    the test images stay the test set."""
    order = np.random.default_rng(seed).permutation(len(data.t_train))
    x, t = data.x_train[order], data.t_train[order]
    n_val = int(len(t) * config["validation"])
    return Data(x[n_val:], t[n_val:], data.x_test, data.t_test, x[:n_val], t[:n_val])


def compute(backend, config, seed, data_dir):
    data = split(mnist.for_experiment(config, data_dir).data, config, seed)
    arch = {"input_size": 784, "hidden_sizes": config["hidden"], "output_size": 10,
            "activation": "relu", "weight_init": "he"}
    variants = {name: Variant(arch, config["optimizer"], hyper(config),
                              Schedule(batch_size=config["batch_size"], epochs=config["epochs"],
                                       lr_schedule=spec),
                              init_seed=seed, batch_seed=seed + 1)
                for name, spec in specs(config).items()}
    return run_variants(backend, variants, data=data, config=config, seed=seed,
                        label="lr-schedule")


def rates(result, config, name) -> list:
    """The learning rate of every epoch (a constant run records none: it is ``lr``)."""
    return result.series.get(f"{name}.lr", [config["lr"]] * config["epochs"])


def plot(results, config, out_dir):
    import matplotlib.pyplot as plt

    from experiments.plotting import legend, line, save

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))
    epochs = np.arange(1, config["epochs"] + 1)
    for backend, result in results.items():
        for name in NAMES:
            look = line(backend, color=COLORS[name])
            axes[0].plot(epochs, rates(result, config, name), drawstyle="steps-post", **look)
            loss = result.series[f"{name}.epoch_loss"]
            axes[1].plot(epochs[:len(loss)], loss, **look)
            val = result.series[f"{name}.val_loss"]
            axes[2].plot(epochs[:len(val)], val, **look)
    axes[0].set_yscale("log")
    axes[0].set_ylabel(_("learning rate (each epoch's)"))
    axes[1].set_yscale("log")
    axes[1].set_ylabel(_("training loss (epoch mean)"))
    axes[2].set_ylabel(_("validation loss"))
    for ax in axes:
        ax.set_xlabel(_("epoch"))
    legend(axes[0], [(_(LABELS[n]), COLORS[n]) for n in NAMES], results, loc="lower left",
           fontsize=11)
    hidden = "-".join(map(str, config["hidden"]))
    fig.suptitle(_("MNIST, 784-{hidden}-10 ReLU, {optimizer} from lr {lr:g}: four "
                   "learning-rate schedules", hidden=hidden,
                   optimizer=npref.optim.RULES[config["optimizer"]].__name__, lr=config["lr"]))
    return [save(fig, out_dir, "lr-schedule.png", source=_("learning-rate decay"))]


def _tail(values, config) -> list:
    """The last third of the epochs (at least two)."""
    return list(values[-max(2, config["epochs"] // 3):])


def _plateau_cuts(result, config) -> list[tuple[int, bool]]:
    """Each epoch after which ReduceLROnPlateau cut the rate, and whether the validation loss
    had then gone ``patience + 1`` epochs without a new best (PyTorch's rule, threshold 1e-4
    relative)."""
    lrs, val = rates(result, config, "plateau"), result.series["plateau.val_loss"]
    cuts = []
    for e in range(len(lrs) - 1):
        if lrs[e + 1] < lrs[e]:
            window = range(e - config["patience"], e + 1)
            best_before = min(val[:max(0, window.start)], default=np.inf)
            stalled = window.start >= 1 and all(val[k] >= best_before * (1 - 1e-4)
                                                for k in window)
            cuts.append((e + 1, stalled))
    return cuts


def findings(result, config):
    from experiments.findings.claims import finding
    from experiments.findings.wording import ranking, relation

    decayed = [n for n in NAMES if n != "constant"]
    label = {n: _(LABELS[n]) for n in NAMES}                 # shown names, current language
    final = {label[n]: result.series[f"{n}.val_loss"][-1] for n in NAMES}
    spread = {n: float(np.ptp(_tail(result.series[f"{n}.val_loss"], config))) for n in NAMES}
    tail = len(_tail(result.series["constant.val_loss"], config))
    cuts = _plateau_cuts(result, config)
    gone = [label[n] for n in NAMES if not np.isfinite(result.series[f"{n}.val_loss"][-1])]
    return [
        finding(_("Decaying the learning rate ends at a lower validation loss than keeping the "
                  "starting rate"),
                _("validation loss after epoch {epoch}: {ranking}", epoch=config["epochs"],
                  ranking=ranking(final, best_word=_("lowest"), diverged=gone))
                + _other_order(result, label, final, gone),
                {_("{label} ends lower than the constant rate by more than 10%", label=label[n]):
                     relation(final[label[n]], final[label["constant"]]) == "ahead"
                 for n in decayed},
                diverged=gone),
        finding(_("Once the rate is small the validation loss stops bouncing"),
                _("spread (max − min) of the validation loss over the last {tail} epochs: "
                  "{spreads}", tail=tail,
                  spreads=", ".join(f"{label[n]} {spread[n]:.3g}" for n in NAMES)),
                {_("{label}'s spread is under half the constant rate's", label=label[n]):
                     spread[n] < 0.5 * spread["constant"] for n in decayed},
                diverged=gone),
        finding(_("ReduceLROnPlateau cuts the rate only once the validation loss has stalled"),
                (_("cuts after epoch {epochs} (patience {patience}); the rate ends at "
                   "{rate:.3g}", epochs=", ".join(str(e) for e, _ok in cuts),
                   patience=config["patience"], rate=rates(result, config, "plateau")[-1])
                 if cuts else _("no cut in {epochs} epochs (patience {patience})",
                                epochs=config["epochs"], patience=config["patience"])),
                {_("the rate was cut at least once"): bool(cuts),
                 _("each cut follows {epochs} epochs without a new best validation loss",
                   epochs=config["patience"] + 1): bool(cuts) and all(ok for _e, ok in cuts)},
                why=None if cuts else _("the validation loss kept improving: the plateau "
                                        "rule had nothing to act on in this run")),
    ]


def _other_order(result, label: dict, final: dict, gone) -> str:
    """Where the test accuracy ranks the schedules differently from the validation loss, that
    ranking too (a ranking says where another metric disagrees)."""
    from experiments.findings.claims import pct
    from experiments.findings.wording import ranking

    test = {label[n]: result.final.get(f"{n}.test_acc") for n in NAMES}
    if any(v is None for v in test.values()):
        return ""
    by_loss = sorted((k for k in final if k not in gone), key=final.get)
    by_test = sorted((k for k in test if k not in gone), key=test.get, reverse=True)
    if by_loss[:1] == by_test[:1]:
        return ""
    return _("; by test accuracy the order differs: {ranking}", ranking=ranking(
        test, scale="points", lower_is_better=False, form=pct, diverged=gone))


def concept(config):
    name = npref.optim.RULES[config["optimizer"]].__name__
    return _(
        "The same ReLU network (hidden layers of {hidden} units), from the same He-initialized "
        "weights and on the same batches of {batch_size}, is trained for {epochs} epochs by "
        "{name} from lr {lr:g} — a rate large enough to learn fast at first, too large to "
        "settle — under four schedules, each stepped after every epoch: constant; StepLR, "
        "lr × {gamma:g} every {step_size} epochs; CosineAnnealingLR, lr following half a "
        "cosine down to {eta_min:g} over the run; ReduceLROnPlateau, lr × {factor:g} once the "
        "validation loss ({validation:.0%} of the training images, held out) has not improved "
        "for {patience} epoch(s) after the best. One npref.training.Schedule describes "
        "each run; the NumPy side builds npref.schedulers' class of that name, the PyTorch "
        "side torch.optim.lr_scheduler's own. The optimizer runs in PyTorch's convention: "
        "PyTorch's Momentum (b ← μ·b + g; p ← p − lr·b) applies a new rate to the whole "
        "buffer at once, the book's velocity form (v ← μ·v − lr·g) only to new gradients, so "
        "under a changing rate the two are different rules (torchref refuses the book's "
        "with a schedule).", hidden=", ".join(map(str, config["hidden"])),
        batch_size=config["batch_size"], epochs=config["epochs"], name=name, lr=config["lr"],
        gamma=config["gamma"], step_size=config["step_size"], eta_min=config["eta_min"],
        factor=config["factor"], validation=config["validation"], patience=config["patience"])


def rules(config):
    from experiments import panels as R

    out = [R.optimizer(config["optimizer"], hyper(config))]
    for name, spec in specs(config).items():
        if spec is not None:
            out.append(R.lr_schedule(spec, label=_(LABELS[name])))
    return out


def _data(config, data_dir):
    described = mnist.for_experiment(config, data_dir).describe()
    n_val = int(described["n_train"] * config["validation"])
    return {**described, "n_train": described["n_train"] - n_val, "n_val": n_val}


EXPERIMENT = Experiment(
    name="lr-schedule",
    description=N_("Learning-rate decay on MNIST: constant vs StepLR vs CosineAnnealingLR vs "
                   "ReduceLROnPlateau, npref.schedulers against torch.optim.lr_scheduler"),
    concept=concept,
    settings=Settings, profiles=PROFILES, compute=compute, plot=plot, data=_data,
    findings=findings, rules=rules)
