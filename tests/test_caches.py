"""Caches are checked, not trusted (issue 28.8): a damaged Go build is built again, a
folder in its place too; a cached interpreter environment whose interpreter is gone is
made anew; an unusable cache folder is a one-line error before anything is written.
A fake ``go`` (a shell script that "builds" by copying /bin/true) keeps these fast and
independent of a real toolchain."""

import os
import sys
from pathlib import Path

import pytest

from parkbench.cli import main
from parkbench.measurement import gotoolchain, interpreters
from tests.builders import fake_interpreter
from tests.builders import interpreter_identity as identity
from tests.damage import one_line_error

FAKE_GO = """#!/bin/sh
case "$1" in
  env) echo go1.99.0 ;;
  build) while [ "$1" != "-o" ]; do shift; done
         echo build >> "{log}"
         cp /bin/true "$2" ;;
esac
"""


@pytest.fixture
def fake_go(tmp_path, monkeypatch):
    """A go that counts its builds in ``builds``; a cache of the test's own."""
    log = tmp_path / "builds"
    go = tmp_path / "bin" / "go"
    go.parent.mkdir()
    go.write_text(FAKE_GO.format(log=log))
    go.chmod(0o755)
    monkeypatch.setenv(gotoolchain.GO_ENV, str(go))
    monkeypatch.setenv(gotoolchain.CACHE_ENV, str(tmp_path / "cache"))
    return lambda: len(log.read_text().splitlines()) if log.exists() else 0


def test_an_intact_build_is_reused_and_checked(fake_go):
    target = gotoolchain.binary(verify=True)
    assert fake_go() == 1 and gotoolchain.intact(target, full=True)
    assert gotoolchain.unavailable_reason() is None and fake_go() == 1  # not rebuilt


@pytest.mark.parametrize("damage", ["empty", "truncated", "not-executable", "not-elf"])
def test_a_damaged_cached_build_is_built_again(fake_go, damage):
    target = gotoolchain.binary()
    data = target.read_bytes()
    if damage == "empty":
        target.write_bytes(b"")
    elif damage == "truncated":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "not-executable":
        target.chmod(0o644)
    else:
        target.write_bytes(b"#!/bin/sh\n" + data[10:])
    assert gotoolchain.unavailable_reason() is None  # the run's check, before any job
    assert fake_go() == 2 and target.read_bytes() == data and os.access(target, os.X_OK)


def test_a_folder_in_place_of_the_build_is_replaced_and_no_partial_is_left(fake_go):
    target = gotoolchain.binary()
    target.unlink()
    (target / "junk").mkdir(parents=True)
    (target.parent / f"{target.name}.99999.partial").write_bytes(b"left by a killed build")
    assert gotoolchain.unavailable_reason() is None
    assert target.is_file() and fake_go() == 2
    assert list(target.parent.glob("*.partial")) == []


def _fake_environment(tmp_path, monkeypatch):
    """A finished cached environment (its marker written) of a stand-in interpreter."""
    monkeypatch.setenv(gotoolchain.CACHE_ENV, str(tmp_path / "cache"))
    info = {"version": "3.12.1", "gil_disabled": False}
    built = []

    def create(python, info_, folder, marker, suffix, progress):
        built.append(folder)
        (folder / "bin").mkdir(parents=True, exist_ok=True)
        (folder / "bin" / "python").symlink_to(sys.executable)
        marker.write_text('{"unavailable": {}}\n')
        return {}

    monkeypatch.setattr(interpreters, "_create", create)
    return Path(sys.executable), info, built


def test_a_cached_environment_without_its_interpreter_is_made_anew(tmp_path, monkeypatch):
    python, info, built = _fake_environment(tmp_path, monkeypatch)
    child, _ = interpreters.environment(python, info, progress=lambda text: None)
    assert len(built) == 1
    assert interpreters.environment(python, info, progress=lambda text: None)[0] == child
    assert len(built) == 1  # a whole one is reused
    child.unlink()  # bin/python deleted: the marker alone must not vouch for it
    assert interpreters.environment(python, info, progress=lambda text: None)[0] == child
    assert len(built) == 2 and child.exists()


@pytest.mark.parametrize("cache", ["file", "/sys"])
def test_an_unusable_cache_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys, cache):
    """A regular file in the cache's place, or a folder nobody may write (even root,
    who ignores a folder's mode): one line, exit 2, no run file."""
    if cache == "file":
        cache = tmp_path / "cache"
        cache.write_text("not a folder")
    monkeypatch.setenv(gotoolchain.CACHE_ENV, str(cache))
    output = tmp_path / "results"
    one_line_error(capsys, main(["run", "--models", "go", "--n", "1000,2000,4000",
                                 "--output", str(output)]), "is not usable")
    assert not output.exists()
    other = fake_interpreter(tmp_path / "other" / "python3.13", identity("3.13.0"))
    one_line_error(capsys, main(["run", "--python", str(other), "--models", "asyncio",
                                 "--n", "1000,2000,4000", "--output", str(output)]), "is not usable")
    assert not output.exists()
