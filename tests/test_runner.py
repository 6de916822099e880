"""The runner contains what its children do: failures, crashes and hangs."""

import os
import subprocess
import sys
import time

import psutil
import pytest

from parkbench.core.protocol import Job
from parkbench.measurement import runner
from parkbench.measurement.guard import Guard
from parkbench.measurement.runner import Failure, Sweep, run_child
from parkbench.measurement.suite import jobs as plan
from tests.builders import ListStore, a_record, plan_of

JOB = Job("memory", "asyncio", "event", 10, 0)


def _python(code):
    return [sys.executable, "-c", code]


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


_HANG_WITH_WORKER = (
    "import os, subprocess, sys, time\n"
    "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "open({pid_file!r} + '.tmp', 'w').write(str(worker.pid))\n"
    "os.rename({pid_file!r} + '.tmp', {pid_file!r})\n"
    "time.sleep(600)\n"
)


@pytest.mark.slow
def test_timeout_kills_the_child_and_its_workers(tmp_path):
    pid_file = tmp_path / "worker.pid"
    outcome = run_child(JOB, 1.5, _python(_HANG_WITH_WORKER.format(pid_file=str(pid_file))))
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


def _fake_child(fail_from=None):
    def fake_run_child(job, timeout, command=None, memory_floor=None, parse=None, env=None):
        if fail_from and job.model == fail_from[0] and job.n >= fail_from[1]:
            return Failure(job, "exit", "RuntimeError: can't start new thread", 3, 0.0)
        return a_record(job, pss=10_000_000 + 1000 * job.n)
    return fake_run_child


def test_sweep_stops_a_model_at_its_first_failure_and_goes_on_with_others(monkeypatch):
    monkeypatch.setattr(runner, "run_child", _fake_child(fail_from=("threads", 100)))
    jobs, _ = plan([("threads", "condition"), ("asyncio", "event")],
                   {"threads:condition": (10, 100, 1000), "asyncio:event": (10, 100, 1000)}, repeat=1)
    store = ListStore()
    Sweep(jobs, plan_of(timeout_seconds=5), store).run()
    assert [(m["model"], m["n"]) for m in store.measurements] == [
        ("threads", 10), ("asyncio", 10), ("asyncio", 100), ("asyncio", 1000)]
    assert [(f["model"], f["n"]) for f in store.failures] == [("threads", 100)]


def test_guard_skips_an_n_predicted_over_budget_and_records_why(monkeypatch):
    monkeypatch.setattr(runner, "run_child", _fake_child())
    jobs, _ = plan([("asyncio", "event")], {"asyncio:event": (10, 100, 1000, 100_000, 1_000_000)}, repeat=1)
    store = ListStore()
    # 10 MB fixed + 1000 B per waiter measured; 1.5x margin: 100k waiters need ~165 MB.
    Sweep(jobs, plan_of(timeout_seconds=5), store,
          guard=Guard(budget_bytes=150 * 10**6, floor_bytes=0)).run()
    assert [m["n"] for m in store.measurements] == [10, 100, 1000]
    assert [s["n"] for s in store.skipped] == [100_000, 1_000_000]
    assert "exceeds the memory budget" in store.skipped[0]["reason"]
    assert store.skipped[1]["reason"] == "not run: its series stopped at n=100,000 (skipped)"
    assert "fit over 3 measurements" in store.skipped[0]["reason"]


def test_guard_uses_the_prior_before_anything_is_measured(monkeypatch):
    monkeypatch.setattr(runner, "run_child", _fake_child())
    jobs, _ = plan([("subprocess", "exec")], {"subprocess:exec": (4, 40, 400)}, repeat=1)
    store = ListStore()
    Sweep(jobs, plan_of(timeout_seconds=5), store, guard=Guard(budget_bytes=2**20, floor_bytes=0)).run()
    assert store.measurements == []
    assert "prior of 16 MiB per waiter" in store.skipped[0]["reason"]


def test_resumed_sweep_runs_only_what_is_missing(monkeypatch):
    monkeypatch.setattr(runner, "run_child", _fake_child())
    jobs, _ = plan([("asyncio", "event"), ("gevent", "event")],
                   {"asyncio:event": (10, 100, 1000), "gevent:event": (10, 100, 1000)}, repeat=1)
    gevent_100 = Job("memory", "gevent", "event", 100)
    previous = {"measurements": [_fake_child()(job, 5) for job in jobs[:2]],
                "failures": [Failure(gevent_100, "exit", "boom", 1, 0.0).as_record()], "skipped": []}
    store = ListStore()
    Sweep(jobs, plan_of(timeout_seconds=5), store, previous=previous).run()
    assert [(m["model"], m["n"]) for m in store.measurements] == [("asyncio", 1000)]


@pytest.mark.slow
def test_watchdog_ends_a_child_when_memory_falls_below_the_floor(tmp_path):
    pid_file = tmp_path / "worker.pid"
    outcome = run_child(JOB, 60, _python(_HANG_WITH_WORKER.format(pid_file=str(pid_file))),
                        memory_floor=10**9, available=_available_after_file(pid_file))
    assert isinstance(outcome, Failure) and outcome.kind == "memory-floor"
    assert "below the floor of 954 MiB" in outcome.reason
    assert _ends(int(pid_file.read_text()))


def _available_after_file(path):
    """Plenty of memory until the child has started its worker, then almost none."""
    return lambda: 10 if path.exists() else 10**12


def test_tail_jobs_stop_at_the_largest_n_parked_for_memory(monkeypatch):
    monkeypatch.setattr(runner, "run_child", _fake_child(fail_from=("threads", 1000)))
    jobs, _ = plan([("threads", "condition")], {"threads:condition": (10, 100, 1000)},
                   latency=True, primitives={"threads": ("lock",)}, placements=())
    store = ListStore()
    Sweep(jobs, plan_of(timeout_seconds=5), store).run()
    tail = [m["n"] for m in store.measurements if m["kind"] == "tail"]
    assert tail == [10, 100]
    assert [s["n"] for s in store.skipped] == [1000]
    assert "beyond the largest N parked for memory (100)" in store.skipped[0]["reason"]


@pytest.mark.slow
def test_a_child_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    """subprocess:forkserver left a pymp-* folder (one holding a listener socket) in
    $TMPDIR per probe child."""
    import shutil
    import tempfile

    short = tempfile.mkdtemp(prefix="t", dir="/tmp")  # a Unix socket's path fits 108 bytes
    try:
        monkeypatch.setenv("TMPDIR", short)
        monkeypatch.setattr(tempfile, "tempdir", short)
        record = run_child(Job("memory", "subprocess", "forkserver", 3), timeout=60)
        assert not isinstance(record, Failure), record
        assert record["parked"] == 3
        (mine,) = os.listdir(short)  # the runner's own folder (scratch.py), gone at its exit
        assert mine.startswith(f"pbr-{os.getpid()}-") and os.listdir(os.path.join(short, mine)) == []
    finally:
        shutil.rmtree(short, ignore_errors=True)


def _leave_a_sleeper(tmp_path, popen_options=""):
    """Run, through the runner, a child that starts a sleeping process (with
    ``popen_options``) and exits: the sleeper's pid."""
    marker = tmp_path / "left.pid"
    code = ("import json, os, subprocess, sys\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],\n"
            f"                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL{popen_options})\n"
            f"open({str(marker)!r}, 'w').write(str(p.pid))\n"
            "from parkbench.core import protocol\n"
            "protocol.send({'kind': 'memory', 'model': 'asyncio', 'variant': 'event', 'n': 1, 'ok': True})\n")
    outcome = run_child(Job("memory", "asyncio", "event", 1), timeout=60,
                        command=[sys.executable, "-c", code])
    assert outcome["ok"] is True
    return int(marker.read_text())


@pytest.mark.slow
def test_the_runner_kills_what_a_finished_child_left_in_its_group(tmp_path):
    pid = _leave_a_sleeper(tmp_path)
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, "the grandchild outlived its finished parent"
        time.sleep(0.02)


def test_the_runner_ends_what_a_child_left_in_groups_of_their_own_before_it_returns(tmp_path):
    """A probe's servers and clients make process groups of their own: killing the
    child's group missed them, and they tore down in the next probe's window."""
    pid = _leave_a_sleeper(tmp_path, ", process_group=0")
    # gone already, reaped too: no window of the next child sees it end or counts its reaping
    assert not os.path.exists(f"/proc/{pid}")


def test_the_runner_is_the_reaper_of_what_its_children_orphan():
    """A killed probe's workers were re-parented to init, which reaped 400 of them when it
    next woke: inside the next probe's window (400 tasks ended elsewhere)."""
    from parkbench.measurement import lifeline

    lifeline.become_subreaper()
    code = ("import subprocess, sys; print(subprocess.Popen(['sleep', '30'], stdout=subprocess.DEVNULL, "
            "stderr=subprocess.DEVNULL).pid, "
            "flush=True)")
    parent = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    orphan = int(parent.stdout)
    try:
        with open(f"/proc/{orphan}/stat") as handle:
            assert int(handle.read().rsplit(")", 1)[1].split()[1]) == os.getpid()
    finally:
        os.kill(orphan, 9)
        os.waitpid(orphan, 0)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_runner_records_the_window_of_each_timed_child_and_only_those(monkeypatch):
    monkeypatch.setattr(runner, "run_child", _fake_child())
    busy = {"window_seconds": 1.0, "other_cpu_seconds": 0.9, "other_threads": 0, "running": 3,
            "disturbed": True, "why": "other processes used 0.90 CPU-s in a 1.00 s window"}
    monkeypatch.setattr(runner.interference, "snapshot", lambda: {"at": "now"})
    monkeypatch.setattr(runner.interference, "between", lambda before, after: dict(busy))
    jobs, _ = plan([("threads", "condition")], {"threads:condition": (10, 100, 1000)},
                   latency=True, primitives={"threads": ("lock",)}, placements=())
    store = ListStore()
    Sweep(jobs, plan_of(timeout_seconds=5), store).run()
    kinds = {m["kind"]: m for m in store.measurements}
    assert kinds["tail"]["interference"] == busy          # timed here: the runner's window
    assert "interference" not in kinds["memory"]          # a memory probe records its own
