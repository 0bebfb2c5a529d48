"""Every experiment as a Jupyter notebook a student can run and change (docs/notebooks.md).

A notebook is **generated from the catalogue**, never kept by hand: :func:`make` builds it from an
experiment's declaration — its description and lesson, its settings (each with its meaning), the
rules its page shows — for one configuration. Its cells read like the book's listings and use the
project's public API only (:func:`experiments.run`): the settings as a plain ``dict`` to edit, the
run on both backends, the figures inline, the claims judged with ✓/✗, the parity verdict, the
rule side by side.

Its first code cell installs the project where it is not importable (Colab), from
:data:`INSTALL`'s source — by default the project's wheel, which :func:`write` puts beside the
notebooks (:func:`build_wheel`) — and keeps the PyTorch already there (the package asks for a
range of torch versions, not one). Notebooks are written with ``nbformat`` (outputs empty) and,
with ``execute=True``, run with ``nbclient`` in a fresh kernel and written with their outputs.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import importlib
import importlib.metadata
import importlib.util
import io as _io
import time
import zipfile
from pathlib import Path

from experiments import atomic, i18n
from experiments.i18n import _

#: The languages a notebook can be written in: the report's.
LANGUAGES = i18n.LANGUAGES
#: The packages the project's wheel holds.
PACKAGES = ("npref", "torchref", "experiments")
#: The Python modules a notebook's cells import: the project's public API and IPython's display.
IMPORTS = ("experiments", "importlib.util", "IPython.display")

#: The first code cell of every notebook — the one the README shows for Colab (README.ko.md the
#: Korean one): its comment, then the code. ``{source}``: what pip installs (the wheel beside the
#: notebook, or the repository's ``git+https://…`` URL).
INSTALL_COMMENT = i18n.N_(
    "# Colab, or a Python without the project: install it first (here it is skipped when the\n"
    "# project is already importable). SOURCE is what pip installs: the project's wheel, uploaded\n"
    "# beside this notebook (Colab: the Files panel on the left), or its repository as\n"
    "# \"npref[experiments] @ git+https://…\". The PyTorch already installed is kept: the project\n"
    "# accepts torch>=2.5,<3, it does not pin one version.")
INSTALL = '''\
SOURCE = "{source}"

import importlib.util

if importlib.util.find_spec("experiments") is None:
    %pip install --quiet "{{SOURCE}}"'''


def file_name(name: str) -> str:
    """The notebook file of experiment ``name``."""
    return f"{name}.ipynb"


def wheel_name() -> str:
    """The file name of the project's wheel, from the installed version."""
    return f"npref-{importlib.metadata.version('npref')}-py3-none-any.whl"


def default_source() -> str:
    """What a notebook's install cell installs unless told otherwise: the wheel beside it."""
    return f"./{wheel_name()}[experiments]"


def install_cell(source: str | None = None, lang: str = "en") -> str:
    """The install cell's code for ``source`` (a pip requirement; by default the wheel), its
    comment in ``lang``."""
    source = default_source() if source is None else source
    if '"' in source or "\n" in source or not source.strip():
        raise ValueError(f"--source must be one pip requirement (no quotes), got {source!r}")
    with i18n.language(check_lang(lang)):
        return _(INSTALL_COMMENT) + "\n" + INSTALL.format(source=source)


# -- a notebook from the catalogue ----------------------------------------------------------------

def make(experiment, config: dict, *, profile: str = "quick", seed: int = 0,
         source: str | None = None, lang: str = "en") -> nbformat.NotebookNode:
    """The notebook of ``experiment`` for ``config`` (its settings, checked), with empty outputs,
    its prose and comments in ``lang``."""
    with i18n.language(check_lang(lang)):
        return _make(experiment, config, profile, seed, source, lang)


def _make(experiment, config, profile, seed, source, lang):
    # nbformat imported here, not with the module (its schema validator takes 0.3-1.7 s to
    # import): `run` loads it while its workers compute (runner.load_for_writing)
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    name = experiment.name
    cells = [
        new_markdown_cell(_title(experiment, config, profile)),
        new_code_cell(install_cell(source, lang)),
        new_markdown_cell(_("## The settings\n\nEvery value the experiment takes, with what it "
                            "means. Change any of them, then run the cells below again "
                            "(*Run → Run All Below* in Jupyter, *Runtime → Run after* in "
                            "Colab).")),
        new_code_cell(_settings_cell(experiment, config, seed)),
        new_markdown_cell(_("## Train on both backends\n\nNumPy (`npref`, the book's code) and "
                            "PyTorch (`torchref`, PyTorch's own optimizers and layers) each "
                            "train from the same seed — the same initial weights, dropout masks "
                            "and batch order — and the run compares them value by value. It "
                            "writes its numbers and figures to `results/{name}/`, as "
                            "`python -m experiments run` does.", name=name)),
        new_code_cell(_run_cell(name, profile, lang)),
        new_markdown_cell(_("## The figures\n\nNumPy's lines are wide and pale, PyTorch's thin "
                            "and dashed on top of them: where the backends agree, one line runs "
                            "inside the other.")),
        new_code_cell(_FIGURES),
        new_markdown_cell(_("## What the source claims, and what this run shows\n\nEach claim "
                            "of the book (or the course's lecture and slides) is judged on each "
                            "backend's own numbers: ✓ where they bear it out, ✗ where they do "
                            "not, with the reason.")),
        new_code_cell(_findings_cell()),
        new_markdown_cell(_("## Do NumPy and PyTorch agree?\n\nEvery value of every series is "
                            "compared, relative to the largest magnitude its series reached.")),
        new_code_cell(_PARITY.replace("p.summary()", f'p.summary(lang="{lang}")')
                      if lang != "en" else _PARITY),
    ]
    rules = _rules_markdown(experiment, config)
    if rules:
        cells.append(new_markdown_cell(rules))
    cells.append(new_markdown_cell(_next(name, experiment, config, profile, seed)))
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "npref": {"experiment": name, "profile": profile, "seed": seed, "lang": lang}})
    nbformat.validate(nb)
    return nb


def text(nb) -> str:
    """A notebook as the ``.ipynb`` file's text."""
    import nbformat

    return nbformat.writes(nb, version=4)


def check_lang(lang: str) -> str:
    return i18n.check(lang)


def _title(experiment, config: dict, profile: str) -> str:
    return (f"# {experiment.description_for(config)}\n\n"
            + _("`{name}` — one experiment of *npref / torchref*: the training techniques of "
                "chapter 6 of *Deep Learning from Scratch*, written once in NumPy and once in "
                "PyTorch, and checked against each other.", name=experiment.name) + "\n\n"
            + f"{experiment.concept_for(config)}\n\n"
            + (_("The settings below are the **quick** profile's (seconds on a laptop; "
                 "`profile=\"full\"` runs the book's own settings).") if profile == "quick" else
               _("The settings below are the **{profile}** profile's.", profile=profile)))


def _settings_cell(experiment, config: dict, seed: int) -> str:
    meanings = experiment.meanings()
    values = [(f"    {key}={value!r},", meanings.get(key, "")) for key, value in config.items()]
    width = max(len(code) for code, _meaning in values)
    lines = [_("# The experiment's settings (change any, then run the cells below again)"),
             "settings = dict("]
    lines += [f"{code:<{width}}  # {meaning}" for code, meaning in values]
    lines += [")", f"seed = {seed}  # " + _("the random seed: initial weights, dropout masks, "
                                           "batch order")]
    return "\n".join(lines)


def _run_cell(name: str, profile: str, lang: str = "en") -> str:
    return ("import experiments\n\n"
            + _("# Train on NumPy and on PyTorch, compare them, judge the claims; write "
                "results/.") + "\n"
            + f'result = experiments.run("{name}", settings, seed=seed, profile="{profile}"'
            + (f', lang="{lang}")' if lang != "en" else ")"))


_FIGURES = """\
from IPython.display import Image, display

for figure in result.figures:
    display(Image(filename=f"results/{result.experiment}/{figure}"))"""

def _findings_cell() -> str:
    measured, why = _("measured:"), _("why not:")
    return f"""\
for f in result.findings:
    print("✓" if f.holds else "✗", f.claim)
    print("    {measured}", f.measured)
    print("    NumPy", "✓" if f.reproduced["numpy"] else "✗",
          "· PyTorch", "✓" if f.reproduced["torch"] else "✗")
    if f.why:
        print("    {why}", f.why)"""

_PARITY = """\
p = result.parity
print(p.summary())
for part, difference in (p.by_part or {}).items():
    print(f"    {part}: {difference:.1e}")"""


def _rules_markdown(experiment, config: dict) -> str:
    """The page's rules side by side, as Markdown with an HTML table (Jupyter and Colab render
    both): the formula in the book's notation, the NumPy code, the PyTorch lines that ran."""
    from experiments.report import render

    rules = render.rules(experiment, config)
    if not rules:
        return ""
    out = [_("## The rule, side by side"), "",
           _("Left: the rule in NumPy as the book writes it (npref computes exactly this). "
             "Right: the lines of PyTorch (or torchref) that ran for these settings, read from "
             "the installed code."), ""]
    for rule in rules:
        out += [f"**{_md(rule['formula'])}**", ""]
        if rule["book"]:
            out += [_("The book's convention: {text}", text=_md(rule['book'])), ""]
        out.append('<table><tr><th style="text-align: left">NumPy</th>'
                   '<th style="text-align: left">PyTorch</th></tr><tr>')
        for side in ("numpy", "torch"):
            cell = "".join(f"<p><code>{_html(b['title'])}</code></p>"
                           f"<pre>{_html(b['code'])}</pre>" for b in rule[side]["blocks"])
            if rule[side]["note"]:
                cell += f"<p>{_html(rule[side]['note'])}</p>"
            out.append(f'<td style="vertical-align: top; text-align: left">{cell}</td>')
        out += ["</tr></table>", ""]
    return "\n".join(out)


def _next(name, experiment, config, profile, seed) -> str:
    return _("## Next\n\n"
             "- Change a setting above and run the cells again: the claims are judged anew on "
             "the new numbers, and the parity verdict says whether the backends still agree.\n"
             "- The same run from a terminal: `python -m experiments run {name} --profile "
             "{profile} --seed {seed}` (with `--set KEY=VALUE` for each setting you changed; "
             "`python -m experiments run {name} --help` lists them with their ranges).\n"
             "- The whole report, every experiment side by side: `python -m experiments "
             "report`.", name=name, profile=profile, seed=seed)


def _md(text: str) -> str:
    """Text safe inside Markdown: the characters Markdown would read as markup, escaped."""
    return "".join("\\" + c if c in "\\`*_[]<>#|" else c for c in text)


def _html(text: str) -> str:
    """Code for a ``<pre>`` inside Markdown: escaped, and no blank line (which would end the
    HTML block in the Markdown parser)."""
    return html.escape(text, quote=False).replace("\n\n", "\n&#8203;\n")


# -- writing, executing ---------------------------------------------------------------------------

def write(names, out, *, profile: str = "quick", sets=(), seed: int = 0, lang: str = "en",
          source: str | None = None, execute: bool = False, timeout: int = 1200,
          log=lambda message: None) -> list[Path]:
    """Write the notebook of each experiment in ``names`` to ``out/NAME.ipynb`` (and, unless a
    ``source`` is given, the project's wheel beside them); with ``execute``, run each in a fresh
    kernel (its working folder ``out``) and write it with its outputs. Everything that can be
    refused is refused before anything is written."""
    from experiments import registry, settings as settings_mod

    check_lang(lang)
    seed = settings_mod.check_seed(seed)
    install_cell(source)
    made = []
    for name in names:
        experiment = registry.get(name)
        made.append((name, make(experiment, experiment.config_for(profile, sets),
                                profile=profile, seed=seed, source=source, lang=lang)))
    if execute:
        check_executable()
    out = atomic.check_out(out)
    if source is None:
        wheel = build_wheel(out)
        log(f"notebook: wrote {wheel} (the project, for a notebook's install cell)")
    written, failed = [], []
    for name, nb in made:
        path = out / file_name(name)
        atomic.write_text(path, text(nb))
        written.append(path)
        if not execute:
            log(f"notebook: wrote {path}")
            continue
        log(f"notebook: executing {path} ...")
        start = time.perf_counter()
        try:
            run_notebook(nb, cwd=out, timeout=timeout)
        except Exception as error:  # a cell raised, or the kernel died: keep what it showed
            atomic.write_text(path, text(nb))
            failed.append(f"{path} failed to run: {_first_line(error)}")
            log(f"notebook: {failed[-1]}")
            continue
        atomic.write_text(path, text(nb))
        log(f"notebook: {path} ran in {time.perf_counter() - start:.1f} s")
        parity = _parity_of(out / "results" / name)
        if parity is not None and parity.passed is False:
            from experiments.backends.parity import failure_summary
            failed.append(f"{path}: {failure_summary(name, parity)}")
    if failed:
        raise NotebookFailed(f"{len(failed)} of {len(made)} FAILED: " + "; ".join(failed))
    return written


class NotebookFailed(RuntimeError):
    """An executed notebook raised in a cell, or its backends disagreed."""


def _first_line(error) -> str:
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    lines = str(error).strip().splitlines()
    return lines[-1] if lines else type(error).__name__


def _parity_of(folder: Path):
    from experiments import results
    result = results.read(folder)
    return None if result is None else result.parity


def check_executable() -> None:
    """``execute`` needs nbclient and a Python kernel: say how to install them, before work."""
    missing = [m for m in ("nbclient", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"--execute needs {' and '.join(missing)}: pip install "
                         "-c constraints.txt -e '.[notebook]'")


def run_notebook(nb, *, cwd, timeout: int = 1200) -> None:
    """Execute ``nb`` in place with nbclient in a fresh kernel whose working folder is ``cwd``;
    a cell that raises raises :class:`nbclient.exceptions.CellExecutionError`."""
    from nbclient import NotebookClient

    # The kernel's own log is kept to errors (it warns of its local TCP ports otherwise).
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   extra_arguments=["--log-level=ERROR"],
                   resources={"metadata": {"path": str(cwd)}}).execute()


def build_wheel(out) -> Path:
    """Write the installed project as a pure-Python wheel to ``out`` (the packages' files and
    the installed metadata — its requirements included — with a RECORD of their hashes):
    what a notebook's install cell installs in Colab. No build tool, no network."""
    files = []
    for package in PACKAGES:
        root = Path(importlib.import_module(package).__file__).parent
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append((f"{package}/{path.relative_to(root).as_posix()}",
                              path.read_bytes()))
    dist = importlib.metadata.distribution("npref")
    version = dist.version
    info = f"npref-{version}.dist-info"
    # (a dist-info's METADATA; the same fields in a source tree's egg-info PKG-INFO)
    metadata = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    files.append((f"{info}/METADATA", metadata.encode()))
    files.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: experiments.notebook\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    record = _io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([name, f"sha256={digest}", len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    files.append((f"{info}/RECORD", record.getvalue().encode()))
    buffer = _io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files:
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            wheel.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return atomic.write_bytes(Path(out) / f"npref-{version}-py3-none-any.whl", buffer.getvalue())

