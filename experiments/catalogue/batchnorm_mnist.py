"""batchnorm-mnist: with and without BatchNorm across 16 weight scales (book figure 6-19,
batch_norm_test.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments import settings as S
from experiments.backends.variants import Variant, run_variants
from experiments.data import mnist
from experiments.experiment import Experiment
from experiments.i18n import N_, _
from npref.training import Schedule


@dataclass(frozen=True)
class Settings:
    """The book's batch_norm_test.py."""
    n_train: int = S.setting(1000, S.count, "training images")
    n_test: int = S.setting(0, S.count, "test images")
    hidden: list = S.setting([100, 100, 100, 100, 100], S.layer_sizes, "hidden layer sizes")
    lr: float = S.setting(0.01, S.positive, "SGD's learning rate")
    batch_size: int = S.setting(100, S.positive_int, "images per iteration")
    epochs: int = S.setting(20, S.positive_int, "epochs of training")
    scales: int = S.setting(16, S.positive_int, "weight scales, logspace(0, -4, scales)")
    convention: str = S.convention("book")
    dtype: str = S.dtype()
    sampling: str = S.setting("replacement", S.choice("shuffle", "replacement"),
                              "how batches are drawn")


PROFILES = {"quick": Settings(scales=6, epochs=10, n_test=1000)}


def scales(config):
    """The book's weight scales: np.logspace(0, −4, 16)."""
    return np.logspace(0, -4, config["scales"])


def compute(backend, config, seed, data_dir):
    data = mnist.for_experiment(config, data_dir).data
    # A plain net at the largest scales can blow up (activations ×√n per layer, then an
    # overflowing softmax): a run whose loss passes 1e3 is stopped and drawn as diverged.
    schedule = Schedule(batch_size=config["batch_size"], epochs=config["epochs"],
                        sampling=config["sampling"], max_loss=1e3)
    variants = {}
    for i, std in enumerate(scales(config)):
        for bn in (True, False):
            arch = {"input_size": 784, "hidden_sizes": config["hidden"], "output_size": 10,
                    "activation": "relu", "weight_init": float(std), "use_batchnorm": bn,
                    "convention": config["convention"]}
            name = f"{'BatchNorm' if bn else 'plain'} w={std:.2e}"
            # Both nets of a scale start from the same weights (BatchNorm adds γ = 1, β = 0).
            variants[name] = Variant(arch, "sgd", {"lr": config["lr"]}, schedule,
                                     init_seed=seed + 1000 * i)
    return run_variants(backend, variants, data=data, config=config, seed=seed,
                        label="batchnorm-mnist")


def _name(bn: bool, std: float) -> str:
    return f"{'BatchNorm' if bn else 'plain'} w={std:.2e}"


def plot(results, config, out_dir):
    import matplotlib.pyplot as plt

    from experiments.plotting import legend, line, mark_point, save

    stds = scales(config)
    cols = 4
    rows = int(np.ceil(len(stds) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.3 * rows), sharex=True, sharey=True,
                             squeeze=False)
    colors = {True: "#d62728", False: "#1f77b4"}
    for ax, std in zip(axes.flat, stds):
        notes = []
        for bn in (True, False):
            name = _name(bn, std)
            for backend, result in results.items():
                acc = result.series.get(f"{name}.train_acc", [])
                ax.plot(np.arange(1, len(acc) + 1), acc, **line(backend, color=colors[bn]))
            first = next(iter(results.values()))
            exploded = first.final.get(f"{name}.exploded_at")
            if exploded is not None:
                notes.append(_("BatchNorm: diverged") if bn else _("plain: diverged"))
                acc = first.series.get(f"{name}.train_acc", [])
                if len(acc) == 1:
                    mark_point(ax, 1, acc[0], f"{acc[0]:.2f}", color=colors[bn])
        ax.set_title(_("W std {std:.3g}", std=std) + (f" — {', '.join(notes)}" if notes else ""),
                     color="#b00020" if notes else "black")
        ax.set_ylim(0, 1)
    for ax in axes.flat[len(stds):]:
        ax.axis("off")
    legend(axes[0, 0], [(_("BatchNorm"), colors[True]), (_("without"), colors[False])], results,
           loc="upper left")
    fig.supxlabel(_("epoch"))
    fig.supylabel(_("training accuracy"))
    fig.suptitle(_("MNIST ({n_train} images), 784-[100×{layers}]-10 ReLU, SGD lr {lr}: with and "
                   "without BatchNorm", n_train=config['n_train'], layers=len(config['hidden']),
                   lr=config['lr']))
    return [save(fig, out_dir, "batchnorm-mnist.png", source=_("book figure 6-19"))]


#: "Does not learn": at chance among 10 classes (≤ 15%); "learns": three times chance or more.
AT_CHANCE, LEARNS = 0.15, 0.3


def findings(result, config):
    from experiments.findings.claims import finding, pct

    f = result.final
    stds = list(scales(config))
    acc = {(bn, std): f.get(f"{_name(bn, std)}.train_acc", 0.0) for std in stds for bn in (True, False)}
    gone = {(bn, std) for std in stds for bn in (True, False)
            if f"{_name(bn, std)}.exploded_at" in f}
    # The small scales: from the smallest scale up, as long as the plain net sits at chance.
    small = []
    for std in sorted(stds):
        if (False, std) in gone or acc[False, std] > AT_CHANCE:
            break
        small.append(std)
    finished = [std for std in stds if (True, std) not in gone and (False, std) not in gone]
    # "Faster" is judged where the plain net learns too: where it sits at chance the claim is
    # the first one (it does not learn at all), not a race.
    fair = [std for std in finished if acc[False, std] >= LEARNS]
    wins = [std for std in fair if acc[True, std] > acc[False, std]]
    race = "; ".join(_("W std {std:.3g}: BatchNorm {bn}, plain {plain}", std=std,
                       bn=pct(acc[True, std]), plain=pct(acc[False, std]))
                     for std in sorted(fair, reverse=True))
    diverged_text = _("; diverged (not counted): {runs}", runs=", ".join(
        _("BatchNorm at W std {std:.3g}", std=std) if bn else
        _("plain at W std {std:.3g}", std=std) for bn, std in sorted(gone)
    )) if gone else ""
    scope = (_("W std {top:.3g} and below ({count} of {total} scales): plain at chance "
               "(≤ {chance:.0%}), BatchNorm {accuracies}", top=max(small), count=len(small),
               total=len(stds), chance=AT_CHANCE,
               accuracies=", ".join(pct(acc[True, s]) for s in sorted(small, reverse=True)))
             if small else _("the plain net is not at chance at the smallest scale, "
                             "W std {std:.3g}", std=min(stds)))
    return [
        finding(_("at small weight scales the plain network does not learn at all, while "
                  "BatchNorm does"),
                scope + _(" (learning: ≥ {learns:.0%}, three times chance)", learns=LEARNS)
                + diverged_text,
                {_("the plain net is at chance at the smallest scales"): bool(small),
                 _("BatchNorm reaches {learns:.0%} or more at every one of them", learns=LEARNS):
                     bool(small) and all(acc[True, s] >= LEARNS and (True, s) not in gone
                                         for s in small)},
                why=None if small or min(stds) < 0.01 else
                _("the run's smallest weight scale, {std:.3g}, does not reach the small "
                  "scales the claim is about", std=min(stds))),
        finding(_("BatchNorm learns faster at nearly every scale"),
                (_("where the plain net learns too (≥ {learns:.0%}), BatchNorm's final training "
                   "accuracy is higher at {wins} of {fair} scales — {race}", learns=LEARNS,
                   wins=len(wins), fair=len(fair), race=race)
                 if fair else _("the plain net learns (≥ {learns:.0%}) at none of the "
                                "{finished} scales both ran to the end", learns=LEARNS,
                                finished=len(finished)))
                + diverged_text,
                {_("BatchNorm is ahead at two thirds or more of the scales where the plain net "
                   "learns too"): bool(fair) and len(wins) >= 2 * len(fair) / 3,
                 _("BatchNorm never diverged"): not any(bn for bn, _std in gone)},
                why=None if fair else _("no scale where both nets learn: a race needs two "
                                        "runners (the scales where the plain net sits at chance "
                                        "are the first finding's)")),
        _scale_in_the_step(result, stds, acc, gone),
    ]


def _scale_in_the_step(result, stds, acc, gone):
    """Why BatchNorm's own accuracy varies with the scale: it takes the weights' scale out of
    the forward pass, not out of the step. A weight's gradient grows as 1/scale, so lr·gradient
    relative to the weight grows as 1/scale²: at the largest scale the steps are tiny beside the
    weights and learning is slow; at the smallest the steps are so large that the weights inflate
    (each step adds its square to ‖W‖²) before learning settles. Measured by how far each hidden
    layer's weights grew: ‖W‖ at the end over ‖W‖ at the start (the drawn std times √(size))."""
    from experiments.findings.claims import finding, pct

    arrays = result.arrays or {}
    growth = {}
    for std in stds:
        weights = arrays.get(_name(True, std))
        if weights is None or (True, std) in gone:
            continue
        hidden = [k for k in weights if k.startswith("W")][1:-1]   # those BatchNorm follows
        growth[std] = float(np.median([np.linalg.norm(weights[k])
                                       / (std * np.sqrt(weights[k].size)) for k in hidden]))
    said = "; ".join(_("W std {std:.3g}: ×{growth:.3g}, {acc}", std=std, growth=growth[std],
                       acc=pct(acc[True, std])) for std in sorted(growth, reverse=True))
    large, small = (max(growth), min(growth)) if growth else (None, None)
    return finding(
        _("BatchNorm takes the weights' scale out of the forward pass, not out of the step: at "
          "the largest scale its steps are tiny beside the weights and it learns slowly; at the "
          "smallest they are so large that the weights first inflate many times over; in "
          "between it learns best"),
        (_("growth of BatchNorm's hidden weights over the run (median over its layers), and "
           "its final training accuracy: {said}", said=said) if growth else
         _("the final weights were not kept in this result")),
        {_("at the largest scale the weights move by less than 5% of their size"):
             large is not None and abs(growth[large] - 1) < 0.05,
         _("at the smallest scale they grow more than twofold"):
             small is not None and growth[small] > 2,
         _("a scale in between learns better than both ends"):
             large is not None and any(acc[True, s] > max(acc[True, large], acc[True, small])
                                       for s in growth if s not in (large, small))})


def rules(config):
    from experiments import panels as R

    book = config["convention"] == "book"
    return [R.layer("batchnorm", {"use_batchnorm": True, "convention": config["convention"],
                                  "activation": "relu", "weight_init": 0.01},
                    formula_text=_("BatchNorm (training): μ = mean(x), σ² = mean((x − μ)²); "
                                   "x̂ = (x − μ)/√(σ² + eps);  y = γ·x̂ + β"),
                    book=_("the book's running averages use momentum 0.9 on the old value and "
                           "the biased batch variance; PyTorch's use 0.1 on the new value and "
                           "the unbiased one (see the conventions page)") if book else None)]


def concept(config):
    hidden = config["hidden"]
    return _(
        "A 784-[{width}×{layers}]-10 ReLU net trained by SGD (lr {lr:g}) on {n_train:,} images "
        "for {epochs} epochs, from weights of std logspace(0, −4, {scales}), once plain and once "
        "with BatchNorm (x̂ = (x − μ)/√(σ² + eps), then γ·x̂ + β) before each ReLU. BatchNorm "
        "rescales every layer's input whatever the weights' scale; without it, small weights "
        "shrink the signal layer by layer, and at large ones it grows until the loss overflows "
        "(a run whose loss passes 1000 is stopped and marked diverged).",
        width=hidden[0], layers=len(hidden), lr=config['lr'], n_train=config['n_train'],
        epochs=config['epochs'], scales=config['scales'])


EXPERIMENT = Experiment(
    name="batchnorm-mnist",
    description=N_("With vs without BatchNorm across weight scales from 1 to 1e-4 (book figure "
                   "6-19)"),
    concept=concept,
    settings=Settings, profiles=PROFILES, compute=compute, plot=plot,
    data=lambda config, data_dir: mnist.for_experiment(config, data_dir).describe(),
    findings=findings, rules=rules)
