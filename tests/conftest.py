"""Every test runs offline, with its own empty data cache and no NPREF_DATA_DIR; a figure that
would show a box for a missing glyph fails the test that draws it. A test's runs draw their
figures in English only (NPREF_FIGURE_LANGUAGES=en) unless it asks for more: the catalogue's
test draws every experiment's figures in every language, and the Korean pages' and notebooks'
tests theirs. Nor do they compute the pages' explorable lessons (NPREF_EXPLORE=0: a grid of runs
each) unless they test them: the catalogue's test (every lesson, at its sliver), the report's
and tests/test_explore.py."""

import logging

import pytest

from experiments.data import mnist


@pytest.fixture(autouse=True)
def isolated_data(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("NPREF_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("NPREF_DATA_DIR", raising=False)
    monkeypatch.setenv("NPREF_FIGURE_LANGUAGES", "en")
    monkeypatch.setenv("NPREF_EXPLORE", "0")
    mnist._load.cache_clear()
    yield
    mnist._load.cache_clear()


class MissingGlyph(logging.Handler):
    """matplotlib reports a glyph its fonts lack in two ways: a UserWarning "Glyph … missing from
    font" for text (an error by pyproject's filterwarnings) and a log record for mathtext (log-axis
    ticks: "Font 'default' does not have a glyph for …") or a font family it cannot find. The
    log records are made errors here, raised in the drawing test."""

    PATTERNS = ("does not have a glyph", "findfont: Font family")

    def emit(self, record):
        message = record.getMessage()
        if any(p in message for p in self.PATTERNS):
            raise AssertionError(f"matplotlib: {message}")


for _logger in ("matplotlib.mathtext", "matplotlib.font_manager"):
    logging.getLogger(_logger).addHandler(MissingGlyph(logging.WARNING))


# -- the conventions page's measurement, made once per test run --------------------------------

_CONVENTIONS: dict = {}


def _measured_folder(real) -> "Path":
    """A conventions folder measured and drawn for real (17-25 s here) once per test run, shared
    by its test processes (pytest-xdist's workers: the first to need it measures it under a file
    lock, the others wait and read it) in the run's temporary folder, which pytest removes in
    time. Every report a test builds into a fresh folder starts from a copy of it, which the
    report then checks as it checks any saved measurement (code version, each figure's hash)
    and reuses. Tests that ask to measure again (``--force``, a corrupt or stale file) still do:
    the copy is made only where no conventions folder exists yet."""
    import tempfile
    from pathlib import Path

    if "folder" in _CONVENTIONS:
        return _CONVENTIONS["folder"]
    root = _CONVENTIONS.get("root")
    if root is None:                         # outside a pytest run: this process's own
        import atexit
        import shutil

        root = Path(tempfile.mkdtemp(prefix="npref-conventions-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
    from experiments import atomic

    measured = root / "npref-conventions"
    with atomic.locked(measured):            # the results' own lock: flock beside the folder
        if not (measured / "conventions" / "conventions.json").exists():
            work = Path(tempfile.mkdtemp(dir=root, prefix=".npref-conventions-"))
            real(work, True)
            work.rename(measured)
    _CONVENTIONS["folder"] = measured / "conventions"
    return _CONVENTIONS["folder"]


def measure_conventions_beside(root) -> None:
    """Measure the conventions into ``root`` (the run's shared temporary folder) in a thread of
    this process — pytest-xdist's controller, which computes nothing else — once."""
    import threading

    from experiments.report import building

    if _CONVENTIONS.get("started"):
        return
    _CONVENTIONS["started"], _CONVENTIONS["root"] = True, root
    real = getattr(building._conventions, "__wrapped__", building._conventions)

    # this process runs no test: the report's progress line would land in pytest's own output
    building.log = lambda message: None

    def measure():
        import warnings
        # as in a test (pyproject's filterwarnings): a glyph missing from a figure is an error,
        # and the test process that then measures for itself fails with it
        with warnings.catch_warnings():
            warnings.filterwarnings("error", "Glyph .* missing from font", UserWarning)
            _measured_folder(real)

    threading.Thread(target=measure, name="measure-conventions", daemon=True).start()


@pytest.fixture(autouse=True, scope="session")
def conventions_measured_once(tmp_path_factory):
    """See :func:`_measured_folder`: the report's ``_conventions`` starts a fresh folder from
    the measured copy, for the whole session (module fixtures too: a built report); a test that
    replaces the measurement itself (its ``measure`` or ``plot``) gets the report's own
    ``_conventions``, untouched."""
    import os
    import shutil
    from pathlib import Path

    from experiments.report import building, conventions

    base = tmp_path_factory.getbasetemp()
    # pytest-xdist's workers each have a folder of their own in the run's shared one
    _CONVENTIONS["root"] = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    real, own = building._conventions, (conventions.measure, conventions.plot)

    def measured(out, force):
        if (conventions.measure, conventions.plot) != own:
            return real(out, force)
        target = Path(out) / "conventions"
        if not force and not target.exists():
            shutil.copytree(_measured_folder(real), target)
        return real(out, force)

    measured.__wrapped__ = real
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(building, "_conventions", measured)
        yield


def copy_conventions(out) -> None:
    """Put the once-measured conventions folder into ``out`` (for a report a test runs as a
    process of its own, where the fixture above does not reach)."""
    import shutil
    from pathlib import Path

    from experiments.report import building

    real = getattr(building._conventions, "__wrapped__", building._conventions)
    shutil.copytree(_measured_folder(real), Path(out) / "conventions")
