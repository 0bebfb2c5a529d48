"""breast-cancer-early-stopping: stop once the validation loss stops improving — beside the same
run trained to the end of its epoch budget without early stopping."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import settings as S
from experiments import panels as R
from experiments.catalogue.breast_cancer import Lecture, experiment, gd
from experiments.findings.claims import accuracy_holds, finding, pct
from experiments.findings.wording import relation
from experiments.i18n import N_, _

STOPPING, PLAIN = "GD + early stopping", "GD, no early stopping"
#: How each comparative word reads before the run it compares with.
PREPOSITION = {"about the same": N_("about the same as"), "ahead": N_("ahead of")}
#: The two runs' names as the pages and the figure show them (translated where shown).
SHOWN = {STOPPING: N_("GD + early stopping"), PLAIN: N_("GD, no early stopping")}


def shown(config) -> dict:
    return {name: _(text) for name, text in SHOWN.items()}


def findings(result, config):
    f, s = result.final, result.series
    stop, best = f.get(f"{STOPPING}.stopped_epoch"), f.get(f"{STOPPING}.best_epoch")
    budget = config["epochs"]
    kept = s[f"{STOPPING}.test_acc"][int(best)] if best is not None else None
    end = f[f"{PLAIN}.test_acc"]
    held = relation(kept, end, scale="points", lower_is_better=False) if kept is not None else None
    rule, holds = accuracy_holds(kept, end, _("training to the end's"))
    return [
        finding(_("training stops long before the epoch budget, once the validation loss stops "
                  "improving"),
                _("stopped at epoch {stopped:.0f} of {budget} (best epoch {best:.0f})",
                  stopped=stop + 1, budget=budget, best=best + 1)
                if stop is not None else _("never stopped in {budget} epochs", budget=budget),
                {_("it stopped"): stop is not None,
                 _("before half the budget"): stop is not None and stop + 1 < budget / 2}),
        finding(_("the best epoch's weights, restored, test as well as training to the end"),
                (_("test accuracy of the restored best epoch {kept} — {relation} training to "
                   "the end without early stopping ({end} after {budget} epochs)", kept=pct(kept),
                   relation=_(PREPOSITION.get(held, held)), end=pct(end), budget=budget)
                 if held else
                 _("test accuracy of the restored best epoch {kept}; training to the end without "
                   "early stopping: {end} after {budget} epochs", kept=pct(kept), end=pct(end),
                   budget=budget)),
                {_("it stopped and restored its best epoch"): best is not None and stop is not None,
                 rule: holds}),
    ]


def mark_epochs(axes, result):
    """The best and the stopping epoch on both panels, named (best to the left of its line,
    stopped to the right), and the stopped run's last point marked: until then both runs are
    one curve."""
    from experiments.plotting import COLORS

    f, s = result.final, result.series
    stop, best = f.get(f"{STOPPING}.stopped_epoch"), f.get(f"{STOPPING}.best_epoch")
    for ax, key in zip(axes[:2], ("epoch_loss", "val_loss")):
        for epoch, text, style, side in ((best, N_("best: epoch {epoch:.0f}"), ":", "right"),
                                         (stop, N_("stopped: epoch {epoch:.0f}"), "--", "left")):
            if epoch is None:
                continue
            ax.axvline(epoch + 1, color="0.3", linestyle=style, linewidth=1.2)
            ax.annotate(_(text, epoch=epoch + 1), xy=(epoch + 1, 0.97),
                        xycoords=("data", "axes fraction"), rotation=90, ha=side, va="top",
                        fontsize=11, color="0.2", xytext=(-3 if side == "right" else 3, 0),
                        textcoords="offset points")
        values = s[f"{STOPPING}.{key}"]
        ax.plot([len(values)], [values[-1]], marker="o", markersize=8, linestyle="none",
                color=COLORS[0])
    if len(axes) > 2 and best is not None:
        kept = s[f"{STOPPING}.test_acc"][int(best)]
        axes[2].axvline(best + 1, color="0.3", linestyle=":", linewidth=1.2)
        axes[2].plot([best + 1], [kept], marker="o", markersize=8, linestyle="none",
                     color=COLORS[0])
        axes[2].annotate(_("restored best epoch {epoch:.0f}: {acc:.1f}%", epoch=best + 1,
                           acc=100 * kept),
                         xy=(best + 1, kept), xytext=(8, -18), textcoords="offset points",
                         fontsize=11, color="0.2")
    if stop is not None:
        axes[1].annotate(_("both runs are one curve\nuntil epoch {epoch:.0f}; then only\n"
                           "“{plain}” goes on", epoch=stop + 1, plain=_(SHOWN[PLAIN])),
                         xy=(0.97, 0.45), xycoords="axes fraction", ha="right", fontsize=11)


def accuracy_panel(ax, result, name, look):
    """The third panel: test accuracy per epoch — the second finding is about it (the restored
    best epoch is marked by :func:`mark_epochs`)."""
    from experiments.catalogue.breast_cancer import _epochs_at

    ax.plot(_epochs_at(result.series, name), result.series[f"{name}.test_acc"], **look)
    ax.set_xlabel(_("epoch"))
    ax.set_ylabel(_("test accuracy"))



def rules(config):
    return [R.early_stopping(config["patience"])]



@dataclass(frozen=True)
class Settings(Lecture):
    patience: int = S.setting(10, S.positive_int, "epochs without improvement before stopping")


EXPERIMENT = experiment(
    "breast-cancer-early-stopping",
    N_("early stopping on the validation loss"),
    N_("Training (up to {epochs} epochs) stops once the validation loss has not improved (by "
       "more than min_delta = 0) for {patience} epochs in a row, and the parameters of the best "
       "epoch are restored; beside it, the same network from the same start trained for all "
       "{epochs} epochs. The lecture's run stops at epoch 585."),
    lambda c: {STOPPING: ({}, *gd(c, early_stopping={"patience": c["patience"]})),
               PLAIN: ({}, *gd(c))},
    lambda c: [STOPPING, PLAIN], validation=True, settings=Settings,
    plot_kwargs={"accuracy": "val_loss", "marks": mark_epochs, "extra_panel": accuracy_panel},
    findings=findings, rules=rules, shown=shown)
