"""breast-cancer-early-stopping: stop once the validation loss stops improving — beside the same
run trained to the end of its epoch budget without early stopping."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import settings as S
from experiments.catalogue import rules as R
from experiments.catalogue.breast_cancer import Lecture, experiment, gd
from experiments.catalogue.claims import finding, pct
from experiments.catalogue.wording import relation

STOPPING, PLAIN = "GD + early stopping", "GD, no early stopping"


def findings(result, config):
    f, s = result.final, result.series
    stop, best = f.get(f"{STOPPING}.stopped_epoch"), f.get(f"{STOPPING}.best_epoch")
    budget = config["epochs"]
    kept = s[f"{STOPPING}.test_acc"][int(best)] if best is not None else None
    end = f[f"{PLAIN}.test_acc"]
    held = relation(kept, end, scale="points", lower_is_better=False) if kept is not None else None
    return [
        finding("training stops long before the epoch budget, once the validation loss stops "
                "improving",
                f"stopped at epoch {stop + 1:.0f} of {budget} (best epoch {best + 1:.0f})"
                if stop is not None else f"never stopped in {budget} epochs",
                {"it stopped": stop is not None,
                 "before half the budget": stop is not None and stop + 1 < budget / 2}),
        finding("the best epoch's weights, restored, test as well as training to the end",
                f"test accuracy of the restored best epoch {pct(kept)}; without early stopping, "
                f"after {budget} epochs, {pct(end)}" + (f" ({held})" if held else ""),
                {"it stopped and restored its best epoch": best is not None and stop is not None,
                 "the test accuracy is within 2 points of training to the end, or better":
                     held in ("about the same", "ahead")}),
    ]


def mark_epochs(axes, result):
    """The best and the stopping epoch on both panels, named (best to the left of its line,
    stopped to the right), and the stopped run's last point marked: until then both runs are
    one curve."""
    from experiments.plotting import COLORS

    f, s = result.final, result.series
    stop, best = f.get(f"{STOPPING}.stopped_epoch"), f.get(f"{STOPPING}.best_epoch")
    for ax, key in zip(axes[:2], ("epoch_loss", "val_loss")):
        for epoch, text, style, side in ((best, "best", ":", "right"),
                                         (stop, "stopped", "--", "left")):
            if epoch is None:
                continue
            ax.axvline(epoch + 1, color="0.3", linestyle=style, linewidth=1.2)
            ax.annotate(f"{text}: epoch {epoch + 1:.0f}", xy=(epoch + 1, 0.97),
                        xycoords=("data", "axes fraction"), rotation=90, ha=side, va="top",
                        fontsize=11, color="0.2", xytext=(-3 if side == "right" else 3, 0),
                        textcoords="offset points")
        values = s[f"{STOPPING}.{key}"]
        ax.plot([len(values)], [values[-1]], marker="o", markersize=8, linestyle="none",
                color=COLORS[0])
    if stop is not None:
        axes[1].annotate(f"both runs are one curve until epoch {stop + 1:.0f};\nthen only "
                         f"“{PLAIN}” goes on", xy=(0.98, 0.55), xycoords="axes fraction",
                         ha="right", fontsize=11)


def rules(config):
    return [R.early_stopping(config["patience"])]



@dataclass(frozen=True)
class Settings(Lecture):
    patience: int = S.setting(10, S.positive_int, "epochs without improvement before stopping")


experiment(
    "breast-cancer-early-stopping",
    "early stopping on the validation loss",
    "Training (up to {epochs} epochs) stops once the validation loss has not improved (by more "
    "than min_delta = 0) for {patience} epochs in a row, and the parameters of the best epoch "
    "are restored; beside it, the same network from the same start trained for all {epochs} "
    "epochs. The lecture's run stops at epoch 585.",
    lambda c: {STOPPING: ({}, *gd(c, early_stopping={"patience": c["patience"]})),
               PLAIN: ({}, *gd(c))},
    lambda c: [STOPPING, PLAIN], validation=True, settings=Settings,
    plot_kwargs={"accuracy": "val_loss", "marks": mark_epochs}, findings=findings, rules=rules)
