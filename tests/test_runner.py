"""The runner contains what its children do: failures, crashes and hangs."""

import os
import signal
import sys

import psutil
import pytest

from parkbench.runner import Failure, Job, plan, run_child, sweep

JOB = Job("asyncio", "event", 10, 0)


def _python(code):
    return [sys.executable, "-c", code]


def test_plan_orders_n_ascending_with_repeats():
    jobs = plan([("threads", "condition")], {"threads": (100, 10, 1000)}, repeat=2)
    assert [(j.n, j.repeat) for j in jobs] == [(10, 0), (10, 1), (100, 0), (100, 1), (1000, 0), (1000, 1)]


def test_child_that_raises_is_a_failure_with_its_last_stderr_line():
    outcome = run_child(JOB, 30, _python("import sys; print('noise', file=sys.stderr); sys.exit('RuntimeError: boom')"))
    assert isinstance(outcome, Failure)
    assert (outcome.kind, outcome.exit_code, outcome.reason) == ("exit", 1, "RuntimeError: boom")


def test_child_killed_by_a_signal_is_named():
    outcome = run_child(JOB, 30, _python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    assert isinstance(outcome, Failure)
    assert outcome.kind == "signal"
    assert "SIGKILL" in outcome.reason


def test_child_that_aborts_is_contained():
    outcome = run_child(JOB, 30, _python("import os; os.abort()"))
    assert isinstance(outcome, Failure) and "SIGABRT" in outcome.reason


def test_child_without_a_record_is_bad_output():
    outcome = run_child(JOB, 30, _python("print('not json')"))
    assert isinstance(outcome, Failure) and outcome.kind == "bad-output"


def test_timeout_kills_the_child_and_its_workers(tmp_path):
    pid_file = tmp_path / "worker.pid"
    code = (
        "import subprocess, sys, time\n"
        "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(worker.pid))\n"
        "time.sleep(600)\n"
    )
    outcome = run_child(JOB, 3, _python(code))
    assert isinstance(outcome, Failure) and outcome.kind == "timeout"
    assert _ends(int(pid_file.read_text()))


def _ends(pid, seconds=10.0):
    """True once ``pid`` is dead (gone, or a zombie awaiting its reaper)."""
    try:
        process = psutil.Process(pid)
        process.wait(timeout=seconds)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        pass
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_sweep_stops_a_model_at_its_first_failure_and_goes_on_with_others(monkeypatch):
    import parkbench.runner as runner

    def fake_run_child(job, timeout, command=None):
        if job.model == "threads" and job.n >= 100:
            return Failure(job, "exit", "RuntimeError: can't start new thread", 3, 0.0)
        return {"model": job.model, "variant": job.variant, "n": job.n}

    monkeypatch.setattr(runner, "run_child", fake_run_child)
    jobs = plan([("threads", "condition"), ("asyncio", "event")],
                {"threads": (10, 100, 1000), "asyncio": (10, 100, 1000)}, repeat=1)
    measured, failed = [], []
    sweep(jobs, 5, measured.append, failed.append)
    assert [(m["model"], m["n"]) for m in measured] == [
        ("threads", 10), ("asyncio", 10), ("asyncio", 100), ("asyncio", 1000)]
    assert [(f.job.model, f.job.n) for f in failed] == [("threads", 100)]
