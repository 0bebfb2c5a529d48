"""hyperparameter-search: random search of the learning rate and weight decay in log space, then a
narrowed second stage (book section 6.5, hyperparameter_optimization.py, figure 6-24)."""

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
    """The book's hyperparameter_optimization.py."""
    n_train: int = S.setting(500, S.count, "images, validation included")
    n_test: int = S.setting(0, S.count, "test images")
    validation: float = S.setting(0.2, S.open_fraction, "the share held out for validation")
    hidden: list = S.setting([100] * 6, S.layer_sizes, "hidden layer sizes")
    batch_size: int = S.setting(100, S.positive_int, "images per iteration")
    epochs: int = S.setting(50, S.positive_int, "epochs per trial")
    trials: int = S.setting(100, S.positive_int, "trials of the coarse stage")
    fine_trials: int = S.setting(50, S.positive_int, "trials of the narrowed stage")
    top: int = S.setting(5, S.positive_int, "best trials the narrowed stage searches around")
    lr_range: list = S.setting([-6.0, -2.0], S.exponent_range, "lr = 10^U(lo, hi)")
    decay_range: list = S.setting([-8.0, -4.0], S.exponent_range, "λ = 10^U(lo, hi)")
    dtype: str = S.dtype()
#: Quick: fewer trials, but epochs enough for a good learning rate to learn (at 10 epochs every
#: trial stays near chance and the search finds nothing) and trials enough to find the region:
#: in 30 epochs only lr ≳ 4e-3 learns, the top 0.4 of the 4 decades searched — with 12 first-stage
#: trials one learned (seed 0) and the second stage narrowed on chance-level ones; with 20, six
#: of 26 learn, all at lr 5e-3…1.2e-2 (and 50 epochs cost a third more for seven).
PROFILES = {"quick": Settings(epochs=30, trials=20, fine_trials=6, n_test=100)}


def split(data: Data, config, seed) -> Data:
    """The book's split: shuffle the images, hold out the first 20% for validation."""
    order = np.random.default_rng(seed).permutation(len(data.t_train))
    x, t = data.x_train[order], data.t_train[order]
    n_val = int(len(t) * config["validation"])
    return Data(x[n_val:], t[n_val:], x_val=x[:n_val], t_val=t[:n_val])


def draw(rng, n, lr_range, decay_range):
    """(lr, weight decay) pairs: 10^U(lr_range), 10^U(decay_range)."""
    return [(10.0 ** rng.uniform(*lr_range), 10.0 ** rng.uniform(*decay_range)) for _ in range(n)]


def narrowed(trials, finals, top, learns=None):
    """The second stage's ranges: the log10 span of the best ``top`` trials, widened by 0.25 —
    counting only trials that learn (validation accuracy ``learns`` or more, default
    :data:`LEARNS`): a trial at chance says nothing about where the good region is. With none
    that learns, the first stage's ranges are searched again (None: not narrowed)."""
    learns = LEARNS if learns is None else learns
    best = [i for i in sorted(range(len(trials)), key=lambda i: -finals[i])[:top]
            if finals[i] >= learns]
    if not best:
        return None
    lrs = np.log10([trials[i][0] for i in best])
    decays = np.log10([trials[i][1] for i in best])
    return ([lrs.min() - 0.25, lrs.max() + 0.25], [decays.min() - 0.25, decays.max() + 0.25])


def compute(backend, config, seed, data_dir):
    data = split(mnist.for_experiment(config, data_dir).data, config, seed)
    rng = np.random.default_rng(seed)
    schedule = Schedule(batch_size=config["batch_size"], epochs=config["epochs"])

    def stage(prefix, trials, stage_seed):
        variants = {}
        for i, (lr, decay) in enumerate(trials):
            arch = {"input_size": 784, "hidden_sizes": config["hidden"], "output_size": 10,
                    "activation": "relu", "weight_init": "he",
                    "regularizer": ("l2", {"lam": decay})}
            variants[f"{prefix}{i:03d}"] = Variant(arch, "sgd", {"lr": lr}, schedule,
                                                   init_seed=seed + 7 + i)
        return run_variants(backend, variants, data=data, config=config, seed=stage_seed,
                            label=f"hyperparameter-search {prefix}")

    coarse_trials = draw(rng, config["trials"], config["lr_range"], config["decay_range"])
    coarse = stage("coarse", coarse_trials, seed)
    finals = [coarse.final[f"coarse{i:03d}.val_acc"] for i in range(len(coarse_trials))]
    ranges = narrowed(coarse_trials, finals, config["top"])
    lr_range, decay_range = ranges or (config["lr_range"], config["decay_range"])
    fine_trials = draw(rng, config["fine_trials"], lr_range, decay_range)
    fine = stage("fine", fine_trials, seed + 10_000)

    result = coarse.merged(fine)
    table = [(f"coarse{i:03d}", lr, d) for i, (lr, d) in enumerate(coarse_trials)]
    table += [(f"fine{i:03d}", lr, d) for i, (lr, d) in enumerate(fine_trials)]
    for name, lr, decay in table:
        result.final[f"{name}.lr"] = lr
        result.final[f"{name}.weight_decay"] = decay
    result.final["fine.lr_low"], result.final["fine.lr_high"] = (10.0 ** lr_range[0],
                                                                       10.0 ** lr_range[1])
    result.final["fine.narrowed"] = float(ranges is not None)
    ranked = sorted(table, key=lambda row: -result.final[f"{row[0]}.val_acc"])
    best_lrs = [lr for _, lr, _ in ranked[:config["top"]]]
    result.checks = {"best learning rates near 1e-3…1e-2": {
        "value": best_lrs, "criterion": f"the {config['top']} best lie in [3e-4, 3e-2]",
        "passed": bool(all(3e-4 <= lr <= 3e-2 for lr in best_lrs))}}
    result.extra = {"ranked": ranked}
    return result


#: Validation accuracy of a trial that learns: four times chance among ten classes.
LEARNS = 0.4
#: How many trials must learn before "the best learning rates" is a region, not one lucky trial.
MIN_LEARNED = 3
#: The book's good region of learning rates, and what counts as "far smaller".
GOOD = (1e-3, 3e-2)
SLOW = 1e-4


def findings(result, config):
    from experiments.findings.claims import finding, num, pct

    f = result.final
    trials = sorted((k[:-len(".val_acc")] for k in f if k.endswith(".val_acc")),
                    key=lambda n: -f[f"{n}.val_acc"])
    learned = [n for n in trials if f[f"{n}.val_acc"] >= LEARNS]
    best = learned[:config["top"]]
    lrs = sorted(f[f"{n}.lr"] for n in best)
    slow = [f[f"{n}.val_acc"] for n in trials if f[f"{n}.lr"] < SLOW]
    lo, hi = (10.0 ** e for e in config["lr_range"])
    reaches = lo <= GOOD[1] and hi >= GOOD[0]
    narrowed_text = ("" if f.get("fine.narrowed", 1.0) else
                     _("; no first-stage trial learned, so the second stage searched the same "
                       "ranges again"))
    return [
        finding(_("the best learning rates lie near 1e-3…1e-2"),
                (_("{learned} of {trials} trials learn (validation {learns:.0%} or more, four "
                   "times chance); the best {count} of them ({low}–{high}) have lr {lrs}",
                   learned=len(learned), trials=len(trials), learns=LEARNS, count=len(best),
                   low=pct(f[best[-1] + '.val_acc']), high=pct(f[best[0] + '.val_acc']),
                   lrs=", ".join(num(x) for x in lrs)) if best else
                 _("no trial of {trials} learns (validation {learns:.0%} or more, four times "
                   "chance): the best reaches {best}", trials=len(trials), learns=LEARNS,
                   best=pct(f[trials[0] + '.val_acc'])))
                + narrowed_text,
                {_("{count} trials or more learn", count=MIN_LEARNED): len(learned) >= MIN_LEARNED,
                 _("every one of the best that learn lies in [{low:g}, {high:g}]", low=GOOD[0],
                   high=GOOD[1]): bool(best) and all(GOOD[0] <= x <= GOOD[1] for x in lrs)},
                why=None if reaches else
                _("the search's range, lr 10^[{low:g}, {high:g}], does not reach 1e-3…1e-2",
                  low=config['lr_range'][0], high=config['lr_range'][1])),
        finding(_("far smaller learning rates do not learn in the same budget"),
                _("{count} trials with lr < {slow:g}: best validation accuracy {best}; "
                  "{learned} trials at other rates learn ({learns:.0%} or more)",
                  count=len(slow), slow=SLOW, best=pct(max(slow)) if slow else '—',
                  learned=len(learned), learns=LEARNS),
                {_("there are trials with lr < {slow:g}", slow=SLOW): bool(slow),
                 _("none of them reaches 30% (three times chance)"):
                     bool(slow) and max(slow) < 0.3,
                 _("some trial at another rate learns (else no rate learns in this budget)"):
                     bool(learned)},
                why=None if slow else _("no trial drew an lr below {slow:g}: the claim is about "
                                        "a setting this run does not reach", slow=SLOW)),
    ]


def concept(config):
    lo, hi = config["lr_range"]
    dlo, dhi = config["decay_range"]
    return _(
        "{n_train:,} training images, {validation:.0%} held out for validation, a "
        "784-[100×{layers}]-10 network trained by SGD with L2 weight decay. Each of {trials} "
        "trials draws the learning rate from 10^U({lo:g}, {hi:g}) and λ from "
        "10^U({dlo:g}, {dhi:g}), trains for {epochs} epochs and is scored by validation "
        "accuracy (never the test set); a second stage of {fine_trials} trials searches the "
        "range of the best {top} that learn (validation {learns:.0%} or more, four times "
        "chance; with none, the whole range again).", n_train=config['n_train'],
        validation=config['validation'], layers=len(config['hidden']), trials=config['trials'],
        lo=lo, hi=hi, dlo=dlo, dhi=dhi, epochs=config['epochs'],
        fine_trials=config['fine_trials'], top=config['top'], learns=LEARNS)


#: The two stages as the space figure's legend names them.
STAGES = {"coarse": N_("coarse"), "fine": N_("fine")}

#: Validation accuracy in each backend's line, training accuracy dotted in either.
KINDS = (("val_acc", {"color": "#1f77b4"}), ("train_acc", {"color": "#7f7f7f", "linestyle": ":"}))


def plot(results, config, out_dir):
    first = next(iter(results.values()))
    return [_plot_best(results, first, out_dir), _plot_space(first, out_dir)]


def _plot_best(results, first, out_dir):
    """The 20 best trials' curves, one panel each: does the ranking hold over the epochs?"""
    import matplotlib.pyplot as plt

    from experiments.plotting import line, save

    ranked = first.extra["ranked"][:20]
    rows = -(-len(ranked) // 5)
    fig, axes = plt.subplots(rows, 5, figsize=(14, 2.9 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for ax in axes.flat[len(ranked):]:
        ax.axis("off")
    for ax, (name, lr, decay) in zip(axes.flat, ranked):
        for backend, result in results.items():
            for kind, look in KINDS:
                acc = result.series[f"{name}.{kind}"]
                ax.plot(range(1, len(acc) + 1), acc, **line(backend, **look))
        ax.set_title(_("{name}, val {val:.2f}\nlr {lr:.1e}, λ {decay:.1e}", name=name,
                       val=first.final[name + '.val_acc'], lr=lr, decay=decay), fontsize=11)
        ax.set_ylim(0, 1)
    fig.supxlabel(_("epoch"))
    fig.supylabel(_("accuracy"))
    from experiments.plotting import legend
    legend(axes[0, 0], [(_("validation"), KINDS[0][1]), (_("training"), KINDS[1][1])], results,
           loc="upper left", fontsize=11)
    fig.suptitle(_("the {count} best trials by validation accuracy",
                   count=min(20, len(first.extra['ranked']))))
    return save(fig, out_dir, "hyperparameter-search-best.png", source=_("book figure 6-24"))


def _plot_space(first, out_dir):
    """Every trial in the (lr, λ) plane, coloured by its score: where the fine stage searched."""
    import matplotlib.pyplot as plt

    from experiments.plotting import save

    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    # The colour scale spans what the trials reached (rounded up to a tenth), not 0–1: on 0–1
    # a search whose best trial reached 0.5 is all dark.
    scores = [first.final[f"{r[0]}.val_acc"] for r in first.extra["ranked"]]
    top = min(1.0, max(0.2, np.ceil(10 * max(scores)) / 10))
    for stage, marker in (("coarse", "o"), ("fine", "^")):
        rows = [r for r in first.extra["ranked"] if r[0].startswith(stage)]
        sc = ax.scatter([r[1] for r in rows], [r[2] for r in rows], marker=marker,
                        c=[first.final[f"{r[0]}.val_acc"] for r in rows], cmap="viridis",
                        vmin=0, vmax=top, label=_(STAGES[stage]), edgecolors="k",
                        linewidths=0.3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(_("learning rate"))
    ax.set_ylabel(_("weight decay λ"))
    ax.legend()
    fig.colorbar(sc, label=_("final validation accuracy (chance 0.1; learns ≥ {learns:g})",
                             learns=LEARNS))
    ax.set_title(_("random search in log space: coarse stage, then the narrowed fine stage"))
    return save(fig, out_dir, "hyperparameter-search-space.png", source=_("book section 6.5"))


def _data(config, data_dir):
    described = mnist.for_experiment(config, data_dir).describe()
    n_val = int(described["n_train"] * config["validation"])
    return {**described, "n_train": described["n_train"] - n_val, "n_val": n_val,
            "source": described["source"] + f"; {n_val} of them held out for validation"}


EXPERIMENT = Experiment(
    name="hyperparameter-search",
    description=N_("Random search of the learning rate and weight decay in log space, then a "
                   "narrowed second stage (book figure 6-24)"),
    concept=concept,
    settings=Settings, profiles=PROFILES, compute=compute, plot=plot, data=_data,
    findings=findings)
