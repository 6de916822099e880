"""``--python SPEC``: finding interpreters (PATH, pyenv, paths), telling what they are
(free-threaded builds included, from a described fake interpreter), refusing what cannot
drive a probe child in one line, and a real run under another interpreter."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from parkbench.cli import main
from parkbench.core import registry
from parkbench.core.errors import UserError
from parkbench.measurement import interpreters, suite
from tests.builders import fake_interpreter, interpreter_identity


@pytest.fixture
def pyenv(tmp_path, monkeypatch):
    root = tmp_path / "pyenv"
    for version in ("3.13.0", "3.13.2", "3.12.1", "3.13.1t"):
        threaded = "t" if version.endswith("t") else ""
        minor = ".".join(version.rstrip("t").split(".")[:2])
        fake_interpreter(root / "versions" / version / "bin" / f"python{minor}{threaded}",
              interpreter_identity(version.rstrip("t"), gil_disabled=bool(threaded)))
    fake_interpreter(root / "shims" / "python3.12", interpreter_identity("3.12.1"))  # a shim: never chosen
    monkeypatch.setenv("PYENV_ROOT", str(root))
    monkeypatch.setenv("PATH", f"{root / 'shims'}{os.pathsep}{os.environ['PATH']}")
    return root


def test_a_version_finds_pyenv_newest_build_and_an_exact_one(pyenv):
    assert interpreters.resolve("3.13") == pyenv / "versions/3.13.2/bin/python3.13"
    assert interpreters.resolve("3.13.0") == pyenv / "versions/3.13.0/bin/python3.13"
    assert interpreters.resolve("3.12") == pyenv / "versions/3.12.1/bin/python3.12"  # not the shim
    assert interpreters.resolve("3.13t") == pyenv / "versions/3.13.1t/bin/python3.13t"


def test_path_wins_over_pyenv_for_a_minor_version(pyenv, tmp_path, monkeypatch):
    found = fake_interpreter(tmp_path / "bin" / "python3.13", interpreter_identity("3.13.5"))
    monkeypatch.setenv("PATH", f"{found.parent}{os.pathsep}{os.environ['PATH']}")
    assert interpreters.resolve("3.13") == found
    assert interpreters.resolve("3.13.0") == pyenv / "versions/3.13.0/bin/python3.13"


def test_a_free_threaded_build_is_told_apart(pyenv):
    info = interpreters.identify(interpreters.resolve("3.13t"))
    assert info["gil_disabled"] is True and info["version"] == "3.13.1"
    assert info["executable"] == "python3.13t" and "/" not in info["executable"]
    assert interpreters.identify(interpreters.resolve("3.13"))["gil_disabled"] is False


def test_a_version_finds_the_builds_of_build_python_beside_pyenv(pyenv, tmp_path, monkeypatch):
    # scripts/build_python.py puts CPython 3.13.5t in the cache: newer than pyenv's 3.13.1t
    monkeypatch.setenv("PARKBENCH_CACHE", str(tmp_path / "cache"))
    built = fake_interpreter(tmp_path / "cache/pythons/3.13.5t/bin/python3.13t",
                             interpreter_identity("3.13.5", gil_disabled=True))
    fake_interpreter(tmp_path / "cache/pythons/3.13.5/bin/python3.13", interpreter_identity("3.13.5"))
    assert interpreters.resolve("3.13t") == built
    assert interpreters.resolve("3.13.1t") == pyenv / "versions/3.13.1t/bin/python3.13t"
    assert interpreters.resolve("3.13") == tmp_path / "cache/pythons/3.13.5/bin/python3.13"
    assert interpreters.resolve("3.12") == pyenv / "versions/3.12.1/bin/python3.12"


def test_a_missing_version_names_both_places_and_the_build_command(pyenv, tmp_path, monkeypatch):
    monkeypatch.setenv("PARKBENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError) as raised:
        interpreters.resolve("3.14t")
    assert str(raised.value) == (
        f"--python 3.14t: no such interpreter on PATH (python3.14t) or in pyenv "
        f"({pyenv / 'versions'}) or {tmp_path / 'cache/pythons'}; build it: "
        f"python3 scripts/build_python.py 3.14t")


@pytest.mark.parametrize("spec, message", [
    ("3.14", "no such interpreter on PATH (python3.14) or in pyenv"),
    ("3.13.9", "--python 3.13.9: no such interpreter in pyenv"),
    ("three", "give an interpreter path or a version"),
    ("/no/such/python", "no executable interpreter there"),
])
def test_a_spec_that_names_nothing_is_refused(pyenv, spec, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        interpreters.resolve(spec)


@pytest.mark.parametrize("identity, message", [
    (interpreter_identity("3.9.18"), "CPython 3.9.18 is not CPython 3.11 or newer"),
    (interpreter_identity("3.11.4", implementation="PyPy"), "PyPy 3.11.4 is not CPython 3.11 or newer"),
])
def test_an_interpreter_that_cannot_drive_a_child_is_refused(tmp_path, identity, message):
    with pytest.raises(UserError, match=message):
        interpreters.identify(fake_interpreter(tmp_path / "python", identity))


def test_something_that_is_not_python_is_refused(tmp_path):
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\necho nope >&2\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(UserError, match=r"did not run as a Python interpreter \(nope\)"):
        interpreters.identify(script)


@pytest.mark.parametrize("spec", ["3.14", "/no/such/python", "3.9"])
def test_run_with_a_bad_spec_writes_nothing_and_exits_2(pyenv, tmp_path, capsys, spec):
    fake_interpreter(pyenv / "versions" / "3.9.18" / "bin" / "python3.9", interpreter_identity("3.9.18"))
    output = tmp_path / "results"
    assert main(["run", "--python", "3.13", "--python", spec, "--models", "asyncio:event",
                 "--n", "1000,2000,4000", "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("parkbench: error: --python")
    assert not output.exists()


def _pyenv_312():
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    return sorted(root.glob("versions/3.12.*/bin/python3.12"))


@pytest.mark.slow
def test_a_sweep_runs_its_children_under_another_interpreter(tmp_path, capsys):
    builds = _pyenv_312()
    if not builds:
        pytest.skip("no pyenv build of CPython 3.12 on this machine")
    version = builds[-1].parent.parent.name
    output = tmp_path / "results"
    assert main(["run", "--python", "3.12", "--models", "asyncio:event", "--n", "1000,3000,10000",
                 "--only", "memory", "--output", str(output), "--machine", "m"]) == 0
    captured = capsys.readouterr()
    assert f"machine m, CPython {version}" in captured.out
    document = json.loads(next((output / "m").glob("2*.json")).read_text())
    assert document["interpreter"]["version"] == version
    assert document["interpreter"]["executable"] == "python3.12"
    assert document["parameters"]["python_spec"] == "3.12"
    assert {record["python"] for record in document["measurements"]} == {version}
    # the environment is cached, with parkbench and every model's library
    venvs = list((Path(os.environ["PARKBENCH_CACHE"]) / "venvs").glob(f"cpython-{version}-*"))
    assert len(venvs) == 1 and (venvs[0] / "parkbench-environment.json").is_file()
    done = subprocess.run([str(venvs[0] / "bin" / "python"), "-c", "import parkbench, gevent, uvloop"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # go's hand-off under that interpreter: pyperf's workers (a clean environment) find
    # the toolchain the runner found (run publishes it in PARKBENCH_GO: test_go.py)
    if suite.unavailable(registry.get("go")) is None:
        from parkbench.measurement import gotoolchain, switchbench

        result = tmp_path / "go.json"
        command = switchbench.switch_command("go", "chan", "same-core", result, "quick",
                                             python=str(venvs[0] / "bin" / "python"))
        env = dict(os.environ, PARKBENCH_GO=str(gotoolchain.find_go()))
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        import pyperf

        assert pyperf.Benchmark.load(str(result)).get_nrun() > 0


def test_the_report_sets_each_interpreter_against_the_oldest(tmp_path):
    from parkbench.analysis import current
    from parkbench.presentation import headline
    from tests.synthetic import INTERPRETER, memory_record, switch_record, write_run

    newer = dict(INTERPRETER, version="3.13.0", executable="python3.13")
    views_311 = {"rss": (30e6, 1300.0), "uss": (20e6, 1100.0), "pss": (25e6, 1180.0),
                 "vms": (90e6, 1500.0), "kernel": (0.0, 20.0)}              # total 1,200 B
    views_313 = dict(views_311, pss=(25e6, 1080.0))                            # total 1,100 B
    grid = (1_000, 3_000, 12_000, 50_000)
    write_run(tmp_path, "m", "20261126T100000",
              [memory_record("asyncio", "event", n, views_311) for n in grid]
              + [switch_record("asyncio", "future", "same-core", "r", 2.0e-6)])
    write_run(tmp_path, "m", "20261126T110000",
              [memory_record("asyncio", "event", n, views_313) for n in grid]
              + [switch_record("asyncio", "future", "same-core", "r", 1.5e-6)], interpreter=newer)
    frame = current.load(tmp_path).frame
    values = {("m", "CPython 3.11.7", "asyncio", "future", "same-core"): [2.0e-6 + i * 1e-9 for i in range(20)],
              ("m", "CPython 3.13.0", "asyncio", "future", "same-core"): [1.5e-6 + i * 1e-9 for i in range(20)]}
    table = headline.interpreters(frame, "m", values).set_index("interpreter")
    assert list(table.index) == ["CPython 3.11.7", "CPython 3.13.0"]  # oldest first
    assert table.loc["CPython 3.13.0", "vs CPython 3.11.7"] == "0.917x"        # 1,100 / 1,200
    assert table.loc["CPython 3.13.0", "hand-off vs CPython 3.11.7"] == "0.750x"
    assert table.loc["CPython 3.13.0", "difference"].startswith("significant (p")
    assert table.loc["CPython 3.11.7", "difference"] == "-"
    same = {key: values[("m", "CPython 3.11.7", "asyncio", "future", "same-core")] for key in values}
    again = headline.interpreters(frame, "m", same).set_index("interpreter")
    assert again.loc["CPython 3.13.0", "difference"].startswith("not significant")


def test_the_main_sections_use_the_interpreter_with_the_most_figures():
    import pandas as pd

    from parkbench.presentation import headline

    frame = pd.DataFrame({"machine": ["m"] * 5 + ["n"] * 2,
                          "interpreter": ["CPython 3.12.1"] * 2 + ["CPython 3.11.7"] * 3
                          + ["CPython 3.11.7", "CPython 3.13.0"]})
    assert headline.primary_interpreter(frame, "m") == "CPython 3.11.7"
    assert headline.primary_interpreter(frame, "n") == "CPython 3.13.0"  # a tie: the newer
    assert headline.primary_interpreter(frame, "none") is None


def test_a_fake_cpython_3_99_is_one_line_not_a_traceback(tmp_path, capsys):
    """issue 28.12: an interpreter that answers the identity question as CPython 3.99 but
    makes no venv gave a FileNotFoundError traceback."""
    fake = fake_interpreter(tmp_path / "bin" / "python3.99", interpreter_identity("3.99.0"))
    output = tmp_path / "results"
    assert main(["run", "--python", str(fake), "--models", "asyncio:event", "--n", "1000,2000,4000",
                 "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("parkbench: error: ")
    assert "-m venv made no" in err and not output.exists()


@pytest.mark.parametrize("version", ["3.99", "3.12.1/../../escape", "3.12.1\x1b[2J", "3.12.1 ", "3.12.x"])
def test_a_told_version_that_is_no_plain_release_is_refused(tmp_path, version):
    """The told version names the interpreter's cache folder: it must be a plain release."""
    identity = {**interpreter_identity("3.12.1"), "version": version}
    with pytest.raises(UserError, match="not an interpreter's identity"):
        interpreters.identify(fake_interpreter(tmp_path / "python", identity))


@pytest.mark.parametrize("version", ["3.12.1", "3.13.0rc1", "3.14.0a2+"])
def test_a_release_or_pre_release_version_is_accepted(tmp_path, version):
    identity = {**interpreter_identity("3.12.1"), "version": version}
    assert interpreters.identify(fake_interpreter(tmp_path / "python", identity))["version"] == version


FIXTURE_PIP = Path(__file__).parent / "fixtures" / "pip"
COMPILER_FAILURE = """\
  error: subprocess-exited-with-error

  × Building wheel for uvloop (pyproject.toml) did not run successfully.
  │ exit code: 1
  ╰─> [4 lines of output]
      Collecting Cython
      Building wheel for uvloop (pyproject.toml): started
      uvloop/loop.c:1234:10: error: 'PyThreadState' has no member named 'recursion_depth'
      uvloop/loop.c:2000:3: error: second error, not the cause
      error: command '/usr/bin/gcc' failed with exit code 1
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
  ERROR: Failed building wheel for uvloop
ERROR: Could not build wheels for uvloop, which is required to install pyproject.toml-based projects
"""
NO_VERSION = """\
WARNING: Location 'file:///opt/pypi/simple/gevent/' is ignored: it is neither a file nor a directory.
ERROR: Could not find a version that satisfies the requirement gevent (from versions: none)
ERROR: No matching distribution found for gevent
"""


@pytest.mark.parametrize("output, reason", [
    # pip on a free-threaded 3.13, as it was: gevent's build needs cffi, which refuses it
    ((FIXTURE_PIP / "gevent-3.13t-cffi.txt").read_text(),
     "cffi: RuntimeError: CFFI does not support the free-threaded build of CPython 3.13. Upgrade to "
     "free-threaded 3.14 or newer to use CFFI with the free-threaded build."),
    (COMPILER_FAILURE, "uvloop: uvloop/loop.c:1234:10: error: 'PyThreadState' has no member named "
                       "'recursion_depth'"),
    (NO_VERSION, "ERROR: No matching distribution found for gevent"),
    ("", "no output"),
])
def test_a_failed_install_is_told_by_pip_s_own_reason_not_its_boilerplate(output, reason):
    assert interpreters.pip_reason(output) == reason
