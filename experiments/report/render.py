"""Rendering the report's pages with Jinja2: one function per page turns the results into plain
data (strings, numbers, lists, dicts) and hands them to its template in ``templates/``.

Every template extends ``base.html`` (the head, the inlined ``report.css``, the navigation);
autoescaping is on, so the data passed in is plain text, never markup. A name a template uses but
the data lacks is an error (``StrictUndefined``), not a silently empty cell.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import threading
from pathlib import Path

import jinja2

from experiments import i18n, plotting
from experiments.backends.parity import PARITY_FLOOR, shadow_failure
from experiments.i18n import N_, _, _h
from experiments.results import Parity, Result

TEMPLATES = Path(__file__).with_name("templates")

#: Pages linked from every page's navigation when they exist: (path from the report's root, text).
OPTIONAL_PAGES = (("lecture-errata/index.html", N_("The lecture as written")),
                  ("bench/index.html", N_("Performance")))

DASH = "—"
#: A part's parity verdict, as the parts table says it.
CHAOTIC, PASSED, FAILED = (N_("chaotic — as close as the problem allows"), N_("passed"),
                           N_("FAILED"))

#: The index's sections, in the order of the book's chapter 6, then the lecture and the slides:
#: (title, source, experiment names).
SECTIONS = (
    (N_("Optimizers"), N_("book §6.1"), ("optimizer-paths", "optimizer-mnist")),
    (N_("Learning-rate schedules"), N_("the notes' learning-rate decay"), ("lr-schedule",)),
    (N_("Initial weights"), N_("book §6.2"), ("init-histograms", "init-mnist")),
    (N_("Batch Normalization"), N_("book §6.3"), ("batchnorm-mnist",)),
    (N_("Overfitting and regularization"), N_("book §6.4 and the exercise notebook"),
     ("overfit-weight-decay", "overfit-dropout", "deep-mnist-exercises")),
    (N_("Hyperparameter search"), N_("book §6.5"), ("hyperparameter-search",)),
    (N_("The breast-cancer lecture"), N_("the lecture"),
     ("breast-cancer-init", "breast-cancer-regularization", "breast-cancer-learning-rate",
      "breast-cancer-validation", "breast-cancer-early-stopping", "breast-cancer-minibatch",
      "breast-cancer-dropout", "breast-cancer-optimizers", "lecture-errata")),
    (N_("Babysitting the learning process"), N_("the slides"), ("sanity-checks",)),
)
#: The section of the experiments no section names.
OTHER = N_("Other experiments")


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
    """A duration: ``2.98 s`` (``2.98초``)."""
    return DASH if value is None else _("{seconds} s", seconds=format(value, f".{digits}f"))


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
    env.globals.update(_=_, _h=_h)
    return env


def _render(template: str, *, depth: int, extras: tuple, **data) -> str:
    nav = [{"href": href, "text": _(text)} for href, text in extras]
    return environment().get_template(template).render(up="../" * depth, extras=nav,
                                                        lang=i18n.html_lang(),
                                                        page_font=i18n.page_font_css(
                                                            i18n.html_lang()), **data)


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


#: How many samples of each split a dataset has, as the pages say it.
SPLITS = (("n_train", N_("{count} train")), ("n_val", N_("{count} validation")),
          ("n_test", N_("{count} test")))
_FIRST = re.compile(r"the first (\d+) train / (\d+) test images used")


def _source(text: str) -> str:
    """A data source's words (``metrics.json`` keeps them in English): each ``;``-part looked
    up in the catalogue, the subset note filled in."""
    parts = []
    for part in text.split("; "):
        first = _FIRST.fullmatch(part)
        parts.append(_("the first {n_train} train / {n_test} test images used",
                       n_train=first.group(1), n_test=first.group(2)) if first else _(part))
    return "; ".join(parts)


def _data_text(data: dict) -> str:
    text = f"{_(data['name'])} — {_source(data['source'])}"
    counts = [_(label, count=data[k]) for k, label in SPLITS if data.get(k)]
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
    for title, source, names in SECTIONS + ((OTHER, "", tuple(rows)),):
        members = [rows[n] for n in names if n in rows and n not in placed]
        placed.update(r["name"] for r in members)
        if members:
            sections.append({"title": _(title), "source": _(source) if source else "",
                             "rows": members,
                             "id": re.sub(r"[^a-z]+", "-", title.lower()).strip("-")})
    versions = next(iter(found.values())).versions if found else {}
    passed = sum(r.parity.passed is True for r in found.values())
    taught = sum(r["all_reproduced"] for r in rows.values())
    lang = i18n.current()
    rebuild = f"python -m experiments report --profile {profile}" + (
        f" --lang {lang}" if lang != "en" else "")
    return _render("index.html", depth=0, extras=extras, sections=sections, profile=profile,
                   passed=passed, taught=taught, total=len(found),
                   sources=_sources(found), versions=_versions(versions), rebuild=rebuild,
                   switch=_switch())


def _switch() -> str:
    """The line that says how to write the report in the other languages, in their own."""
    others = [lang for lang in i18n.LANGUAGES if lang != i18n.current()]
    return " · ".join(f"{i18n.NAMES[lang]}: python -m experiments report --lang {lang}"
                      for lang in others)


def _index_row(name: str, r: Result, experiment) -> dict:
    r = r.in_language(i18n.current())
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
                  + (_(" (reproduced in {count} of {seeds} seeds)", count=counts[b],
                       seeds=counts["seeds"]) if counts else ""), "ok": ok}
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
    return [{"name": _(k), "source": _source(v)} for k, v in seen.items()]


def _data_short(data: dict) -> str:
    counts = [_(label, count=format(data[k], ",")) for k, label in SPLITS if data.get(k)]
    return _(data["name"]) + (f" ({' / '.join(counts)})" if counts else "")


def explorables(r: Result, config: dict) -> list:
    """The page's explorable lessons (:mod:`experiments.explore`) in the current language: each
    with its sliders, its text, the data its script draws (every position's lines, parity and
    claims) and, for reading without JavaScript, a table of every position."""
    from markupsafe import Markup

    from experiments import explore
    from experiments.catalogue.batchnorm_mnist import scales

    if not r.explore:
        return []
    lang = i18n.current()
    stored = {lesson["name"]: lesson for lesson in r.explore["lessons"]}
    out = []
    for lesson in explore.lessons_for(r.experiment):
        data = stored.get(lesson.name)
        if data is None:
            continue
        sliders = []
        for slider, values in zip(lesson.sliders, data["values"]):
            shown = [float(scales(config)[v]) if slider.key == "scale" else v for v in values]
            current = config.get(slider.key)
            sliders.append({"label": _(slider.label),
                            "values": [slider.shown.format(value=_(v) if isinstance(v, str)
                                                           else v) for v in shown],
                            "start": _nearest(values, current) if slider.key in config
                            else 0})
        points, rows = [], []
        for at, point in zip(itertools.product(*[range(len(v)) for v in data["values"]]),
                             data["points"]):
            setting = ", ".join(f"{s['label']} {s['values'][i]}" for s, i in zip(sliders, at))
            if "stopped" in point:
                text = _("training stopped: {reason}", reason=point["stopped"])
                points.append({"stopped": text})
                rows.append({"setting": setting, "parity": text, "claims": ""})
                continue
            p = point["parity"]
            parity = _("Parity at this setting: {verdict} — largest relative difference "
                       "between NumPy and PyTorch {diff} (tolerance {tol}).",
                       verdict=_("passed") if p["passed"] else _("FAILED"),
                       diff=sci(p["max_rel_diff"]), tol=tol(p["tolerance"]))
            claims = [{"claim": f["claim"], "measured": f["measured"],
                       "mark": _mark(f["reproduced"])}
                      for f in point["findings"].get(lang, point["findings"]["en"])]
            lines = []
            for backend in ("numpy", "torch"):
                for color, line in enumerate(point["lines"][backend]):
                    lines.append({"backend": backend, "color": color,
                                  "label": explore.message(line["label"]),
                                  "x": line["x"], "y": line["y"]})
            points.append({"lines": lines, "parity": {"text": parity, "passed": p["passed"]},
                           "findings": claims})
            rows.append({"setting": setting, "parity": f"{'✓' if p['passed'] else '✗'} "
                         f"{sci(p['max_rel_diff'])}",
                         "claims": " ".join(c["mark"] for c in claims)})
        script = {"logY": lesson.log_y, "steps": lesson.steps,
                  "view": list(lesson.view) if lesson.view else None,
                  "xLabel": _(lesson.x_label), "yLabel": _(lesson.y_label),
                  "sliders": [{"values": s["values"]} for s in sliders], "points": points}
        text = json.dumps(script, ensure_ascii=False, separators=(",", ":"))
        # the prose quotes the settings that ran (its start, its number of images)
        out.append({"id": f"explore-{lesson.name}", "title": _(lesson.title, **config),
                    "try": _(lesson.try_this, **config), "sliders": sliders, "rows": rows,
                    "runs": 0 if lesson.own else len(data["points"]), "own": lesson.own,
                    "data": Markup(text.replace("</", "<\\/"))})
    return out


def _nearest(values: list, current) -> int:
    """The slider's start: the position of the run's own setting (or the nearest to it)."""
    try:
        return min(range(len(values)), key=lambda i: abs(float(values[i]) - float(current)))
    except (TypeError, ValueError):
        return values.index(current) if current in values else 0


def _mark(reproduced: dict) -> str:
    """One claim's verdict at a setting: ✓ where both backends reproduce it, ✗ where neither,
    and each backend's mark where they differ."""
    marks = set(reproduced.values())
    if len(marks) == 1:
        return "✓" if marks.pop() else "✗"
    return " ".join(f"{'✓' if ok else '✗'} {plotting.label(b, short=True)}"
                    for b, ok in reproduced.items())


def explore_script():
    """The script that draws the explorables (``templates/explore.js``), for the page."""
    from markupsafe import Markup

    return Markup((Path(__file__).parent / "templates" / "explore.js").read_text())


def render_experiment(r: Result, experiment, extras: tuple = (), notebook=None) -> str:
    """One experiment's page in the current language; ``notebook``: ``(its notebook's file,
    the wheel's file name)`` to link as "Open as notebook" (none when not given)."""
    r = r.in_language(i18n.current())
    p = r.parity
    criterion = _criterion(p.criterion) if p.criterion else _(
        "every value within {tol:g} relative (floor: {floor})", tol=p.tolerance,
        floor=_(PARITY_FLOOR))
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
    meanings = experiment.meanings()
    return _render("experiment.html", depth=1, extras=extras, name=r.experiment,
                   description=experiment.description_for(r.config),
                   concept=experiment.concept_for(r.config), rules=rules(experiment, r.config),
                   convention=r.config.get("convention"), figures=r.figures, table=table,
                   findings=findings(r), parity=parity, runs=runs, data=_data_text(r.data),
                   profile=r.profile, notebook=notebook[0] if notebook else None,
                   wheel=notebook[1] if notebook else None,
                   seed=(_("{seed} (seeds {first}–{last}: medians drawn, spread in the last "
                           "figure)", seed=r.seed, first=r.seeds[0], last=r.seeds[-1])
                         if r.seeds else r.seed),
                   command=_command(r, experiment),
                   overrides=sorted(overrides),
                   config=[(k, _cli_value(v), k in overrides, meanings.get(k, ""))
                           for k, v in r.config.items()],
                   versions=_versions(r.versions), explorables=explorables(r, r.config),
                   explore_script=explore_script())


#: The panels are made one at a time: tracing and reading source parse the installed code with
#: ``ast``, whose recursion counter CPython 3.11 shares between threads ("AST constructor
#: recursion depth mismatch" when two threads parse at once — the notebook tests make several
#: notebooks in a thread pool).
_PANELS = threading.Lock()


def rules(experiment, config: dict) -> list:
    """Every rule of the page side by side: its formula, the NumPy form and the PyTorch lines
    that ran, made now from the installed code (:mod:`experiments.panels`)."""
    with _PANELS:
        return _rules(experiment, config)


def _rules(experiment, config: dict) -> list:
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
        _("{part}: the whole runs differ by {diff}, every one of its {steps} shadowed "
          "iterations agrees within {shadowed}", part=part, diff=fmt(p.by_part[part], '.1e'),
          steps=f"{shadow[part]['steps']:,}", shadowed=fmt(shadow[part]['max_rel_diff'], '.1e'))
        + (_(", and a one-ulp nudge of NumPy's starting weights moves NumPy's own run by "
             "{nudge}", nudge=fmt(nudged[part], '.1e')) if part in nudged else "")
        for part in p.chaotic if part in shadow)
    return _("Chaotic — as close as the problem allows. {parts}. These runs amplify any "
             "rounding difference, so no two implementations can follow the same path to the "
             "tolerance, and how far apart they end depends on the BLAS kernel that rounded "
             "them. The verdict is the shadowed run's: PyTorch restarted from NumPy's state "
             "(parameters, running statistics, optimizer buffers) after every iteration agrees "
             "with NumPy within {tol} at every one — a bug (a wrong eps, the other convention, "
             "a wrong layer) parts them at the first iteration it touches.", parts=parts,
             tol=fmt(p.shadow[p.chaotic[0]]['tol'], '.0e'))


_SHADOW_CRITERION = re.compile(r"each part within (\S+) over the whole run, or, shadowed — "
                               r"PyTorch restarted from NumPy's state after every iteration — "
                               r"within (\S+) at every iteration")
N_("history")                                   # PARITY_FLOOR, the floor's name


def _criterion(text: str) -> str:
    """The parity criterion (metrics.json keeps it in English) in the page's language."""
    shadowed = _SHADOW_CRITERION.fullmatch(text)
    if shadowed:
        return _("each part within {tol} over the whole run, or, shadowed — PyTorch restarted "
                 "from NumPy's state after every iteration — within {step_tol} at every "
                 "iteration", tol=shadowed.group(1), step_tol=shadowed.group(2))
    return _(text)


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
        status = _(CHAOTIC if part in (p.chaotic or []) else
                   FAILED if part in (p.failed_parts or []) else
                   PASSED if value <= p.tolerance else FAILED)
        shadow = (p.shadow or {}).get(part)
        if status == _(FAILED) and shadow:
            status = _("FAILED: {why}", why=shadow_failure(shadow))
        rows.append({"part": part, "max_rel_diff": value,
                     "shadowed": None if shadow is None else shadow.get("max_rel_diff"),
                     "sensitivity": (p.sensitivity or {}).get(part), "verdict": status})
    return rows


def _command(r: Result, experiment) -> str:
    """The command that reruns this experiment as it ran here."""
    changed = [f"--set {k}={_cli_value(r.config[k])}"
               for k in sorted(_overrides(r, experiment))]
    lang = i18n.current()
    return (f"python -m experiments run {r.experiment} --backend both "
            f"--profile {r.profile} --seed {r.seed}"
            + (f" --seeds {len(r.seeds)}" if r.seeds else "")
            + "".join(" " + c for c in changed) + (f" --lang {lang}" if lang != "en" else ""))


def render_conventions(measured: dict, extras: tuple = ()) -> str:
    """The conventions page, in the current language: its words made from the measured numbers
    (:func:`experiments.report.conventions.words`), its figures the language's own where the
    measurements hold them (``translations``), else the English ones."""
    from experiments.report import conventions

    lang = i18n.current()
    figures = measured["figures"] if lang == "en" else {
        **measured["figures"], **measured.get("translations", {}).get(lang, {}).get("figures", {})}
    sections = [{"id": s["name"].split()[0].lower(), **conventions.words(s, measured),
                 "steps": s["steps"], "max_rel_param_diff": s["max_rel_param_diff"],
                 "loss": s["loss"], "test_acc": s["test_acc"], "lr_drop": s.get("lr_drop"),
                 "figure": figures[s["name"]]}
                for s in measured["sections"]]
    return _render("conventions.html", depth=0, extras=extras,
                   task=conventions.task(measured), sections=sections)


def render_bench(result, extras: tuple = ()) -> str:
    """The benchmark's page (``OUT/bench/index.html``)."""
    gemm = ", ".join(f"{k} {v:.0f}" for k, v in result["gemm_gflops"].items())
    keys = ("rounds", "warmup", "blocks", "steps", "params", "machine_gflops", "cpu_count",
            "torch_threads", "figure", "rows")
    data = {k: result[k] for k in keys}
    # A bench.json from before figures were flagged has rows without flags: none flagged.
    data["rows"] = [{"flags": {}, **row} for row in result["rows"]]
    data["gemm_size"] = result.get("gemm_size", 4096)       # a bench.json from before: 4096
    return _render("bench.html", depth=1, extras=extras, gemm=gemm, **data)
