"""breast-cancer-early-stopping: stop once the validation loss stops improving."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd
from experiments.catalogue.claims import finding, pct


def findings(result, config):
    f = result["final"]
    stop, best = f.get("GD + early stopping.stopped_epoch"), f.get("GD + early stopping.best_epoch")
    return [finding("training stops long before the epoch budget, once the validation loss "
                    "stops improving",
                    f"stopped at epoch {stop:.0f} of {config['epochs']} (best epoch "
                    f"{best:.0f}); test accuracy {pct(f['GD + early stopping.test_acc'])}"
                    if stop is not None else "never stopped",
                    stop is not None and stop < config["epochs"] / 2)]

experiment(
    "breast-cancer-early-stopping",
    "early stopping on the validation loss",
    "Training (up to {epochs} epochs) stops once the validation loss has not improved (by more "
    "than min_delta = 0) for {patience} epochs in a row, and the parameters of the best epoch are restored. The lecture's run "
    "stops at epoch 585.",
    lambda c: {"GD + early stopping": ({}, *gd(c, early_stopping={"patience": c["patience"]}))},
    lambda c: ["GD + early stopping"], validation=True, defaults={"patience": 10},
    plot_kwargs={"accuracy": "val_loss"}, findings=findings)
