"""optimizer-paths: every optimizer walking down f(x, y) = x²/20 + y² from (−7, 2).

The book's figure 6-8: the bowl is 20 times steeper along y than along x, so plain SGD zigzags
across the valley while the adaptive and momentum rules find their way down it. The book gives
the learning rates of SGD (0.95), Momentum (0.1), AdaGrad (1.5) and Adam (0.3); Nesterov and
RMSprop, which the figure omits, get 0.1.

A second figure walks the rest of ``torch.optim`` down the same bowl (``npref.optim``'s rules
beyond chapter 6): Adamax, NAdam and RAdam at Adam's 0.3, ASGD at SGD's 0.95 (its parameter
walks SGD's path; the average it keeps is its state), Rprop at PyTorch's default 0.01 (its
steps ignore the gradient's size), Adafactor at 0.1 (a step relative to the parameter's
size), and Adadelta at 50: its first steps are about lr·√(eps/(1 − ρ)) ≈ 0.003·lr whatever
the gradient, so PyTorch's default lr of 1 barely leaves the start in 30 steps.
"""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass

import numpy as np

import npref.optim
from experiments import settings as S
from experiments.experiment import PER_OPERATION, Experiment
from experiments.i18n import N_, _
from experiments.results import Computed, split_key

#: The book's figure: chapter 6's rules but AdamW (on this bowl it is Adam).
OPTIMIZERS = tuple(n for n in npref.optim.CHAPTER_6 if n != "adamw")


class Bowl:
    """f(x, y) = x²/20 + y², minimum 0 at the origin."""

    @staticmethod
    def value(x, y):
        return x ** 2 / 20.0 + y ** 2

    @staticmethod
    def grad(x, y):
        return {"x": x / 10.0, "y": 2.0 * y}


@dataclass(frozen=True)
class BookSettings:
    """The book's figure 6-8: its start, its 30 steps and its learning rates."""
    start_x: float = S.setting(-7.0, S.finite, "x of the start")
    start_y: float = S.setting(2.0, S.finite, "y of the start")
    steps: int = S.setting(30, S.positive_int, "steps of each optimizer")
    convention: str = S.convention("book")
    dtype: str = S.dtype()
    lr_sgd: float = S.setting(0.95, S.positive, "SGD's learning rate")
    lr_momentum: float = S.setting(0.1, S.positive, "Momentum's learning rate")
    lr_nesterov: float = S.setting(0.1, S.positive, "Nesterov's learning rate")
    lr_adagrad: float = S.setting(1.5, S.positive, "AdaGrad's learning rate")
    lr_rmsprop: float = S.setting(0.1, S.positive, "RMSprop's learning rate")
    lr_adam: float = S.setting(0.3, S.positive, "Adam's learning rate")


#: The second figure: every rule beyond chapter 6 whose description gives a learning rate for
#: this bowl (``example_lr``), each with its ``lr_<name>`` setting — a rule added to npref.optim
#: joins the figure by its description.
MORE = tuple(n for n in npref.optim.NAMES if n not in npref.optim.CHAPTER_6
             and npref.optim.RULES[n].example_lr is not None)
#: What each of them is named by, for the figures, the findings and the settings' meanings.
_NAMES = {name: npref.optim.RULES[name].__name__ for name in MORE}
_LR_MEANING = N_("{name}'s learning rate")
Settings = make_dataclass(
    "Settings",
    [(f"lr_{name}", float,
      S.setting(npref.optim.RULES[name].example_lr, S.positive,
                S.named(_LR_MEANING, name=_NAMES[name])))
     for name in MORE],
    bases=(BookSettings,), frozen=True)
Settings.__doc__ = BookSettings.__doc__ + " Then one learning rate per rule of the second figure."
Settings.__module__ = __name__
#: The name each rule is shown by: its npref class's ("AdaGrad", "NAdam").
LABELS = {name: npref.optim.RULES[name].__name__ for name in OPTIMIZERS + MORE}


def compute(backend, config, seed, data_dir):
    series, final = {}, {}
    start = {"x": config["start_x"], "y": config["start_y"]}
    for name in OPTIMIZERS + MORE:
        hyper = npref.optim.with_convention(name, {"lr": config[f"lr_{name}"]},
                                            config["convention"])
        path = backend.descend(Bowl, start, name, hyper, config["steps"], config["dtype"])
        label = LABELS[name]
        series[f"{label}.x"] = path["x"].tolist()
        series[f"{label}.y"] = path["y"].tolist()
        final[f"{label}.f"] = float(Bowl.value(path["x"][-1], path["y"][-1]))
    return Computed(series, final, axes={k: "step" for k in series})


def start_value(config) -> float:
    return float(Bowl.value(config["start_x"], config["start_y"]))


def diverged(result, config) -> list[str]:
    """The optimizers whose path ends higher on the bowl than it started (or not finite)."""
    f0 = start_value(config)
    return [label for label in LABELS.values()
            if not np.isfinite(result.final[f"{label}.f"]) or result.final[f"{label}.f"] > f0]


def plot(results, config, out_dir):
    return [_grid(results, config, out_dir, OPTIMIZERS, (2, 3), "optimizer-paths.png",
                  source=_("book figure 6-8")),
            _grid(results, config, out_dir, MORE, (-(-len(MORE) // 4), 4),
                  "optimizer-paths-more.png", source=_more_source())]


def _beyond_pytorch() -> list:
    """The second figure's rules that PyTorch has no class for (torchref implements them)."""
    from experiments.panels import pytorch_has

    return [n for n in MORE if not pytorch_has(n)]


def _more_source() -> str:
    """What the second figure shows: the rest of torch.optim, and the rules PyTorch lacks."""
    own = [_NAMES[n] for n in _beyond_pytorch()]
    if not own:
        return _("the rest of torch.optim")
    return _("the rest of torch.optim, and {names}, torchref's own", names=", ".join(own))


def _grid(results, config, out_dir, names, shape, filename, source):
    import matplotlib.pyplot as plt

    from experiments.plotting import path, save

    xs, ys = np.meshgrid(np.arange(-10, 10, 0.05), np.arange(-5, 5, 0.05))
    zs = Bowl.value(xs, ys)
    first = next(iter(results.values()))
    gone = diverged(first, config)
    rows, cols = shape
    fig, axes = plt.subplots(rows, cols, figsize=(13, 8 if cols == 3 else 3.4 * rows),
                             sharex=True, sharey=True, squeeze=False)
    for ax, name in zip(axes.flat, names):
        label = LABELS[name]
        ax.contour(xs, ys, zs, levels=np.geomspace(0.05, 25, 12), colors="0.75", linewidths=0.8)
        ax.plot(0, 0, "+", color="black", markersize=10)
        for backend, result in results.items():
            ax.plot(result.series[f"{label}.x"], result.series[f"{label}.y"],
                    **path(backend))
        x_end, y_end = first.series[f"{label}.x"][-1], first.series[f"{label}.y"][-1]
        lr, distance = config[f"lr_{name}"], float(np.hypot(x_end, y_end))
        ax.set_title(_("{label} (lr={lr:g})\ndiverged, ends {distance:.2g} from the minimum",
                       label=label, lr=lr, distance=distance) if label in gone else
                     _("{label} (lr={lr:g})\nends {distance:.2g} from the minimum",
                       label=label, lr=lr, distance=distance),
                     color="#b00020" if label in gone else "black")
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_xticks(range(-10, 11, 5))
        if names == OPTIMIZERS and label not in gone:
            _last_steps(ax, results, label, xs, ys, zs)
    for ax in axes[:, 0]:
        ax.set_ylabel("y")
    for ax in axes[-1]:
        ax.set_xlabel("x")
    spare = axes.flat[len(names):]
    for ax in spare:
        ax.set_axis_off()
    if len(spare):                                   # the legend in a free panel
        spare[0].legend(*axes.flat[0].get_legend_handles_labels(), loc="center")
    elif names == OPTIMIZERS:
        axes.flat[cols].legend(loc="upper right")   # one entry per backend: its own path
    else:                                            # the first path keeps to the upper left
        axes.flat[0].legend(loc="lower right")
    fig.suptitle(_("f(x, y) = x²/20 + y² from ({x:g}, {y:g}), {steps} steps",
                   x=config["start_x"], y=config["start_y"], steps=config["steps"])
                 + (f", convention={config['convention']!r}" if names == OPTIMIZERS else ""))
    return save(fig, out_dir, filename, source=source)


def _last_steps(ax, results, label, xs, ys, zs, steps=10):
    """An inset, lower right, magnifying the last ``steps`` steps around the minimum (at the
    book's scale they are a dot): the same paths, a square window centred on (0, 0)."""
    from experiments.plotting import path

    first = next(iter(results.values()))
    tail = np.abs(np.r_[first.series[f"{label}.x"][-steps:], first.series[f"{label}.y"][-steps:]])
    half = max(1.3 * float(np.max(tail)), 0.05)
    inset = ax.inset_axes([0.6, 0.04, 0.38, 0.38])
    inset.contour(xs, ys, zs, levels=np.geomspace(1e-4, 25, 18), colors="0.8", linewidths=0.6)
    inset.plot(0, 0, "+", color="black", markersize=8)
    for backend, result in results.items():
        inset.plot(result.series[f"{label}.x"], result.series[f"{label}.y"], **path(backend))
    inset.set_xlim(-half, half)
    inset.set_ylim(-half / 2, half / 2)
    inset.set_xticks([])
    inset.set_yticks([])
    ax.indicate_inset_zoom(inset, edgecolor="0.4")


def findings(result, config):
    from experiments.findings.claims import finding
    from experiments.findings.wording import leads, ranking

    s, f = result.series, result.final
    adaptive = ("AdaGrad", "RMSprop", "Adam")
    flips = {label: int(np.sum(np.diff(np.sign(s[f"{label}.y"])) != 0))
             for label in ("SGD", *adaptive)}
    book = [LABELS[n] for n in OPTIMIZERS]
    # "Nearest the minimum" in the quantity the figure shows: the distance to (0, 0), not f.
    values = {label: float(np.hypot(s[f"{label}.x"][-1], s[f"{label}.y"][-1]))
              for label in book}
    gone = [label for label in diverged(result, config) if label in book]
    half = config["steps"] // 2
    where = (_("; {runs} diverged (f rose from {f0:.3g} at the start)",
               runs=_(" and ").join(gone), f0=start_value(config)) if gone else "")
    return [
        finding(_("SGD zigzags across the steep y direction; the adaptive rules do not"),
                _("sign changes of y in {steps} steps: {counts}", steps=config["steps"],
                  counts=", ".join(f"{k} {v}" for k, v in flips.items())) + where,
                {_("SGD's y changes sign in at least half the steps ({half})", half=half):
                     flips["SGD"] >= half,
                 _("AdaGrad, RMSprop and Adam change sign less often than SGD"):
                     all(flips[k] < flips["SGD"] for k in adaptive)},
                diverged=[k for k in gone if k == "SGD"]),
        finding(_("AdaGrad, scaling each coordinate by its squared gradients, ends nearest the "
                  "minimum"),
                _("distance to the minimum at the last step: {ranking}",
                  ranking=ranking(values, best_word=_("nearest"), diverged=gone)),
                {_("AdaGrad ends nearer than every other optimizer by more than 10%"):
                     "AdaGrad" not in gone and leads(values, "AdaGrad", diverged=gone)},
                diverged=[k for k in gone if k == "AdaGrad"]),
        *_more_findings(result, config),
    ]


def _first_step(series, label):
    """|Δx|, |Δy| of the first step, and |x₀|, |y₀|."""
    x, y = series[f"{label}.x"], series[f"{label}.y"]
    return abs(x[1] - x[0]), abs(y[1] - y[0]), abs(x[0]), abs(y[0])


def _more_findings(result, config):
    """The second figure's: what each of three rules does that the book's rules do not."""
    from experiments.findings.claims import finding

    s = result.series
    lr = {name: config[f"lr_{name}"] for name in MORE}
    close = lambda a, b: abs(a - b) <= 1e-4 * abs(b)          # noqa: E731
    dx, dy, x0, y0 = _first_step(s, "Rprop")
    sgd_dx, sgd_dy = _first_step(s, "SGD")[:2]
    ax, ay = _first_step(s, "Adafactor")[:2]
    asgd = int(np.sum(np.diff(np.sign(s["ASGD.y"])) != 0))
    sgd = int(np.sum(np.diff(np.sign(s["SGD.y"])) != 0))
    half = config["steps"] // 2
    counts = f"ASGD {asgd} (lr {lr['asgd']:g}), SGD {sgd} (lr {config['lr_sgd']:g})"
    return [
        finding(_("Rprop's steps ignore the gradient's size: its first step is its learning "
                  "rate along x and along y alike"),
                _("Rprop's first step: |Δx| = {dx:.4g}, |Δy| = {dy:.4g} at lr = {lr:g} (SGD's "
                  "first |Δy|/|Δx|: {ratio:.3g}, the gradient's ratio)", dx=dx, dy=dy,
                  lr=lr["rprop"], ratio=sgd_dy / sgd_dx),
                {_("Rprop's |Δx| is its lr (within 0.01%)"): close(dx, lr["rprop"]),
                 _("Rprop's |Δy| is its lr (within 0.01%)"): close(dy, lr["rprop"])}),
        finding(_("Adafactor's step is relative to the parameter's size: its first step moves "
                  "each coordinate by lr times its value"),
                _("Adafactor's first step: |Δx|/|x| = {rx:.4g}, |Δy|/|y| = {ry:.4g} at "
                  "lr = {lr:g}", rx=ax / x0, ry=ay / y0, lr=lr["adafactor"]),
                {_("|Δx|/|x| is Adafactor's lr (within 0.01%)"): close(ax / x0, lr["adafactor"]),
                 _("|Δy|/|y| is Adafactor's lr (within 0.01%)"): close(ay / y0, lr["adafactor"])}),
        finding(_("ASGD's parameter walks SGD's zigzag: its averaging is kept in its state, not "
                  "in its path"),
                _("sign changes of y in {steps} steps: {counts}", steps=config["steps"],
                  counts=counts),
                {_("ASGD's y changes sign in at least half the steps ({half})", half=half):
                     asgd >= half}),
    ]


def rules(config):
    from experiments import panels as R

    start = {"x": config["start_x"], "y": config["start_y"]}
    return [R.optimizer(name, npref.optim.with_convention(name, {"lr": config[f"lr_{name}"]},
                                                          config["convention"]),
                        descent=(Bowl, start))
            for name in OPTIMIZERS + MORE]


def data(config, data_dir):
    return {"name": "f(x, y) = x^2/20 + y^2", "source": N_("analytic function"), "n_train": 0,
            "n_test": 0}


def concept(config):
    factor = 1 - 2 * config["lr_sgd"]
    if -1 < factor < 0:
        along_y = _("at SGD's lr {lr:g} that factor is {factor:.3g}: y changes side at every "
                    "step and shrinks only slowly — the zigzag (past lr 1 the factor's size "
                    "exceeds 1 and the path would grow instead)", lr=config["lr_sgd"],
                    factor=factor)
    elif abs(factor) >= 1:
        along_y = _("at SGD's lr {lr:g} that factor is {factor:.3g}: its size exceeds 1, so the "
                    "path grows instead of shrinking", lr=config["lr_sgd"], factor=factor)
    else:
        along_y = _("at SGD's lr {lr:g} that factor is {factor:.3g}: y shrinks without changing "
                    "side", lr=config["lr_sgd"], factor=factor)
    return _(
        "Each optimizer minimizes f(x, y) = x²/20 + y², a bowl twenty times steeper in y than "
        "in x, for {steps} steps from ({start_x:g}, {start_y:g}). SGD (p ← p − lr·∇f) steps by "
        "the gradient alone; Momentum and Nesterov accumulate a velocity; AdaGrad, RMSprop and "
        "Adam divide each coordinate's step by the root of its squared gradients. Along y the "
        "gradient is 2y, so each SGD step multiplies y by 1 − 2·lr; {along_y}. The second "
        "figure walks the rest of torch.optim down the same bowl: Adamax, NAdam and RAdam, "
        "Adam's relatives, at Adam's lr (RAdam's step turns adaptive only once its variance "
        "estimate can be trusted, and then starts small); ASGD, SGD keeping a running average "
        "of its iterates aside; Rprop, a step size per coordinate, grown while the gradient "
        "keeps its sign and cut when it flips; Adafactor, Adam's second moment in factored "
        "form and a step relative to the parameter's size; Adadelta, whose first steps are "
        "about lr·√(eps/(1 − ρ)) ≈ 0.003·lr whatever the gradient, hence lr {lr_adadelta:g}. "
        "The NumPy side differentiates f by hand, the PyTorch side with autograd.",
        steps=config["steps"], start_x=config["start_x"], start_y=config["start_y"],
        along_y=along_y, lr_adadelta=config["lr_adadelta"]) + _beyond_torch(config)


def _beyond_torch(config) -> str:
    """The rules of the second figure that PyTorch has no class for, from their descriptions."""
    own = _beyond_pytorch()
    if not own:
        return ""
    return " " + _("It also walks rules PyTorch has no class for, which torchref implements: "
                   "{rules}.", rules="; ".join(
                       _("{formula} (lr {lr:g})",
                         formula=_(npref.optim.RULES[n].formula_for("torch")),
                         lr=config[f"lr_{n}"]) for n in own))


EXPERIMENT = Experiment(
    name="optimizer-paths",
    description=N_("Paths of SGD, Momentum, Nesterov, AdaGrad, RMSprop and Adam on x²/20 + y² "
                   "from (−7, 2) (book figure 6-8), and of the rest of torch.optim"),
    concept=concept,
    settings=Settings, compute=compute, plot=plot, data=data, tolerance=PER_OPERATION,
    findings=findings, rules=rules)
