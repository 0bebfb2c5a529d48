"""Every ✓ is judged on everything its claim says: per experiment, a result where every finding
holds, and for each finding a change to that result that breaks its lesson — the test accuracy
collapses, a run diverges, the ranking flips — after which the finding is ✗ and says why.

The results are small and written out here (the keys each experiment's ``findings`` reads), so
that the tests run in a blink and say plainly what each lesson rests on.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from experiments import registry, runner
from experiments.results import Computed


def judge(name, result, sets=None, profile="full"):
    experiment = registry.get(name)
    config = {**experiment.config_for(profile), **(sets or {})}
    return runner.findings(experiment, {"numpy": result}, config, profile)


def holds(found) -> list[bool]:
    return [f.reproduced["numpy"] for f in found]


def series_const(value, n=30):
    return [float(value)] * n


# -- a result per experiment where every finding holds ---------------------------------------

def optimizer_paths():
    s, f = {}, {}
    # The quick run's last steps: distance to the minimum 0.36 (SGD), 0.12 (AdaGrad) …
    for label, final, x_end in (("SGD", 0.01, -0.36), ("Momentum", 0.05, 0.9),
                                ("Nesterov", 0.02, 0.69), ("AdaGrad", 0.0007, -0.12),
                                ("RMSprop", 0.02, -0.7), ("Adam", 0.1, 0.35)):
        y = [2.0 * (-0.9) ** k for k in range(31)] if label == "SGD" else \
            [2.0 * 0.8 ** k for k in range(31)]
        s[f"{label}.x"], s[f"{label}.y"] = list(np.linspace(-7, x_end, 31)), y
        f[f"{label}.f"] = final
    # The second figure: Rprop's first step is its lr (0.01) along both axes, Adafactor's its
    # lr (0.1) times each coordinate, ASGD zigzags as SGD does.
    first = {"Rprop": (-6.99, 1.99), "Adafactor": (-6.3, 1.8)}
    from experiments.catalogue import optimizer_paths as paths

    for label in (paths.LABELS[name] for name in paths.MORE):     # every rule of the figure
        x1, y1 = first.get(label, (-6.5, 1.5))
        s[f"{label}.x"] = [-7.0, x1] + list(np.linspace(x1, 0, 30))[1:]
        s[f"{label}.y"] = ([2.0 * (-0.9) ** k for k in range(31)] if label == "ASGD"
                           else [2.0, y1] + [y1 * 0.8 ** k for k in range(1, 30)])
        f[f"{label}.f"] = 0.05
    return Computed(s, f)


def optimizer_mnist():
    loss = {"SGD": 0.56, "Momentum": 0.11, "Nesterov": 0.09, "AdaGrad": 0.03, "RMSprop": 0.03,
            "Adam": 0.05}
    return Computed({f"{k}.loss": series_const(v) for k, v in loss.items()}, {})


def init_histograms():
    last = {"std=1/sigmoid": 0.44, "std=0.01/sigmoid": 0.012, "Xavier (book)/sigmoid": 0.11,
            "He/sigmoid": 0.17, "He/relu": 0.75, "std=0.01/relu": 1e-6}
    first = {"He/relu": 0.83, "std=0.01/relu": 0.06}
    s = {}
    for key in ("std=1", "std=0.01", "Xavier (book)", "He"):
        for act in ("sigmoid", "tanh", "relu"):
            k = f"{key}/{act}"
            s[f"{k}.std"] = [first.get(k, 0.5)] + [0.5] * 3 + [last.get(k, 0.5)]
    return Computed(s, {})


def init_mnist():
    loss = {"std=0.01": math.log(10), "Xavier (book)": 0.26, "He": 0.13}
    return Computed({f"{k}.loss": series_const(v) for k, v in loss.items()}, {})


def batchnorm_mnist():
    from experiments.catalogue.batchnorm_mnist import scales
    config = {"scales": 6}
    f, arrays = {}, {}
    # BatchNorm's weights as the quick run leaves them: ×1.00 at the largest scales, ×10 at the
    # smallest (784-[4×3]-10 here: the size does not matter, the growth does)
    growth = [1.0, 1.0, 1.0, 1.04, 2.6, 10.0]
    for i, std in enumerate(scales(config)):
        f[f"plain w={std:.2e}.train_acc"] = 0.6 if i < 2 else 0.1
        f[f"BatchNorm w={std:.2e}.train_acc"] = {0: 0.7, 5: 0.8}.get(i, 0.9)
        arrays[f"BatchNorm w={std:.2e}"] = {
            f"W{k}": np.full((4, 3), std * growth[i]) for k in range(1, 5)}
    return Computed({}, f, arrays)


def overfit(plain, cured):
    f = {}
    for name, (train, test) in ((plain, (1.0, 0.74)), (cured, (0.91, 0.72))):
        f[f"{name}.train_acc"], f[f"{name}.test_acc"] = train, test
    return Computed({}, f)


def hyperparameter_search():
    f = {}
    trials = [(3e-3, 0.8), (5e-3, 0.7), (2e-3, 0.6), (4e-3, 0.55), (8e-3, 0.5),
              (1e-5, 0.11), (3e-6, 0.1), (5e-5, 0.12)]
    for i, (lr, acc) in enumerate(trials):
        f[f"coarse{i:03d}.val_acc"], f[f"coarse{i:03d}.lr"] = acc, lr
    return Computed({}, f)


def deep_mnist():
    s = {"3-layer Xavier.loss": series_const(0.27), "3-layer He.loss": series_const(0.2)}
    f = {}
    for name, (train, test) in (("7-layer BN Adam", (1.0, 0.76)),
                                ("7-layer BN Adam + decay", (0.95, 0.75)),
                                ("7-layer BN Adam + dropout", (0.97, 0.8))):
        f[f"{name}.train_acc"], f[f"{name}.test_acc"] = train, test
    return Computed(s, f)


def finals(values: dict) -> dict:
    return Computed({}, dict(values))


def bc_init():
    return finals({"ones.loss": 0.07, "normal(0, 1).loss": 0.02, "Glorot.loss": 0.027,
                   "ones.test_acc": 0.956, "normal(0, 1).test_acc": 0.982,
                   "Glorot.test_acc": 0.982})


def bc_regularization():
    rng = np.random.default_rng(0)
    result = finals({})
    for name, scale, train in (("none", 1.0, 0.99), ("L1 0.01", 0.8, 0.987),
                               ("L2 0.01", 0.4, 0.985), ("elastic", 0.35, 0.97)):
        result.final[f"{name}.train_acc"] = train
        result.final[f"{name}.test_acc"] = 0.97
        result.arrays = result.arrays or {}
        result.arrays[name] = {"W1": scale * rng.standard_normal((30, 10)),
                                                 "b1": np.full(10, 50.0),
                                                 "W2": scale * rng.standard_normal((10, 1)),
                                                 "b2": np.zeros(1)}
    return result


def bc_learning_rate():
    result = finals({"lr 1.loss": 0.027, "lr 0.1.loss": 0.065, "lr 0.01.loss": 0.2,
                     "lr 1.test_acc": 0.98, "lr 0.1.test_acc": 0.96, "lr 0.01.test_acc": 0.95})
    for name, step in (("lr 1", 0.01), ("lr 0.1", 0.005), ("lr 0.01", 0.001)):
        result.series[f"{name}.W1[0, 0]"] = list(np.arange(50) * step)
    return result


def bc_validation():
    val = list(np.r_[np.linspace(0.5, 0.07, 200), np.linspace(0.07, 0.085, 800)])
    train = list(np.linspace(0.5, 0.017, 1000))
    return Computed({"GD.val_loss": val, "GD.epoch_loss": train}, {})


def bc_early_stopping():
    from experiments.catalogue.breast_cancer.early_stopping import PLAIN, STOPPING
    return Computed({f"{STOPPING}.test_acc": [0.9] * 194 + [0.982] + [0.97] * 10},
                    {f"{STOPPING}.stopped_epoch": 204.0, f"{STOPPING}.best_epoch": 194.0,
                     f"{PLAIN}.test_acc": 0.975})


def bc_minibatch():
    return finals({"full batch.epoch_loss": 0.027, "batch 32.epoch_loss": 0.0006,
                   "full batch.test_acc": 0.982, "batch 32.test_acc": 0.982})


def bc_dropout():
    return finals({"no dropout.loss": 0.027, "dropout 0.5.loss": 0.083,
                   "no dropout.test_acc": 0.982, "dropout 0.5.test_acc": 0.974})


def bc_optimizers():
    return finals({"GD.loss": 0.027, "Momentum.loss": 0.065, "RMSprop.loss": 2e-5,
                   "Adam.loss": 0.0095})


def sanity_checks():
    from experiments.catalogue.sanity_checks import checks
    config = registry.get("sanity-checks").defaults
    result = Computed({"small weights.loss": [2.3026], "strong penalty.loss": [4.4],
                       "lr too small.loss": [2.30, 2.3001],
                       "good lr.update/W1": [1e-3] * 5, "good lr.update/W2": [4e-4] * 5},
                      {"20 images.train_acc": 1.0, "lr too large.exploded_at": 2.0})
    result.checks = checks(result, config)
    return result


def lr_schedule():
    """Thirty epochs (the full profile): the constant rate's validation loss bounces at 0.4–0.5,
    the decayed ones settle near 0.25; the plateau cut comes after two epochs without a new
    best (patience 1)."""
    s = {"constant.val_loss": [0.6, 0.5] + [0.4, 0.5] * 14,
         "step.val_loss": [0.6, 0.5] + [0.25] * 28,
         "cosine.val_loss": [0.6, 0.5] + [0.27] * 28,
         "plateau.val_loss": [1.0, 0.8, 0.6, 0.65, 0.62] + [0.26] * 25,
         "step.lr": [0.3] * 10 + [0.03] * 10 + [0.003] * 10,
         "cosine.lr": [0.15 * (1 + math.cos(math.pi * e / 30)) for e in range(30)],
         "plateau.lr": [0.3] * 5 + [0.03] * 25}
    return Computed(s, {})


def lecture_errata():
    from experiments.catalogue.lecture_errata import listings as lecture
    written = {label: {"score": printed} for label, (_, printed) in lecture.PRINTED.items()
               if printed is not None}
    return Computed({}, {}, extra={"as_written": written})


# -- what breaks each lesson -----------------------------------------------------------------

def _set(**changes):
    """A change of finals: ``_set(**{"Adam.loss": 0.5})``."""
    def apply(result):
        result.final.update(changes)
    return apply


def _series(key, values):
    def apply(result):
        result.series[key] = values
    return apply


def _scale_arrays(name, factor):
    def apply(result):
        result.arrays[name] = {k: v * factor for k, v in result.arrays[name].items()}
    return apply


def _recheck(change):
    """A sanity-checks change to its series, then its checks computed again."""
    from experiments.catalogue.sanity_checks import checks

    def apply(result):
        change(result)
        result.checks = checks(result, registry.get("sanity-checks").defaults)
    return apply


def _bn(plain=None, bn=None, exploded=()):
    from experiments.catalogue.batchnorm_mnist import scales

    def apply(result):
        stds = list(scales({"scales": 6}))
        for i, std in enumerate(stds):
            if plain is not None:
                result.final[f"plain w={std:.2e}.train_acc"] = plain(i)
            if bn is not None:
                result.final[f"BatchNorm w={std:.2e}.train_acc"] = bn(i)
        for kind, i in exploded:
            result.final[f"{kind} w={stds[i]:.2e}.exploded_at"] = 3.0
    return apply


CASES = {
    "optimizer-paths": (optimizer_paths, {}, [
        (0, "SGD diverges: lr 1.05 grows its path (the issue's --set lr_sgd=1.05)",
         _set(**{"SGD.f": 1.2e3})),
        (0, "SGD does not zigzag", _series("SGD.y", [2.0 * 0.8 ** k for k in range(31)])),
        (1, "AdaGrad does not end nearest", _series("AdaGrad.x", list(np.linspace(-7, -0.5,
                                                                                  31)))),
        (1, "AdaGrad only ties the next (in distance, whatever f says)",
         _series("AdaGrad.x", list(np.linspace(-7, -0.35, 31)))),
        (2, "Rprop's first step follows the gradient's size",
         _series("Rprop.y", [2.0, 1.943] + [1.9] * 29)),
        (3, "Adafactor's first step is absolute, not relative",
         _series("Adafactor.y", [2.0, 1.3] + [1.2] * 29)),
        (4, "ASGD does not zigzag", _series("ASGD.y", [2.0 * 0.8 ** k for k in range(31)])),
    ]),
    "lr-schedule": (lr_schedule, {}, [
        (0, "the constant rate ends as low", _series("constant.val_loss",
                                                    [0.5] * 25 + [0.255] * 5)),
        (1, "StepLR's validation loss still bounces",
         _series("step.val_loss", [0.5] * 20 + [0.3, 0.4] * 5)),
        (2, "the plateau rule cuts while the loss still improves",
         _series("plateau.val_loss", [1.0 - 0.02 * k for k in range(30)])),
        (2, "the plateau rule never cuts", _series("plateau.lr", [0.3] * 30)),
    ]),
    "optimizer-mnist": (optimizer_mnist, {}, [
        (0, "Adam no faster than SGD", _series("Adam.loss", series_const(0.55))),
    ]),
    "init-histograms": (init_histograms, {}, [
        (0, "std 1 does not saturate", _series("std=1/sigmoid.std", [0.3] * 5)),
        (1, "std 0.01 is spread", _series("std=0.01/sigmoid.std", [0.2] * 5)),
        (2, "Xavier collapses like std 0.01", _series("Xavier (book)/sigmoid.std", [0.013] * 5)),
        (3, "He collapses too", _series("He/relu.std", [0.83, 0.5, 0.3, 0.2, 0.1])),
    ]),
    "init-mnist": (init_mnist, {}, [
        (0, "std 0.01 learns", _series("std=0.01.loss", series_const(1.5))),
        (1, "Xavier does not learn (the quick run's 1.98)",
         _series("Xavier (book).loss", series_const(1.98))),
        (1, "He is not fastest", _series("He.loss", series_const(0.25))),
    ]),
    "batchnorm-mnist": (batchnorm_mnist, {"scales": 6}, [
        (0, "BatchNorm does not learn at the smallest scale",
         _bn(bn=lambda i: 0.12 if i == 5 else 0.9)),
        (0, "the plain net learns at the smallest scales", _bn(plain=lambda i: 0.5)),
        (0, "BatchNorm diverges at a small scale", _bn(exploded=[("BatchNorm", 5)])),
        (1, "the plain net is ahead at most scales", _bn(plain=lambda i: 0.95)),
        (1, "the plain net is ahead at the one scale where both learn (73.2% vs 61.8%)",
         _bn(plain=lambda i: 0.732 if i == 0 else 0.1, bn=lambda i: 0.618 if i == 0 else 0.9)),
        (1, "the plain net learns at no scale: no race to win",
         _bn(plain=lambda i: 0.1)),
        (1, "BatchNorm diverges somewhere", _bn(exploded=[("BatchNorm", 0)])),
        (2, "the weights at the largest scale move by a fifth",
         lambda r: r.arrays["BatchNorm w=1.00e+00"].update(
             {f"W{k}": np.full((4, 3), 1.2) for k in range(1, 5)})),
        (2, "the largest scale learns fastest", _bn(bn=lambda i: 0.95 if i == 0 else 0.5)),
        (2, "the smallest scale learns best (the quick run's order reversed)",
         _bn(bn=lambda i: 0.35 + 0.1 * i)),
        (2, "the final weights were not kept", lambda r: setattr(r, "arrays", None)),
    ]),
    "overfit-weight-decay": (lambda: overfit("λ=0", "λ=0.1"), {}, [
        (0, "the plain net does not learn its images", _set(**{"λ=0.train_acc": 0.9})),
        (1, "the test accuracy collapses", _set(**{"λ=0.1.test_acc": 0.45})),
        (1, "the gap does not narrow", _set(**{"λ=0.1.train_acc": 1.0})),
        (1, "the test accuracy falls 2.5 points", _set(**{"λ=0.1.test_acc": 0.715})),
    ]),
    "overfit-dropout": (lambda: overfit("dropout 0", "dropout 0.2"), {}, [
        (0, "the plain net tests as well as it trains", _set(**{"dropout 0.test_acc": 0.95})),
        (1, "the issue's quick run: gap 2.4 points, test 73.9% → 37.9%",
         _set(**{"dropout 0.2.train_acc": 0.403, "dropout 0.2.test_acc": 0.379})),
        (1, "dropout 0.5 does not learn (train 13%, test 12%)",
         _set(**{"dropout 0.2.train_acc": 0.13, "dropout 0.2.test_acc": 0.12})),
    ]),
    "hyperparameter-search": (hyperparameter_search, {"top": 5}, [
        (0, "the best trials sit at tiny rates",
         _set(**{"coarse005.val_acc": 0.9, "coarse006.val_acc": 0.9})),
        (0, "no trial learns", _set(**{f"coarse{i:03d}.val_acc": 0.2 for i in range(5)})),
        (0, "the issue's quick run: one trial learned (49%), the next four at 16–24%",
         _set(**{"coarse000.val_acc": 0.49, "coarse001.val_acc": 0.24,
                 "coarse002.val_acc": 0.21, "coarse003.val_acc": 0.21,
                 "coarse004.val_acc": 0.16})),
        (1, "a tiny rate learns", _set(**{"coarse006.val_acc": 0.45})),
    ]),
    "deep-mnist-exercises": (deep_mnist, {}, [
        (0, "He no faster than Xavier", _series("3-layer He.loss", series_const(0.26))),
        (1, "the 7-layer net does not overfit", _set(**{"7-layer BN Adam.test_acc": 0.95})),
        (2, "dropout's test accuracy collapses",
         _set(**{"7-layer BN Adam + dropout.test_acc": 0.5})),
        (3, "weight decay widens the gap", _set(**{"7-layer BN Adam + decay.test_acc": 0.7})),
        (2, "dropout narrows the gap but tests 2.5 points lower",
         _set(**{"7-layer BN Adam + dropout.train_acc": 0.9,
                 "7-layer BN Adam + dropout.test_acc": 0.735})),
    ]),
    "breast-cancer-init": (bc_init, {}, [
        (0, "ones learn as well", _set(**{"ones.loss": 0.02})),
        (0, "a random start tests worse", _set(**{"Glorot.test_acc": 0.9})),
    ]),
    "breast-cancer-regularization": (bc_regularization, {}, [
        (0, "a penalty leaves the weights larger", _scale_arrays("L2 0.01", 3.0)),
        (0, "a penalty costs 10 points", _set(**{"elastic.train_acc": 0.89})),
    ]),
    "breast-cancer-learning-rate": (bc_learning_rate, {}, [
        (0, "the smaller rate ends lower", _set(**{"lr 0.01.loss": 0.01})),
        (1, "the small rate travels further",
         _series("lr 0.01.W1[0, 0]", list(np.arange(50) * 0.1))),
    ]),
    "breast-cancer-validation": (bc_validation, {}, [
        (0, "the validation loss never turns up",
         _series("GD.val_loss", list(np.linspace(0.5, 0.07, 1000)))),
    ]),
    "breast-cancer-early-stopping": (bc_early_stopping, {}, [
        (0, "it never stops", lambda r: [r.final.pop(k) for k in list(r.final)
                                         if k.endswith(("stopped_epoch", "best_epoch"))]),
        (1, "the restored epoch tests far worse",
         _series("GD + early stopping.test_acc", [0.9] * 205)),
        (1, "the restored epoch tests 2.5 points worse (the page's −2.6)",
         _series("GD + early stopping.test_acc", [0.9] * 194 + [0.95] + [0.97] * 10)),
    ]),
    "breast-cancer-minibatch": (bc_minibatch, {}, [
        (0, "minibatches end higher", _set(**{"batch 32.epoch_loss": 0.03})),
        (1, "the test accuracy parts by 5 points", _set(**{"batch 32.test_acc": 0.93})),
    ]),
    "breast-cancer-dropout": (bc_dropout, {}, [
        (0, "dropout's loss is lower", _set(**{"dropout 0.5.loss": 0.02})),
        (1, "dropout costs 10 points", _set(**{"dropout 0.5.test_acc": 0.88})),
    ]),
    "breast-cancer-optimizers": (bc_optimizers, {}, [
        (0, "Adam no better than GD", _set(**{"Adam.loss": 0.026})),
    ]),
    "sanity-checks": (sanity_checks, {}, [
        (0, "the initial loss is not ln 10", _recheck(_series("small weights.loss", [2.5]))),
        (1, "the penalty does not raise it", _recheck(_series("strong penalty.loss", [2.31]))),
        (2, "the subset is not learned", _recheck(_set(**{"20 images.train_acc": 0.95}))),
        (3, "the tiny rate moves the loss", _recheck(_series("lr too small.loss", [2.3, 2.0]))),
        (4, "the large rate never explodes",
         _recheck(lambda r: r.final.pop("lr too large.exploded_at"))),
        (5, "the updates are far too large",
         _recheck(_series("good lr.update/W1", [0.5] * 5))),
    ]),
    "lecture-errata": (lecture_errata, {}, [
        (0, "a printed accuracy is not reproduced",
         lambda r: r.extra["as_written"]["fixed"].update(score=0.5)),
    ]),
}


def test_every_experiment_with_findings_has_its_cases():
    named = {n for n, e in registry.all_experiments().items() if e.findings is not None}
    assert named == set(CASES)
    for name, (_, _, breaks) in CASES.items():
        found = judge(name, CASES[name][0](), CASES[name][1])
        assert {i for i, _, _ in breaks} == set(range(len(found))), \
            f"{name}: every finding needs a case that breaks it"


@pytest.mark.parametrize("name", list(CASES))
def test_each_finding_holds_on_its_result(name):
    base, sets, _ = CASES[name]
    found = judge(name, base(), sets)
    assert all(holds(found)), [(f.claim, f.why) for f in found if f.why]
    assert all(f.why is None for f in found)


@pytest.mark.parametrize("name,index,what,change",
                         [(n, i, w, c) for n, (_, _, cases) in CASES.items()
                          for i, w, c in cases],
                         ids=[f"{n}: {w}" for n, (_, _, cases) in CASES.items()
                              for _, w, _ in cases])
def test_a_result_that_breaks_the_lesson_is_a_cross_with_its_reason(name, index, what, change):
    base, sets, _ = CASES[name]
    result = copy.deepcopy(base())
    change(result)
    found = judge(name, result, sets)
    assert not found[index].reproduced["numpy"], f"{name}: {what} still reads ✓"
    assert found[index].why and len(found[index].why) > 15


def test_a_claim_the_quick_profile_is_too_short_for_says_so():
    result = init_mnist()
    result.series["Xavier (book).loss"] = series_const(1.98)
    found = judge("init-mnist", result, profile="quick")
    assert found[1].why.startswith(runner.TOO_SHORT)
    assert "Xavier" in found[1].why
    # in the full profile the same numbers fail on their own, without the hint
    assert not judge("init-mnist", result)[1].why.startswith(runner.TOO_SHORT)


def test_a_diverged_run_is_named_in_the_measured_text():
    result = optimizer_paths()
    result.final["SGD.f"] = 1.2e3
    result.series["SGD.y"] = [2.0 * (-1.267) ** k for k in range(31)]    # |y| 2 → 2.4e3
    found = judge("optimizer-paths", result)
    assert "SGD diverged" in found[0].measured and "diverged" in found[0].why
    assert "SGD 2.42e+03, diverged" in found[1].measured, found[1].measured
    assert found[1].reproduced["numpy"]          # AdaGrad is still nearest, and says so


def test_without_giving_up_test_accuracy_is_one_rule_stated_on_every_page():
    """The overfitting cures, the 7-layer cures and early stopping: one threshold
    (claims.HOLDS_POINTS), the same condition text, the measured change beside it."""
    from experiments.findings.claims import HOLDS_POINTS

    rule = f"within {HOLDS_POINTS:g} points"
    for name, index in (("overfit-weight-decay", 1), ("overfit-dropout", 1),
                        ("deep-mnist-exercises", 2), ("breast-cancer-early-stopping", 1)):
        base, sets, _ = CASES[name]
        assert judge(name, base(), sets)[index].holds, name
    for name, index, change in (("overfit-weight-decay", 1, _set(**{"λ=0.1.test_acc": 0.715})),
                                ("breast-cancer-early-stopping", 1, _series(
                                    "GD + early stopping.test_acc",
                                    [0.9] * 194 + [0.95] + [0.97] * 10))):
        result = copy.deepcopy(CASES[name][0]())
        change(result)
        why = judge(name, result, CASES[name][1])[index].why
        assert rule in why and "points)" in why, (name, why)


def test_a_rule_that_passes_the_claim_is_never_called_behind():
    """optimizer-mnist: each claimed rule is worded against SGD, the claim's baseline."""
    found = judge("optimizer-mnist", optimizer_mnist())[0]
    assert found.holds
    against_sgd = found.measured.split(" (not in the claim")[0]
    assert "behind" not in against_sgd and against_sgd.count("ahead") == 3, found.measured
    slow = optimizer_mnist()
    slow.series["Adam.loss"] = series_const(0.6)
    found = judge("optimizer-mnist", slow)[0]
    assert not found.holds and "Adam 0.6, about the same" in found.measured


def test_a_ranking_says_where_the_test_accuracy_ranks_differently():
    """lr-schedule ranks by validation loss; where another schedule tests best, it says so."""
    from experiments.catalogue.lr_schedule import LABELS

    result = lr_schedule()
    test = {"constant": 0.9, "step": 0.918, "cosine": 0.928, "plateau": 0.92}
    result.final.update({f"{n}.test_acc": v for n, v in test.items()})
    measured = judge("lr-schedule", result)[0].measured
    assert "by test accuracy the order differs: " + LABELS["cosine"] + " 92.8%" in measured
    result.final["step.test_acc"] = 0.95            # the lowest loss tests best: nothing to add
    assert "order differs" not in judge("lr-schedule", result)[0].measured


def test_the_search_narrows_only_on_trials_that_learn():
    """A trial at chance in the top 5 does not widen the second stage; none learning, none
    narrowed (the first stage's ranges are searched again)."""
    from experiments.catalogue.hyperparameter_search import LEARNS, narrowed

    trials = [(3e-3, 1e-5), (5e-3, 1e-6), (1e-6, 1e-8), (2e-5, 1e-7)]
    lr, decay = narrowed(trials, [0.8, 0.6, 0.2, 0.15], top=5)
    assert lr == pytest.approx([np.log10(3e-3) - 0.25, np.log10(5e-3) + 0.25])
    assert decay == pytest.approx([-6.25, -4.75])
    assert narrowed(trials, [LEARNS - 0.01] * 4, top=5) is None
