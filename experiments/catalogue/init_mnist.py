"""init-mnist: the same ReLU network trained from std 0.01, Xavier and He weights (book figure
6-15, weight_init_compare.py)."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import settings as S
from experiments.catalogue.variants import Variant, run_variants
from experiments.data import mnist
from experiments.registry import Experiment, register
from npref.training import Schedule

INITS = {"std=0.01": 0.01, "Xavier (book)": "xavier", "He": "he"}


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
    return plot_training(results, list(INITS), out_dir, "init-mnist", smooth=True,
                         title=f"MNIST, 784-{'-'.join(map(str, config['hidden']))}-10 ReLU, "
                               f"SGD lr {config['lr']}, batch {config['batch_size']}",
                         x_label="iteration", accuracy="test_acc", source="book figure 6-15")


def findings(result, config):
    import math

    from experiments.catalogue.claims import finding, tail_mean
    from experiments.catalogue.wording import leads, ranking

    loss = {name: tail_mean(result.series[f"{name}.loss"]) for name in INITS}
    n, ln10 = config["iterations"], math.log(10)
    return [
        finding("from std 0.01 the network does not learn: its loss stays at ln 10 ≈ 2.30",
                f"mean loss over the last third of {n} iterations: std 0.01 "
                f"{loss['std=0.01']:.3f}",
                {"std 0.01's loss stays within 0.05 of ln 10": abs(loss["std=0.01"] - ln10) < 0.05}),
        finding("with Xavier and with He the network learns, He fastest",
                f"mean loss over the last third of {n} iterations: "
                f"{ranking(loss, best_word='fastest')}",
                {"He's loss is the lowest by more than 10%": leads(loss, "He"),
                 "Xavier's loss falls below half of ln 10 (it learns)":
                     loss["Xavier (book)"] < ln10 / 2},
                needs="full"),
    ]


def rules(config):
    from experiments.catalogue import rules as R

    return [R.initializer(0.01, label="std 0.01", formula_text="W ~ N(0, 0.01²)"),
            R.initializer("xavier", label="Xavier (the book's)",
                          formula_text="W ~ N(0, 1/n), n the fan-in",
                          book="the book calls N(0, 1/n) “Xavier”; Glorot's own Xavier is "
                               "N(0, 2/(fan_in + fan_out))"),
            R.initializer("he", label="He", formula_text="W ~ N(0, 2/n), n the fan-in")]


register(Experiment(
    name="init-mnist",
    description="std 0.01 vs Xavier vs He initial weights training a 784-[100×4]-10 ReLU net "
                "on MNIST (book figure 6-15)",
    concept="The same ReLU network and minibatches, trained by SGD (lr {lr:g}) for "
            "{iterations} iterations from three "
            "initializations: N(0, 0.01²), the book's Xavier N(0, 1/n) and He N(0, 2/n), n the "
            "fan-in. From std 0.01 the signal shrinks layer by layer, so the scores come out "
            "all but equal and the loss starts at ln 10 ≈ 2.3, the loss of a uniform guess "
            "among ten classes.",
    settings=Settings, profiles=PROFILES, compute=compute, plot=plot,
    data=lambda config, data_dir: mnist.for_experiment(config, data_dir).describe(),
    findings=findings, rules=rules))
