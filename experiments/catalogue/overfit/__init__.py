"""The overfitting setting of book figures 6-20…6-23, shared by :mod:`.weight_decay` and
:mod:`.dropout`: 300 MNIST images, a 7-layer net, one cure each, judged by the same gap."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import settings as S
from experiments.backends.variants import run_variants
from experiments.data import mnist
from experiments.i18n import N_, _
from npref.training import Schedule


@dataclass(frozen=True)
class Settings:
    """The book's overfit_weight_decay.py and overfit_dropout.py, shared."""
    n_train: int = S.setting(300, S.count, "training images")
    n_test: int = S.setting(0, S.count, "test images")
    hidden: list = S.setting([100] * 6, S.layer_sizes, "hidden layer sizes")
    lr: float = S.setting(0.01, S.positive, "SGD's learning rate")
    batch_size: int = S.setting(100, S.positive_int, "images per iteration")
    dtype: str = S.dtype()
    sampling: str = S.setting("replacement", S.choice("shuffle", "replacement"),
                              "how batches are drawn")
    convention: str = S.convention("book")


#: Quick: half the book's epochs; the plain net has learned its 300 images by then.
QUICK = {"n_test": 1000, "epochs": 151}


def arch(config, **changes):
    """The book's 784-[100×6]-10 ReLU net with He weights; ``changes`` add the cure."""
    return {"input_size": 784, "hidden_sizes": config["hidden"], "output_size": 10,
            "activation": "relu", "weight_init": "he", "convention": config["convention"],
            **changes}


def schedule(config):
    return Schedule(batch_size=config["batch_size"], epochs=config["epochs"],
                    sampling=config["sampling"])


def run(backend, config, seed, data_dir, variants, label):
    """Train the variants (without and with the cure) and judge the gap."""
    data = mnist.for_experiment(config, data_dir).data
    result = run_variants(backend, variants, data=data, config=config, seed=seed, label=label)
    result.checks = gap_check(result, list(variants))
    return result


def findings(result, config, names, cure: str, labels=None):
    """The book's two findings: without the cure the net learns its images by heart; with it
    the train − test gap narrows — and, the lesson of regularization, without giving up the
    test accuracy: judged on the gap, the test accuracy and whether the cured net learns.
    ``cure`` and ``labels`` (the variants as the page names them; ``names`` by default) are
    shown, in the current language."""
    from experiments.findings.claims import accuracy_holds, finals, finding, pct
    from experiments.findings.wording import POINT_WORDS, relation

    train, test = finals(result, "train_acc", names), finals(result, "test_acc", names)
    gap = {n: train[n] - test[n] for n in names}
    plain, cured = names
    plain_label, cured_label = names if labels is None else labels
    held = relation(test[cured], test[plain], scale="points", lower_is_better=False)
    narrowed = 100 * (gap[plain] - gap[cured])
    rule, holds = accuracy_holds(test[cured], test[plain], _("the plain net's"))
    return [
        finding(_("on {n_train} images the plain network learns them by heart: training "
                  "accuracy near 100%, test accuracy far below", n_train=config['n_train']),
                _("{name}: train {train}, test {test}", name=plain_label,
                  train=pct(train[plain]), test=pct(test[plain])),
                {_("training accuracy of 98% or more"): train[plain] >= 0.98,
                 _("test accuracy more than 15 points below it"): gap[plain] > 0.15}),
        finding(_("{cure} narrows the gap between training and test accuracy without giving up "
                  "test accuracy", cure=cure),
                _("gap train − test: {plain} {plain_gap:.1f} points, {cured} {cured_gap:.1f} "
                  "points; test accuracy {plain} {plain_test}, {cured} {cured_test} ({held}); "
                  "training accuracy {cured} {cured_train}", plain=plain_label,
                  cured=cured_label, plain_gap=100 * gap[plain], cured_gap=100 * gap[cured],
                  plain_test=pct(test[plain]), cured_test=pct(test[cured]), held=_(held),
                  cured_train=pct(train[cured])),
                {_("the gap narrows by {points:g} points or more", points=POINT_WORDS[0][0]):
                     narrowed >= POINT_WORDS[0][0],
                 rule: holds,
                 _("the net with {cure} still learns (training accuracy 30% or more, three "
                   "times chance)", cure=cure): train[cured] >= 0.3},
                why=_slower(cure, train[cured], test[cured], test[plain], config, held)),
    ]


def _slower(cure, train, test, plain_test, config, held):
    """Why the cure's test accuracy fell, where it did because the cured net is still
    learning: it trains more slowly, and the epochs ran out first."""
    if held not in ("far behind",) or train >= 0.9:
        return None
    from experiments.findings.claims import pct
    return _("not shown: the test accuracy falls from {before} to {after} — the net with {cure} "
             "is still learning after {epochs} epochs (training accuracy {train}): it trains "
             "more slowly, and the test accuracy has not caught up", before=pct(plain_test),
             after=pct(test), cure=cure, epochs=config['epochs'], train=pct(train))


def gap_check(result, names) -> dict:
    """The finding both experiments test: the cure narrows the final train − test gap."""
    f = result.final
    gaps = [f[f"{n}.train_acc"] - f[f"{n}.test_acc"] for n in names]
    return {"gap narrows": {"value": gaps[1] - gaps[0], "passed": bool(gaps[1] < gaps[0]),
                            "criterion": f"gap({names[1]}) < gap({names[0]})"}}


def plot(results, names, out_dir, filename, title, source, labels=None):
    """One panel per variant: training accuracy in one colour, test accuracy in another;
    ``labels``: the variants as the panels name them (``names`` by default)."""
    import matplotlib.pyplot as plt

    from experiments.plotting import COLORS, legend, line, save

    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.8), sharey=True)
    kinds = (("train_acc", N_("train"), COLORS[0]), ("test_acc", N_("test"), COLORS[1]))
    for ax, name, shown in zip(axes, names, names if labels is None else labels):
        for backend, result in results.items():
            for kind, _label, look in kinds:
                acc = result.series[f"{name}.{kind}"]
                ax.plot(range(len(acc)), acc, **line(backend, color=look))
        final = next(iter(results.values())).final
        train, test = final[f"{name}.train_acc"], final[f"{name}.test_acc"]
        ax.set_title(_("{name}: train {train:.1%}, test {test:.1%}, gap {gap:.1f} points",
                       name=shown, train=train, test=test, gap=100 * (train - test)))
        ax.set_xlabel(_("epoch"))
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel(_("accuracy"))
    legend(axes[0], [(_(label), color) for _kind, label, color in kinds], results,
           loc="lower right")
    fig.suptitle(title)
    return [save(fig, out_dir, f"{filename}.png", source=source)]


def describe(config, data_dir):
    return mnist.for_experiment(config, data_dir).describe()
