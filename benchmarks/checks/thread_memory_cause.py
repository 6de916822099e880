"""Why a parked thread costs more memory on free-threaded CPython: the same parked
thread measured with one thing varied at a time, on a GIL build and a free-threaded
build of one version (``scripts/build_python.py`` makes both).

Like ``independent_probe.py`` it shares no code with parkbench: each (setting, N) runs
in a fresh interpreter that starts N threads, each of which (optionally) allocates K
small objects and keeps them, then waits on one ``threading.Condition``; once all N wait
it reads VmRSS and VmSize from /proc/self/status and exits. The figure is the slope over
N (N = 1,000 and 3,000, the median of ``--repeat`` fresh processes each). Varied:

- the build: GIL or free-threaded (``--gil`` and ``--free-threaded``, two interpreters);
- ``PYTHON_GIL=1`` on the free-threaded build (the GIL turned back on at run time, the
  build's per-thread allocator heaps kept);
- K = 1,000 objects allocated and kept by each thread (on the free-threaded build each
  thread allocates from heaps of its own: mimalloc pages per thread);
- the thread stack size (``threading.stack_size(256 KiB)`` against the default 8 MiB);
- the thundering herd: each arriving thread calls ``notify_all`` (as
  ``independent_probe.py`` does), so every thread is woken once per later arrival
  before the reading, N^2/2 wake-ups in all, against each thread waiting once.

    python benchmarks/checks/thread_memory_cause.py --gil PY --free-threaded PYT [--save FILE]

Prints a table and, with ``--save``, writes its JSON (``results/<machine>/thread-memory-
cause.json``, read by tests/test_prose_figures.py and quoted in docs/methodology.md).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime

GRID = (1_000, 3_000)
CHILD = r"""
import sys, threading
n, objects, stack, herd = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "herd"
if stack:
    threading.stack_size(stack)
condition, ready, kept, go = threading.Condition(), threading.Semaphore(0), [], []


def waiter():
    mine = [object() for _ in range(objects)] if objects else None  # allocated here, kept while parked
    with condition:
        ready.release()
        if herd:  # each arrival wakes every thread parked before it: N^2/2 wake-ups in all
            condition.notify_all()
        while not go:
            condition.wait()
    kept.append(mine)


threads = [threading.Thread(target=waiter) for _ in range(n)]
for thread in threads:
    thread.start()
for _ in range(n):
    ready.acquire()
with condition:  # every waiter released the semaphore inside the lock: all are waiting now
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(int(status["VmRSS"].split()[0]) * 1024, int(status["VmSize"].split()[0]) * 1024, gil)
    go.append(True)
    condition.notify_all()
for thread in threads:
    thread.join()
"""
SETTINGS = (  # name, build, environment, objects per thread, stack size, woken by every later arrival
    ("GIL build", "gil", {}, 0, 0, False),
    ("GIL build, K=1,000 objects", "gil", {}, 1_000, 0, False),
    ("GIL build, 256 KiB stacks", "gil", {}, 0, 256 * 1024, False),
    ("GIL build, woken by each arrival", "gil", {}, 0, 0, True),
    ("free-threaded", "free", {}, 0, 0, False),
    ("free-threaded, PYTHON_GIL=1", "free", {"PYTHON_GIL": "1"}, 0, 0, False),
    ("free-threaded, K=1,000 objects", "free", {}, 1_000, 0, False),
    ("free-threaded, 256 KiB stacks", "free", {}, 0, 256 * 1024, False),
    ("free-threaded, woken by each arrival", "free", {}, 0, 0, True),
)


def reading(python: str, n: int, env: dict, objects: int, stack: int, herd: bool) -> tuple[int, int, bool]:
    done = subprocess.run([python, "-c", CHILD, str(n), str(objects), str(stack), "herd" if herd else "once"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, **env})
    if done.returncode:
        raise SystemExit(f"thread_memory_cause: {python} failed: {done.stderr.strip()[-300:]}")
    rss, vms, gil = done.stdout.split()
    return int(rss), int(vms), gil == "True"


def slope(python: str, env: dict, objects: int, stack: int, herd: bool, repeat: int) -> dict:
    medians = {}
    gil_states = set()
    for n in GRID:
        runs = [reading(python, n, env, objects, stack, herd) for _ in range(repeat)]
        gil_states |= {run[2] for run in runs}
        medians[n] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
    low, high = GRID
    return {"rss_per_thread": (medians[high][0] - medians[low][0]) / (high - low),
            "vms_per_thread": (medians[high][1] - medians[low][1]) / (high - low),
            "gil_enabled": sorted(gil_states)}


def version(python: str) -> str:
    code = ("import platform, sysconfig; print(platform.python_version() + "
            "('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''))")
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/checks/thread_memory_cause.py")
    parser.add_argument("--gil", required=True, help="a GIL build's interpreter")
    parser.add_argument("--free-threaded", required=True, help="a free-threaded build's interpreter")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--save")
    args = parser.parse_args(argv)
    pythons = {"gil": args.gil, "free": args.free_threaded}
    labels = {key: version(python) for key, python in pythons.items()}
    if not labels["free"].endswith("t") or labels["gil"].endswith("t"):
        raise SystemExit(f"thread_memory_cause: --gil {labels['gil']}, --free-threaded {labels['free']}: "
                         "give a GIL build and a free-threaded one")
    rows = []
    for name, build, env, objects, stack, herd in SETTINGS:
        found = slope(pythons[build], env, objects, stack, herd, args.repeat)
        rows.append({"setting": name, "interpreter": f"CPython {labels[build]}", "environment": env,
                     "objects_per_thread": objects, "stack_size": stack, "woken_by_each_arrival": herd,
                     **found})
        print(f"{name:<32} {labels[build]:<8} RSS {found['rss_per_thread'] / 1024:7.1f} KiB/thread  "
              f"VMS {found['vms_per_thread'] / 2**20:6.2f} MiB/thread  GIL on: {found['gil_enabled']}",
              flush=True)
    if args.save:
        document = {"grid": list(GRID), "repeat": args.repeat, "machine_kernel": platform.release(),
                    "when": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"), "rows": rows}
        with open(args.save, "w") as out:
            json.dump(document, out, indent=1)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
