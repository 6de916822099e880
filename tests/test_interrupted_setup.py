"""A run stopped during its set-up (issue 28.7): the first Go build, an interpreter's
environment. SIGTERM is one line with the resume hint (exit 130); SIGTERM or SIGKILL
leave no process of the set-up running (the build's or venv's own children included:
a fake ``go`` and a fake interpreter each start a grandchild), and a partial build left
by a killed run is removed by the next build."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from parkbench.measurement import gotoolchain
from tests.builders import interpreter_identity

FAKE_GO = """#!/bin/sh
case "$1" in
  env) echo go1.99.0 ;;
  build) while [ "$1" != "-o" ]; do shift; done
         echo partial > "$2"
         sleep {token} &
         touch {started}
         wait ;;
esac
"""

FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-I" ]; then echo '{identity}'; exit 0; fi
if [ "$2" = "venv" ]; then sleep {token} & touch {started}; wait; fi
"""


def _script(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _with_token(token):
    """The processes whose command line holds ``token`` (the set-up's grandchildren too)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(token in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def _all_gone(processes, seconds=10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in processes):
                return True
        except psutil.NoSuchProcess:
            continue
        time.sleep(0.05)
    return False


def _start(tmp_path, setup):
    token = f"1000.{uuid.uuid4().int % 10**6}"  # a sleep of its own, to be found by
    started = tmp_path / "started"
    env = {**os.environ, gotoolchain.CACHE_ENV: str(tmp_path / "cache")}
    if setup == "go build":
        env[gotoolchain.GO_ENV] = str(_script(tmp_path / "bin" / "go",
                                              FAKE_GO.format(token=token, started=started)))
        selection = ["--models", "go:chan"]
    else:
        python = _script(tmp_path / "other" / "python3.13", FAKE_PYTHON.format(
            token=token, started=started, identity=json.dumps(interpreter_identity("3.13.0"))))
        selection = ["--python", str(python), "--models", "asyncio:event"]
    run = subprocess.Popen([sys.executable, "-m", "parkbench", "run", *selection, "--only", "memory",
                            "--n", "1000,2000,4000", "--output", str(tmp_path / "results")],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists():  # the synchronisation point: the set-up's grandchild runs
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.02)
    return run, _with_token(token)


@pytest.mark.parametrize("setup", ["go build", "venv"])
def test_sigterm_during_set_up_is_one_line_and_leaves_nothing_running(tmp_path, setup):
    run, setup_processes = _start(tmp_path, setup)
    assert setup_processes
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    last = err.strip().splitlines()[-1]
    if setup == "go build":  # the run file exists: the line says how to go on
        assert last.startswith("parkbench: interrupted; 0 measurements are stored in ")
        assert "finish with: parkbench run --resume " in last
    else:  # before any run file
        assert last == "parkbench: interrupted"
    assert "Traceback" not in err
    assert _all_gone(setup_processes)
    assert list((tmp_path / "cache").rglob("*.partial")) == []


@pytest.mark.parametrize("setup", ["go build", "venv"])
def test_sigkill_during_set_up_leaves_nothing_running(tmp_path, setup, monkeypatch):
    run, setup_processes = _start(tmp_path, setup)
    run.kill()
    run.communicate(timeout=60)
    assert _all_gone(setup_processes)
    if setup == "go build":  # the killed build's partial file goes with the next build
        monkeypatch.setenv(gotoolchain.CACHE_ENV, str(tmp_path / "cache"))
        fake = tmp_path / "bin" / "go"
        fake.write_text("#!/bin/sh\ncase \"$1\" in env) echo go1.99.0 ;; build) "
                        "while [ \"$1\" != \"-o\" ]; do shift; done; cp /bin/true \"$2\" ;; esac\n")
        monkeypatch.setenv(gotoolchain.GO_ENV, str(fake))
        assert gotoolchain.unavailable_reason() is None
        assert list((tmp_path / "cache").rglob("*.partial")) == []
