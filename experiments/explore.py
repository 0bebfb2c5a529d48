"""Explorable lessons: sliders over one or two settings of an experiment, each position computed
on NumPy and on PyTorch when the result set is written, stored in its ``metrics.json``
(``"explore"``) and redrawn by the page from there (docs/explore.md).

A lesson either runs the experiment once per setting the sliders reach (the run's own
``--set`` items, then the sliders' values; each run is the experiment's own — both backends,
its parity verdict and its findings), or picks among the variants its run already computed
(``own``: BatchNorm's weight scales, the histograms' initial weights). Each
position stores the lines the page draws (NumPy's and PyTorch's, six significant digits: for
drawing), the parity of that position (computed at full precision) and the findings' verdicts in
every language.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from experiments import i18n
from experiments.i18n import N_

__all__ = ["LESSONS", "Lesson", "Slider", "compute", "lessons_for", "positions"]


@dataclass(frozen=True)
class Slider:
    """One slider: the setting it moves (``key``), its label (a message of the catalogue) and
    the values it reaches, in order; ``shown`` words each value (``{value}`` formatted)."""

    key: str
    label: str
    values: tuple
    shown: str = "{value:g}"


@dataclass(frozen=True)
class Lesson:
    """An explorable of ``experiment``'s page. ``lines(series, extra, values, config)`` gives
    the lines to draw from one backend's results at one position: ``[(label, x or None, y)]``
    (a label a message of the catalogue, its fields filled from the position; x None: the
    index, from 1). ``title`` and ``try_this`` may quote the run's settings (``{start_y:g}``).
    ``findings``: which of the experiment's findings the position shows (indices; None: all)."""

    experiment: str
    name: str
    title: str
    try_this: str
    sliders: tuple
    lines: Callable
    x_label: str
    y_label: str
    log_y: bool = False
    view: tuple | None = None          # (x0, x1, y0, y1): fixed axes (the book's frame)
    own: bool = False
    findings: tuple | None = None
    steps: bool = False                # histogram counts: drawn as steps


# -- the lessons ------------------------------------------------------------------------------

def _paths(series, extra, values, config):
    return [(name, series[f"{name}.x"], series[f"{name}.y"]) for name in ("SGD", "Momentum")]


def _rates(series, extra, values, config):
    from experiments.catalogue.breast_cancer.learning_rate import rates

    # named as the experiment's page and figure name them (its message "lr {lr:g}")
    return [((N_("lr {lr:g}"), None, {"lr": r}), None, series[f"lr {r:g}.loss"])
            for r in rates(config)]


def _dropout(series, extra, values, config):
    from experiments.catalogue.breast_cancer.dropout import labels

    none, drop = labels(config)              # the experiment's variants and their messages
    return [((N_("no dropout"), None, {}), None, series[f"{none}.loss"]),
            ((N_("dropout {p:g}"), None, {"p": config["dropout"]}), None,
             series[f"{drop}.loss"])]


def _decay(series, extra, values, config):
    out = []
    for variant, lam in (("λ=0", 0), (f"λ={config['weight_decay']:g}", config["weight_decay"])):
        for what, label in (("train_acc", N_("λ = {lam:g}: training accuracy")),
                            ("test_acc", N_("λ = {lam:g}: test accuracy"))):
            out.append(((label, None, {"lam": lam}), None, series[f"{variant}.{what}"]))
    return out


def _stopping(series, extra, values, config):
    # the run that goes on first: the early-stopping curve, the same until it stops, on top
    return [((N_("{what}: validation loss"), N_("GD, no early stopping"), {}), None,
             series["GD, no early stopping.val_loss"]),
            ((N_("{what}: validation loss"), N_("GD + early stopping"), {}), None,
             series["GD + early stopping.val_loss"])]


def _batchnorm(series, extra, values, config):
    from experiments.catalogue.batchnorm_mnist import scales

    scale = float(scales(config)[values["scale"]])
    out = []
    for variant, label, gone in (
            ("BatchNorm", N_("with BatchNorm"), N_("with BatchNorm: diverged before its first "
                                                   "epoch, nothing to draw")),
            ("plain", N_("without BatchNorm"), N_("without BatchNorm: diverged before its first "
                                                  "epoch, nothing to draw"))):
        key = f"{variant} w={scale:.2e}.train_acc"
        out.append((label, None, series[key]) if key in series else (gone, None, []))
    return out


def _histograms(series, extra, values, config):
    from experiments.catalogue.init_histograms import RANGES

    activation = values["activation"]
    counts = extra[f"{values['init']}/{activation}"]
    lo, hi = RANGES[activation]
    edges = np.linspace(lo, hi, config["bins"] + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    return [((N_("layer {layer}"), None, {"layer": layer + 1}), centres, np.asarray(c))
            for layer, c in enumerate(counts)]


LESSONS = (
    Lesson("optimizer-paths", "sgd-momentum",
           N_("SGD and Momentum on the bowl, at the learning rates you choose"),
           N_("Raise SGD's learning rate past 1.0 and watch it diverge: along y each step "
              "multiplies the distance to the valley floor by 1 − 2·lr. Below 0.5 SGD creeps "
              "down without crossing the floor; at 0.5 its first step lands on y = 0; between "
              "0.5 and 1.0 it zigzags (the claim's ✓); at 1.0 it bounces between y = ±{start_y:g} "
              "for ever; past 1.0 every swing is wider than the last and the path leaves the "
              "frame. Move Momentum's rate too: its path changes, SGD's does not — each "
              "optimizer runs on its own."),
           (Slider("lr_sgd", N_("SGD's learning rate"),
                   (0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0, 1.02, 1.05)),
            Slider("lr_momentum", N_("Momentum's learning rate"), (0.02, 0.05, 0.1, 0.2, 0.4))),
           _paths, "x", "y", view=(-10.0, 10.0, -5.0, 5.0), findings=(0,)),
    Lesson("breast-cancer-learning-rate", "rate",
           N_("Three learning rates, a tenth apart, from the one you choose"),
           N_("Move the largest rate from 0.1 up to 10: each position trains the same network "
              "from the same start at lr, lr/10 and lr/100. Even lr = 10 does not diverge on "
              "this problem, and the largest rate always ends at the lowest training loss; "
              "compare the test accuracies in the first claim: at 10 the lowest loss is not the "
              "best test accuracy."),
           (Slider("lr", N_("the largest learning rate, lr"), (0.1, 0.3, 1.0, 3.0, 10.0)),),
           _rates, N_("epoch"), N_("training loss"), log_y=True),
    Lesson("breast-cancer-dropout", "rate",
           N_("Dropout's rate p against no dropout"),
           N_("Raise p from 0.1 to 0.9: the more units are dropped, the higher the training "
              "loss ends, while the test accuracy stays about the same — this small problem "
              "barely overfits, so dropout has little to cure (the second claim)."),
           (Slider("dropout", N_("the drop probability p"), (0.1, 0.3, 0.5, 0.7, 0.9)),),
           _dropout, N_("epoch"), N_("training loss"), log_y=True),
    Lesson("overfit-weight-decay", "lambda",
           N_("Weight decay's λ against none, on {n_train:,} images"),
           N_("Raise λ from 0.01 to 0.3: at 0.01 and 0.03 the network still learns the "
              "{n_train:,} training images by heart (training accuracy 100 % or nearly) and the test curve "
              "barely moves; at 0.1 the gap between the training and test curves narrows, but "
              "the test accuracy does not rise; at 0.3 the penalty wins and both fall to chance "
              "(10 %) — no gap, and nothing learned. The second claim stays ✗ at every λ here."),
           (Slider("weight_decay", N_("λ of the L2 penalty"), (0.01, 0.03, 0.1, 0.3)),),
           _decay, N_("epoch"), N_("accuracy")),
    Lesson("breast-cancer-early-stopping", "patience",
           N_("Early stopping's patience"),
           N_("Shorten the patience to 1 and lengthen it to 100: training stops that many "
              "epochs after the lowest validation loss so far. The best epoch is the same at "
              "every patience, so the restored weights — and the second claim's ✗ — do not "
              "change: on this data, training to the end tests better."),
           (Slider("patience", N_("patience (epochs)"), (1, 3, 10, 30, 100), "{value}"),),
           _stopping, N_("epoch"), N_("validation loss"), log_y=True),
    Lesson("batchnorm-mnist", "scale",
           N_("BatchNorm on and off, at each initial weight scale"),
           N_("Slide the weight scale from 1 down to 0.0001: without BatchNorm the network "
              "diverges at the largest scale and stays at chance (10 %) once the scale is "
              "small; with BatchNorm it learns at every scale, fastest in between — the third "
              "claim says why."),
           (Slider("scale", N_("initial weight scale (std)"), (), "{value:.3g}"),),
           _batchnorm, N_("epoch"), N_("training accuracy"), own=True),
    Lesson("init-histograms", "histograms",
           N_("Each layer's activations, for the initial weights you choose"),
           N_("Pick std 1 with the sigmoid: the activations crowd at 0 and 1. Pick std 0.01: "
              "they crowd at 0.5 and, with ReLU, collapse towards 0 layer after layer. Xavier "
              "keeps the sigmoid's spread; He keeps ReLU's."),
           (Slider("init", N_("initial weights"), ("std=1", "std=0.01", "Xavier (book)", "He"),
                   "{value}"),
            Slider("activation", N_("activation"), ("sigmoid", "tanh", "relu"), "{value}")),
           _histograms, N_("activation value"), N_("activations per bin"), own=True,
           steps=True),
)


def lessons_for(name: str) -> list:
    return [lesson for lesson in LESSONS if lesson.experiment == name]


def enabled() -> bool:
    """Whether runs compute the explorables: yes, unless ``NPREF_EXPLORE=0`` (runs without
    them: the tests' default, ``tests/conftest.py``, as ``NPREF_FIGURE_LANGUAGES=en`` is)."""
    import os

    from experiments.settings import ConfigError

    value = os.environ.get("NPREF_EXPLORE", "1").strip().lower()
    if value not in ("0", "1", "off", "on"):
        raise ConfigError(f"NPREF_EXPLORE: {value!r} is not one of 0, 1, off, on")
    return value in ("1", "on")


def _values(lesson: Lesson, config: dict) -> list:
    """Each slider's values (BatchNorm's scales: as many as the run's ``scales``)."""
    return [list(range(config["scales"])) if s.key == "scale" else list(s.values)
            for s in lesson.sliders]


# -- computing ----------------------------------------------------------------------------------

def compute(experiment, config: dict, sets: tuple, combined: dict, run_parity: dict,
            run_findings: dict, run, log=None) -> dict | None:
    """The explorables of ``experiment``'s page, for ``metrics.json``'s ``"explore"``; None
    where it has none or only one backend ran. ``sets``: the run's own ``--set`` items;
    ``combined``: its results per backend (for lessons over its variants); ``run_findings``:
    its findings per language; ``run(sets)``: the experiment run at ``sets`` on both backends,
    its :class:`~experiments.runner.Outcome` (the runner's, which imports this module)."""
    lessons = lessons_for(experiment.name)
    if not lessons or set(combined) != {"numpy", "torch"}:
        return None
    out = []
    for lesson in lessons:
        values = _values(lesson, config)
        if lesson.own:
            points = [_own_point(lesson, _at(lesson, at), combined, config, run_parity,
                                 run_findings) for at in itertools.product(*values)]
        else:
            seconds = []

            def timed(sets):
                outcome = run(sets)
                seconds.append(sum(outcome.timings.values()))
                return outcome
            points = [_run_point(lesson, experiment, config, sets, timed, _at(lesson, at))
                      for at in itertools.product(*values)]
        out.append({"name": lesson.name, "values": values, "points": points})
        if log is not None:
            log(f"{experiment.name}: explorable {lesson.name!r}: {len(points)} settings "
                + ("drawn from the run" if lesson.own else
                   f"computed on both backends ({sum(seconds):.1f} s of runs)"))
    return {"lessons": out}


def positions(name: str, config: dict, sets: tuple) -> list[tuple]:
    """The ``--set`` items of every run the explorables of ``name``'s page need (the run's own
    items, then the sliders' values), in the order :func:`compute` asks for them: the runs a
    runner hands its executor beside the seeds' (:func:`experiments.runner.run`), rather than
    one after the other once they are done."""
    return [_position_sets(sets, _at(lesson, at)) for lesson in lessons_for(name)
            if not lesson.own for at in itertools.product(*_values(lesson, config))]


def _at(lesson: Lesson, values: tuple) -> dict:
    """A position of ``lesson``: its sliders' keys and ``values``."""
    return dict(zip([s.key for s in lesson.sliders], values))


def _position_sets(sets: tuple, at: dict) -> tuple:
    return tuple(sets) + tuple(f"{k}={v}" for k, v in at.items())


def _run_point(lesson: Lesson, experiment, config: dict, sets: tuple, run, at: dict) -> dict:
    """One position of a lesson that runs the experiment: a run of its own, both backends."""
    sets = _position_sets(sets, at)
    config = {**config, **at}                       # the run's settings, the sliders' over them
    try:
        outcome = run(sets)
    except FloatingPointError as error:             # training diverged: said, not drawn
        return {"stopped": str(error)}
    words = {"en": outcome.findings, **outcome.translated}
    return {"lines": {b: _lines(lesson, c.series, c.extra, at, config)
                      for b, c in outcome.results.items()},
            "parity": _parity(outcome.parity),
            "findings": {lang: _findings(lesson, fs) for lang, fs in words.items()}}


def _own_point(lesson, at, combined, config, run_parity, run_findings) -> dict:
    """One position of a lesson over the run's own variants: its lines, and the parity of the
    values drawn (``npref.testing.compare``, each line against its largest magnitude), beside
    the run's own claims."""
    from npref.testing import compare

    lines = {b: _lines(lesson, c.series, c.extra, at, config) for b, c in combined.items()}
    drawn = {b: {str(i): np.asarray(line["raw"], dtype=float) for i, line in enumerate(lines[b])}
             for b in lines}
    judged = compare(drawn["numpy"], drawn["torch"], tol=run_parity["tolerance"], floor="norm",
                     check_dtype=False, names=("numpy", "torch"))
    parity = {"max_rel_diff": judged.max_rel_diff, "tolerance": judged.tolerance,
              "passed": judged.passed}
    return {"lines": lines, "parity": parity,
            "findings": {lang: _findings(lesson, fs) for lang, fs in run_findings.items()}}


def _lines(lesson, series, extra, at, config) -> list:
    out = []
    for label, x, y in lesson.lines(series, extra, at, config):
        y = np.asarray(y, dtype=float)
        out.append({"label": _label(label), "x": None if x is None else _round(x),
                    "y": _round(y), "raw": y.tolist()})
    return out


def _label(label) -> dict:
    """A line's label as stored: a message of the catalogue (or a name, kept as it is), the
    part it names and its fields — worded in the page's language when it is drawn."""
    message, part, fields = label if isinstance(label, tuple) else (label, None, {})
    return {"message": message, "part": part, "fields": dict(fields)}


def _round(values) -> list:
    """Six significant digits, for drawing; a non-finite value as None (JSON has none)."""
    return [float(f"{v:.6g}") if math.isfinite(v) else None
            for v in np.asarray(values, dtype=float).tolist()]


def _parity(p: dict) -> dict:
    return {"max_rel_diff": p.get("max_rel_diff"), "tolerance": p.get("tolerance"),
            "passed": p.get("passed")}


def _findings(lesson, findings) -> list:
    chosen = findings if lesson.findings is None else [findings[i] for i in lesson.findings
                                                       if i < len(findings)]
    return [{"claim": f.claim, "measured": f.measured, "reproduced": dict(f.reproduced)}
            for f in chosen]


def strip_raw(explore: dict | None) -> dict | None:
    """``explore`` as stored: the full-precision values (kept for the parity of a lesson over
    the run's own variants) dropped from the lines."""
    if explore is None:
        return None
    for lesson in explore["lessons"]:
        for point in lesson["points"]:
            for lines in point.get("lines", {}).values():
                for line in lines:
                    line.pop("raw", None)
    return explore


def message(label: dict) -> str:
    """A stored line label in the current language."""
    fields = dict(label["fields"])
    if label["part"]:
        fields["what"] = i18n._(label["part"])
    return i18n._(label["message"], **fields)
