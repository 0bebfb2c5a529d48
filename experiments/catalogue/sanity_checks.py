"""sanity-checks: the slides' babysitting checks before a long training run (seed 003).

1. the initial loss of a softmax classifier with small weights is ln(10) ≈ 2.303;
2. a strong weight penalty raises it;
3. a tiny subset (20 images) can be learned perfectly: 100% training accuracy;
4. a too-small learning rate leaves the loss flat; a too-large one makes it explode (the run
   stops once the loss passes 3× its initial value);
5. the update/weight ratio ‖ΔW‖/‖W‖ of a good learning rate sits around 1e-3, layer by layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from experiments import settings as S
from experiments.backends.variants import Variant, run_variants
from experiments.data import mnist
from experiments.experiment import Experiment
from experiments.i18n import N_, _
from npref.training import Data, Schedule


@dataclass(frozen=True)
class Settings:
    """The slides' babysitting checks."""
    n_train: int = S.setting(4000, S.count, "training images")
    n_test: int = S.setting(1000, S.count, "test images")
    hidden: list = S.setting([50, 50], S.layer_sizes, "hidden layer sizes")
    batch_size: int = S.setting(100, S.positive_int, "images per iteration")
    strong_decay: float = S.setting(1.0, S.nonnegative, "λ of the strong L2 penalty")
    subset: int = S.setting(20, S.positive_int, "images of the tiny subset")
    subset_epochs: int = S.setting(200, S.positive_int, "epochs on the tiny subset")
    subset_lr: float = S.setting(0.1, S.positive, "learning rate on the tiny subset")
    small_lr: float = S.setting(1e-6, S.positive, "the too-small learning rate")
    large_lr: float = S.setting(1e4, S.positive, "the too-large learning rate")
    good_lr: float = S.setting(0.01, S.positive, "the good learning rate")
    iterations: int = S.setting(100, S.positive_int, "iterations of the learning-rate checks")
    fixed_batch: int = S.setting(500, S.positive_int, "images of the learning-rate checks' batch")
    dtype: str = S.dtype()


def compute(backend, config, seed, data_dir):
    data = mnist.for_experiment(config, data_dir).data
    base = {"input_size": 784, "hidden_sizes": config["hidden"], "output_size": 10,
            "activation": "relu"}
    small = {**base, "weight_init": 0.01}
    he = {**base, "weight_init": "he"}
    n = config["subset"]
    tiny = Data(data.x_train[:n], data.t_train[:n])
    # The learning-rate checks take full-batch steps on a fixed 500 images, so that a change in
    # the loss is the step's doing, not a different minibatch's.
    m = config["fixed_batch"]
    fixed = Data(data.x_train[:m], data.t_train[:m])
    one_step = Schedule(batch_size=config["batch_size"], iterations=1)
    full = Schedule(batch_size=m, iterations=config["iterations"])
    variants = {
        "small weights": Variant(small, "sgd", {"lr": config["good_lr"]}, one_step),
        "strong penalty": Variant({**small, "regularizer": ("l2", {"lam": config["strong_decay"]})},
                                  "sgd", {"lr": config["good_lr"]}, one_step),
        "20 images": Variant(he, "sgd", {"lr": config["subset_lr"]},
                             Schedule(batch_size=n, epochs=config["subset_epochs"],
                                      evaluate_every=config["subset_epochs"]), data=tiny),
        "lr too small": Variant(he, "sgd", {"lr": config["small_lr"]}, full, data=fixed),
        "lr too large": Variant(he, "sgd", {"lr": config["large_lr"]}, full, data=fixed),
        "good lr": Variant(he, "sgd", {"lr": config["good_lr"]},
                           Schedule(batch_size=config["batch_size"],
                                    iterations=config["iterations"], update_ratios=True)),
    }
    # The explosion stops at 3× the loss it starts from: that of "lr too small", same start.
    first = run_variants(backend, {"lr too small": variants.pop("lr too small")}, data=data,
                         config=config, seed=seed, label="sanity-checks")
    start_loss = first.series["lr too small.loss"][0]
    too_large = variants["lr too large"]
    too_large.schedule = replace(too_large.schedule, max_loss=3 * start_loss)
    rest = run_variants(backend, variants, data=data, config=config, seed=seed + 100,
                        label="sanity-checks")
    result = first.merged(rest)
    result.checks = checks(result, config)
    return result


def checks(result, config) -> dict:
    s, f = result.series, result.final
    initial = s["small weights.loss"][0]
    penalized = s["strong penalty.loss"][0]
    small = s["lr too small.loss"]
    flat = abs(small[-1] - small[0]) / small[0]
    ratios = {k.replace("good lr.update/", ""): float(np.median(v)) for k, v in s.items()
              if k.startswith("good lr.update/")}
    criterion = {k: text.format(ln10=math.log(10)) for k, text in CRITERIA.items()}   # English
    return {
        "initial loss ≈ ln 10": {"value": initial, "criterion": criterion["initial loss ≈ ln 10"],
                                 "passed": bool(abs(initial - math.log(10)) < 0.02)},
        "strong penalty raises the loss": {"value": penalized,
                                           "criterion": criterion[
                                               "strong penalty raises the loss"],
                                           "passed": bool(penalized > initial + 1)},
        "20 images overfit to 100%": {"value": f["20 images.train_acc"],
                                      "criterion": criterion["20 images overfit to 100%"],
                                      "passed": bool(f["20 images.train_acc"] == 1.0)},
        "too-small lr leaves the loss flat": {"value": flat,
                                              "criterion": criterion[
                                                  "too-small lr leaves the loss flat"],
                                              "passed": bool(flat < 0.01)},
        "too-large lr explodes": {"value": f.get("lr too large.exploded_at"),
                                  "criterion": criterion["too-large lr explodes"],
                                  "passed": "lr too large.exploded_at" in f},
        "update/weight ratio ≈ 1e-3": {"value": ratios,
                                       "criterion": criterion["update/weight ratio ≈ 1e-3"],
                                       "passed": bool(all(1e-4 <= r <= 1e-2
                                                          for r in ratios.values()))},
    }


#: Each check's criterion, as the finding states it (``metrics.json`` keeps it in English).
CRITERIA = {
    "initial loss ≈ ln 10": N_("|L − ln 10| < 0.02 (ln 10 = {ln10:.4f})"),
    "strong penalty raises the loss": N_("L(λ = strong) > L(λ = 0) + 1"),
    "20 images overfit to 100%": N_("training accuracy = 1"),
    "too-small lr leaves the loss flat": N_("relative change < 1%"),
    "too-large lr explodes": N_("loss > 3× the initial loss (stopped there)"),
    "update/weight ratio ≈ 1e-3": N_("median per layer within [1e-4, 1e-2]"),
}


def criterion_text(check: str) -> str:
    """A check's criterion in the current language."""
    return _(CRITERIA[check], ln10=math.log(10))


#: The slides' claim each check demonstrates.
CLAIMS = {
    "initial loss ≈ ln 10": N_("with small weights the initial loss is ln 10 ≈ 2.303"),
    "strong penalty raises the loss": N_("a strong weight penalty raises the initial loss"),
    "20 images overfit to 100%": N_("the network can learn a tiny subset perfectly"),
    "too-small lr leaves the loss flat": N_("a too-small learning rate leaves the loss flat"),
    "too-large lr explodes": N_("a too-large learning rate makes the loss explode"),
    "update/weight ratio ≈ 1e-3": N_("a good learning rate changes each weight matrix by about "
                                     "1/1000 of its size per step"),
}


def findings(result, config):
    """The slides' checks, in words: each check's value formatted for reading."""
    from experiments.findings.claims import finding, num, pct

    c = result.checks
    ratios = c["update/weight ratio ≈ 1e-3"]["value"]
    exploded = c["too-large lr explodes"]["value"]
    measured = {
        "initial loss ≈ ln 10": _("initial loss {loss:.4f}",
                                  loss=c['initial loss ≈ ln 10']['value']),
        "strong penalty raises the loss": _("λ = {lam:g}: initial loss {loss:.3f}",
                                            lam=config['strong_decay'],
                                            loss=c['strong penalty raises the loss']['value']),
        "20 images overfit to 100%": _("{n} images, {epochs} epochs: training accuracy "
                                       "{accuracy}", n=config['subset'],
                                       epochs=config['subset_epochs'],
                                       accuracy=pct(c['20 images overfit to 100%']['value'])),
        "too-small lr leaves the loss flat": _(
            "lr {lr:g}: loss changed by {change:.2f}% in {steps} steps", lr=config['small_lr'],
            change=100 * c['too-small lr leaves the loss flat']['value'],
            steps=config['iterations']),
        "too-large lr explodes": (
            _("lr {lr:g}: past 3× the initial loss at step {step:.0f}", lr=config['large_lr'],
              step=exploded) if exploded is not None
            else _("lr {lr:g}: never exploded", lr=config['large_lr'])),
        "update/weight ratio ≈ 1e-3": _("lr {lr:g}: median ‖ΔW‖/‖W‖ {ratios}",
                                        lr=config['good_lr'], ratios=", ".join(
                                            f"{k} {num(v)}" for k, v in ratios.items())),
    }
    return [finding(_(CLAIMS[k]), measured[k], {criterion_text(k): c[k]["passed"]})
            for k in CLAIMS]


def _loss_rule():
    from experiments import panels as R
    return R.loss("torch")


def plot(results, config, out_dir):
    import matplotlib.pyplot as plt

    from experiments.plotting import COLORS, legend, line, save

    fig, axes = plt.subplots(1, 3, figsize=(14, 5))
    runs = ("lr too small", "good lr", "lr too large")
    names = {"lr too small": N_("lr too small"), "good lr": N_("good lr"),
             "lr too large": N_("lr too large")}
    layers = []
    for backend, result in results.items():
        for i, name in enumerate(runs):
            loss = result.series[f"{name}.loss"]
            axes[0].plot(range(1, len(loss) + 1), loss, **line(backend, color=COLORS[i]))
        layers = [k.replace("good lr.update/", "") for k in result.series
                  if k.startswith("good lr.update/")]
        for i, layer in enumerate(layers):
            axes[1].plot(result.series[f"good lr.update/{layer}"],
                         **line(backend, color=COLORS[i]))
        loss = result.series["20 images.loss"]
        axes[2].plot(range(1, len(loss) + 1), loss, **line(backend, color=COLORS[0]))
    _clip_explosion(axes[0], next(iter(results.values())))
    axes[0].axhline(math.log(10), color="0.5", linewidth=0.8, linestyle=":")
    axes[0].set_title(_("learning rate: too small, good, too large"))
    axes[0].set_xlabel(_("iteration"))
    axes[0].set_ylabel(_("training loss"))
    legend(axes[0], [(_(names[name]), COLORS[i]) for i, name in enumerate(runs)], results,
           loc="center right")
    axes[1].set_yscale("log")
    axes[1].axhspan(1e-4, 1e-2, color="#2ca02c", alpha=0.08)
    axes[1].set_title(_("update/weight ratio per layer (good lr)"))
    axes[1].set_xlabel(_("iteration"))
    axes[1].set_ylabel("‖ΔW‖ / ‖W‖")
    legend(axes[1], [(layer, COLORS[i]) for i, layer in enumerate(layers)], results)
    axes[2].set_yscale("log")
    axes[2].set_title(_("{n} images learned by heart", n=config['subset']))
    axes[2].set_xlabel(_("iteration"))
    axes[2].set_ylabel(_("training loss"))
    fig.suptitle(_("babysitting the learning process: sanity checks"))
    return [save(fig, out_dir, "sanity-checks.png", source=_("the slides"))]


def _clip_explosion(ax, result) -> None:
    """The exploding run's last loss (stopped at 3× the start) can reach 1e10: keep the axis
    where the other curves are readable, and say in words where that curve went."""
    s = result.series
    start = s["lr too small.loss"][0]
    ax.set_ylim(0, 4 * start)
    last = s["lr too large.loss"][-1]
    if last > 4 * start:
        ax.annotate(_("too large: {loss:.2g} at step {step} (off the scale)", loss=last,
                      step=len(s['lr too large.loss'])), xy=(0.02, 0.94),
                    xycoords="axes fraction", fontsize=11, color="#2ca02c")


EXPERIMENT = Experiment(
    name="sanity-checks",
    description=N_("The slides' babysitting checks: initial loss ≈ ln 10, penalty raises it, a "
                   "tiny subset overfits, lr too small/large, update/weight ratio ≈ 1e-3"),
    concept=N_("Before a long run: with small weights the softmax gives every class 1/10, so the "
               "initial loss is ln 10; a strong penalty must raise it; the network must be able "
               "to learn {subset} images perfectly; a tiny learning rate barely moves the loss "
               "and a huge one blows it up (here the run stops at 3× its initial loss); and a "
               "good learning rate changes each weight matrix by about 1/1000 of its size per "
               "step."),
    settings=Settings, compute=compute, plot=plot,
    data=lambda config, data_dir: mnist.for_experiment(config, data_dir).describe(),
    findings=findings, rules=lambda config: [_loss_rule()])
