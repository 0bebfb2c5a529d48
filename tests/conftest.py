"""Every test runs offline, with its own empty data cache and no NPREF_DATA_DIR; a figure that
would show a box for a missing glyph fails the test that draws it. A test's runs draw their
figures in English only (NPREF_FIGURE_LANGUAGES=en) unless it asks for more: the catalogue's
test draws every experiment's figures in every language, and the Korean pages' and notebooks'
tests theirs."""

import logging

import pytest

from experiments.data import mnist


@pytest.fixture(autouse=True)
def isolated_data(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("NPREF_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("NPREF_DATA_DIR", raising=False)
    monkeypatch.setenv("NPREF_FIGURE_LANGUAGES", "en")
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


# -- the conventions page's measurement, made once per test process ----------------------------

_CONVENTIONS: dict = {}


def _measured_conventions(real):
    """A conventions folder measured and drawn for real, once per test process (25 s here), in a
    folder of its own: every report a test builds into a fresh folder starts from a copy of it,
    which the report then checks as it checks any saved measurement (code version, each
    figure's hash) and reuses. Tests that ask to measure again (``--force``, a corrupt or stale
    file) still do: the copy is made only where no conventions folder exists yet."""
    import shutil
    import tempfile
    from pathlib import Path

    if "folder" not in _CONVENTIONS:
        import atexit

        out = Path(tempfile.mkdtemp(prefix="npref-conventions-"))
        atexit.register(shutil.rmtree, out, ignore_errors=True)     # removed as the process ends
        real(out, True)
        _CONVENTIONS["folder"] = out / "conventions"

    def conventions(out, force):
        target = Path(out) / "conventions"
        if not force and not target.exists():
            shutil.copytree(_CONVENTIONS["folder"], target)
        return real(out, force)
    return conventions


@pytest.fixture(autouse=True)
def conventions_measured_once(monkeypatch):
    """See :func:`_measured_conventions`; a test that replaces the measurement itself (its
    ``measure`` or ``plot``) gets the report's own ``_conventions``, untouched."""
    from experiments.report import building, conventions

    real, own = building._conventions, (conventions.measure, conventions.plot)

    def measured(out, force):
        if (conventions.measure, conventions.plot) != own:
            return real(out, force)
        return _measured_conventions(real)(out, force)
    monkeypatch.setattr(building, "_conventions", measured)


def copy_conventions(out) -> None:
    """Put the once-measured conventions folder into ``out`` (for a report a test runs as a
    process of its own, where the fixture above does not reach)."""
    import shutil
    from pathlib import Path

    from experiments.report import building

    _measured_conventions(building._conventions)
    shutil.copytree(_CONVENTIONS["folder"], Path(out) / "conventions")
