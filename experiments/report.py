"""The teaching comparison report: one static HTML page that opens from disk.

It runs each experiment on both backends (through :func:`experiments.runner.run`), then writes
``OUT/index.html``: a summary table (parity, timings, data) and a section per experiment with its
concept, figures, parity figures and exact configuration. Images are referenced by relative paths,
so the folder can be moved or zipped; the page needs no JavaScript and no server.
"""

from __future__ import annotations

import html
from pathlib import Path

from experiments import registry
from experiments.io import write_text
from experiments.runner import log, run

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #176b1d; font-weight: 600; } .fail { color: #b00020; font-weight: 600; }
img { max-width: 100%; border: 1px solid #eee; }
code { background: #f6f6f6; padding: 0 0.2rem; }
"""


def build(*, out="results", profile="quick", only=None, device="auto", seed=0, data_dir=None):
    """Run the experiments and write ``out/index.html``; returns (its path, names that failed)."""
    experiments = registry.all_experiments()
    names = list(experiments) if not only else list(only)
    for name in names:
        if name not in experiments:
            raise KeyError(f"unknown experiment {name!r}; known: {', '.join(experiments)}")
    metrics = {}
    for i, name in enumerate(names, 1):
        log(f"[{i}/{len(names)}] {name}")
        metrics[name] = run(name, backends=("numpy", "torch"), device=device, profile=profile,
                            seed=seed, data_dir=data_dir, out=out)
    failed = [n for n, m in metrics.items() if m["parity"]["passed"] is False]
    index = Path(out) / "index.html"
    write_text(index, render(metrics, experiments, profile))
    log(f"report: wrote {index} ({len(names)} experiments, {len(failed)} parity failures)")
    return index, failed


def render(metrics: dict, experiments: dict, profile: str) -> str:
    rows = "\n".join(_summary_row(name, m, experiments[name]) for name, m in metrics.items())
    sections = "\n".join(_section(name, m, experiments[name]) for name, m in metrics.items())
    versions = next(iter(metrics.values()))["versions"] if metrics else {}
    version_text = ", ".join(f"{k} {v}" for k, v in versions.items())
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>npref / torchref — teaching comparison report</title>
<style>{STYLE}</style>
</head>
<body>
<h1>npref / torchref — teaching comparison report</h1>
<p>Every experiment of "Deep Learning from Scratch", chapter 6, run twice: once in NumPy
(<code>npref</code>) and once in PyTorch (<code>torchref</code>). The parity column says whether the
two backends agree within the tolerance of the dtype (1e-12 relative in float64, 1e-5 in float32),
each series judged against the largest magnitude it reached.</p>
<p>Profile: <strong>{html.escape(profile)}</strong>. Versions: {html.escape(version_text)}.</p>
<table>
<thead><tr><th>experiment</th><th>what it shows</th><th>parity</th><th>max rel. diff</th>
<th>tolerance</th><th>NumPy</th><th>PyTorch</th><th>data</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
{sections}
<hr>
<p>Rebuild with <code>python -m experiments report --profile {html.escape(profile)}</code>; rerun
one experiment with <code>python -m experiments run NAME --backend both</code>.</p>
</body>
</html>
"""


def _verdict(parity: dict) -> str:
    if parity["passed"] is None:
        return "<span>not measured</span>"
    if parity["passed"] and parity.get("chaotic"):
        return ('<span class="pass">passed</span> <span class="chaotic">(chaotic: '
                + html.escape(", ".join(parity["chaotic"])) + ")</span>")
    if parity["passed"]:
        return '<span class="pass">passed</span>'
    return '<span class="fail">FAILED</span>'


def _number(value, fmt="{:.2e}") -> str:
    return "—" if value is None else fmt.format(value)


def _timing(m: dict, backend: str) -> str:
    side = m["backends"].get(backend)
    if side is None:
        return "—"
    return f"{side['seconds']:.2f} s ({html.escape(side['device'])})"


def _data_text(data: dict) -> str:
    text = f"{data['name']} — {data['source']}"
    if data.get("n_train") or data.get("n_test"):
        text += f" ({data['n_train']} train / {data['n_test']} test)"
    return html.escape(text)


def _summary_row(name: str, m: dict, experiment) -> str:
    p = m["parity"]
    return (f'<tr><td><a href="#{name}">{html.escape(name)}</a></td>'
            f"<td>{html.escape(experiment.description)}</td><td>{_verdict(p)}</td>"
            f'<td class="num">{_number(p["max_rel_diff"])}</td>'
            f'<td class="num">{_number(p["tolerance"], "{:.0e}")}</td>'
            f'<td class="num">{_timing(m, "numpy")}</td><td class="num">{_timing(m, "torch")}</td>'
            f"<td>{_data_text(m['data'])}</td></tr>")


def _section(name: str, m: dict, experiment) -> str:
    p = m["parity"]
    figures = "\n".join(
        f'<p><img src="{html.escape(name)}/{html.escape(f)}" '
        f'alt="{html.escape(name)}: {html.escape(f)}"></p>' for f in m["figures"])
    config = "".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(repr(v))}</code></td>"
                     "</tr>" for k, v in m["config"].items())
    return f"""<h2 id="{html.escape(name)}">{html.escape(name)}</h2>
<p>{html.escape(experiment.concept)}</p>
{figures}
<table>
<tr><th>parity</th><td>{_verdict(p)}</td></tr>
<tr><th>max relative difference</th><td class="num">{_number(p["max_rel_diff"])}</td></tr>
<tr><th>max absolute difference</th><td class="num">{_number(p["max_abs_diff"])}</td></tr>
<tr><th>tolerance</th><td class="num">{_number(p["tolerance"], "{:.0e}")}</td></tr>
<tr><th>worst element</th><td>{html.escape(str(p.get("where", "")))}</td></tr>
<tr><th>run time</th><td>NumPy {_timing(m, "numpy")}; PyTorch {_timing(m, "torch")}</td></tr>
<tr><th>data</th><td>{_data_text(m["data"])}</td></tr>
</table>
<details><summary>configuration (profile {html.escape(m["profile"])}, seed {m["seed"]})</summary>
<table>{config}</table></details>
"""
