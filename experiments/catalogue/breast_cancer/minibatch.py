"""breast-cancer-minibatch: minibatches of 32 vs the full batch."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd
from experiments.catalogue.claims import finals, finding, pct


def labels(c) -> list[str]:
    """The two variants, named from the configuration that ran."""
    return ["full batch", f"batch {c['batch_size']}"]


def findings(result, config):
    full, mini = labels(config)
    loss = finals(result, "epoch_loss", (full, mini))
    acc = finals(result, "test_acc", (full, mini))
    return [
        finding("minibatches bring the training loss down faster per epoch",
                f"training loss after {config['epochs']} epochs: full batch "
                f"{loss[full]:.4f}, {mini} {loss[mini]:.4f}",
                loss[mini] < loss[full]),
        finding("the test accuracy is about the same",
                f"full batch {pct(acc[full])}, {mini} {pct(acc[mini])}",
                abs(acc[mini] - acc[full]) <= 0.02),
    ]


experiment(
    "breast-cancer-minibatch",
    "minibatches vs the full batch",
    "Minibatch gradient descent for {epochs} epochs: each epoch goes through a fresh "
    "permutation of the 455 training samples in batches of {batch_size} (the last one "
    "smaller), so an epoch makes many steps instead of one. The loss falls faster per epoch "
    "and wobbles; the lecture's test accuracy is the same.",
    lambda c: dict(zip(labels(c), [({}, *gd(c)), ({}, *gd(c, batch_size=c["batch_size"]))])),
    labels, defaults={"batch_size": 32}, findings=findings)
