"""Many seeds of one experiment, combined: what a finding needs to be more than luck.

Each seed is a whole run on both backends (results, parity, findings). Combined:

* every series and final value becomes its median across seeds (what the figures draw), with the
  spread (lowest and highest seed) kept for the figure of :func:`plot_spread`;
* parity is the worst seed's, with one record per seed in ``parity.by_seed``;
* each finding says in how many seeds it held, per backend (``reproduced_in``), and counts as
  reproduced where it held in more than half of them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from experiments import plotting
from experiments.i18n import N_, _

#: The quantity a spread panel draws, by its series' suffix (the y-axis label).
QUANTITIES = {"loss": N_("loss"), "test_acc": N_("test acc")}


def median_results(per_seed: list[dict]) -> dict:
    """``{backend: result}`` whose series and finals are the per-element medians across seeds
    (a series whose length differs between seeds — a run stopped early — is the first seed's);
    the rest (``extra``, ``checks``, ``arrays``) is the first seed's."""
    first = per_seed[0]
    out = {}
    for backend, result in first.items():
        runs = [seed[backend] for seed in per_seed]
        series = {}
        for name, values in result.series.items():
            stack = [run.series.get(name) for run in runs]
            if all(s is not None and len(s) == len(values) for s in stack) and len(values):
                series[name] = [float(v) for v in np.median(np.asarray(stack, float), axis=0)]
            else:
                series[name] = list(values)
        final = {name: float(np.median([run.final.get(name, value) for run in runs]))
                 for name, value in result.final.items()}
        out[backend] = replace(result, series=series, final=final)
    return out


def spread(per_seed: list[dict], backend: str, name: str):
    """``(low, high)`` of series ``name`` across seeds, or None where lengths differ."""
    stack = [seed[backend].series.get(name) for seed in per_seed]
    if any(s is None or len(s) != len(stack[0]) or not len(s) for s in stack):
        return None
    array = np.asarray(stack, float)
    return array.min(axis=0), array.max(axis=0)


def parity(records: list[dict], seeds: list[int]) -> dict:
    """The worst seed's parity record, ``passed`` only if every seed passed, and ``by_seed``."""
    measured = [r for r in records if r.get("max_rel_diff") is not None]
    worst = max(measured, key=lambda r: r["max_rel_diff"]) if measured else records[0]
    passed = None if not measured else all(r["passed"] for r in records)
    by_seed = [{"seed": s, **{k: r.get(k) for k in ("max_rel_diff", "max_abs_diff", "passed",
                                                    "chaotic", "where")}}
               for s, r in zip(seeds, records)]
    return {**worst, "passed": passed, "worst_seed": seeds[records.index(worst)],
            "by_seed": by_seed}


def findings(per_seed: list[list]) -> list:
    """Each finding (an :class:`experiments.results.Finding`) with ``reproduced_in: {backend:
    k, "seeds": N}``; ``reproduced`` per backend where it held in more than half of the seeds;
    ``measured`` is the first seed's, ``why`` the first failing seed's where the seeds together
    do not bear it out."""
    n = len(per_seed)
    out = []
    for i, first in enumerate(per_seed[0]):
        counts = {b: sum(bool(seed[i].reproduced[b]) for seed in per_seed)
                  for b in first.reproduced}
        reproduced = {b: k * 2 > n for b, k in counts.items()}
        whys = [seed[i].why for seed in per_seed if not seed[i].holds]
        why = None if all(reproduced.values()) else next((w for w in whys if w), None)
        out.append(replace(first, reproduced=reproduced, reproduced_in={**counts, "seeds": n},
                           why=why))
    return out


def plot_spread(per_seed: list[dict], out_dir, filename: str, title: str, limit: int = 6):
    """The median and the spread (lowest to highest seed) of the experiment's main curves, per
    backend: whether a curve, and so a finding, is the same across seeds or a matter of luck."""
    import matplotlib.pyplot as plt

    first = per_seed[0]
    backend = next(iter(first))
    # Curves only: a series of one point (one evaluation) has no spread to draw.
    names = [n for n in first[backend].series if n.endswith((".loss", ".test_acc"))
             and len(first[backend].series[n]) > 1
             and spread(per_seed, backend, n) is not None][:limit]
    if not names:
        return []
    fig, axes = plt.subplots(1, len(names), figsize=(min(4.2 * len(names), 14), 3.9),
                             layout="constrained", squeeze=False)
    for ax, name in zip(axes[0], names):
        for b in first:
            low, high = spread(per_seed, b, name)
            median = np.median([seed[b].series[name] for seed in per_seed], axis=0)
            x = np.arange(1, len(median) + 1)
            ax.fill_between(x, low, high, alpha=0.2, color=plotting.BACKEND_STYLE[b]["color"])
            ax.plot(x, median, label=plotting.label(b),
                    **plotting.line(b, color=plotting.BACKEND_STYLE[b]["color"]))
        ax.set_title(name, fontsize=11)
        ax.set_xlabel(_("iteration") if name.endswith(".loss") else _("evaluation"))
        quantity = name.rsplit(".", 1)[1]
        ax.set_ylabel(_(QUANTITIES[quantity]) if quantity in QUANTITIES
                      else quantity.replace("_", " "))
    axes[0][0].legend(fontsize=11)
    fig.suptitle(_("{title}: median and spread over {n} seeds", title=title, n=len(per_seed)))
    return [plotting.save(fig, out_dir, f"{filename}.png")]
