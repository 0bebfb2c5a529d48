"""The README's code runs as written — every ```python block of it, and of the docs pages it links
for students and users (:data:`DOCS`: the README is one screen; the rest of what it used to hold
lives there, and runs as it did).

:func:`python_blocks` finds the fenced ```python blocks under one heading of the README (up to the
next heading of the same or a higher level); :func:`run_blocks` executes them in order, in one
namespace — a section's blocks may build on each other — in an empty working folder, with
matplotlib drawing off screen. :data:`SECTIONS` is every ``##`` section that has a python block,
found in the README itself, and a test checks that together they hold every python block of the
file: a new block runs without anyone adding it here. Shell blocks are not run, but each
``python -m experiments ...`` line in them must parse with the real command line, name an
experiment that exists, and each ``make`` target must be one the Makefile has.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The README and the pages it links whose code a student runs: every python block runs.
DOCS = [README] + [ROOT / "docs" / name for name in ("guide.md", "running.md", "porting.md",
                                                     "install.md", "performance.md",
                                                     "layout.md", "notebooks.md")]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(```+|~~~+)\s*(\w*)")


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """``(line index, level, title)`` of each heading, fenced code skipped."""
    heads, fence = [], None
    for i, line in enumerate(lines):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1).startswith(fence) and not opened.group(2):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        head = _HEADING.match(line)
        if head:
            heads.append((i, len(head.group(1)), head.group(2)))
    return heads


def sections(text: str) -> dict[str, str]:
    """``{heading: its text}`` for every heading of a Markdown document (fenced code skipped when
    looking for headings; a section runs to the next heading of the same or a higher level)."""
    lines = text.splitlines(keepends=True)
    heads = _headings(lines)
    out = {}
    for k, (i, level, title) in enumerate(heads):
        end = next((j for j, lvl, _ in heads[k + 1:] if lvl <= level), len(lines))
        out[title] = "".join(lines[i + 1:end])
    return out


def python_blocks(text: str, heading: str) -> list[str]:
    """The code of each ```python block under ``heading`` (its exact title), in order."""
    found = sections(text)
    if heading not in found:
        raise KeyError(f"README has no heading {heading!r}; it has {sorted(found)}")
    return code_blocks(found[heading])


def code_blocks(text: str, languages=("python", "py")) -> list[str]:
    """The code of each fenced block of ``text`` in one of ``languages``, in order."""
    blocks, current, fence = [], None, None
    for line in text.splitlines(keepends=True):
        opened = _FENCE.match(line)
        if fence is None:
            if opened:
                fence = opened.group(1)
                current = [] if opened.group(2) in languages else None
        elif opened and opened.group(1).startswith(fence) and not opened.group(2):
            if current is not None:
                blocks.append("".join(current))
            fence, current = None, None
        elif current is not None:
            current.append(line)
    return blocks


def runnable_sections(text: str) -> list[str]:
    """The ``##`` headings (each with its ``###`` subsections) that hold a python block."""
    lines = text.splitlines(keepends=True)
    return [title for _, level, title in _headings(lines)
            if level == 2 and python_blocks(text, title)]


#: The sections whose python blocks run as written: all that have one, in every page of DOCS.
SECTIONS = [heading for doc in DOCS for heading in runnable_sections(doc.read_text(encoding="utf-8"))]
#: Which page each section is in.
PAGE = {heading: doc for doc in DOCS
        for heading in runnable_sections(doc.read_text(encoding="utf-8"))}


def run_blocks(heading: str, text: str | None = None) -> dict:
    """Execute the Python blocks under ``heading`` in order, in one namespace; return it."""
    doc = PAGE.get(heading, README)
    text = doc.read_text(encoding="utf-8") if text is None else text
    blocks = python_blocks(text, heading)
    assert blocks, f"{doc.name} section {heading!r} has no python code block"
    namespace = {"__name__": "readme"}
    for n, code in enumerate(blocks, start=1):
        exec(compile(code, f"{doc.name} [{heading}, block {n}]", "exec"), namespace)
    return namespace


class Ran:
    """One section's run: its namespace, what it printed, the folder it ran in."""

    def __init__(self, namespace: dict, printed: str, folder: Path):
        self.namespace, self.printed, self.folder = namespace, printed, folder


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """``ran(heading)``: the section's blocks run once per test module (the worked example trains
    two networks; the tests that look at its results share that run), each section in an empty
    folder of its own, with matplotlib drawing into files only."""
    import contextlib
    import io
    import os

    import matplotlib
    import matplotlib.pyplot as plt

    done = {}

    def run(heading: str) -> Ran:
        if heading not in done:
            folder = tmp_path_factory.mktemp("readme")
            here, backend = Path.cwd(), matplotlib.get_backend()
            saved_env = os.environ.get("MPLBACKEND")
            os.environ["MPLBACKEND"] = "Agg"
            matplotlib.use("Agg")
            out = io.StringIO()
            try:
                os.chdir(folder)
                with contextlib.redirect_stdout(out):
                    namespace = run_blocks(heading)
            finally:
                os.chdir(here)
                plt.close("all")
                matplotlib.use(backend)
                if saved_env is None:
                    os.environ.pop("MPLBACKEND", None)
                else:
                    os.environ["MPLBACKEND"] = saved_env
            done[heading] = Ran(namespace, out.getvalue(), folder)
        return done[heading]

    return run


@pytest.mark.parametrize("heading", SECTIONS)
def test_readme_section_runs_as_written(heading, ran):
    ran(heading)


def test_every_python_block_of_the_readme_is_run():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        covered = [block for heading in runnable_sections(text)
                   for block in python_blocks(text, heading)]
        assert covered == code_blocks(text), (
            f"{doc.name}: a python block lies outside every '## ' section (before the first "
            "one?): it would not run")
    assert {"Use the libraries", "Using it", "Train the lecture's net on both backends",
            "Prove your own port"} <= set(SECTIONS)
    assert len(SECTIONS) == len(set(SECTIONS)), "a heading with code in two pages"


def test_the_readme_is_one_screen_for_a_student():
    """What this is, the two commands, a run, the experiments beside the book's figures, and
    links: 150 lines at most; everything else in docs/, linked from it."""
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "book" in text and "fig. 6-8" in text and "results/index.html" in text
    for doc in DOCS[1:]:
        assert f"(docs/{doc.name})" in text, doc.name
    assert "npref/optim.py" not in (ROOT / "docs" / "README.md").read_text(encoding="utf-8")


def test_the_worked_example_trains_both_backends_alike_and_plots(ran):
    run = ran("Train the lecture's net on both backends")
    ours, theirs = run.namespace["ours"], run.namespace["theirs"]
    assert len(ours.loss) == len(theirs.loss) == 20 * 12          # 364 samples, batch 32
    assert run.namespace["result"].passed and ours.test_acc[-1] > 0.9
    assert "numbers agree" in run.printed
    figure = run.folder / "breast-cancer-both.png"
    assert figure.stat().st_size > 10_000


def _shell_commands(text: str):
    """Each command of the README's sh blocks: a list of words, comments dropped, ``&&`` split."""
    for block in code_blocks(text, languages=("sh", "bash", "shell", "console")):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            while words:
                cut = words.index("&&") if "&&" in words else len(words)
                yield words[:cut]
                words = words[cut + 1:]


@pytest.mark.parametrize("readme", [README, ROOT / "README.ko.md"], ids=lambda p: p.name)
def test_the_readmes_experiments_commands_parse(readme):
    from experiments.cli import _parser
    from experiments.registry import all_experiments

    docs = DOCS if readme == README else [readme]
    commands = [words for doc in docs
                for words in _shell_commands(doc.read_text(encoding="utf-8"))
                if words[1:3] == ["-m", "experiments"] and words[0].endswith(("python",
                                                                              "python3"))]
    assert len(commands) >= 5
    known = all_experiments()
    for words in commands:
        args = _parser().parse_args(words[3:])          # exits 2 with an error line if invalid
        if args.command == "run":
            assert args.name in known, words
        for name in getattr(args, "only", None) or ():
            assert name in known, words


@pytest.mark.parametrize("readme", [README, ROOT / "README.ko.md"], ids=lambda p: p.name)
def test_the_readmes_make_targets_exist(readme):
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    docs = DOCS if readme == README else [readme]
    commands = [words for doc in docs for words in _shell_commands(doc.read_text(encoding="utf-8"))
                if words[0] == "make"]
    used = {words[1] for words in commands if len(words) > 1 and "=" not in words[1]}
    assert used and used <= targets, used - targets
    variables = {w.split("=")[0] for words in commands for w in words[1:] if "=" in w}
    assert all(re.search(rf"^{v} \?=", makefile, re.MULTILINE) for v in variables), variables


def test_the_readmes_links_to_its_own_sections_resolve():
    """Every link of the README and its pages to a section — on the same page or another page
    of docs/ — names a heading that is there, and every linked page exists."""
    def slug(title):                                   # GitHub's anchor for a heading
        return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")

    def anchors(path):
        return {slug(title) for _, _, title in _headings(path.read_text(
            encoding="utf-8").splitlines())}

    checked = 0
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for page, anchor in re.findall(r"\]\(([\w./-]*\.md)?#([^)]+)\)", text):
            target = (doc.parent / page).resolve() if page else doc
            assert target.exists(), (doc.name, page)
            assert anchor in anchors(target), (doc.name, page, anchor)
            checked += 1
        for page in re.findall(r"\]\(([\w./-]+\.md)\)", text):
            assert (doc.parent / page).exists(), (doc.name, page)
    assert checked


def test_without_torch_the_torch_backend_points_to_the_venv(monkeypatch):
    """The First steps section's promise: the system Python is steered to .venv, not to pip."""
    import sys

    from experiments import backends

    monkeypatch.setitem(sys.modules, "torch", None)       # import torch -> ImportError
    with pytest.raises(backends.BackendUnavailable) as raised:
        backends.get("torch")
    message = str(raised.value)
    assert ". .venv/bin/activate" in message and ".venv/bin/python" in message
    assert "make report" in message and ".venv/bin/pip install -e '.[experiments]'" in message


def test_the_port_example_finds_the_slip_at_step_two(ran):
    run = ran("Prove your own port")
    found = run.namespace["divergence"]
    assert (found.step, found.name, found.others) == (2, "p", ())
    printed = run.printed
    # The output shown in the README, to 10 digits (the last bits may differ between CPUs):
    # the Adam slip, then the network port's BatchNorm eps.
    adam, network = printed.split("step 1, 'batchnorm1.out'")
    readme = _digits(PAGE["Prove your own port"].read_text(encoding="utf-8"))
    assert adam.startswith("step 2, 'p'[") and _digits(adam.strip()) in readme
    assert _digits(("step 1, 'batchnorm1.out'" + network).strip()) in readme


def _digits(text: str) -> str:
    return re.sub(r"\d+\.\d+(e-?\d+)?", lambda m: f"{float(m.group()):.10g}", text)


def test_the_helper_finds_blocks_by_heading():
    text = ("# T\n\n## A\n\n```python\nx = 1\n```\n\n```sh\nls\n```\n\n### A.1\n\n"
            "```python\n# ## not a heading\ny = x + 1\n```\n\n## B\n\n```python\nz = 3\n```\n")
    assert python_blocks(text, "A") == ["x = 1\n", "# ## not a heading\ny = x + 1\n"]
    assert python_blocks(text, "A.1") == ["# ## not a heading\ny = x + 1\n"]
    assert python_blocks(text, "B") == ["z = 3\n"]
    assert run_blocks("A", text)["y"] == 2
    with pytest.raises(KeyError, match="no heading 'C'"):
        python_blocks(text, "C")
