"""Every test runs offline, with its own empty data cache and no NPREF_DATA_DIR."""

import pytest

from experiments.data import mnist


@pytest.fixture(autouse=True)
def isolated_data(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("NPREF_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("NPREF_DATA_DIR", raising=False)
    mnist._load.cache_clear()
    yield
    mnist._load.cache_clear()
