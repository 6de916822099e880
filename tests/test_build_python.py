"""``scripts/build_python.py`` on fakes: apt-get and apt-cache that serve (or not) a
source package whose "CPython" is a tiny configure and Makefile, so that every path of
the script runs in a second: a build that lands, a second call that reuses it without
apt, no source, a failing make, a built interpreter with the wrong GIL state, no disk
space, Ctrl-C. Whatever fails, nothing half-built is left beside the builds."""

import importlib.util
import io
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_python.py"

APT = """#!{python}
import json, os, shutil, sys
from pathlib import Path
log = Path(os.environ["FAKE_APT_LOG"])
with log.open("a") as out:
    out.write(json.dumps({{"argv": sys.argv[1:], "config": os.environ.get("APT_CONFIG")}}) + "\\n")
name = Path(sys.argv[0]).name
served = os.environ.get("FAKE_APT_SERVES", "")
if name == "apt-cache":
    for line in served.split(","):
        if line and line.split("=")[0] == sys.argv[2]:
            print(f"Package: {{sys.argv[2]}}\\nVersion: {{line.split('=')[1]}}\\n")
elif sys.argv[1] == "source":
    tarball = Path(os.environ["FAKE_TARBALL"])
    shutil.copy(tarball, Path.cwd() / tarball.name)
"""

CONFIGURE = """#!{python}
import json, os, sys
from pathlib import Path
with open(os.environ["FAKE_CONFIGURE_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
prefix = next(arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--prefix="))
identity = json.dumps({{"version": "3.13.9", "gil_disabled": os.environ["GIL"] == "true"}})
Path("fakepython").write_text(f"#!/bin/sh\\necho '{{identity}}'\\n")
Path("fakepython").chmod(0o755)
Path("Makefile").write_text(
    f"all:\\n\\t{{os.environ['MAKE_ALL']}}\\n"
    f"install:\\n\\tmkdir -p $(DESTDIR){{prefix}}/bin\\n"
    f"\\tcp fakepython $(DESTDIR){{prefix}}/bin/{{os.environ['EXECUTABLE']}}\\n")
"""


def _load():
    spec = importlib.util.spec_from_file_location("build_python", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    """Fake apt on PATH, a fake CPython tarball, the cache in tmp_path; the settings."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name in ("apt-get", "apt-cache"):
        (bin_ / name).write_text(APT.format(python=sys.executable))
        (bin_ / name).chmod(0o755)
    tarball = tmp_path / "python3.13_3.13.9.orig.tar.xz"
    with tarfile.open(tarball, "w:xz") as archive:
        data = CONFIGURE.format(python=sys.executable).encode()
        info = tarfile.TarInfo("Python-3.13.9/configure")
        info.size, info.mode = len(data), 0o755
        archive.addfile(info, io.BytesIO(data))
    settings = {"PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}", "PARKBENCH_CACHE": str(tmp_path / "cache"),
                "FAKE_APT_LOG": str(tmp_path / "apt.log"), "FAKE_APT_SERVES": "python3.13=3.13.9-1",
                "FAKE_TARBALL": str(tarball), "FAKE_CONFIGURE_LOG": str(tmp_path / "configure.log"),
                "MAKE_ALL": "true", "GIL": "true", "EXECUTABLE": "python3.13t"}
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def _pythons(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "cache" / "pythons").iterdir()
                  if not p.name.endswith(".log") and p.name != ".build.lock")


def _apt_calls(tmp_path) -> list[dict]:
    log = tmp_path / "apt.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_build_lands_with_its_marker_and_a_second_call_reuses_it_without_apt(fakes, capsys):
    script = _load()
    assert script.main(["3.13t"]) == 0
    built = fakes / "cache" / "pythons" / "3.13.9t"
    assert _pythons(fakes) == ["3.13.9t"]  # and no scratch folder beside it
    marker = json.loads((built / "parkbench-build.json").read_text())
    assert marker["gil_disabled"] is True and marker["executable"] == "python3.13t"
    assert marker["configure"] == [f"--prefix={built}", "--disable-gil"]
    assert (fakes / "configure.log").read_text().split() == [f"--prefix={built}", "--disable-gil"]
    # apt ran with the private configuration only: its sources and lists in the cache
    calls = _apt_calls(fakes)
    config = fakes / "cache" / "apt" / "trixie" / "apt.conf"
    assert calls and {call["config"] for call in calls} == {str(config)}
    assert f'Dir::State::lists "{fakes / "cache" / "apt" / "trixie" / "lists"}";' in config.read_text()
    assert "deb-src [signed-by=" in (config.parent / "sources.list").read_text()
    assert "trixie main" in (config.parent / "sources.list").read_text()
    out = capsys.readouterr().out
    assert "built CPython 3.13.9t" in out and str(built / "bin" / "python3.13t") in out

    before = len(calls)
    assert script.main(["3.13t"]) == 0
    assert len(_apt_calls(fakes)) == before  # reused without asking apt
    assert capsys.readouterr().out == f"build_python: 3.13t: CPython 3.13.9t is built already in {built}\n"
    assert len((fakes / "configure.log").read_text().splitlines()) == 1


def test_the_gil_build_has_no_disable_gil_and_is_not_taken_for_the_free_threaded_one(fakes, monkeypatch):
    script = _load()
    assert script.main(["3.13t"]) == 0
    monkeypatch.setenv("EXECUTABLE", "python3.13")
    monkeypatch.setenv("GIL", "false")
    assert script.main(["3.13"]) == 0   # the free-threaded build beside it is no reason to skip this one
    configured = (fakes / "configure.log").read_text().splitlines()
    assert configured[1].split() == [f"--prefix={fakes / 'cache/pythons/3.13.9'}"]
    assert _pythons(fakes) == ["3.13.9", "3.13.9t"]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("build_python: "), err
    return err.strip()


def test_no_source_package_is_refused_in_one_line(fakes, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_APT_SERVES", "")
    assert _load().main(["3.14t", "--suite", "trixie"]) == 2
    assert _one_line_error(capsys) == ("build_python: Debian trixie serves no source package python3.14 "
                                       "(try --suite sid, or another version)")
    assert _pythons(fakes) == []


def test_a_failed_make_names_its_error_and_the_log_and_leaves_nothing_half_built(fakes, monkeypatch, capsys):
    monkeypatch.setenv("MAKE_ALL", "@echo 'Objects/obmalloc.c:12:3: error: boom'; echo 'one more line'; exit 1")
    assert _load().main(["3.13t"]) == 1
    log = fakes / "cache" / "pythons" / "build-3.13t.log"
    assert _one_line_error(capsys) == ("build_python: make failed (exit 2): Objects/obmalloc.c:12:3: error: "
                                       f"boom; full output in {log}")
    assert _pythons(fakes) == [] and log.exists()


def test_a_build_whose_interpreter_has_the_wrong_gil_state_is_not_kept(fakes, monkeypatch, capsys):
    monkeypatch.setenv("GIL", "false")   # configure ignored --disable-gil, say
    assert _load().main(["3.13t"]) == 1
    assert _one_line_error(capsys) == "build_python: the built interpreter says gil_disabled=False, expected True"
    assert _pythons(fakes) == []


def test_no_disk_space_is_refused_before_anything_is_fetched(fakes, monkeypatch, capsys):
    script = _load()
    monkeypatch.setattr(script.shutil, "disk_usage", lambda path: type("U", (), {"free": 300 * 2**20})())
    assert script.main(["3.13t"]) == 2
    assert _one_line_error(capsys) == (f"build_python: a build needs 2.0 GiB free in {fakes / 'cache/pythons'}; "
                                       f"there are 0.29 GiB")
    assert not any(call["argv"][0] == "source" for call in _apt_calls(fakes))
    assert _pythons(fakes) == []


def test_ctrl_c_during_the_build_leaves_nothing_half_built(fakes, monkeypatch, capsys):
    script = _load()
    real = script.step

    def interrupted(command, what, log, cwd=None):
        if what == "make":
            raise KeyboardInterrupt
        return real(command, what, log, cwd)

    monkeypatch.setattr(script, "step", interrupted)
    assert script.main(["3.13t"]) == 130
    assert "nothing half-built was kept" in _one_line_error(capsys)
    assert _pythons(fakes) == []


@pytest.mark.parametrize("argv, message", [
    (["3.12t"], "3.12t: free-threaded builds exist from CPython 3.13 on"),
    (["3.13x"], "'3.13x' is not a label such as 3.13 or 3.13t"),
    (["--suite", "Trixie;rm"], "--suite 'Trixie;rm' is not a Debian suite name such as trixie or sid"),
    (["--jobs", "0"], "--jobs must be 1 or more"),
])
def test_bad_input_is_refused_in_one_line_before_apt_runs(fakes, capsys, argv, message):
    assert _load().main(argv) == 2
    assert _one_line_error(capsys) == f"build_python: {message}"
    assert _apt_calls(fakes) == []


def test_a_missing_tool_is_named(fakes, monkeypatch, capsys):
    script = _load()
    monkeypatch.setattr(script.shutil, "which", lambda tool: None if tool == "make" else "/bin/" + tool)
    assert script.main(["3.13t"]) == 2
    assert _one_line_error(capsys).startswith("build_python: missing make (Debian: apt-get install")


def test_the_newest_of_several_source_versions_is_built(fakes, monkeypatch):
    script = _load()
    apt = script.Apt(fakes / "apt", "sid", fakes / "log")
    monkeypatch.setattr(apt, "run", lambda command, what, cwd=None: (
        "Package: python3.14\nVersion: 3.14.9-1\n\nPackage: python3.14\nVersion: 3.14.10-1\n"))
    assert apt.source_version("python3.14") == "3.14.10"   # not the first listed, nor "3.14.9" > "3.14.10"


def test_apt_s_reason_is_the_file_it_could_not_fetch_not_its_summary():
    said = ("Err:3 http://deb.debian.org/debian sid/main python3.14 3.14.10-1 (dsc)\n  404  Not Found\n"
            "E: Failed to fetch http://deb.debian.org/debian/pool/main/p/python3.14/python3.14_3.14.10-1.dsc"
            "  404  Not Found [IP: 203.0.113.80 80]\nE: Failed to fetch some archives.\n")
    assert _load().last_line(said) == ("E: Failed to fetch http://deb.debian.org/debian/pool/main/p/python3.14/"
                                       "python3.14_3.14.10-1.dsc 404 Not Found")
