"""Fault injection on the real command line: interrupts, SIGKILL, the memory guard.

Each test tags the processes it starts through an environment variable and checks at
the end that none of them is left running.
"""

import json
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from parkbench.analysis import tidy
from parkbench.cli import main
from parkbench.store import results, run_file
from tests.damage import one_line_error

pytestmark = pytest.mark.slow  # real probe children, pyperf or a notebook kernel

SWEEP = ["--models", "asyncio:event,gevent:event", "--n", "10,20,40,80", "--machine", "faults", "--only", "memory"]


@pytest.fixture
def tag(monkeypatch):
    value = uuid.uuid4().hex
    monkeypatch.setenv("PARKBENCH_TEST_TAG", value)
    yield value
    assert _tagged_processes_end(value), "processes of this test were left behind"


def _tagged(value):
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("PARKBENCH_TEST_TAG") == value and \
                    process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _tagged_processes_end(value, seconds=15.0):
    deadline = time.monotonic() + seconds
    while _tagged(value):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _start_runner(output):
    return subprocess.Popen(
        [sys.executable, "-m", "parkbench", "run", *SWEEP, "--output", str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_measurements(output, count, runner, seconds=60.0):
    """Block until the runner has stored ``count`` measurements; return the file."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert runner.poll() is None, runner.communicate()
        for path in (output / "faults").glob("2*.json"):
            if len(json.loads(path.read_text())["measurements"]) >= count:
                return path
        time.sleep(0.05)
    raise AssertionError("the runner stored nothing in time")


def _keys(document):
    return sorted((m["model"], m["variant"], m["n"], m["repeat"]) for m in document["measurements"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_sweep_resumes_to_the_records_of_a_clean_sweep(tmp_path, tag, sig, capsys):
    output = tmp_path / "res"
    runner = _start_runner(output)
    path = _wait_for_measurements(output, 2, runner)
    runner.send_signal(sig)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130
    assert "--resume" in err
    interrupted = results.read_run(path)
    assert interrupted["complete"] is False
    stored = _keys(interrupted)
    assert 2 <= len(stored) < 8

    assert main(["run", "--resume", str(path)]) == 0
    resumed = results.read_run(path)
    assert resumed["complete"] is True
    assert set(stored) <= set(_keys(resumed))
    assert len(_keys(resumed)) == len(set(_keys(resumed)))  # nothing measured twice

    # exactly the records a clean sweep stores: every planned (model, variant, N, repeat)
    planned = sorted((model, variant, n, 0) for model, variant in
                     (("asyncio", "event"), ("gevent", "event")) for n in (10, 20, 40, 80))
    assert _keys(resumed) == planned
    figures = {(f["model"], f["metric"]) for f in tidy.figures(resumed)}  # derived from the records
    assert ("gevent", "rss_per_waiter") in figures and ("asyncio", "pss_per_waiter") in figures
    assert {metric for _, metric in figures} >= {"capacity"}  # stored as the run ended
    assert "RSS/waiter" in capsys.readouterr().out


def test_runner_killed_with_sigkill_leaves_a_readable_file_and_no_children(tmp_path, tag):
    output = tmp_path / "res"
    runner = _start_runner(output)
    path = _wait_for_measurements(output, 1, runner)
    runner.kill()
    runner.communicate(timeout=60)
    document = results.read_run(path)
    assert document["complete"] is False
    assert len(document["measurements"]) >= 1
    # A kill mid-write may leave a hidden temp file; the loader never mistakes it for a run.
    frame = tidy.load(output)
    assert set(frame["metric"]) >= {"rss", "pss"}
    # the tag fixture then checks the probe child died with its runner


def test_resume_refuses_other_parameters_and_complete_runs(tmp_path, capsys):
    output = tmp_path / "res"
    assert main(["run", *SWEEP[:2], "--n", "5,10,20", "--machine", "faults", "--only", "memory",
                 "--output", str(output)]) == 0
    (path,) = (output / "faults").glob("2*.json")
    capsys.readouterr()
    assert main(["run", "--resume", str(path)]) == 2
    assert "already complete" in capsys.readouterr().err
    assert main(["run", "--resume", str(path), "--models", "asyncio"]) == 2
    assert "do not pass --models" in capsys.readouterr().err
    assert main(["run", "--resume", "20990101T000000Z", "--machine", "faults", "--output", str(output)]) == 2
    assert "no run '20990101T000000Z' to resume" in capsys.readouterr().err


def test_guard_skips_oversized_n_end_to_end(tmp_path, capsys):
    output = tmp_path / "res"
    status = main(["run", "--models", "subprocess:exec", "--n", "4,40,400", "--machine", "faults",
                   "--only", "memory",
                   "--memory-budget", "150MiB", "--output", str(output)])
    assert status == 0
    captured = capsys.readouterr()
    assert "SKIPPED: predicted peak" in captured.err
    assert "memory subprocess/exec n=4 skipped: predicted peak" in captured.out
    (path,) = (output / "faults").glob("2*.json")
    document = results.read_run(path)
    assert document["measurements"] == []
    assert document["skipped"][0]["n"] == 4
    assert document["parameters"]["memory_budget_bytes"] == 150 * 2**20


@pytest.mark.parametrize("budget, message", [
    ("lots", "a size must be"), ("0%", "in percent must be in (0, 100]"),
    ("150%", "in percent must be in (0, 100]"), ("-1GiB", "a size must be"),
])
def test_bad_memory_budget_is_exit_2_and_writes_nothing(tmp_path, capsys, budget, message):
    output = tmp_path / "res"
    assert main(["run", f"--memory-budget={budget}", "--output", str(output)]) == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


def _processes_mentioning(text: str):
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(text in part for part in process.info["cmdline"] or ()):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.mark.slow
def test_sigkill_of_the_runner_during_a_switch_job_leaves_no_process(tmp_path):
    import psutil

    output = tmp_path / "killed-during-switch"
    runner = subprocess.Popen(
        [sys.executable, "-m", "parkbench", "run", "--models", "threads:condition", "--only",
         "latency", "--latency-mode", "rigorous", "--output", str(output), "--machine", "m"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    family = []
    while not family:  # the switch benchmark and at least one pyperf worker of it
        assert time.monotonic() < deadline, "the switch benchmark never started a worker"
        assert runner.poll() is None
        for process in _processes_mentioning(str(output)):
            try:
                if "bench_switch.py" in " ".join(process.cmdline()) and process.children():
                    family = [process, *process.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.02)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 15
    while any(process.is_running() and process.status() != psutil.STATUS_ZOMBIE for process in family):
        assert time.monotonic() < deadline, [p.cmdline() for p in family if p.is_running()]
        time.sleep(0.05)
    assert not _processes_mentioning(str(output))


@pytest.mark.slow
def test_a_full_disk_mid_sweep_keeps_what_was_stored_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    real = run_file.write_json_atomic
    calls = []

    def full_after_three(path, document):
        calls.append(path)
        if len(calls) > 3:
            raise OSError(28, "No space left on device")
        real(path, document)

    monkeypatch.setattr(run_file, "write_json_atomic", full_after_three)
    status = main(["run", "--models", "asyncio:event", "--n", "5,10,20", "--only", "memory",
                   "--output", str(tmp_path), "--machine", "m"])
    line = one_line_error(capsys, status, "No space left on device", progress=True)
    assert "--resume" in line and "2 measurements are in" in line  # the run file's 4th write failed
    (path,) = (tmp_path / "m").glob("2*.json")
    assert len(results.read_run(path)["measurements"]) == 2


def test_a_runner_started_with_sigint_ignored_still_stops_on_it(tmp_path, tag):
    # a shell's background job (cmd &) starts with SIGINT ignored; Python installs no
    # handler then, and the runner ran to the end whatever it was sent
    output = tmp_path / "res"
    runner = subprocess.Popen(
        [sys.executable, "-m", "parkbench", "run", *SWEEP, "--output", str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    path = _wait_for_measurements(output, 2, runner)
    runner.send_signal(signal.SIGINT)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130 and "--resume" in err
    assert results.read_run(path)["complete"] is False
