"""The breast-cancer lecture's experiments: a 30-10-1 sigmoid network on scikit-learn's data.

The lecture (seed 001) trains a two-layer network — 30 inputs, 10 sigmoid units, one sigmoid
output with binary cross-entropy — by full-batch gradient descent, and varies one thing at a time.
These experiments run the correct rules of npref and torchref on the lecture's split; the
lecture's own listings, as written, are reproduced apart, in
:mod:`experiments.catalogue.lecture_errata.listings`.

This package holds what they share — the network, the lecture's settings, the figure and
:func:`experiment`, which makes one from its variants; each experiment is a module of its
own named after it (``breast-cancer-init`` is :mod:`.init`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from experiments import settings as S
from experiments.backends.variants import Variant, run_variants
from experiments.data import breast_cancer
from experiments.experiment import Experiment
from experiments.i18n import N_, _
from npref.training import Schedule

#: The lecture's network.
ARCH = {"input_size": 30, "hidden_sizes": [10], "output_size": 1, "activation": "sigmoid"}

@dataclass(frozen=True)
class Lecture:
    """The lecture's settings: full-batch gradient descent at lr 1 for 1000 epochs, Glorot
    weights. Each experiment of the family adds its own fields in a subclass."""
    epochs: int = S.setting(1000, S.positive_int, "epochs of training")
    units: int = S.setting(10, S.positive_int, "hidden units")
    weight_init: str = S.setting("glorot_normal", S.weight_init, "initial weights")
    convention: str = S.convention("torch")
    dtype: str = S.dtype()
    lr: float = S.setting(1.0, S.positive, "the learning rate")
    evaluate_every: int = S.setting(1, S.positive_int, "epochs between evaluations")


def arch(config, **changes):
    return {**ARCH, "hidden_sizes": [config["units"]], "weight_init": config["weight_init"],
            "convention": config["convention"], **changes}


def describe(config, data_dir, validation=False):
    return breast_cancer.load(validation).describe()


def gd(config, **schedule):
    """Gradient descent at the configured rate: an (optimizer, hyper, schedule changes) spec."""
    return ("sgd", {"lr": config["lr"]}, schedule)


def variants(config, specs, validation=False):
    """{name: (arch changes, optimizer, hyper, schedule changes)} → Variants from one start."""
    data = breast_cancer.load(validation).data
    base = Schedule(batch_size=len(data.t_train), epochs=config["epochs"],
                    evaluate_every=config["evaluate_every"])
    out = {}
    for name, (changes, optimizer, hyper, schedule) in specs.items():
        out[name] = Variant(arch(config, **changes), optimizer, hyper, replace(base, **schedule))
    return out, data


def run(backend, config, seed, specs, label, validation=False):
    made, data = variants(config, specs, validation)
    for v in made.values():
        v.init_seed = seed
    return run_variants(backend, made, data=data, config=config, seed=seed, label=label)


#: Where the family's figures come from.
SOURCE = N_("the breast-cancer lecture")
#: The right panel's axis, by the series it shows.
AXIS_LABELS = {"test_acc": N_("test accuracy"), "val_loss": N_("val loss")}


def named(values: dict, shown: dict) -> dict:
    """``values`` keyed by each variant's shown name (``shown``: {name: shown name}; a name it
    lacks is shown as it is): for the numbers a finding lists."""
    return {shown.get(name, name): value for name, value in values.items()}


def plot(results, names, out_dir, filename, title, accuracy="test_acc", epoch_loss=True,
         extra_panel=None, marks=None, shown=None):
    """Training loss (left) and an accuracy or validation loss (right) per variant, each backend
    in its line; ``extra_panel(ax, result, name, look)`` draws a third panel; ``marks(axes,
    result)`` adds marks (early stopping's best and stopping epochs). One legend entry per
    variant (by its ``shown`` name, in the current language), one per backend."""
    import matplotlib.pyplot as plt

    from experiments.plotting import COLORS, legend, line, save

    panels = 2 + (extra_panel is not None)
    fig, axes = plt.subplots(1, panels, figsize=(min(6 * panels, 14), 4.8))
    for i, name in enumerate(names):
        for backend, result in results.items():
            look = line(backend, color=COLORS[i % len(COLORS)])
            loss = result.series[f"{name}.{'epoch_loss' if epoch_loss else 'loss'}"]
            axes[0].plot(range(1, len(loss) + 1), loss, **look)
            if f"{name}.{accuracy}" in result.series:
                axes[1].plot(_epochs_at(result.series, name),
                             result.series[f"{name}.{accuracy}"], **look)
            if extra_panel is not None:
                extra_panel(axes[2], result, name, look)
    if marks is not None:
        marks(axes, next(iter(results.values())))
    shown = shown or {}
    axes[0].set_xlabel(_("epoch"))
    axes[0].set_ylabel(_("training loss"))
    axes[0].set_ylim(0, 0.7)
    legend(axes[0], [(shown.get(n, n), COLORS[i % len(COLORS)]) for i, n in enumerate(names)],
           results)
    axes[1].set_xlabel(_("epoch"))
    axes[1].set_ylabel(_(AXIS_LABELS[accuracy]) if accuracy in AXIS_LABELS
                       else accuracy.replace("_acc", " accuracy").replace("_", " "))
    fig.suptitle(title)
    return [save(fig, out_dir, f"{filename}.png", source=_(SOURCE))]


def _epochs_at(series: dict, name: str) -> list[float]:
    """The epoch of each evaluation (it is recorded in iterations: with minibatches an epoch is
    several of them — ``loss`` has one entry per iteration, ``epoch_loss`` one per epoch)."""
    per_epoch = len(series[f"{name}.loss"]) / len(series[f"{name}.epoch_loss"])
    return [done / per_epoch for done in series[f"{name}.epoch_iterations"]]


def experiment(name, description, concept, specs, names, *, settings=Lecture, validation=False,
               extra=None, plot_kwargs=None, quick=None, findings=None, rules=None, shown=None):
    """Register one experiment of the family: ``settings`` its settings (:class:`Lecture` or a
    subclass), ``quick`` the quick profile's changes; ``specs(config)`` gives its variants (see
    :func:`variants`), ``names(config)`` the ones drawn, ``shown(config)`` their names as the
    figure shows them ({name: shown name}, in the current language; a name it lacks is shown as
    it is); ``extra(result, config)`` adds finals; ``findings(result, config)`` judges the
    lecture's claims (``concept``'s ``{key}`` fields are filled from the configuration);
    ``rules(config)`` the rules its page shows.

    ``description`` and ``concept`` are messages (marked with ``N_`` where they are written):
    the figure's title translates ``description``; the page's title is the message
    ``Breast cancer, 30-{units}-1 net: <description>``, which the catalogue holds whole."""

    def compute(backend, config, seed, data_dir):
        result = run(backend, config, seed, specs(config), name, validation)
        if extra is not None:
            extra(result, config)
        return result

    def draw(results, config, out_dir):
        return plot(results, names(config), out_dir, name,
                    _("breast cancer, 30-{units}-1 sigmoid: {description}",
                      units=config["units"], description=_(description)),
                    shown=None if shown is None else shown(config), **(plot_kwargs or {}))

    return Experiment(name=name, description=f"Breast cancer, 30-{{units}}-1 net: {description}",
                      concept=concept, settings=settings,
                      profiles={"quick": settings(**(quick or {}))}, compute=compute, plot=draw,
                      data=lambda config, data_dir: describe(config, data_dir, validation),
                      findings=findings, rules=rules)
