"""The teaching comparison report: a static site that opens from disk (SPEC section 9).

``OUT/index.html`` lists every experiment with its parity verdict, run time per backend and the
data it used; ``OUT/NAME/index.html`` shows one experiment — its concept and formula, the NumPy and
PyTorch figures overlaid, the parity table, its checks, timings, data and exact configuration;
``OUT/conventions.html`` measures every place where the book's conventions and PyTorch's differ.
Images are referenced by relative paths; no page needs JavaScript or a server.

Results are reused when an experiment's fingerprint — its configuration, profile, seed, device,
data folder and the hash of the project's code — matches the one recorded in its metrics.json
(``--force`` reruns everything).
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from experiments import config as config_mod
from experiments import registry
from experiments.backends.parity import PARITY_FLOOR
from experiments.io import write_json, write_text
from experiments.runner import code_version, fingerprint, log, run

STYLE = """
body { font: 15px/1.55 system-ui, sans-serif; max-width: 74rem; margin: 1.5rem auto;
       padding: 0 1rem; color: #222; }
nav { border-bottom: 1px solid #ddd; padding-bottom: .5rem; margin-bottom: 1rem; }
nav a { margin-right: 1.2rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .8rem 0; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pass { color: #176b1d; font-weight: 600; } .fail { color: #b00020; font-weight: 600; }
.chaotic { color: #8a5a00; }
img { max-width: 100%; border: 1px solid #eee; }
.thumbs { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr));
          gap: 1rem; }
.thumbs figure { margin: 0; } .thumbs figcaption { font-size: .85rem; }
code, pre { background: #f6f6f6; padding: 0 .2rem; }
pre { padding: .5rem; overflow-x: auto; }
.concept { font-size: 1.05rem; max-width: 60rem; }
"""

PAGES = {"index": "index.html", "conventions": "conventions.html"}


# -- building -------------------------------------------------------------------------------------

def build(*, out="results", profile="quick", only=None, device="auto", seed=0, data_dir=None,
          force=False):
    """Run (or reuse) the experiments, measure the conventions, write every page.

    Returns (the index's path, the names whose parity failed).
    """
    out = Path(out)
    experiments = registry.all_experiments()
    names = list(experiments) if not only else list(only)
    for name in names:
        if name not in experiments:
            raise KeyError(f"unknown experiment {name!r}; known: {', '.join(experiments)}")
    metrics = {}
    for i, name in enumerate(names, 1):
        experiment = experiments[name]
        config = config_mod.resolve(experiment.defaults, experiment.profiles, profile)
        key = fingerprint(name, profile, seed, config, ("numpy", "torch"), device, data_dir)
        saved = _saved(out / name, key)
        if saved is not None and not force:
            log(f"[{i}/{len(names)}] {name}: unchanged since its last run, reusing its results")
            metrics[name] = saved
            continue
        log(f"[{i}/{len(names)}] {name}")
        metrics[name] = run(name, backends=("numpy", "torch"), device=device, profile=profile,
                            seed=seed, data_dir=data_dir, out=out)
    conventions = _conventions(out, force)
    for name, m in metrics.items():                     # the pages first, then the links
        write_text(out / name / "index.html", "")
    extras = optional_pages(out)
    for name, m in metrics.items():
        write_text(out / name / "index.html",
                   _sanitize(render_experiment(m, experiments[name], extras)))
    write_text(out / PAGES["conventions"], _sanitize(render_conventions(conventions, extras)))
    index = out / PAGES["index"]
    write_text(index, _sanitize(render_index(metrics, experiments, profile, extras)))
    failed = [n for n, m in metrics.items() if m["parity"]["passed"] is False]
    log(f"report: wrote {index} ({len(names)} experiments, {len(failed)} parity failures)")
    return index, failed


def _saved(folder: Path, key: str):
    path = folder / "metrics.json"
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if m.get("fingerprint") != key or not all((folder / f).exists() for f in m["figures"]):
        return None
    return m


def _conventions(out: Path, force: bool) -> dict:
    from experiments.report import conventions

    folder = out / "conventions"
    path = folder / "conventions.json"
    version = code_version()
    if not force and path.exists():
        saved = json.loads(path.read_text())
        if saved.get("code") == version and all((folder / f).exists()
                                                for f in saved["figures"].values()):
            log("conventions: unchanged, reusing the measurements")
            return saved
    log("conventions: measuring each book-vs-torch difference on the standard task ...")
    measured = conventions.measure()
    measured["figures"] = conventions.plot(measured, folder)
    measured["code"] = version
    write_json(path, measured)
    return measured


def _sanitize(text: str) -> str:
    """No absolute paths of the machine the report was built on: the working folder becomes
    relative, the home folder ``~``."""
    for path, replacement in ((str(Path.cwd()) + os.sep, ""), (str(Path.home()) + os.sep, "~/")):
        text = text.replace(path, replacement)
    return text


# -- pieces ---------------------------------------------------------------------------------------

#: Pages linked from every page's navigation when they exist.
OPTIONAL_PAGES = (("lecture-errata/index.html", "The lecture as written"),
                  ("bench/index.html", "Performance"))


def optional_pages(out: Path) -> tuple:
    return tuple(page for page in OPTIONAL_PAGES if (Path(out) / page[0]).exists())


def _page(title: str, body: str, depth: int = 0, extras: tuple = ()) -> str:
    up = "../" * depth
    more = "".join(f'<a href="{up}{href}">{html.escape(text)}</a>' for href, text in extras)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<nav><a href="{up}index.html">All experiments</a><a href="{up}conventions.html">Book vs PyTorch
conventions</a>{more}</nav>
{body}
</body>
</html>
"""


def verdict(parity: dict) -> str:
    if parity["passed"] is None:
        return "<span>not measured</span>"
    if parity["passed"] and parity.get("chaotic"):
        return ('<span class="pass">passed</span> <span class="chaotic">(chaotic run)</span>')
    if parity["passed"]:
        return '<span class="pass">passed</span>'
    return '<span class="fail">FAILED</span>'


def _num(value, fmt="{:.2e}") -> str:
    return "—" if value is None else fmt.format(value)


def _timing(m: dict, backend: str) -> str:
    side = m["backends"].get(backend)
    if side is None:
        return "—"
    return f"{side['seconds']:.1f} s ({html.escape(side['device'])})"


def _data_text(data: dict) -> str:
    text = f"{data['name']} — {data['source']}"
    counts = [f"{data[k]} {label}" for k, label in (("n_train", "train"), ("n_val", "validation"),
                                                    ("n_test", "test")) if data.get(k)]
    if counts:
        text += f" ({' / '.join(counts)})"
    return html.escape(text)


def _table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(cell for cell in row) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _td(text, num=False) -> str:
    return f'<td class="num">{text}</td>' if num else f"<td>{text}</td>"


# -- pages ----------------------------------------------------------------------------------------

def render_index(metrics: dict, experiments: dict, profile: str, extras: tuple = ()) -> str:
    rows = []
    thumbs = []
    for name, m in metrics.items():
        e = experiments[name]
        p = m["parity"]
        rows.append([_td(f'<a href="{html.escape(name)}/index.html">{html.escape(name)}</a>'),
                     _td(html.escape(e.description)), _td(verdict(p)),
                     _td(_num(p["max_rel_diff"]), True), _td(_num(p["tolerance"], "{:.0e}"), True),
                     _td(_timing(m, "numpy"), True), _td(_timing(m, "torch"), True),
                     _td(_data_text(m["data"]))])
        if m["figures"]:
            thumbs.append(f'<figure><a href="{html.escape(name)}/index.html"><img src="'
                          f'{html.escape(name)}/{html.escape(m["figures"][0])}" alt="'
                          f'{html.escape(name)}: {html.escape(e.description)}"></a>'
                          f"<figcaption>{html.escape(name)}</figcaption></figure>")
    versions = next(iter(metrics.values()))["versions"] if metrics else {}
    passed = sum(m["parity"]["passed"] is True for m in metrics.values())
    body = f"""<h1>npref / torchref — teaching comparison report</h1>
<p class="concept">Every experiment of <em>Deep Learning from Scratch</em>, chapter 6, and of the
breast-cancer lecture, run twice: once in NumPy (<code>npref</code>) and once in PyTorch
(<code>torchref</code>), from the same starting weights, on the same minibatches and dropout
masks. The parity column says whether the two backends agree: within 1e-12 relative for a single
computation in float64, 1e-9 over a whole training run, 1e-5 in float32 — each value judged
against the largest magnitude its series reached. A <span class="chaotic">chaotic run</span>
amplifies any rounding difference (an L1 subgradient flipping sign, BatchNorm at tiny weight
scales): there the backends are shown to differ no more than a one-ulp change of the starting
weights moves the NumPy run itself. The <a href="conventions.html">conventions page</a> measures
where the book's rules and PyTorch's differ.</p>
<p>{passed} of {len(metrics)} experiments passed parity. Profile <strong>{html.escape(profile)}</strong>;
{html.escape(", ".join(f"{k} {v}" for k, v in versions.items()))}.</p>
{_table(["experiment", "what it shows", "parity", "max rel. diff", "tolerance", "NumPy",
         "PyTorch", "data"], rows)}
<h2>Figures</h2>
<div class="thumbs">
{chr(10).join(thumbs)}
</div>
<p>Rebuild with <code>python -m experiments report --profile {html.escape(profile)}</code>
(unchanged experiments are reused; <code>--force</code> reruns them).</p>
"""
    return _page("npref / torchref — teaching comparison report", body, extras=extras)


def render_experiment(m: dict, experiment, extras: tuple = ()) -> str:
    name = m["experiment"]
    p = m["parity"]
    figures = "\n".join(f'<p><img src="{html.escape(f)}" alt="{html.escape(name)}: '
                        f'{html.escape(f)} (NumPy wide and pale, PyTorch thin and dashed)"></p>'
                        for f in m["figures"])
    parts = []
    for part, value in p.get("by_part", {}).items():
        sens = p.get("sensitivity", {}).get(part)
        status = ("chaotic" if part in p.get("chaotic", []) else
                  "FAILED" if part in p.get("failed_parts", []) else
                  "passed" if value <= p["tolerance"] else "FAILED")
        parts.append([_td(html.escape(part)), _td(_num(value), True),
                      _td(_num(sens), True), _td(status)])
    part_table = _table(["part", "max rel. diff", "own sensitivity", "verdict"],
                        parts) if parts else ""
    checks = ""
    for backend, side in m["backends"].items():
        if "checks" in side:
            rows = [[_td(html.escape(c)), _td(html.escape(str(v["value"]))),
                     _td(html.escape(v["criterion"])),
                     _td('<span class="pass">yes</span>' if v["passed"] else
                         '<span class="fail">no</span>')]
                    for c, v in side["checks"].items()]
            checks += (f"<h3>Checks ({'NumPy' if backend == 'numpy' else 'PyTorch'})</h3>\n"
                       + _table(["check", "value", "criterion", "passed"], rows))
    config_rows = [[_td(f"<code>{html.escape(k)}</code>"), _td(f"<code>{html.escape(repr(v))}"
                                                               "</code>")]
                   for k, v in m["config"].items()]
    defaults = experiment.defaults
    changed = [f"--set {k}={_cli_value(v)}" for k, v in m["config"].items()
               if defaults.get(k) != v and k not in experiment.profiles.get(m["profile"], {})]
    command = (f"python -m experiments run {name} --backend both --profile {m['profile']} "
               f"--seed {m['seed']}" + "".join(" " + c for c in changed))
    convention = m["config"].get("convention")
    convention_note = (f'<p>Convention: <code>{html.escape(convention)}</code> — see the '
                       f'<a href="../conventions.html">conventions page</a> for what the other '
                       "one would change.</p>") if convention else ""
    criterion = p.get("criterion", f"every value within {p['tolerance']:g} relative "
                                   f"(floor: {PARITY_FLOOR})")
    table = ""
    if "table" in m:
        t = m["table"]
        table = "<h2>Table</h2>\n" + _table(t["columns"], [
            [_td(_cell(v), num=isinstance(v, (int, float))) for v in row] for row in t["rows"]])
    body = f"""<h1>{html.escape(name)}</h1>
<p><strong>{html.escape(experiment.description)}</strong></p>
<p class="concept">{html.escape(experiment.concept)}</p>
{convention_note}
{figures}
{table}
<h2>Parity</h2>
<p>{verdict(p)}: the largest relative difference between NumPy and PyTorch is
{_num(p["max_rel_diff"])} (tolerance {_num(p["tolerance"], "{:.0e}")}; criterion: {html.escape(criterion)}),
over {p.get("compared", 0)} compared values. Worst value: {html.escape(str(p.get("where", "")))}.</p>
{part_table}
{checks}
<h2>Run</h2>
{_table(["backend", "time", "device"], [[_td(b), _td(f"{s['seconds']:.2f} s", True),
                                          _td(html.escape(s["device"]))]
                                         for b, s in m["backends"].items()])}
<p>Data: {_data_text(m["data"])}.</p>
<h2>Configuration</h2>
<p>Profile <code>{html.escape(m["profile"])}</code>, seed {m["seed"]}. To rerun it:</p>
<pre>{html.escape(command)}</pre>
{_table(["key", "value"], config_rows)}
<p>{html.escape(", ".join(f"{k} {v}" for k, v in m["versions"].items()))}</p>
"""
    return _page(f"{name} — npref / torchref", body, depth=1, extras=extras)


def _cell(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4f}" if 0.0 < abs(v) < 10 else f"{v:g}"
    return html.escape(str(v))


def _cli_value(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, list) else str(v)


def render_conventions(measured: dict, extras: tuple = ()) -> str:
    sections = []
    for s in measured["sections"]:
        rows = [[_td("final training loss"), _td(f"{s['loss']['book']:.6g}", True),
                 _td(f"{s['loss']['torch']:.6g}", True)],
                [_td("final test accuracy"), _td(f"{s['test_acc']['book']:.4f}", True),
                 _td(f"{s['test_acc']['torch']:.4f}", True)]]
        drop = ""
        if "lr_drop" in s:
            drop = (f"<p>With the learning rate halved after {s['steps'] // 2} steps the "
                    f"parameters part by {s['lr_drop']['max_rel_param_diff']:.2e} (relative): "
                    f"final loss {s['lr_drop']['loss']['book']:.6g} (book) vs "
                    f"{s['lr_drop']['loss']['torch']:.6g} (torch).</p>")
        rule = "<br>".join(f"<code>{html.escape(part.strip())}</code>"
                           for part in s["rule"].split(";  "))
        sections.append(f"""<h2 id="{html.escape(s['name'].split()[0].lower())}">{html.escape(s['name'])}</h2>
<p>{rule}</p>
<p>After {s['steps']} steps of the standard task the two conventions' parameters differ by
<strong>{s['max_rel_param_diff']:.2e}</strong> (largest difference relative to its layer's
scale).</p>
{_table(["", 'convention="book"', 'convention="torch"'], rows)}
{drop}
<p><strong>When it matters.</strong> {html.escape(s['matters'])}</p>
<p><img src="conventions/{html.escape(measured['figures'][s['name']])}" alt="{html.escape(s['name'])}:
the standard task in both conventions, and when the difference matters"></p>""")
    body = f"""<h1>Book vs PyTorch: the conventions, measured</h1>
<p class="concept">Every rule here exists in both conventions — <code>convention="torch"</code>,
PyTorch's documented rule and defaults, and <code>convention="book"</code>, the textbook's — and
both are exact, tested implementations (the parity suite compares each with PyTorch, or npref
with torchref where PyTorch has no equivalent). This page measures how far apart the two land on
a standard task: {html.escape(measured['task'])}; and shows when the difference matters.</p>
{chr(10).join(sections)}
"""
    return _page("Book vs PyTorch conventions — npref / torchref", body, extras=extras)


def render_bench(result, out) -> str:
    """The benchmark's page (``OUT/bench/index.html``)."""
    import html

    rows = [[_td(html.escape(r["impl"])), _td(r["device"]), _td(str(r["batch"]), True),
             _td(r["dtype"]), _td(f"{r['ms']:.2f}", True),
             _td(f"{r['ms_low']:.2f}–{r['ms_high']:.2f}", True),
             _td(f"{r['vs_pytorch']:.2f}×", True), _td(f"{r['gflops']:.1f}", True),
             _td(f"{100 * r['of_gemm']:.0f}%", True)] for r in result["rows"]]
    gemm = ", ".join(f"{k} {v:.0f}" for k, v in result["gemm_gflops"].items())
    body = f"""<h1>Performance: one training step, both backends and plain PyTorch</h1>
<p class="concept">One step — forward, backward, Adam update — of the book's 784-[100×4]-10 ReLU
network with softmax cross-entropy. Every configuration ran in a process of its own, the
configurations taking turns over {result['rounds']} rounds; each process warmed up for
{result['warmup']} steps, then timed {result['blocks']} blocks of {result['steps']} steps. The
baseline, <code>pytorch</code>, is a plain PyTorch eager loop (<code>nn.Sequential</code>,
<code>torch.optim.Adam</code> with its defaults); <code>pytorch-fused</code> is the same loop with
<code>fused=True</code>. A step counts 6 × {result['params']:,} parameters × batch floating-point
operations. The machine's float32 GEMM (4096²): {html.escape(gemm)} GFLOP/s; the percentages
below are of the faster, {result['machine_gflops']:.0f} GFLOP/s ({result['cpu_count']} CPUs,
PyTorch on {result['torch_threads']} threads).</p>
<p><img src="{result['figure']}" alt="milliseconds per training step, by implementation"></p>
{_table(["implementation", "device", "batch", "dtype", "ms / step (median)",
         "spread of rounds", "vs pytorch", "GFLOP/s", "of GEMM"], rows)}
"""
    return _page("Performance — npref / torchref", body, depth=1, extras=optional_pages(out))


def write_bench_page(result, out) -> Path:
    path = Path(out) / "bench" / "index.html"
    write_text(path, "")
    write_text(path, render_bench(result, out))
    return path
