"""The README's code runs as written.

:func:`python_blocks` finds the fenced ```python blocks under one heading of the README (up to the
next heading of the same or a higher level); :func:`run_blocks` executes them in order, in one
namespace — a section's blocks may build on each other — in an empty working folder. To check
another section, add its heading to :data:`SECTIONS`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

#: Headings whose Python blocks must run as written.
SECTIONS = ["Prove your own port"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(```+|~~~+)\s*(\w*)")


def sections(text: str) -> dict[str, str]:
    """``{heading: its text}`` for every heading of a Markdown document (fenced code skipped when
    looking for headings; a section runs to the next heading of the same or a higher level)."""
    lines = text.splitlines(keepends=True)
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
    blocks, current, fence = [], None, None
    for line in found[heading].splitlines(keepends=True):
        opened = _FENCE.match(line)
        if fence is None:
            if opened:
                fence = opened.group(1)
                current = [] if opened.group(2) in ("python", "py") else None
        elif opened and opened.group(1).startswith(fence) and not opened.group(2):
            if current is not None:
                blocks.append("".join(current))
            fence, current = None, None
        elif current is not None:
            current.append(line)
    return blocks


def run_blocks(heading: str, text: str | None = None) -> dict:
    """Execute the Python blocks under ``heading`` in order, in one namespace; return it."""
    text = README.read_text(encoding="utf-8") if text is None else text
    blocks = python_blocks(text, heading)
    assert blocks, f"README section {heading!r} has no python code block"
    namespace = {"__name__": "readme"}
    for n, code in enumerate(blocks, start=1):
        exec(compile(code, f"README.md [{heading}, block {n}]", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("heading", SECTIONS)
def test_readme_section_runs_as_written(heading, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_blocks(heading)


def test_the_port_example_finds_the_slip_at_step_two(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    found = run_blocks("Prove your own port")["divergence"]
    assert (found.step, found.name, found.others) == (2, "p", ())
    printed = capsys.readouterr().out
    # The output shown in the README, to 10 digits (the last bits may differ between CPUs).
    assert printed.startswith("step 2, 'p'[") and _digits(printed.strip()) in _digits(
        README.read_text(encoding="utf-8"))


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
