"""init-mnist: the same ReLU network trained from std 0.01, Xavier and He weights (book figure
6-15, weight_init_compare.py)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from experiments import settings as S
from experiments.backends.variants import Variant, run_variants
from experiments.data import mnist
from experiments.experiment import Experiment
from experiments.i18n import N_, _
from npref.training import Schedule

INITS = {"std=0.01": 0.01, "Xavier (book)": "xavier", "He": "he"}
#: The name each initialization is shown by, where it has words to translate (``_()`` it).
LABELS = {"std=0.01": N_("std=0.01"), "Xavier (book)": N_("Xavier (book)")}


def shown(name: str) -> str:
    """``name`` as the figure and the findings show it, in the current language."""
    return _(LABELS.get(name, name))


@dataclass(frozen=True)
class Settings:
    """The book's weight_init_compare.py."""
    iterations: int = S.setting(2000, S.positive_int, "training iterations")
    batch_size: int = S.setting(128, S.positive_int, "images per iteration")
    hidden: list = S.setting([100, 100, 100, 100], S.layer_sizes, "hidden layer sizes")
    lr: float = S.setting(0.01, S.positive, "SGD's learning rate")
    dtype: str = S.dtype()
    sampling: str = S.setting("replacement", S.choice("shuffle", "replacement"),
                              "how batches are drawn")
    n_train: int = S.setting(0, S.count, "training images")
    n_test: int = S.setting(0, S.count, "test images")


PROFILES = {"quick": Settings(iterations=300, n_train=4000, n_test=1000)}


def compute(backend, config, seed, data_dir):
    data = mnist.for_experiment(config, data_dir).data
    schedule = Schedule(batch_size=config["batch_size"], iterations=config["iterations"],
                        sampling=config["sampling"])
    variants = {name: Variant({"input_size": 784, "hidden_sizes": config["hidden"],
                               "output_size": 10, "activation": "relu", "weight_init": spec},
                              "sgd", {"lr": config["lr"]}, schedule, init_seed=seed)
                for name, spec in INITS.items()}
    return run_variants(backend, variants, data=data, config=config, seed=seed,
                        label="init-mnist")


def plot(results, config, out_dir):
    from experiments.plotting import plot_training

    # plot_training names each curve by its series' name: hand it the series under the names
    # shown (the same in English).
    prefixes = {f"{name}.": f"{shown(name)}." for name in INITS}
    renamed = {backend: SimpleNamespace(series={
        next((new + key[len(old):] for old, new in prefixes.items() if key.startswith(old)),
             key): values for key, values in result.series.items()})
        for backend, result in results.items()}
    return plot_training(renamed, [shown(name) for name in INITS], out_dir, "init-mnist",
                         smooth=True,
                         title=_("MNIST, 784-{hidden}-10 ReLU, SGD lr {lr}, batch {batch_size}",
                                 hidden="-".join(map(str, config["hidden"])), lr=config["lr"],
                                 batch_size=config["batch_size"]),
                         x_label="iteration", accuracy="test_acc",
                         source=_("book figure 6-15"))


def findings(result, config):
    import math

    from experiments.findings.claims import finding, tail_mean
    from experiments.findings.wording import leads, ranking

    loss = {name: tail_mean(result.series[f"{name}.loss"]) for name in INITS}
    n, ln10 = config["iterations"], math.log(10)
    return [
        finding(_("from std 0.01 the network does not learn: its loss stays at ln 10 ≈ 2.30"),
                _("mean loss over the last third of {n} iterations: {values}", n=n,
                  values=_("std 0.01 {loss:.3f}", loss=loss["std=0.01"])),
                {_("std 0.01's loss stays within 0.05 of ln 10"):
                     abs(loss["std=0.01"] - ln10) < 0.05}),
        finding(_("with Xavier and with He the network learns, He fastest"),
                _("mean loss over the last third of {n} iterations: {values}", n=n,
                  values=ranking({shown(k): v for k, v in loss.items()},
                                 best_word=_("fastest"))),
                {_("He's loss is the lowest by more than 10%"): leads(loss, "He"),
                 _("Xavier's loss falls below half of ln 10 (it learns)"):
                     loss["Xavier (book)"] < ln10 / 2},
                needs="full"),
    ]


def rules(config):
    from experiments import panels as R

    return [R.initializer(0.01, label=_("std 0.01"), formula_text="W ~ N(0, 0.01²)"),
            R.initializer("xavier", label=_("Xavier (the book's)"),
                          formula_text=_("W ~ N(0, 1/n), n the fan-in"),
                          book=_("the book calls N(0, 1/n) “Xavier”; Glorot's own Xavier is "
                                 "N(0, 2/(fan_in + fan_out))")),
            R.initializer("he", label="He", formula_text=_("W ~ N(0, 2/n), n the fan-in"))]


EXPERIMENT = Experiment(
    name="init-mnist",
    description=N_("std 0.01 vs Xavier vs He initial weights training a 784-[100×4]-10 ReLU "
                   "net on MNIST (book figure 6-15)"),
    concept=N_("The same ReLU network and minibatches, trained by SGD (lr {lr:g}) for "
               "{iterations} iterations from three "
               "initializations: N(0, 0.01²), the book's Xavier N(0, 1/n) and He N(0, 2/n), n "
               "the fan-in. From std 0.01 the signal shrinks layer by layer, so the scores come "
               "out all but equal and the loss starts at ln 10 ≈ 2.3, the loss of a uniform "
               "guess among ten classes."),
    settings=Settings, profiles=PROFILES, compute=compute, plot=plot,
    data=lambda config, data_dir: mnist.for_experiment(config, data_dir).describe(),
    findings=findings, rules=rules)
