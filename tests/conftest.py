import sys

import pytest


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's stored machine name."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("PARKBENCH_MACHINE", raising=False)


@pytest.fixture
def python():
    return sys.executable
