"""breast-cancer-init: all-ones vs N(0, 1) vs Glorot starting weights."""

from __future__ import annotations

from experiments import panels as R
from experiments.catalogue.breast_cancer import experiment, gd, named
from experiments.findings.claims import finals, finding, listing, pct
from experiments.findings.wording import ranking, relation
from experiments.i18n import N_, _

NAMES = ["ones", "normal(0, 1)", "Glorot"]


def shown(config) -> dict:
    """The variants' names as the pages and the figure show them (the others are names)."""
    return {"ones": _("ones")}


def findings(result, config):
    loss, acc = finals(result, "loss", NAMES), finals(result, "test_acc", NAMES)
    random = ("normal(0, 1)", "Glorot")
    names = shown(config)
    return [finding(_("random starts learn better than all-ones weights"),
                    _("final training loss: {ranking}; test accuracy {accuracies}",
                      ranking=ranking(named(loss, names), best_word=_("lowest")),
                      accuracies=listing(named(acc, names).items(), pct)),
                    {_("both random starts reach a lower training loss than all-ones, by more "
                       "than 10%"): all(relation(loss[n], loss["ones"]) == "ahead"
                                        for n in random),
                     _("and a test accuracy at least as high"):
                         all(acc[n] >= acc["ones"] for n in random)})]


def rules(config):
    return [R.initializer("ones", label=_("all ones"),
                          formula_text=_("W = 1 (every hidden unit computes the same thing)")),
            R.initializer(1.0, label="N(0, 1)", formula_text="W ~ N(0, 1)"),
            R.initializer("glorot_normal", label="Glorot",
                          formula_text="W ~ N(0, 2/(fan_in + fan_out))",
                          book=_("the lecture's “Xavier” uses std 2/√(fan_in + fan_out), not "
                                 "√(2/(fan_in + fan_out))"))]

EXPERIMENT = experiment(
    "breast-cancer-init",
    N_("initial weights: all ones vs N(0, 1) vs Glorot, full-batch gradient descent"),
    N_("Three starts for the same network and gradient descent (lr {lr:g}, {epochs} epochs): "
       "every weight 1 (all hidden units compute the same thing and stay identical — the "
       "symmetry problem), N(0, 1), and Glorot's N(0, 2/(fan_in + fan_out))."),
    lambda c: {name: ({"weight_init": spec}, *gd(c)) for name, spec in
               (("ones", "ones"), ("normal(0, 1)", 1.0), ("Glorot", "glorot_normal"))},
    lambda c: NAMES, findings=findings, rules=rules, shown=shown)
