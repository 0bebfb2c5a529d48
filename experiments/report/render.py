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
from experiments.backends.parity import PARITY_FLOOR

TEMPLATES = Path(__file__).with_name("templates")

#: Pages linked from every page's navigation when they exist: (path from the report's root, text).
OPTIONAL_PAGES = (("lecture-errata/index.html", "The lecture as written"),
                  ("bench/index.html", "Performance"))

DASH = "—"

#: The index's sections, in the order of the book's chapter 6, then the lecture and the slides:
#: (title, source, experiment names).
SECTIONS = (
    ("Optimizers", "book §6.1", ("optimizer-paths", "optimizer-mnist")),
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


def verdict(parity: dict) -> str:
    """The parity verdict's state, which the ``verdict`` macro shows: ``"none"`` (not measured),
    ``"pass"``, ``"chaotic"`` (passed as a chaotic run) or ``"fail"``."""
    if parity["passed"] is None:
        return "none"
    if parity["passed"]:
        return "chaotic" if parity.get("chaotic") else "pass"
    return "fail"


def _timing(m: dict, backend: str) -> str:
    side = m["backends"].get(backend)
    return DASH if side is None else f"{seconds(side['seconds'])} ({side['device']})"


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

def render_index(metrics: dict, experiments: dict, profile: str, extras: tuple = ()) -> str:
    """The index: a section per topic in the chapter's order, a card per experiment (thumbnail,
    title, findings with their verdicts), parity and timings beside; each data source once."""
    rows = {name: _index_row(name, m, experiments[name]) for name, m in metrics.items()}
    sections = []
    placed = set()
    for title, source, names in SECTIONS + (("Other experiments", "", tuple(rows)),):
        members = [rows[n] for n in names if n in rows and n not in placed]
        placed.update(r["name"] for r in members)
        if members:
            sections.append({"title": title, "source": source, "rows": members,
                             "id": re.sub(r"[^a-z]+", "-", title.lower()).strip("-")})
    versions = next(iter(metrics.values()))["versions"] if metrics else {}
    passed = sum(m["parity"]["passed"] is True for m in metrics.values())
    taught = sum(r["all_reproduced"] for r in rows.values())
    return _render("index.html", depth=0, extras=extras, sections=sections, profile=profile,
                   passed=passed, taught=taught, total=len(metrics),
                   sources=_sources(metrics), versions=_versions(versions))


def _index_row(name: str, m: dict, experiment) -> dict:
    p = m["parity"]
    found = findings(m)
    return {"name": name, "title": experiment.description_for(m["config"]), "findings": found,
            "all_reproduced": bool(found) and all(f["all"] for f in found),
            "verdict": verdict(p), "max_rel_diff": p["max_rel_diff"],
            "numpy": _timing(m, "numpy"), "torch": _timing(m, "torch"),
            "data": _data_short(m["data"]), "profile": m["profile"],
            "figure": m["figures"][0] if m["figures"] else None}


def findings(m: dict) -> list:
    """The findings of one result set as the pages show them: the claim, the numbers, a mark
    per backend, and whether the quick profile is expected to show it."""
    out = []
    for f in m.get("findings", []):
        counts = f.get("reproduced_in")        # over several seeds: "reproduced in k of N"
        marks = [{"backend": plotting.label(b, short=True)
                  + (f" (reproduced in {counts[b]} of {counts['seeds']} seeds)" if counts
                     else ""), "ok": ok}
                 for b, ok in f["reproduced"].items()]
        out.append({"claim": f["claim"], "measured": f["measured"], "marks": marks,
                    "all": all(f["reproduced"].values()), "needs": f.get("needs", "quick"),
                    "why": None if all(f["reproduced"].values()) else f.get("why")})
    return out


def _sources(metrics: dict) -> list:
    """Each data source once: its name and where it comes from (the part before any ';', which
    says how many images one experiment took)."""
    seen = {}
    for m in metrics.values():
        seen.setdefault(m["data"]["name"], m["data"]["source"].split(";")[0])
    return [{"name": k, "source": v} for k, v in seen.items()]


def _data_short(data: dict) -> str:
    counts = [f"{data[k]:,} {label}" for k, label in (("n_train", "train"),
                                                      ("n_val", "validation"),
                                                      ("n_test", "test")) if data.get(k)]
    return data["name"] + (f" ({' / '.join(counts)})" if counts else "")


def render_experiment(m: dict, experiment, extras: tuple = ()) -> str:
    p = m["parity"]
    criterion = p.get("criterion", f"every value within {p['tolerance']:g} relative "
                                   f"(floor: {PARITY_FLOOR})")
    parity = {"verdict": verdict(p), "max_rel_diff": p["max_rel_diff"],
              "tolerance": p["tolerance"], "criterion": criterion,
              "compared": p.get("compared", 0), "where": _where(p.get("where", "")),
              "chaotic": _chaotic_sentence(p), "parts": _parts(p)}
    table = None
    if "table" in m:
        table = {"columns": m["table"]["columns"],
                 "rows": [[{"value": v, "num": isinstance(v, (int, float))} for v in row]
                          for row in m["table"]["rows"]]}
    runs = [{"backend": plotting.label(b), "seconds": s["seconds"], "device": s["device"]}
            for b, s in m["backends"].items()]
    overrides = _overrides(m, experiment)
    return _render("experiment.html", depth=1, extras=extras, name=m["experiment"],
                   description=experiment.description_for(m["config"]),
                   concept=experiment.concept_for(m["config"]), rules=rules(experiment, m["config"]),
                   convention=m["config"].get("convention"), figures=m["figures"], table=table,
                   findings=findings(m), parity=parity, runs=runs, data=_data_text(m["data"]),
                   profile=m["profile"],
                   seed=(f"{m['seed']} (seeds {m['seeds'][0]}–{m['seeds'][-1]}: medians drawn, "
                         "spread in the last figure)" if m.get("seeds") else m["seed"]),
                   command=_command(m, experiment),
                   overrides=sorted(overrides),
                   config=[(k, _cli_value(v), k in overrides) for k, v in m["config"].items()],
                   versions=_versions(m["versions"]))


def rules(experiment, config: dict) -> list:
    """Every rule of the page side by side: its formula, the NumPy form and the PyTorch lines
    that ran, made now from the installed code (:mod:`experiments.catalogue.rules`)."""
    out = []
    for r in experiment.rules_for(config):
        sides = {}
        for side in ("numpy", "torch"):
            panel = getattr(r, side)()
            sides[side] = {"note": panel.note, "blocks": [{"title": b.title, "code": b.code}
                                                          for b in panel.blocks]}
        out.append({"formula": r.formula, "book": r.book, **sides})
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


def _chaotic_sentence(p: dict) -> str | None:
    """One sentence for a chaotic verdict, with both sensitivities: how far the backends part,
    and how far rounding alone moves one backend."""
    if not p.get("chaotic"):
        return None
    parts = ", ".join(f"{part} differs between the backends by {fmt(p['by_part'][part], '.1e')} "
                      f"where a one-ulp nudge of its own starting weights moves NumPy's run by "
                      f"{fmt(p['sensitivity'][part], '.1e')}"
                      for part in p["chaotic"])
    return (f"Chaotic — as close as the problem allows: {parts}. These runs amplify any "
            "rounding difference, so no two implementations can agree on their path to the "
            "tolerance; the backends differ no more than rounding alone moves one of them. Not "
            "a pass at the tolerance: a bug parts them far more (on the lecture's RMSprop, an "
            "eps off by a billionth 103 times the nudge, the other convention 1,400 times).")


def _overrides(m: dict, experiment) -> set:
    """The configuration keys set on the command line (``--set``): neither the default nor the
    profile's value."""
    profile = experiment.profiles.get(m["profile"], {})
    return {k for k, v in m["config"].items()
            if profile.get(k, experiment.defaults.get(k)) != v}


def _parts(p: dict) -> list:
    """The parity of each part of an experiment, with the part's own sensitivity."""
    rows = []
    for part, value in p.get("by_part", {}).items():
        status = ("chaotic — as close as the problem allows" if part in p.get("chaotic", []) else
                  "FAILED" if part in p.get("failed_parts", []) else
                  "passed" if value <= p["tolerance"] else "FAILED")
        rows.append({"part": part, "max_rel_diff": value,
                     "sensitivity": p.get("sensitivity", {}).get(part), "verdict": status})
    return rows


def _command(m: dict, experiment) -> str:
    """The command that reruns this experiment as it ran here."""
    changed = [f"--set {k}={_cli_value(m['config'][k])}"
               for k in sorted(_overrides(m, experiment))]
    return (f"python -m experiments run {m['experiment']} --backend both "
            f"--profile {m['profile']} --seed {m['seed']}"
            + (f" --seeds {len(m['seeds'])}" if m.get("seeds") else "")
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
