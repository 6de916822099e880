"""Tests that separate right from nearly right: each fixture is built so that the
plausible one-line bug (a wrong field, a wrong cut, a wrong formula, the wrong
ancestor) gives a different answer from the right code."""

import json
import os
import subprocess
import sys
import time
from collections import namedtuple

import pytest

from parkbench.analysis import compare
from parkbench.analysis.slopes import derive, measurement_value
from parkbench.core.protocol import Job
from parkbench.core.stats import fit_line
from parkbench.measurement import guard, handoff, limits, memory
from parkbench.measurement.runner import run_child
from parkbench.store import files

from . import synthetic

# --- the fit ----------------------------------------------------------------------------


def test_the_slope_is_least_squares_not_first_to_last():
    # uneven N and one point off the line: least squares gives 10.5 (computed by hand),
    # the slope through the first and last point 10.0, the last two points 11.25
    xs = [10, 20, 60, 100]
    ys = [100 + 10 * x for x in xs]
    ys[2] += 60
    fit = fit_line(xs, ys)
    mean_x = sum(xs) / 4
    mean_y = sum(ys) / 4
    expected = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
                / sum((x - mean_x) ** 2 for x in xs))
    assert fit.slope == pytest.approx(expected)
    assert fit.slope != pytest.approx(10.0)
    assert fit.intercept == pytest.approx(mean_y - expected * mean_x)
    assert 0.9 < fit.r2 < 1.0


def test_total_is_pss_plus_kernel_with_views_of_different_slopes():
    records = [synthetic.memory_record("asyncio", "event", n) for n in (100, 350, 2_000)]
    figures = {f["metric"]: f["value"] for f in derive(records)}
    fixed_per = synthetic.VIEWS
    assert figures["rss_per_waiter"] == pytest.approx(fixed_per["rss"][1])
    assert figures["pss_per_waiter"] == pytest.approx(fixed_per["pss"][1])
    assert figures["uss_per_waiter"] == pytest.approx(fixed_per["uss"][1])
    assert figures["vms_per_waiter"] == pytest.approx(fixed_per["vms"][1])
    assert figures["kernel_per_waiter"] == pytest.approx(fixed_per["kernel"][1])
    assert figures["total_per_waiter"] == pytest.approx(fixed_per["pss"][1] + fixed_per["kernel"][1])
    assert figures["total_fixed"] == pytest.approx(fixed_per["pss"][0] + fixed_per["kernel"][0])
    assert measurement_value(records[0], "total") == records[0]["memory"]["pss"] + records[0]["memory"]["kernel"]
    assert figures["max_n"] == 2_000


# --- memory views of a process tree -----------------------------------------------------


FullInfo = namedtuple("FullInfo", "rss vms uss pss")


class _FakeProcess:
    def __init__(self, pid, info, children=(), grandchildren=()):
        self.pid, self._info = pid, info
        self._children, self._grandchildren = list(children), list(grandchildren)

    def memory_full_info(self):
        return self._info

    def num_threads(self):
        return self.pid - 9  # 1, 2, 3 ... : each process's own count

    def children(self, recursive=False):
        return self._children + (self._grandchildren if recursive is True else [])


def test_tree_views_sum_each_view_from_its_own_field_over_the_whole_tree(monkeypatch):
    workers = [_FakeProcess(11, FullInfo(rss=1000, vms=9000, uss=100, pss=300)),
               _FakeProcess(12, FullInfo(rss=1001, vms=9001, uss=101, pss=301))]
    grandchild = [_FakeProcess(13, FullInfo(rss=7, vms=70, uss=1, pss=3))]  # e.g. a forkserver's worker
    root = _FakeProcess(10, FullInfo(rss=50_000, vms=90_000, uss=20_000, pss=30_000), workers, grandchild)
    monkeypatch.setattr(memory.psutil, "Process", lambda pid=None: root)
    monkeypatch.setattr(memory, "_count_mappings", lambda pid: pid)  # 10 + 11 + 12 + 13
    views = memory.tree_views()
    assert views == {"rss": 52_008, "vms": 108_071, "uss": 20_202, "pss": 30_604,
                     "maps": 46, "threads": 10, "processes": 4}


def test_a_process_that_ends_while_it_is_read_is_skipped_not_fatal(monkeypatch):
    class Gone(_FakeProcess):
        def memory_full_info(self):
            raise memory.psutil.NoSuchProcess(self.pid)

    root = _FakeProcess(10, FullInfo(rss=5, vms=5, uss=5, pss=5),
                        [Gone(11, None), _FakeProcess(12, FullInfo(rss=1, vms=1, uss=1, pss=1))])
    monkeypatch.setattr(memory.psutil, "Process", lambda pid=None: root)
    monkeypatch.setattr(memory, "_count_mappings", lambda pid: 1)
    assert memory.tree_views() == {"rss": 6, "vms": 6, "uss": 6, "pss": 6, "maps": 2, "threads": 4, "processes": 2}


def test_kernel_fields_absent_from_meminfo_count_as_zero(tmp_path):
    path = tmp_path / "meminfo"
    path.write_text("MemTotal: 100 kB\nKernelStack: 4 kB\n")
    assert memory.kernel_meminfo(str(path)) == {"KernelStack": 4096, "SUnreclaim": 0, "PageTables": 0}
    assert memory.kernel_meminfo(str(tmp_path / "absent")) == {"KernelStack": 0, "SUnreclaim": 0, "PageTables": 0}


def test_kernel_growth_sums_the_three_fields(tmp_path):
    before = tmp_path / "before"
    after = tmp_path / "after"
    before.write_text("MemTotal: 100 kB\nKernelStack: 10 kB\nSUnreclaim: 20 kB\nPageTables: 30 kB\nSlab: 999 kB\n")
    after.write_text("MemTotal: 100 kB\nKernelStack: 16 kB\nSUnreclaim: 27 kB\nPageTables: 38 kB\nSlab: 5 kB\n")
    growth = memory.kernel_growth(memory.kernel_meminfo(str(before)), memory.kernel_meminfo(str(after)))
    assert growth == (6 + 7 + 8) * 1024


# --- percentiles ------------------------------------------------------------------------


def test_percentiles_on_a_known_sequence():
    # round trips of 2, 4, ..., 2000 ns: one-way 1 ... 1000 ns, one of each
    samples = [2 * k for k in range(1, 1001)]
    cuts = handoff.one_way_percentiles(samples)
    assert cuts["switch_p50"] == pytest.approx(500.5e-9)
    assert cuts["switch_p99"] == pytest.approx(990.01e-9)
    assert cuts["switch_p999"] == pytest.approx(999.001e-9)
    assert cuts["switch_max"] == pytest.approx(1000e-9)
    assert cuts["samples"] == 1000


# --- the switch benchmark ---------------------------------------------------------------


@pytest.mark.slow
def test_the_switch_benchmark_counts_two_hand_offs_per_round_trip(tmp_path):
    """pyperf's metadata says inner_loops = 2, and its median agrees (within a loose
    factor: a shared machine) with a direct ping-pong timed here at the same placement
    (unpinned, the two threads may land on two busy cores: ten times slower)."""
    import pyperf

    from parkbench.measurement import placement, switchbench
    from parkbench.measurement.probes import threads

    path = tmp_path / "switch.json"
    command = switchbench.switch_command("threads", "lock", "same-core", path, "quick")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    benchmark = pyperf.Benchmark.load(str(path))
    assert benchmark.get_metadata()["inner_loops"] == 2
    loops = 20_000
    one_way = threads.pingpong("lock", loops, placement.cpus_for("same-core")) / loops / 2
    ratio = benchmark.median() / one_way
    assert 0.25 < ratio < 4, (benchmark.median(), one_way)


# --- the guard --------------------------------------------------------------------------


def test_the_guard_counts_kernel_memory_when_it_dominates():
    # threads: PSS grows 2 KiB per waiter, kernel 40 KiB: a PSS-only guard predicts a
    # 20th of the real need
    measured = [{"n": n, "memory": {"pss": 30e6 + 2048 * n, "kernel": 40_960 * n}} for n in (100, 1_000)]
    peak, _ = guard.predict_peak("threads", 100_000, measured, margin=1.0)
    assert peak == pytest.approx(30e6 + (2048 + 40_960) * 100_000, rel=1e-6)
    budget = int(30e6 + 2048 * 100_000 * 2)  # enough for PSS alone, not for the total
    assert guard.Guard(budget, 0, 1.0).refuse("threads", 100_000, measured) is not None


# --- significance -----------------------------------------------------------------------


def _side_with_values(tmp_path, name, values):
    import pyperf

    run_id = "20260101T000000Z"
    folder = tmp_path / name
    (folder / run_id).mkdir(parents=True)
    runs = [pyperf.Run([value], metadata={"name": "switch", "loops": 1}, collect_metadata=False)
            for value in values]
    pyperf.Benchmark(runs).dump(str(folder / run_id / "switch-asyncio-future-same-core.json"))
    record = synthetic.switch_record("asyncio", "future", "same-core", run_id, sorted(values)[len(values) // 2])
    synthetic.write_run(tmp_path, name, "20260101T000000", [record])
    return compare.resolve(str(folder), tmp_path)


def test_significance_says_yes_for_clearly_different_and_no_for_identical(tmp_path):
    import random

    rng = random.Random(7)
    fast = [rng.gauss(2e-6, 0.05e-6) for _ in range(30)]
    slow = [rng.gauss(3e-6, 0.05e-6) for _ in range(30)]
    a = _side_with_values(tmp_path, "a", fast)
    table = compare.compare(a, _side_with_values(tmp_path, "b", slow))
    row = table[table.metric == "switch_latency"].iloc[0]
    assert bool(row.significant) is True and row.p_value < 1e-6
    table = compare.compare(a, _side_with_values(tmp_path, "c", list(fast)))
    row = table[table.metric == "switch_latency"].iloc[0]
    assert bool(row.significant) is False and row.p_value > 0.5


# --- cgroups: the tightest limit wins, wherever it is --------------------------------------


def test_a_tighter_parent_cgroup_binds_the_child(tmp_path):
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text("0::/parent/child\n")
    base = tmp_path / "sys/fs/cgroup"
    (base / "parent/child").mkdir(parents=True)
    (base / "parent/pids.max").write_text("300\n")          # tighter, in the parent
    (base / "parent/child/pids.max").write_text("5000\n")   # looser, in the child
    (base / "pids.max").write_text("max\n")
    (base / "parent/memory.max").write_text("max\n")
    (base / "parent/child/memory.max").write_text("1073741824\n")
    found = limits.read(str(tmp_path))
    assert found["cgroup_pids_max"] == 300
    assert found["cgroup_memory_max"] == 2**30


# --- the probe checks its own count ----------------------------------------------------------


def test_the_probe_refuses_a_count_short_of_n(monkeypatch):
    from parkbench.measurement import probe_child as probe
    from parkbench.measurement import probes

    class Short:
        @staticmethod
        def park(n, variant, measure, wake=True):
            measure()
            return {"parked": n - 1, "spawn_seconds": 0.1, "wake_seconds": 0.1, "parks_on": "p",
                    "memory": {}, "proof": {"blocked_before": n, "blocked_after": n}}

    monkeypatch.setattr(probes, "load", lambda name: Short)
    monkeypatch.setattr(probe, "_measurer", lambda *baselines: (lambda: {}))
    with pytest.raises(RuntimeError, match="proved 4 of 5 waiters parked"):
        probe.run("asyncio", "event", 5)
    Short.park = staticmethod(lambda n, variant, measure, wake=True: {
        "parked": n, "spawn_seconds": 0.1, "wake_seconds": 0.1, "parks_on": "p", "memory": {},
        "proof": {"blocked_before": n, "blocked_after": n - 1}})
    with pytest.raises(RuntimeError, match="no proof that 5 waiters were blocked"):
        probe.run("asyncio", "event", 5)


# --- the runner cleans up after a child that succeeded ------------------------------------


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


# --- atomic writes ----------------------------------------------------------------------


def test_a_write_that_fails_midway_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    files.write_json_atomic(path, {"version": "old", "values": list(range(100))})
    before = path.read_bytes()

    def fail(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        files.write_json_atomic(path, {"version": "new", "values": list(range(10**5))})
    assert path.read_bytes() == before
    assert json.loads(before)["version"] == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp file left


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="cross-core needs two CPUs")
def test_cross_core_placement_names_two_different_cpus_and_same_core_one():
    from parkbench.measurement import placement

    a, b = placement.cpus_for("cross-core")
    assert a != b and {a, b} <= os.sched_getaffinity(0)
    a, b = placement.cpus_for("same-core")
    assert a == b
