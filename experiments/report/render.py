"""Rendering the report's pages with Jinja2: one function per page turns the results into plain
data (strings, numbers, lists, dicts) and hands them to its template in ``templates/``.

Every template extends ``base.html`` (the head, the inlined ``report.css``, the navigation);
autoescaping is on, so the data passed in is plain text, never markup. A name a template uses but
the data lacks is an error (``StrictUndefined``), not a silently empty cell.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from experiments import plotting
from experiments.backends.parity import PARITY_FLOOR

TEMPLATES = Path(__file__).with_name("templates")

#: Pages linked from every page's navigation when they exist: (path from the report's root, text).
OPTIONAL_PAGES = (("lecture-errata/index.html", "The lecture as written"),
                  ("bench/index.html", "Performance"))

DASH = "—"


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
    rows = []
    for name, m in metrics.items():
        p = m["parity"]
        rows.append({"name": name, "description": experiments[name].description,
                     "verdict": verdict(p), "max_rel_diff": p["max_rel_diff"],
                     "tolerance": p["tolerance"], "numpy": _timing(m, "numpy"),
                     "torch": _timing(m, "torch"), "data": _data_text(m["data"]),
                     "figure": m["figures"][0] if m["figures"] else None})
    versions = next(iter(metrics.values()))["versions"] if metrics else {}
    passed = sum(m["parity"]["passed"] is True for m in metrics.values())
    return _render("index.html", depth=0, extras=extras, rows=rows, profile=profile,
                   passed=passed, total=len(metrics), versions=_versions(versions))


def render_experiment(m: dict, experiment, extras: tuple = ()) -> str:
    p = m["parity"]
    criterion = p.get("criterion", f"every value within {p['tolerance']:g} relative "
                                   f"(floor: {PARITY_FLOOR})")
    parity = {"verdict": verdict(p), "max_rel_diff": p["max_rel_diff"],
              "tolerance": p["tolerance"], "criterion": criterion,
              "compared": p.get("compared", 0), "where": str(p.get("where", "")),
              "parts": _parts(p)}
    table = None
    if "table" in m:
        table = {"columns": m["table"]["columns"],
                 "rows": [[{"value": v, "num": isinstance(v, (int, float))} for v in row]
                          for row in m["table"]["rows"]]}
    checks = [{"backend": plotting.label(backend, short=True),
               "rows": [{"check": c, "value": str(v["value"]), "criterion": v["criterion"],
                         "passed": v["passed"]} for c, v in side["checks"].items()]}
              for backend, side in m["backends"].items() if "checks" in side]
    runs = [{"backend": b, "seconds": s["seconds"], "device": s["device"]}
            for b, s in m["backends"].items()]
    return _render("experiment.html", depth=1, extras=extras, name=m["experiment"],
                   description=experiment.description, concept=experiment.concept,
                   convention=m["config"].get("convention"), figures=m["figures"], table=table,
                   parity=parity, checks=checks, runs=runs, data=_data_text(m["data"]),
                   profile=m["profile"], seed=m["seed"], command=_command(m, experiment),
                   config=[(k, repr(v)) for k, v in m["config"].items()],
                   versions=_versions(m["versions"]))


def _parts(p: dict) -> list:
    """The parity of each part of an experiment, with the part's own sensitivity."""
    rows = []
    for part, value in p.get("by_part", {}).items():
        status = ("chaotic" if part in p.get("chaotic", []) else
                  "FAILED" if part in p.get("failed_parts", []) else
                  "passed" if value <= p["tolerance"] else "FAILED")
        rows.append({"part": part, "max_rel_diff": value,
                     "sensitivity": p.get("sensitivity", {}).get(part), "verdict": status})
    return rows


def _command(m: dict, experiment) -> str:
    """The command that reruns this experiment as it ran here."""
    changed = [f"--set {k}={_cli_value(v)}" for k, v in m["config"].items()
               if experiment.defaults.get(k) != v
               and k not in experiment.profiles.get(m["profile"], {})]
    return (f"python -m experiments run {m['experiment']} --backend both "
            f"--profile {m['profile']} --seed {m['seed']}" + "".join(" " + c for c in changed))


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
    return _render("bench.html", depth=1, extras=extras, gemm=gemm,
                   **{k: result[k] for k in keys})
