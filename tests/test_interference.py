"""Activity outside a probe's processes while it measures (``interference.py``): the
counters, the disturbed rule at its thresholds, what a record and a run's figures carry,
and the warning ``run`` ends with."""

import time

import pytest

from parkbench.analysis import slopes
from parkbench.core.errors import UserError
from parkbench.measurement import interference


def _snap(time, others_cpu, system_tasks, own_cpu, own_tasks, running=1):
    return {"time": time, "others_cpu_seconds": others_cpu, "system_tasks": system_tasks,
            "running": running, "own_cpu_seconds": own_cpu, "own_tasks": own_tasks}


def test_the_others_are_every_task_but_the_probe_s_own():
    # 2 s window: the other tasks used 1.4 CPU-s (the probe 1.7); 40 tasks started, 35 its own
    found = interference.between(_snap(10.0, 100.0, 500, 5.0, 3), _snap(12.0, 101.4, 540, 6.7, 38, running=3))
    assert found["window_seconds"] == pytest.approx(2.0)
    assert found["other_cpu_seconds"] == pytest.approx(1.4)
    assert found["other_threads"] == 5 and found["running"] == 3
    assert found["disturbed"] and "1.40 CPU-s in a 2.00 s window" in found["why"]


@pytest.mark.parametrize("other_cpu, other_threads, disturbed", [
    (0.2 * 2.0 + 0.05, 0, False),        # at the CPU threshold: not past it
    (0.2 * 2.0 + 0.06, 0, True),
    (0.0, 16, False), (0.0, 17, True),   # tasks started elsewhere
    (0.0, -17, True),                    # and ended elsewhere
])
def test_the_thresholds(other_cpu, other_threads, disturbed):
    found = interference.between(_snap(0.0, 0.0, 100, 0.0, 1),
                                 _snap(2.0, other_cpu, 100 + 20 + other_threads, 1.0, 21))
    assert found["disturbed"] is disturbed
    assert ("tasks" in found["why"]) is (abs(other_threads) > interference.THREADS)


def _task(proc, pid, start, utime, stime, cutime=0, cstime=0, name="worker"):
    folder = proc / str(pid)
    folder.mkdir(exist_ok=True)
    # fields after the name: state ppid ... utime(14) stime cutime cstime ... starttime(22)
    tail = ["S", "1"] + ["0"] * 9 + [str(utime), str(stime), str(cutime), str(cstime)] + ["0"] * 5 + [str(start)]
    (folder / "stat").write_text(f"{pid} ({name}) {' '.join(tail)} 0 0\n")


def _machine(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  1000 200 300 9000 5 6 7 0 0 0\ncpu0 1 2 3 4 5 6 7 0 0 0\n"
                    "procs_running 4\nprocs_blocked 0\n")
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("0.50 0.40 0.30 4/321 12345\n")
    proc = tmp_path / "proc"
    proc.mkdir()
    return {"stat": str(stat), "loadavg": str(loadavg), "proc": str(proc)}, proc


def test_a_snapshot_sums_every_other_task_and_leaves_out_the_probe_s_own(tmp_path):
    import os

    paths, proc = _machine(tmp_path)
    _task(proc, 7, 100, 30, 20, cutime=5, cstime=1, name="a (strange) name) 1 2")  # 56 ticks
    _task(proc, 9, 200, 300, 100)                                                  # 400 ticks
    _task(proc, os.getpid(), 300, 9_000, 9_000)   # this process: the probe's own, left out
    (proc / "self").mkdir()
    found = interference.snapshot(**paths)
    ticks = os.sysconf("SC_CLK_TCK")
    assert found["others_cpu_seconds"] == pytest.approx(456 / ticks)
    assert found["system_tasks"] == 321 and found["running"] == 4
    assert found["own_tasks"] >= 1 and found["own_cpu_seconds"] > 0


def test_an_other_process_that_ends_counts_only_its_work_in_the_window(tmp_path):
    """Its time leaves the sum and comes back in its parent's children fields; a reused
    pid is a new task."""
    import os
    import shutil

    paths, proc = _machine(tmp_path)
    ticks = os.sysconf("SC_CLK_TCK")
    _task(proc, 7, 100, 50, 10)          # the parent
    _task(proc, 8, 150, 1_000, 200)      # a long-lived child: 1,200 ticks before the window
    _task(proc, 9, 160, 40, 0)           # a short-lived child: 40 ticks before the window
    before = interference.snapshot(**paths)
    shutil.rmtree(proc / "8")            # 8 worked 30 more ticks, ended and was reaped
    _task(proc, 9, 900, 3, 0)            # 9 was reaped too; its pid now names a new task
    _task(proc, 7, 100, 52, 10, cutime=1_230 + 40, cstime=0)
    found = interference.between(before, interference.snapshot(**paths))
    # 2 (the parent) + 30 (the ended child's last work) + 3 (the new task)
    assert found["other_cpu_seconds"] == pytest.approx(35 / ticks)


def test_a_quiet_window_on_this_machine_is_measured_as_the_probe_s_own_work():
    """Own CPU burned between two real snapshots is the probe's, not the others'."""
    import time

    before = interference.snapshot()
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    after = interference.snapshot()
    assert after["own_cpu_seconds"] - before["own_cpu_seconds"] >= 0.25


def _memory(model, variant, n, kernel, disturbed=False, why=""):
    return {"kind": "memory", "model": model, "variant": variant, "n": n, "parked": n,
            "memory": {"rss": 1000 * n, "uss": 900 * n, "pss": 950 * n, "vms": 5000 * n, "kernel": kernel},
            "interference": {"window_seconds": 1.0, "other_cpu_seconds": 0.9 if disturbed else 0.0,
                             "other_threads": 0, "running": 2, "disturbed": disturbed, "why": why}}


def test_a_series_with_a_disturbed_point_carries_the_count_and_the_first_reason():
    records = [_memory("threads", "condition", n, 27_000 * n, disturbed=n in (300, 3_000), why=f"busy at {n}")
               for n in (100, 300, 1_000, 3_000)]
    records += [_memory("asyncio", "event", n, 10 * n) for n in (1_000, 3_000, 10_000)]
    figures = {(f["model"], f["metric"]): f for f in slopes.derive_memory(records)}
    assert figures[("threads", "disturbed_points")]["value"] == 2
    assert figures[("threads", "disturbed_points")]["limit"] == "busy at 300"
    assert ("asyncio", "disturbed_points") not in figures


def _timed(kind, model, variant, w, disturbed, rates=None):
    return {"kind": kind, "model": model, "variant": variant, "n": w, **({"rates": rates} if rates else {}),
            "interference": {"window_seconds": 6.0, "other_cpu_seconds": 3.0 if disturbed else 0.0,
                             "other_threads": 0, "running": 2, "disturbed": disturbed,
                             "why": "others used 3.00 CPU-s" if disturbed else ""}}


def test_run_ends_naming_each_disturbed_series_and_the_command_to_measure_it_again():
    records = [_memory("threads", "condition", n, 1, disturbed=n == 3_000, why="others busy")
               for n in (100, 3_000)] + [_memory("asyncio", "event", 1_000, 1)]
    records += [_timed("served", "uvloop", "connections", 100, False),
                _timed("served", "gevent", "connections", 19_000, True),
                _timed("served", "asyncio", "connections", 9_968, True, rates=[12_383, 19_349]),
                _timed("wakes", "asyncio", "event", 7_137_240, True, rates=[418_708, 654_232]),
                _timed("wakes", "uvloop", "event", 10_000, True)]   # the wake rate's search
    series = interference.disturbed_series(records)
    assert [(s["kind"], s["model"], s["ns"]) for s in series] == [
        ("memory", "threads", [3_000]), ("served", "gevent", [19_000]), ("check", "asyncio", [9_968]),
        ("check", "asyncio", [7_137_240]), ("wakes", "uvloop", [10_000])]
    lines = interference.warning(series, {"threads:condition": (100, 300, 1_000, 3_000)})
    assert lines[0] == "warning: the rest of the machine disturbed 5 measurement(s):"
    assert lines[1].strip().startswith("memory threads/condition n=3,000: others busy; their kernel")
    assert lines[2].strip().endswith("--only memory --models threads:condition --n 100,300,1000,3000")
    assert lines[3].strip().startswith("served gevent/connections W=19,000: others used 3.00 CPU-s")
    assert lines[4].strip().endswith("parkbench run --only served --models gevent:connections")
    assert lines[6].strip().endswith("parkbench run --only check --models asyncio:connections")
    assert lines[8].strip().endswith("parkbench run --only check --models asyncio:event")
    assert lines[9].strip().startswith("wakes uvloop/event W=10,000: others used 3.00 CPU-s; the loop's wake rate")
    assert lines[10].strip().endswith("parkbench run --only served --models uvloop:event")
    assert interference.warning([], {}) == []


def test_a_record_s_interference_is_checked_as_it_arrives():
    from parkbench.store.record_schema import check_measurement

    record = _memory("asyncio", "event", 1_000, 1)
    record.update(spawn_seconds=0.1, wake_seconds=0.1, parks_on="future",
                  proof={"blocked_before": 1_000, "blocked_after": 1_000})
    check_measurement(record, "r", "20260101T000000Z")
    for key, value in (("other_cpu_seconds", float("nan")), ("disturbed", "yes"), ("why", "x" * 400),
                       ("window_seconds", -1)):
        bad = {**record, "interference": {**record["interference"], key: value}}
        with pytest.raises(UserError, match=f"interference.{key}"):
            check_measurement(bad, "r", "20260101T000000Z")


def test_a_living_child_s_work_is_the_probe_s_own():
    """The probe's servers, workers and clients are its children: their CPU is its own."""
    import subprocess
    import sys

    before = interference.snapshot()
    child = subprocess.Popen([sys.executable, "-c", "import sys, time\nend = time.process_time() + 0.3\n"
                              "while time.process_time() < end: pass\nprint('done', flush=True)\nsys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "done"   # burned, and alive
        after = interference.snapshot()
    finally:
        child.communicate("")
    assert after["own_cpu_seconds"] - before["own_cpu_seconds"] >= 0.25


def test_a_finished_child_s_session_is_gone_before_the_next_child_starts():
    """A probe's leftovers (workers in its group, servers and clients in groups of their
    own) are killed and waited for, so their teardown is not the next probe's 'other
    processes'."""
    import subprocess

    from parkbench.measurement import lifeline

    # a leader, a worker in its group, and a 'server' in a process group of its own
    leader = subprocess.Popen(["sh", "-c", "sleep 30 & "
                               "python3 -c 'import os, time; os.setpgid(0, 0); time.sleep(32)' & wait"],
                              start_new_session=True)

    def own_groups():   # members that have left the leader's process group
        found = []
        for pid in lifeline.session_members(leader.pid):
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    found.append(handle.read().rsplit(")", 1)[1].split()[2] != str(leader.pid))
            except OSError:
                pass
        return found

    try:
        deadline = time.monotonic() + 10
        while sum(own_groups()) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sum(own_groups()) == 1 and len(own_groups()) == 3   # sh, sleep; the 'server' apart
        assert lifeline.end_session(leader.pid, timeout=10.0)
        leader.wait()
        assert lifeline.session_members(leader.pid) == []
    finally:
        lifeline.end_session(leader.pid, timeout=1.0)
        leader.wait()


def test_a_process_outside_the_probe_s_tree_burning_cpu_is_the_others_work():
    """A real hog beside the probe (a sibling, not its child) shows in the others' CPU."""
    import subprocess
    import sys

    probe = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    hog = subprocess.Popen([sys.executable, "-c", "import sys, time\nsys.stdin.readline()\n"
                            "end = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
                            "print('done', flush=True)\nsys.stdin.read()"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        before = interference.snapshot(probe.pid)
        hog.stdin.write("go\n")
        hog.stdin.flush()
        assert hog.stdout.readline().strip() == "done"   # burned, and alive
        found = interference.between(before, interference.snapshot(probe.pid))
    finally:
        hog.communicate("")
        probe.communicate(b"")
    assert found["other_cpu_seconds"] >= 0.25


def test_a_series_reason_is_brief_and_whole():
    """A figure's reason holds 64 characters: it was cut mid-word ('(over 20% of )')."""
    why = ("other processes used 0.76 CPU-s in a 0.37 s window (over 20% of a CPU); "
           "other processes ended 401 tasks (over 16)")
    assert interference.brief(why) == "others used 0.76 CPU-s in a 0.37 s window"
    assert interference.brief("other processes ended 401 tasks (over 16)") == "others ended 401 tasks"
    long = "word " * 20
    cut = interference.brief(long, limit=24)
    assert cut == "word word word word…" and len(cut) <= 24
    record = _memory("threads", "condition", 100, 1, disturbed=True, why=why)
    (figure,) = [f for f in slopes.derive_memory([record]) if f["metric"] == "disturbed_points"]
    assert figure["limit"] == "others used 0.76 CPU-s in a 0.37 s window"


def test_a_disturbed_hand_off_is_named_with_its_round_and_measured_again_under_the_same_options():
    rounds = [dict(_timed("switch", "threads", None, 0, disturbed), primitive="lock", placement=where, repeat=r)
              for where, r, disturbed in (("same-core", 0, False), ("cross-core", 1, True), ("same-core", 2, True))]
    tail = dict(_timed("tail", "threads", "condition", 3_000, True), primitive="lock")
    series = interference.disturbed_series(rounds + [tail])
    assert [(s["kind"], s["primitive"], s["ns"]) for s in series] == [
        ("switch", "lock", ["cross-core round 2", "same-core round 3"]), ("tail", "lock", [3_000])]
    lines = interference.warning(series, {}, " --python 3.13t --output /tmp/r --machine m")
    assert lines[1].strip().startswith("switch threads/lock cross-core round 2, same-core round 3: others used")
    assert lines[1].endswith("a quiet run's figure stays")
    assert lines[2].strip() == ("measure again on a quiet machine: parkbench run --only latency --models threads "
                                "--primitives lock --python 3.13t --output /tmp/r --machine m")
    assert lines[3].strip().startswith("tail threads/condition n=3,000: others used")
    assert lines[4].strip() == ("measure again on a quiet machine: parkbench run --only latency --models "
                                "threads:condition --primitives lock --python 3.13t --output /tmp/r --machine m")
