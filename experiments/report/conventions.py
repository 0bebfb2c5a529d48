"""Measuring where the textbook's conventions and PyTorch's differ (docs/conventions.md).

Every difference is measured twice: on a standard task — the lecture's breast-cancer network
(30-10-1, sigmoid) trained from one start on one sequence of minibatches of 32, once in each
convention — and in isolation, where a figure shows when it matters. npref alone computes these
numbers: the parity suite proves torchref equal to it in both conventions.

``conventions.json`` keeps the numbers only: each section's key and name (its identity: the key of
its figure), never its words. The page's words — the rule, when it matters, the task — are made
from those numbers when the page is rendered (:func:`words`, :func:`task`), and :func:`plot`
draws the figures in the current language, so that one measurement serves every language.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

import npref.optim
from experiments.data import breast_cancer
from experiments.i18n import N_, _
from npref import training
from npref.layers import BatchNorm
from npref.nets import MultiLayerNet
from npref.testing import compare, layer_floors

EPOCHS = 100
BATCH = 32
SEED = 0
ARCH = {"input_size": 30, "hidden_sizes": [10], "output_size": 1, "activation": "sigmoid",
        "weight_init": "glorot_normal"}


def _train(arch, optimizer, hyper, convention, data, epochs=EPOCHS, lr_drop=None):
    net = MultiLayerNet(**arch, convention=convention, rng=np.random.default_rng(SEED))
    opt = npref.optim.make(optimizer, **hyper)
    if lr_drop is None:
        history = training.train(net, opt, data, training.Schedule(batch_size=BATCH, epochs=epochs),
                                 rng=np.random.default_rng(SEED + 1), progress=False)
    else:  # the learning rate halves after half the epochs
        first = training.Schedule(batch_size=BATCH, epochs=epochs // 2)
        history = training.train(net, opt, data, first, rng=np.random.default_rng(SEED + 1),
                                 progress=False)
        opt.lr *= lr_drop
        later = training.train(net, opt, data, replace(first, epochs=epochs - epochs // 2),
                               rng=np.random.default_rng(SEED + 2), progress=False)
        history.test_acc += later.test_acc
        history.epoch_loss += later.epoch_loss
    return net, history


def _pair(key, name, optimizer, hyper, arch=ARCH, conventions=("book", "torch"), **kw):
    data = breast_cancer.load().data
    runs = {}
    for convention in conventions:
        h = npref.optim.with_convention(optimizer, hyper, convention)
        runs[convention] = _train(arch, optimizer, h, convention, data, **kw)
    (book_net, book_h), (torch_net, torch_h) = runs["book"], runs["torch"]
    diff = compare(book_net.params, torch_net.params, tol=1.0,
                   floor=layer_floors(torch_net.params))
    return {"key": key, "name": name, "steps": len(book_h.loss),
            "max_rel_param_diff": diff.max_rel_diff,
            "loss": {"book": book_h.epoch_loss[-1], "torch": torch_h.epoch_loss[-1]},
            "test_acc": {"book": book_h.test_acc[-1], "torch": torch_h.test_acc[-1]},
            "curves": {"book": book_h.epoch_loss, "torch": torch_h.epoch_loss}}


def _step_ratio(rule, magnitudes):
    """The first step of a rule in each convention, for one gradient of each magnitude."""
    ratios = []
    for g in magnitudes:
        steps = {}
        for convention in ("book", "torch"):
            opt = npref.optim.make(rule, lr=1.0, convention=convention)
            p = {"p": np.zeros(1)}
            for _step in range(10):              # ten steps of the same gradient
                opt.update(p, {"p": np.array([g])})
            steps[convention] = -p["p"][0]
        ratios.append(steps["book"] / steps["torch"])
    return ratios


def measure() -> dict:
    """Every section of the conventions page: its numbers and curves (its words are made from
    them on the page: :func:`words`, :func:`task`)."""
    sections = [*_adaptive_sections(np.logspace(-12, 0, 49)), *_momentum_sections(),
                *_layer_sections(), _loss_section(), _bookkeeping_section()]
    return {"batch": BATCH, "epochs": EPOCHS, "sections": sections}


def _adaptive_sections(magnitudes) -> list:
    """Adam, AdaGrad, RMSprop: where eps sits and its default; the first steps' ratio over a
    sweep of gradient magnitudes."""
    sections = []
    adam = _pair("adam", "Adam", "adam", {"lr": 0.01})
    adam["sweep"] = {"magnitudes": magnitudes.tolist(), "ratio": _step_ratio("adam", magnitudes)}
    sections.append(adam)

    for rule in ("adagrad", "rmsprop"):
        label = {"adagrad": "AdaGrad", "rmsprop": "RMSprop"}[rule]
        s = _pair(rule, label, rule, {"lr": 0.01})
        s["sweep"] = {"magnitudes": magnitudes.tolist(),
                      "ratio": _step_ratio(rule, magnitudes)}
        sections.append(s)
    return sections


def _momentum_sections() -> list:
    """Momentum, Nesterov: velocity vs buffer, equal until the learning rate changes."""
    sections = []
    for rule, label in (("momentum", "Momentum"), ("nesterov", "Nesterov")):
        s = _pair(rule, label, rule, {"lr": 0.01})
        drop = _pair(rule, label + " (lr halved midway)", rule, {"lr": 0.01}, lr_drop=0.5)
        s["lr_drop"] = {k: drop[k] for k in ("max_rel_param_diff", "loss", "test_acc", "curves")}
        sections.append(s)
    return sections


def _layer_sections() -> list:
    """BatchNorm and dropout: the layers whose conventions differ."""
    bn_arch = {**ARCH, "use_batchnorm": True, "activation": "relu"}
    bn = _pair("batchnorm", "BatchNorm", "sgd", {"lr": 0.1}, arch=bn_arch)
    bn["running"] = _running_variance()

    drop_arch = {**ARCH, "dropout": 0.5}
    dr = _pair("dropout", "Dropout", "sgd", {"lr": 0.1}, arch=drop_arch)
    return [bn, dr]


def _loss_section() -> dict:
    """Softmax cross-entropy: the book's log(y + 1e-7) against the exact log-softmax."""
    s = _pair("softmax", "Softmax cross-entropy", "sgd", {"lr": 0.1},
              arch={**ARCH, "output_size": 2})
    p = np.logspace(-12, 0, 97)
    s["loss_sweep"] = {"p": p.tolist(), "book": (-np.log(p + 1e-7)).tolist(),
                       "torch": (-np.log(p)).tolist()}
    return s


def _bookkeeping_section() -> dict:
    """npref.training.train's History against the book's Trainer on the same batches."""
    data = breast_cancer.load().data
    runs = {}
    for kind in ("book", "torch"):
        net = MultiLayerNet(**ARCH, convention="book", rng=np.random.default_rng(SEED))
        rng = np.random.default_rng(SEED + 1)
        if kind == "book":
            trainer = training.Trainer(net, data.x_train, data.t_train, data.x_test,
                                       data.t_test, epochs=EPOCHS, mini_batch_size=BATCH,
                                       optimizer="sgd", optimizer_param={"lr": 0.1},
                                       verbose=False, rng=rng)
            trainer.train()
            k = trainer.iter_per_epoch
            evaluated = [i + 1 for i in range(trainer.max_iter) if i % k == 0]
            runs[kind] = (net, trainer.train_loss_list, evaluated, trainer.test_acc_list)
        else:
            schedule = training.Schedule(batch_size=BATCH, epochs=EPOCHS, sampling="replacement")
            history = training.train(net, npref.optim.make("sgd", lr=0.1), data, schedule,
                                     rng=rng, progress=False)
            runs[kind] = (net, history.loss, history.epoch_iterations, history.test_acc)
    (book_net, book_loss, book_at, book_acc), (torch_net, torch_loss, torch_at, torch_acc) = \
        runs["book"], runs["torch"]
    diff = compare(book_net.params, torch_net.params, tol=1.0,
                   floor=layer_floors(torch_net.params))
    n = len(data.t_train)
    return {
        "key": "bookkeeping", "name": "Training-loop bookkeeping", "n": n,
        "steps": len(book_loss),
        "max_rel_param_diff": diff.max_rel_diff,
        "loss": {"book": book_loss[-1], "torch": torch_loss[-1]},
        "test_acc": {"book": book_acc[-1], "torch": torch_acc[-1]},
        "curves": {"book": book_loss, "torch": torch_loss}, "x_label": "iteration",
        "evaluations": {"book": {"at": book_at, "test_acc": book_acc},
                        "torch": {"at": list(torch_at), "test_acc": torch_acc}},
    }


def _running_variance(true_var=4.0, steps=60):
    """running_var of one BatchNorm unit fed batches of N(0, 4), per convention and batch size."""
    out = {"true": true_var, "steps": steps}
    for n in (4, 32):
        rng = np.random.default_rng(SEED)
        batches = [rng.normal(0.0, math.sqrt(true_var), (n, 1)) for _ in range(steps)]
        for convention in ("book", "torch"):
            layer = BatchNorm(1, convention=convention)
            values = []
            for x in batches:
                layer.forward(x, train=True)
                values.append(float(layer.running_var[0]))
            out[f"{convention}, batch {n}"] = values
    return out


# -- the page's words, made from the numbers in the current language ---------------------------

#: The sections' names the page translates (the others are the rules' own names: Adam, AdaGrad…).
#: A section's name in conventions.json stays English: it is the key of its figure.
SECTION_NAMES = (N_("BatchNorm"), N_("Dropout"), N_("Softmax cross-entropy"),
                 N_("Training-loop bookkeeping"))
#: eps by default, PyTorch's and the book's, of the rules where only eps differs.
_EPS = {"adagrad": ("1e-10", "1e-7"), "rmsprop": ("1e-8", "1e-7")}
_MOMENTUM_RULE = ("torch: b ← μb + g, p ← p − lr·b",
                  N_("book: v ← μv − lr·g, p ← p + v (Nesterov: the same with the look-ahead)"))
_MOMENTUM_MATTERS = N_(
    "The same update — the book stores the velocity v = −lr·b — so with a constant learning "
    "rate the two agree to rounding. They part when the learning rate changes during training: "
    "PyTorch's buffer b holds gradients and takes the new rate at once, the book's v holds steps "
    "taken at the old rate and carries them on.")
#: Each section's rule, one line per convention (formulas without words stay as written).
_RULES = {
    "adam": ("torch: p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps), eps 1e-8",
             "book: p ← p − lr·√(1−β2ᵗ)/(1−β1ᵗ) · m / (√v + eps), eps 1e-7"),
    "momentum": _MOMENTUM_RULE,
    "nesterov": _MOMENTUM_RULE,
    "batchnorm": (N_("torch: momentum 0.1 = weight of the new batch, eps 1e-5, running_var from "
                     "1, unbiased σ²·N/(N−1)"),
                  N_("book: momentum 0.9 = weight of the old value, eps 1e-6, running_var from "
                     "0, biased σ²")),
    "dropout": (N_("torch (inverted): training x·mask/(1−p), evaluation x"),
                N_("book: training x·mask, evaluation x·(1−p)")),
    "softmax": (N_("torch: L = −Σ t·log_softmax(x)/N (exact)"),
                "book: L = −Σ t·log(y + 1e-7)/N, y = softmax(x)",
                N_("both: ∂L/∂x = (y − t)/N")),
    "bookkeeping": (N_("torch column — npref.training.train → History: the loss of the forward "
                       "pass each update used (before it, training mode); evaluation at each "
                       "epoch's end; epochs·⌈n/b⌉ iterations"),
                    N_("book column — npref.training.Trainer, the book's: the batch's loss "
                       "after the update (evaluation mode); evaluation when (iteration − 1) % "
                       "(n/b) == 0; int(epochs·n/b) iterations")),
}
#: When each section's difference matters (the sections whose text needs no numbers).
_MATTERS = {
    "adam": N_("The book adds eps to the raw √v, PyTorch to the bias-corrected one, and the "
               "defaults differ (1e-7 vs 1e-8). Once gradients are far above eps the two "
               "coincide; for gradients near 1e-7 or below — tiny losses, late training, rarely "
               "used features — the book's steps are smaller, by up to the factor √(1−β2ᵗ) "
               "early on."),
    "momentum": _MOMENTUM_MATTERS,
    "nesterov": _MOMENTUM_MATTERS,
    "batchnorm": N_("Training-mode outputs differ only through eps. The running statistics "
                    "differ in their start (a book net evaluated after a few steps divides by "
                    "√(var_r + eps) with var_r still near 0) and, for small batches, by the "
                    "factor N/(N−1) of the unbiased variance: with batches of 4 the book's "
                    "running variance is 25% smaller for good."),
    "dropout": N_("Both give an evaluation output equal to the expected training output. They "
                  "train differently, though: the book's training activations are (1−p) times "
                  "smaller, so the next layer's weights and their gradients scale by 1/(1−p). "
                  "Inverted dropout leaves evaluation untouched, which is why frameworks use "
                  "it."),
    "softmax": N_("The gradient is the same, so training is the same: only the reported loss "
                  "differs, by about 1e-7/y per sample. It shows at the extremes: a confident "
                  "right answer (y → 1) gives the book −log(1 + 1e-7) ≈ −1e-7, a loss below "
                  "zero; a confident wrong one (y → 0) caps at −log(1e-7) ≈ 16.1 per sample in "
                  "the book, while the exact loss keeps growing with the score gap (1000 for a "
                  "gap of 1000). A student comparing loss curves near 0 or in a diverging run "
                  "sees the difference; accuracy and weights do not."),
}


def task(measured: dict) -> str:
    """The standard task, in words."""
    return _("breast cancer, 30-10-1 sigmoid net (ReLU with BatchNorm), minibatches of {batch}, "
             "{epochs} epochs, one start and one batch order per comparison",
             batch=measured["batch"], epochs=measured["epochs"])


def words(s: dict, measured: dict) -> dict:
    """A section's words in the current language, made from its numbers: its name, its rule
    (one line per convention) and when the difference matters."""
    key = s["key"]
    if key in _EPS:
        torch_eps, book_eps = _EPS[key]
        rule = [_("p ← p − lr·g/(√h + eps) in both; eps {torch} vs {book} (torch vs book)",
                  torch=torch_eps, book=book_eps)]
        matters = _("Only eps differs ({torch} vs {book}). It matters only where √h, the root of "
                    "the accumulated squared gradients, is itself near eps: for gradients of "
                    "about 1e-7 and below the book takes visibly smaller steps.",
                    torch=torch_eps, book=book_eps)
    else:
        rule = [_(part) for part in _RULES[key]]
        matters = _bookkeeping_matters(s, measured) if key == "bookkeeping" else _(_MATTERS[key])
    return {"name": _(s["name"]), "rule": rule, "matters": matters}


def _bookkeeping_matters(s: dict, measured: dict) -> str:
    n, b, epochs = s["n"], measured["batch"], measured["epochs"]
    return _("Here n = {n}, b = {b}: n/b = {ratio:g}. Both loops draw the same batches and make "
             "the same updates — the Trainer stops after {trainer} iterations, History after "
             "{history}, hence the parameter difference above. History's loss is one update "
             "behind the Trainer's and in training mode (with dropout or BatchNorm the two modes "
             "differ even at the same weights). And since the book tests a float, the Trainer "
             "evaluates only at whole multiples of n/b: with n/b = {ratio:.2f} that is "
             "{trainer_evaluations} evaluations in {epochs} epochs, against History's "
             "{history_evaluations}. Only when b divides n do the two evaluation grids share "
             "their spacing (the Trainer's still starts after update 1).",
             n=n, b=b, ratio=n / b, trainer=int(epochs * n / b),
             history=epochs * math.ceil(n / b), epochs=epochs,
             trainer_evaluations=len(s["evaluations"]["book"]["at"]),
             history_evaluations=len(s["evaluations"]["torch"]["at"]))


#: The standard panel's x axis where a section names none (a section's own, "iteration", is
#: translated where it is shown).
_EPOCH = N_("epoch")
#: Two curves closer than this share of the panel's height look like one line.
COINCIDE = 0.01


def _standard_panel(ax, s: dict) -> None:
    """The standard task's loss in both conventions. Where the two curves coincide on the page
    (closer than :data:`COINCIDE` of the panel's height), torch is drawn dashed on top, the
    title says so with the largest difference, and an inset plots the difference itself."""
    import numpy as np

    book, torch_ = (np.asarray(s["curves"][c], dtype=float) for c in ("book", "torch"))
    span = float(np.ptp(np.concatenate([book, torch_]))) or 1.0
    comparable = book.shape == torch_.shape
    gap = float(np.max(np.abs(book - torch_))) if comparable else None
    same = comparable and gap <= COINCIDE * span
    for convention, color, style in (("book", "#1f77b4", "-"),
                                     ("torch", "#d62728", "--" if same else "-")):
        ax.plot(range(1, len(s["curves"][convention]) + 1), s["curves"][convention],
                color=color, linestyle=style, linewidth=2.4 if convention == "book" else 1.4,
                label=f'convention="{convention}"')
        if "lr_drop" in s:
            ax.plot(range(1, len(s["lr_drop"]["curves"][convention]) + 1),
                    s["lr_drop"]["curves"][convention], color=color, linestyle=":",
                    label=_('"{convention}", lr halved at epoch {epoch}',
                            convention=convention, epoch=EPOCHS // 2))
    ax.set_xlabel(_(s.get("x_label", _EPOCH)))
    ax.set_ylabel(_("training loss"))
    ax.set_title(_("{name}: the standard task in both conventions", name=_(s["name"]))
                 + ("\n" + _("(the curves coincide: largest difference {gap:.1e}, inset)",
                             gap=gap) if same else ""))
    ax.legend(loc="upper right")
    if same:
        inset = ax.inset_axes([0.42, 0.3, 0.55, 0.3])
        x = np.arange(1, len(book) + 1)
        inset.plot(x, book - torch_, color="#2ca02c", linewidth=1.2)
        inset.axhline(0.0, color="0.6", linewidth=0.8)
        inset.set_xlabel(_(s.get("x_label", _EPOCH)), fontsize=11)
        inset.set_ylabel("book − torch", fontsize=11)
        inset.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        inset.tick_params(labelsize=11)


def _sweep_panel(ax, s):
    ax.semilogx(s["sweep"]["magnitudes"], s["sweep"]["ratio"], color="#2ca02c")
    ax.axhline(1.0, color="0.6", linewidth=0.8)
    ax.set_xlabel(_("gradient magnitude |g| (ten equal steps)"))
    ax.set_ylabel(_("book step / torch step"))
    ax.set_title(_("when it matters: small gradients"))


def _running_panel(ax, s):
    r = s["running"]
    for convention, n, style in (("book", 4, "--"), ("torch", 4, "-"),
                                 ("book", 32, "--"), ("torch", 32, "-")):
        key = f"{convention}, batch {n}"
        ax.plot(range(1, r["steps"] + 1), r[key], linestyle=style,
                color="#1f77b4" if key.startswith("book") else "#d62728",
                alpha=1.0 if "32" in key else 0.5,
                label=_("{convention}, batch {n}", convention=convention, n=n))
    ax.axhline(r["true"], color="0.4", linewidth=0.8, linestyle=":", label=_("true σ²"))
    ax.set_xlabel(_("training step"))
    ax.set_ylabel("running_var")
    ax.set_title(_("running variance of one unit, batches of N(0, 4)"))
    ax.legend()


def _lr_drop_panel(ax, s):
    ax.bar([_("constant lr"), _("lr halved midway")],
           [max(s["max_rel_param_diff"], 1e-17), max(s["lr_drop"]["max_rel_param_diff"], 1e-17)],
           color="#9467bd")
    ax.set_yscale("log")
    ax.set_xlabel(_("learning-rate schedule"))
    ax.set_ylabel(_("max relative parameter difference, book vs torch"))
    ax.set_title(_("the same update until the learning rate changes"))


def _loss_sweep_panel(ax, s):
    sweep = s["loss_sweep"]
    ax.semilogx(sweep["p"], sweep["torch"], color="#d62728", label="torch: −log y")
    ax.semilogx(sweep["p"], sweep["book"], color="#1f77b4", linestyle="--",
                label="book: −log(y + 1e-7)")
    ax.set_xlabel(_("probability y of the right class"))
    ax.set_ylabel(_("loss of one sample"))
    ax.set_title(_("when it matters: y near 0 (cap at 16.1) or 1 (−1e-7)"))
    ax.legend()


def _evaluations_panel(ax, s):
    for convention, color, label in (("torch", "#d62728", N_("History (epoch ends)")),
                                     ("book", "#1f77b4", N_("Trainer (current_iter % k)"))):
        ev = s["evaluations"][convention]
        ax.plot(ev["at"], ev["test_acc"], "o-", color=color, markersize=3, label=_(label))
    ax.set_xlabel(_("iteration"))
    ax.set_ylabel(_("test accuracy"))
    ax.set_title(_("when each loop evaluates"))
    ax.legend()


#: A section's second panel, drawn when its measurement has the key: when the difference matters.
SECOND_PANELS = {"sweep": _sweep_panel, "running": _running_panel, "lr_drop": _lr_drop_panel,
                 "loss_sweep": _loss_sweep_panel, "evaluations": _evaluations_panel}


def plot(measured: dict, out_dir) -> dict:
    """One figure per section — the standard task, and where the section measured one, the
    panel that shows when the difference matters — in the current language (in another than
    English, ``NAME.<lang>.png``: draw it inside ``plotting.fonts()``); returns {section name:
    file name}."""
    import matplotlib.pyplot as plt

    from experiments.plotting import save

    files = {}
    for s in measured["sections"]:
        extra = [draw for key, draw in SECOND_PANELS.items() if key in s]
        fig, axes = plt.subplots(1, 1 + len(extra), figsize=(6.5 * (1 + len(extra)), 5),
                                 squeeze=False)
        _standard_panel(axes[0, 0], s)
        for ax, draw in zip(axes[0, 1:], extra):
            draw(ax, s)
        name = f"convention-{s['name'].split()[0].lower()}.png"
        files[s["name"]] = save(fig, out_dir, name)
    return files
