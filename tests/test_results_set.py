"""Results on disk (docs/results.md): one set per experiment, swapped in whole; the user's umask; saved
results reused only when intact; and a run killed at any moment never leaves a mixed or empty
page behind."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import atomic, results
from experiments.cli import main
from tests.conftest import copy_conventions

ROOT = Path(__file__).resolve().parent.parent


def test_files_and_folders_get_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "a.txt", "x")
        with atomic.result_set(tmp_path / "set") as folder:
            atomic.write_text(folder / "b.txt", "y")
        os.umask(0o077)
        atomic.write_text(tmp_path / "c.txt", "z")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)            # noqa: E731
    assert mode(tmp_path / "a.txt") == 0o644 and mode(tmp_path / "set" / "b.txt") == 0o644
    assert mode(tmp_path / "set") == 0o755 and mode(tmp_path / "c.txt") == 0o600


def test_a_set_is_swapped_in_whole_or_not_at_all(tmp_path):
    target = tmp_path / "exp"
    with atomic.result_set(target) as folder:
        atomic.write_text(folder / "metrics.json", "1")
        atomic.write_text(folder / "figure.png", "1")
    with pytest.raises(KeyboardInterrupt):
        with atomic.result_set(target) as folder:
            atomic.write_text(folder / "figure.png", "2")
            raise KeyboardInterrupt                            # between figure and metrics
    assert {p.name: p.read_text() for p in target.iterdir()} == {"metrics.json": "1",
                                                                 "figure.png": "1"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".exp.new")] == []


def test_recover_puts_back_the_old_set_after_a_kill_between_the_renames(tmp_path):
    target = tmp_path / "exp"
    aside = tmp_path / ".exp.old-999999999-x"                    # a process that is gone
    aside.mkdir()
    (aside / "metrics.json").write_text("old")
    (tmp_path / ".exp.new-999999999-y").mkdir()
    atomic.recover(target)
    assert (target / "metrics.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp"]


def test_a_corrupt_metrics_file_is_recomputed(tmp_path, capsys):
    assert main(["report", "--only", "optimizer-paths", "--out", str(tmp_path)]) == 0
    folder, metrics = tmp_path / "optimizer-paths", tmp_path / "optimizer-paths" / "metrics.json"
    good, key = metrics.read_text(), results.read(folder).fingerprint
    assert results.saved(folder, key) is not None           # whole: the report would reuse it
    # Each corrupt form is refused by the check the report reuses results through...
    for content in ["", "{\"experiment\": \"optimizer-paths\", \"prof", "[]", "null", "42"]:
        metrics.write_text(content)
        assert results.saved(folder, key) is None, content
        metrics.write_text(good)
    # ... and the report then runs the experiment again (one form end to end: the others take
    # the same path once the check has said no)
    metrics.write_text("")
    capsys.readouterr()
    assert main(["report", "--only", "optimizer-paths", "--out", str(tmp_path)]) == 0
    assert "reusing its results" not in capsys.readouterr().err
    assert json.loads(metrics.read_text())["figures"]


def test_a_figure_that_is_not_the_one_recorded_is_recomputed(tmp_path, capsys):
    assert main(["report", "--only", "optimizer-paths", "--out", str(tmp_path)]) == 0
    m = json.loads((tmp_path / "optimizer-paths" / "metrics.json").read_text())
    # every figure recorded with its hash, the Korean ones (translations) too
    assert set(m["figure_sha256"]) == set(m["figures"]) | {
        f for words in m.get("translations", {}).values() for f in words.get("figures", [])}
    capsys.readouterr()
    assert main(["report", "--only", "optimizer-paths", "--out", str(tmp_path)]) == 0
    assert "reusing its results" in capsys.readouterr().err
    figure = tmp_path / "optimizer-paths" / m["figures"][0]
    figure.write_bytes(figure.read_bytes()[:-10])                  # another run's, or torn
    assert main(["report", "--only", "optimizer-paths", "--out", str(tmp_path)]) == 0
    assert "reusing its results" not in capsys.readouterr().err


def test_a_corrupt_conventions_file_is_remeasured(tmp_path, monkeypatch):
    from experiments.report import building, conventions

    calls = []

    def plot(measured, folder):
        atomic.write_text(Path(folder) / "rule.png", "a figure")
        return {"rule": "rule.png"}
    monkeypatch.setattr(conventions, "measure", lambda: calls.append(1) or {"sections": []})
    monkeypatch.setattr(conventions, "plot", plot)
    building._conventions(tmp_path, force=False)
    assert building._conventions(tmp_path, force=False)["figures"] and len(calls) == 1
    for content in ["", "[]", "null", "{\"code\": 1"]:
        (tmp_path / "conventions" / "conventions.json").write_text(content)
        assert building._conventions(tmp_path, force=False)["figures"]
    assert len(calls) == 5
    (tmp_path / "conventions" / "rule.png").write_text("another figure")
    building._conventions(tmp_path, force=False)
    assert len(calls) == 6


def _consistent(folder: Path) -> None:
    """A result folder that is one whole set: metrics.json parses, every figure is there with
    its recorded hash, and the page is not empty and shows the seed the metrics record."""
    m = json.loads((folder / "metrics.json").read_text())
    for name in m["figures"]:
        assert atomic.sha256(folder / name) == m["figure_sha256"][name], name
    page = (folder / "index.html").read_text()
    assert page.strip() and f"seed {m['seed']}" in page


#: A process that imports what the command line loads (PyTorch, matplotlib, the catalogue) once,
#: then forks a child for each command it reads (JSON argv on a line), says the child's pid and
#: then its exit status: each killed process starts at its command's work, not at 2–3 s of
#: imports that write nothing. Nothing in it has started a thread before it forks.
_FORKER = r"""
import json, os, sys
import experiments.cli, experiments.report.building, matplotlib.pyplot, torch
for line in sys.stdin:
    argv = json.loads(line)
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        status = 1
        try:
            status = experiments.cli.main(argv)
        finally:
            os._exit(status)
    print(pid, flush=True)
    print(os.waitpid(pid, 0)[1], flush=True)
"""


class _Forker:
    def __init__(self, env):
        self.process = subprocess.Popen([sys.executable, "-c", _FORKER], env=env, cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pending = b""

    def _line(self, timeout=None) -> str | None:
        """The forker's next line, or None if none comes within ``timeout`` seconds."""
        import select

        while b"\n" not in self.pending:
            ready, _, _ = select.select([self.process.stdout], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self.process.stdout.fileno(), 4096)
            assert chunk, "the forker ended"
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode()

    def start(self, argv) -> int:
        self.process.stdin.write((json.dumps(argv) + "\n").encode())
        self.process.stdin.flush()
        return int(self._line())

    def ended(self, timeout=None) -> int | None:
        """The command's wait status once it ends within ``timeout`` seconds, else None."""
        line = self._line(timeout)
        return None if line is None else int(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(30)


@pytest.mark.slow
def test_killed_at_random_moments_never_leaves_a_mixed_or_empty_page(tmp_path):
    """SIGKILL ``run`` (over an existing set) and ``report`` at random moments, then check every
    page that exists is whole and true to its metrics, and that ``report`` still finishes."""
    out = tmp_path / "results"
    forker = _Forker({**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        forker.start(["run", "optimizer-paths", "--out", str(out)])
        assert forker.ended() == 0
        # The conventions page measured already (its own tests measure it), so that the kills
        # land in the writing of the experiments' sets and pages, which this test is about, and
        # not in 25 s of measuring the conventions.
        copy_conventions(out)
        rng, killed = random.Random(0), []
        for attempt in range(8):
            what = (["run", "optimizer-paths", "--seed", str(attempt + 1)] if attempt % 2 == 0
                    else ["report", "--only", "optimizer-paths", "breast-cancer-init"])
            pid = forker.start([*what, "--out", str(out)])
            # killed at a random moment, unless it finished before
            if forker.ended(timeout=rng.uniform(0.2, 4.0)) is None:
                os.kill(pid, signal.SIGKILL)
                assert forker.ended() is not None
                killed.append(what[0])
            for name in ("optimizer-paths", "breast-cancer-init"):
                if (out / name).exists():
                    _consistent(out / name)
            for page in out.glob("*.html"):
                assert page.read_text().strip(), f"{page.name} is empty after a kill"
        assert "run" in killed and "report" in killed, killed   # the kills are not all misses
        # and then a report over what the kills left finishes
        forker.start(["report", "--only", "optimizer-paths", "breast-cancer-init", "--out",
                      str(out)])
        assert forker.ended() == 0
    finally:
        forker.close()
    for name in ("optimizer-paths", "breast-cancer-init"):
        _consistent(out / name)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".") and "lock" not in
                  p.name) == []
