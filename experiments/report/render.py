"""Rendering the report's pages with Jinja2: one function per page turns the results into plain
data (strings, numbers, lists, dicts) and hands them to its template in ``templates/``.

Every template extends ``base.html`` (the head, the inlined ``report.css``, the navigation);
autoescaping is on, so the data passed in is plain text, never markup. A name a template uses but
the data lacks is an error (``StrictUndefined``), not a silently empty cell.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jinja2

from experiments import plotting
from experiments.backends.parity import PARITY_FLOOR, shadow_failure
from experiments.results import Parity, Result

TEMPLATES = Path(__file__).with_name("templates")

#: Pages linked from every page's navigation when they exist: (path from the report's root, text).
OPTIONAL_PAGES = (("lecture-errata/index.html", "The lecture as written"),
                  ("bench/index.html", "Performance"))

DASH = "—"

#: The index's sections, in the order of the book's chapter 6, then the lecture and the slides:
#: (title, source, experiment names).
SECTIONS = (
    ("Optimizers", "book §6.1", ("optimizer-paths", "optimizer-mnist")),
    ("Learning-rate schedules", "the notes' learning-rate decay", ("lr-schedule",)),
    ("Initial weights", "book §6.2", ("init-histograms", "init-mnist")),
    ("Batch Normalization", "book §6.3", ("batchnorm-mnist",)),
    ("Overfitting and regularization", "book §6.4 and the exercise notebook",
     ("overfit-weight-decay", "overfit-dropout", "deep-mnist-exercises")),
    ("Hyperparameter search", "book §6.5", ("hyperparameter-search",)),
    ("The breast-cancer lecture", "the lecture",
     ("breast-cancer-init", "breast-cancer-regularization", "breast-cancer-learning-rate",
      "breast-cancer-validation", "breast-cancer-early-stopping", "breast-cancer-minibatch",
      "breast-cancer-dropout", "breast-cancer-optimizers", "lecture-errata")),
    ("Babysitting the learning process", "the slides", ("sanity-checks",)),
)


# -- filters --------------------------------------------------------------------------------------

def fmt(value, spec: str) -> str:
    """``format(value, spec)``; a missing value is a dash."""
    return DASH if value is None else format(value, spec)


def sci(value) -> str:
    """A relative difference: ``1.23e-04``."""
    return fmt(value, ".2e")


def tol(value) -> str:
    """A tolerance: ``1e-09``."""
    return fmt(value, ".0e")


def seconds(value, digits: int = 1) -> str:
    """A duration: ``2.98 s``."""
    return DASH if value is None else f"{value:.{digits}f} s"


def cell(value) -> str:
    """A value of an experiment's own table."""
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:.4f}" if 0.0 < abs(value) < 10 else f"{value:g}"
    return str(value)


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(fmt=fmt, sci=sci, tol=tol, seconds=seconds, cell=cell)
    return env


def _render(template: str, *, depth: int, extras: tuple, **data) -> str:
    nav = [{"href": href, "text": text} for href, text in extras]
    return environment().get_template(template).render(up="../" * depth, extras=nav, **data)


# -- pieces of data -------------------------------------------------------------------------------

def optional_pages(out, coming=()) -> tuple:
    """The optional pages to link: those on disk under ``out``, and those about to be written
    (``coming``: their paths, such as ``"lecture-errata/index.html"``)."""
    return tuple(page for page in OPTIONAL_PAGES
                 if page[0] in coming or (Path(out) / page[0]).exists())


def verdict(parity: Parity) -> str:
    """The parity verdict's state, which the ``verdict`` macro shows: ``"none"`` (not measured),
    ``"pass"``, ``"chaotic"`` (as close as a chaotic run allows) or ``"fail"``."""
    if parity.passed is None:
        return "none"
    if parity.passed:
        return "chaotic" if parity.chaotic else "pass"
    return "fail"


def _timing(r: Result, backend: str) -> str:
    side = r.backends.get(backend)
    return DASH if side is None else f"{seconds(side.seconds)} ({side.device})"


def _data_text(data: dict) -> str:
    text = f"{data['name']} — {data['source']}"
    counts = [f"{data[k]} {label}" for k, label in (("n_train", "train"), ("n_val", "validation"),
                                                    ("n_test", "test")) if data.get(k)]
    return text + (f" ({' / '.join(counts)})" if counts else "")


def _versions(versions: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in versions.items())


def _cli_value(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, list) else str(v)


# -- pages ----------------------------------------------------------------------------------------

def render_index(found: dict, experiments: dict, profile: str, extras: tuple = ()) -> str:
    """The index: a section per topic in the chapter's order, a card per experiment (thumbnail,
    title, findings with their verdicts), parity and timings beside; each data source once.
    ``found``: ``{name: Result}``."""
    rows = {name: _index_row(name, r, experiments[name]) for name, r in found.items()}
    sections = []
    placed = set()
    for title, source, names in SECTIONS + (("Other experiments", "", tuple(rows)),):
        members = [rows[n] for n in names if n in rows and n not in placed]
        placed.update(r["name"] for r in members)
        if members:
            sections.append({"title": title, "source": source, "rows": members,
                             "id": re.sub(r"[^a-z]+", "-", title.lower()).strip("-")})
    versions = next(iter(found.values())).versions if found else {}
    passed = sum(r.parity.passed is True for r in found.values())
    taught = sum(r["all_reproduced"] for r in rows.values())
    return _render("index.html", depth=0, extras=extras, sections=sections, profile=profile,
                   passed=passed, taught=taught, total=len(found),
                   sources=_sources(found), versions=_versions(versions))


def _index_row(name: str, r: Result, experiment) -> dict:
    shown = findings(r)
    return {"name": name, "title": experiment.description_for(r.config), "findings": shown,
            "all_reproduced": bool(shown) and all(f["all"] for f in shown),
            "verdict": verdict(r.parity), "max_rel_diff": r.parity.max_rel_diff,
            "numpy": _timing(r, "numpy"), "torch": _timing(r, "torch"),
            "data": _data_short(r.data), "profile": r.profile,
            "figure": r.figures[0] if r.figures else None}


def findings(r: Result) -> list:
    """The findings of one result as the pages show them: the claim, the numbers, a mark per
    backend, and, where it does not hold, why."""
    out = []
    for f in r.findings:
        counts = f.reproduced_in               # over several seeds: "reproduced in k of N"
        marks = [{"backend": plotting.label(b, short=True)
                  + (f" (reproduced in {counts[b]} of {counts['seeds']} seeds)" if counts
                     else ""), "ok": ok}
                 for b, ok in f.reproduced.items()]
        out.append({"claim": f.claim, "measured": f.measured, "marks": marks, "all": f.holds,
                    "needs": f.needs, "why": None if f.holds else f.why})
    return out


def _sources(found: dict) -> list:
    """Each data source once: its name and where it comes from (the part before any ';', which
    says how many images one experiment took)."""
    seen = {}
    for r in found.values():
        seen.setdefault(r.data["name"], r.data["source"].split(";")[0])
    return [{"name": k, "source": v} for k, v in seen.items()]


def _data_short(data: dict) -> str:
    counts = [f"{data[k]:,} {label}" for k, label in (("n_train", "train"),
                                                      ("n_val", "validation"),
                                                      ("n_test", "test")) if data.get(k)]
    return data["name"] + (f" ({' / '.join(counts)})" if counts else "")


def render_experiment(r: Result, experiment, extras: tuple = (), notebook=None) -> str:
    """One experiment's page; ``notebook``: ``(its notebook's file, the wheel's file name)``
    to link as "Open as notebook" (none when not given)."""
    p = r.parity
    criterion = p.criterion or (f"every value within {p.tolerance:g} relative "
                                f"(floor: {PARITY_FLOOR})")
    parity = {"verdict": verdict(p), "max_rel_diff": p.max_rel_diff, "tolerance": p.tolerance,
              "criterion": criterion, "compared": p.compared, "where": _where(p.where),
              "chaotic": _chaotic_sentence(p), "parts": _parts(p)}
    table = None
    if r.table is not None:
        table = {"columns": r.table["columns"],
                 "rows": [[{"value": v, "num": isinstance(v, (int, float))} for v in row]
                          for row in r.table["rows"]]}
    runs = [{"backend": plotting.label(b), "seconds": s.seconds, "device": s.device}
            for b, s in r.backends.items()]
    overrides = _overrides(r, experiment)
    return _render("experiment.html", depth=1, extras=extras, name=r.experiment,
                   description=experiment.description_for(r.config),
                   concept=experiment.concept_for(r.config), rules=rules(experiment, r.config),
                   convention=r.config.get("convention"), figures=r.figures, table=table,
                   findings=findings(r), parity=parity, runs=runs, data=_data_text(r.data),
                   profile=r.profile, notebook=notebook[0] if notebook else None,
                   wheel=notebook[1] if notebook else None,
                   seed=(f"{r.seed} (seeds {r.seeds[0]}–{r.seeds[-1]}: medians drawn, "
                         "spread in the last figure)" if r.seeds else r.seed),
                   command=_command(r, experiment),
                   overrides=sorted(overrides),
                   config=[(k, _cli_value(v), k in overrides) for k, v in r.config.items()],
                   versions=_versions(r.versions))


def rules(experiment, config: dict) -> list:
    """Every rule of the page side by side: its formula, the NumPy form and the PyTorch lines
    that ran, made now from the installed code (:mod:`experiments.catalogue.rules`)."""
    out = []
    for rule in experiment.rules_for(config):
        sides = {}
        for side in ("numpy", "torch"):
            panel = getattr(rule, side)()
            sides[side] = {"note": panel.note, "blocks": [{"title": b.title, "code": b.code}
                                                          for b in panel.blocks]}
        out.append({"formula": rule.formula, "book": rule.book, **sides})
    return out


def _where(where) -> str:
    """The worst value's place, in words, its numbers for reading:
    ``['series']['Adam.loss'][17]: numpy=0.0123456789012, …`` →
    ``Adam.loss (series), index 17: numpy=0.0123457, …``."""
    text = re.sub(r"\['(series|final|arrays)'\]\['([^']+)'\]",
                  lambda m: f"{m.group(2)} ({m.group(1)})", str(where))
    text = re.sub(r"\[(\d+)\]", r", index \1", text)
    return re.sub(r"-?\d+\.\d{7,}(?:e[+-]?\d+)?",
                  lambda m: f"{float(m.group()):.6g}", text)


def _chaotic_sentence(p: Parity) -> str | None:
    """One sentence for a chaotic verdict: how far the whole runs part, how closely every
    shadowed iteration agrees, and how far rounding alone moves one backend's run."""
    if not p.chaotic:
        return None
    shadow, nudged = p.shadow or {}, p.sensitivity or {}
    parts = "; ".join(
        f"{part}: the whole runs differ by {fmt(p.by_part[part], '.1e')}, every one of its "
        f"{shadow[part]['steps']:,} shadowed iterations agrees within "
        f"{fmt(shadow[part]['max_rel_diff'], '.1e')}"
        + (f", and a one-ulp nudge of NumPy's starting weights moves NumPy's own run by "
           f"{fmt(nudged[part], '.1e')}" if part in nudged else "")
        for part in p.chaotic if part in shadow)
    return (f"Chaotic — as close as the problem allows. {parts}. These runs amplify any "
            "rounding difference, so no two implementations can follow the same path to the "
            "tolerance, and how far apart they end depends on the BLAS kernel that rounded "
            "them. The verdict is the shadowed run's: PyTorch restarted from NumPy's state "
            "(parameters, running statistics, optimizer buffers) after every iteration agrees "
            f"with NumPy within {fmt(p.shadow[p.chaotic[0]]['tol'], '.0e')} at every one — a "
            "bug (a wrong eps, the other convention, a wrong layer) parts them at the first "
            "iteration it touches.")


def _overrides(r: Result, experiment) -> set:
    """The configuration keys set on the command line (``--set``): not the profile's value."""
    try:
        base = experiment.config_for(r.profile)
    except ValueError:
        base = {}
    return {k for k, v in r.config.items() if base.get(k) != v}


def _parts(p: Parity) -> list:
    """The parity of each part of an experiment: the whole run's difference, the shadowed
    iterations' largest difference (where the part was shadowed) and a nudge's sensitivity."""
    rows = []
    for part, value in (p.by_part or {}).items():
        status = ("chaotic — as close as the problem allows" if part in (p.chaotic or []) else
                  "FAILED" if part in (p.failed_parts or []) else
                  "passed" if value <= p.tolerance else "FAILED")
        shadow = (p.shadow or {}).get(part)
        if status == "FAILED" and shadow:
            status = "FAILED: " + shadow_failure(shadow)
        rows.append({"part": part, "max_rel_diff": value,
                     "shadowed": None if shadow is None else shadow.get("max_rel_diff"),
                     "sensitivity": (p.sensitivity or {}).get(part), "verdict": status})
    return rows


def _command(r: Result, experiment) -> str:
    """The command that reruns this experiment as it ran here."""
    changed = [f"--set {k}={_cli_value(r.config[k])}"
               for k in sorted(_overrides(r, experiment))]
    return (f"python -m experiments run {r.experiment} --backend both "
            f"--profile {r.profile} --seed {r.seed}"
            + (f" --seeds {len(r.seeds)}" if r.seeds else "")
            + "".join(" " + c for c in changed))


def render_conventions(measured: dict, extras: tuple = ()) -> str:
    sections = [{"id": s["name"].split()[0].lower(), "name": s["name"],
                 "rule": [part.strip() for part in s["rule"].split(";  ")],
                 "steps": s["steps"], "max_rel_param_diff": s["max_rel_param_diff"],
                 "loss": s["loss"], "test_acc": s["test_acc"], "lr_drop": s.get("lr_drop"),
                 "matters": s["matters"], "figure": measured["figures"][s["name"]]}
                for s in measured["sections"]]
    return _render("conventions.html", depth=0, extras=extras, task=measured["task"],
                   sections=sections)


def render_bench(result, extras: tuple = ()) -> str:
    """The benchmark's page (``OUT/bench/index.html``)."""
    gemm = ", ".join(f"{k} {v:.0f}" for k, v in result["gemm_gflops"].items())
    keys = ("rounds", "warmup", "blocks", "steps", "params", "machine_gflops", "cpu_count",
            "torch_threads", "figure", "rows")
    data = {k: result[k] for k in keys}
    # A bench.json from before figures were flagged has rows without flags: none flagged.
    data["rows"] = [{"flags": {}, **row} for row in result["rows"]]
    return _render("bench.html", depth=1, extras=extras, gemm=gemm, **data)
