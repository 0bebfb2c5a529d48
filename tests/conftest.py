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
