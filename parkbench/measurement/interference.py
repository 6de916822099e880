"""Activity outside a probe's own processes while it measures: is a figure disturbed?

Kernel memory is read system-wide (``memory.kernel_growth``): whatever else the machine
does between a probe's baseline and its reading lands in it, and on a busy machine that
has stored kernel costs below zero. RSS, USS and PSS are read per process and do not
suffer so. Each memory measurement therefore records, over that same window, what the
rest of the machine did:

- ``other_cpu_seconds``: CPU time spent in user and system mode by every other task of
  the machine (each process's /proc/<pid>/stat, its reaped children included; kernel
  threads too), that is every task but the probe's own processes (its tree, reaped
  children included, and the runner that started it). Summing tasks, rather than taking
  the machine's total (/proc/stat) less the probe's own, matters: the machine's tick
  count runs ahead of its tasks' precise times when a probe starts processes (a quiet
  probe of 12 fresh interpreters: 0.34 CPU-s in /proc/stat, 0.24 in every task of the
  machine together), which flagged quiet sweeps as disturbed;
- ``other_threads``: the change in the machine's task count (/proc/loadavg) less the
  change in the probe's own: each task created or ended elsewhere moves KernelStack by
  one kernel stack;
- ``running``: tasks runnable at the reading (/proc/stat ``procs_running``), the probe
  included.

A measurement is **disturbed** when the others averaged more than ``CPU_SHARE`` of one
CPU over the window (beyond ``CPU_ALLOWANCE`` for clock-tick accounting) or changed
their task count by more than ``THREADS``: on this project's quiet machines the others
use well under 1% of a CPU and change a handful of tasks, and a second sweep beside a
run uses a whole CPU. Reading the counters costs a few milliseconds and nothing while
the probe's waiters are parked beyond that.
"""

import os
import time

from parkbench.measurement import procstat
from parkbench.store.checker import printable

CPU_SHARE = 0.2        # of one CPU, averaged over the window
CPU_ALLOWANCE = 0.05   # seconds: tasks' times are read in clock ticks (10 ms)
THREADS = 16           # tasks created or ended elsewhere (16 kernel stacks: 256 KiB)


def _others_ticks(own_pids, proc: str) -> int:
    """CPU ticks (utime + stime + cutime + cstime) of every task on the machine outside
    ``own_pids``. A process that ended meanwhile is not there; its time went to its
    parent's children fields (so a sum over a window counts, of an ended process, only
    its work in the window, and of a reused pid the new task's)."""
    return sum(sum(int(value) for value in found[11:15])
               for pid, found in procstat.each(proc) if pid not in own_pids)


def _procs_running(stat_text: str) -> int:
    for line in stat_text.splitlines():
        if line.startswith("procs_running "):
            return int(line.split()[1])
    return 0


def _system_tasks(loadavg_text: str) -> int:
    """Every task on the machine: the total of /proc/loadavg's ``running/total``."""
    return int(loadavg_text.split()[3].split("/")[1])


def own_processes(pid: int | None = None) -> list:
    """The probe (``pid``, default this process), every process under it and the
    runner that started it (its parent): the activity that is the measurement's own."""
    import psutil

    root = psutil.Process(pid)
    found = [root] + root.children(recursive=True)
    try:
        found.append(root.parent())
    except psutil.Error:
        pass
    return [process for process in found if process is not None]


def _own_cpu_and_tasks(processes) -> tuple[float, int]:
    import psutil

    seconds, tasks = 0.0, 0
    for process in processes:
        try:
            with process.oneshot():
                times = process.cpu_times()
                tasks += process.num_threads()
        except psutil.Error:
            continue  # ended meanwhile: its time went to its parent's children_* fields
        seconds += times.user + times.system + times.children_user + times.children_system
    return seconds, tasks


def snapshot(pid: int | None = None, stat: str = "/proc/stat", loadavg: str = "/proc/loadavg",
             proc: str = "/proc") -> dict:
    """The counters at one moment (JSON-ready)."""
    with open(stat) as handle:
        stat_text = handle.read()
    with open(loadavg) as handle:
        loadavg_text = handle.read()
    own = own_processes(pid)
    own_cpu, own_tasks = _own_cpu_and_tasks(own)
    others = _others_ticks({process.pid for process in own}, proc)
    return {"time": time.monotonic(), "others_cpu_seconds": others / os.sysconf("SC_CLK_TCK"),
            "system_tasks": _system_tasks(loadavg_text), "running": _procs_running(stat_text),
            "own_cpu_seconds": own_cpu, "own_tasks": own_tasks}


def between(before: dict, after: dict) -> dict:
    """What the rest of the machine did between two snapshots, and whether that
    disturbs a system-wide reading (``disturbed``, with ``why``)."""
    window = max(after["time"] - before["time"], 0.0)
    # a process that ended meanwhile leaves the sum, and its time comes back in its
    # parent's children fields: the difference is what the others did in the window
    other_cpu = max(after["others_cpu_seconds"] - before["others_cpu_seconds"], 0.0)
    other_threads = ((after["system_tasks"] - before["system_tasks"])
                     - (after["own_tasks"] - before["own_tasks"]))
    why = []
    if other_cpu > CPU_SHARE * window + CPU_ALLOWANCE:
        why.append(f"other processes used {other_cpu:.2f} CPU-s in a {window:.2f} s window "
                   f"(over {CPU_SHARE:.0%} of a CPU)")
    if abs(other_threads) > THREADS:
        why.append(f"other processes {'started' if other_threads > 0 else 'ended'} "
                   f"{abs(other_threads):,} tasks (over {THREADS})")
    return {"window_seconds": window, "other_cpu_seconds": other_cpu, "other_threads": other_threads,
            "running": after["running"], "disturbed": bool(why), "why": "; ".join(why)}


def brief(why: str, limit: int = 64) -> str:
    """The first reason of ``why`` in at most ``limit`` characters (a figure's ``limit``
    field holds 64), whole words: 'others used 0.76 CPU-s in a 0.37 s window'."""
    import re

    first = why.split("; ")[0].replace("other processes", "others")
    first = re.sub(r" \(over [^)]*\)", "", first)
    if len(first) <= limit:
        return first
    return first[:limit - 1].rsplit(" ", 1)[0] + "…"


# what a disturbed measurement of each kind loses, and how to measure it again
_AGAIN = {"memory": ("their kernel and total figures will not replace sound ones", "--only memory"),
          "served": ("their rates may be the machine's, not the server's", "--only served"),
          "wakes": ("the loop's wake rate may be the machine's", "--only served"),
          "check": ("the map check's verdict may be the machine's", "--only check"),
          "switch": ("the hand-off may be the machine's; a quiet run's figure stays", "--only latency"),
          "tail": ("the tail may be the machine's; a quiet run's figure stays", "--only latency")}


def disturbed_series(measurements) -> list[dict]:
    """Per (kind, model, variant) whose memory, served, wake-rate or map-check
    measurements the rest of the machine disturbed: the N (W) of those measurements and
    the first reason, in run order. A served or wakes job with rates is a map check."""
    found: dict = {}
    for record in measurements:
        activity = record.get("interference") or {}
        kind = record.get("kind")
        if kind in ("served", "wakes") and record.get("rates"):
            kind = "check"  # a map check: measured again by --only check
        if kind in _AGAIN and activity.get("disturbed"):
            primitive = record.get("primitive") if kind in ("switch", "tail") else None
            entry = found.setdefault((kind, record["model"], record["variant"], primitive),
                                     {"kind": kind, "model": record["model"], "variant": record["variant"],
                                      "primitive": primitive, "ns": [], "why": activity.get("why", "")})
            # a hand-off round has no N: its round and placement say which
            entry["ns"].append(f"{record.get('placement')} round {record.get('repeat', 0) + 1}"
                               if kind == "switch" else record["n"])
    return list(found.values())


def warning(series, grids, again: str = "") -> list[str]:
    """The lines ``run`` ends with when measurements were disturbed: which, why, what it
    costs, and the command that measures each series again (a memory series: its whole
    grid, in fresh processes; ``again``: the run's own options that command keeps, such
    as ``--python 3.13t --output DIR``)."""
    if not series:
        return []
    lines = [f"warning: the rest of the machine disturbed {sum(len(s['ns']) for s in series)} "
             f"measurement(s):"]
    for entry in series:
        kind = entry.get("kind", "memory")
        cost, only = _AGAIN[kind]
        if kind == "switch":
            command = f"parkbench run {only} --models {entry['model']} --primitives {entry['primitive']}"
            label, what = f"{entry['model']}/{entry['primitive']}", ""
        else:
            command = f"parkbench run {only} --models {entry['model']}:{entry['variant']}"
            label, what = f"{entry['model']}/{entry['variant']}", ("n=" if kind in ("memory", "tail") else "W=")
        if kind == "tail":
            command += f" --primitives {entry['primitive']}"
        if kind == "memory":
            grid = grids.get(f"{entry['model']}:{entry['variant']}") or sorted(set(entry["ns"]))
            command += f" --n {','.join(str(n) for n in grid)}"
        where = ", ".join(f"{n:,}" if isinstance(n, int) else n for n in entry["ns"])
        lines.append(f"  {kind} {label} {what}{where}: "
                     f"{printable(entry['why'])}; {cost}")  # a resumed file's text: escaped
        lines.append(f"    measure again on a quiet machine: {command}{again}")
    return lines
