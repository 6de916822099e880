"""The peer-style check: the whole-program "1M concurrent tasks" method measured beside
parkbench's sleep variant on the same machine, and the difference taken apart.

The widely cited outside figures come from whole programs: N tasks that each sleep on a
timer (``asyncio.sleep(10)``, ``time.Sleep``) are created and gathered, and the peak
RSS of the process, divided by N, is the figure. parkbench reports the slope of settled
memory over N in fresh processes. Both are right for what they measure; this module
measures both, here, and names each part of the gap:

    peer per task = fixed / N              the interpreter or runtime before any task
                  + parkbench slope        settled RSS of one more sleeping task
                  + unexplained            settled growth per task the slope does not cover
                  + gather per task        gather's per-child callback and bookkeeping
                                           (asyncio: the gathered run minus the same tasks
                                           held in a list, as parkbench holds them)
                  + peak over settled      transient memory above the settled state

Every term is measured (the sum is the peer figure by construction; ``unexplained`` is
the honest remainder and should be small). Programs are written here from the method
as described, not copied: ``PYTHON_PROGRAM`` below and ``goprobe peer``.
"""

import json
import os
import subprocess
import sys
import threading

from parkbench.core import published
from parkbench.core.errors import UserError
from parkbench.core.protocol import Job, JobKind
from parkbench.core.stats import fit_line
from parkbench.core.units import format_bytes, is_finite_number
from parkbench.measurement import gotoolchain, guard
from parkbench.measurement.runner import Failure, run_child
from parkbench.store import files

SCHEMA = "parkbench-peer-style"
SCHEMA_VERSION = 1  # a file of version 1 written before 2026-12 says {"format": 1} instead
# The 2024 follow-up of the widely read "how much memory do you need to run 1 million
# concurrent tasks" benchmark: peak RSS at 1M tasks, in bytes. Published, not measured
# here; each figure's unit and source are in ``published.py`` (they are MiB).
PUBLISHED_1M = published.one_million_tasks()
RUNTIMES = ("asyncio", "go")
MODES = ("gather", "tasks")

PYTHON_PROGRAM = r"""
import asyncio, ctypes, json, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # die with the parent


def resident():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024


async def sleeper(seconds):
    await asyncio.sleep(seconds)


async def main(n, seconds, mode):
    start = resident()
    if mode == "gather":  # the method: N coroutines, gathered
        coroutines = [sleeper(seconds) for _ in range(n)]
        everything = asyncio.gather(*coroutines)
        await asyncio.sleep(0)  # every task takes its first step: all are asleep
        settled = resident()
        await everything
    else:  # the same tasks held in a list, as parkbench's probe holds them
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(sleeper(seconds)) for _ in range(n)]
        await asyncio.sleep(0)
        settled = resident()
        for task in tasks:
            await task
    print(json.dumps({"n": n, "rss_start": start, "rss_settled": settled}))


asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]))
"""

# A deliberately high guess of peak bytes per task, to refuse an N the machine cannot hold.
PEAK_PRIOR = {"asyncio": 4_000, "go": 6_000}
SLOPE_GRID = (30_000, 100_000, 300_000, 1_000_000)


def run_program(command: list[str], timeout: float) -> dict:
    """Run one whole program; its JSON line plus ``rss_peak`` (wait4's ru_maxrss)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        out = process.stdout.read()  # type: ignore[union-attr]
        err = process.stderr.read()  # type: ignore[union-attr]
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        last = (err.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{command[0]} exited with {process.returncode}: {last}")
    record = json.loads(out.decode().strip().splitlines()[-1])
    record["rss_peak"] = usage.ru_maxrss * 1024  # Linux reports KiB
    return record


def peer_command(runtime: str, mode: str, n: int, sleep_seconds: float) -> list[str]:
    if runtime == "asyncio":
        return [sys.executable, "-I", "-c", PYTHON_PROGRAM, str(n), str(sleep_seconds), mode]

    return [str(gotoolchain.binary()), "peer", "-n", str(n), "-sleep", f"{sleep_seconds}s"]


def parkbench_slope(runtime: str, grid=SLOPE_GRID, timeout: float = 600.0) -> dict:
    """parkbench's sleep variant of ``runtime``: RSS slope over ``grid``, each N in a
    fresh probe child, with its R²."""
    ns, rss = [], []
    for n in grid:
        outcome = run_child(Job(JobKind.MEMORY, runtime, "sleep", n), timeout)
        if isinstance(outcome, Failure):
            raise RuntimeError(f"parkbench {runtime}:sleep at N={n:,}: {outcome.reason}")
        ns.append(n)
        rss.append(outcome["memory"]["rss"])
    fit = fit_line(ns, rss)
    return {"slope": fit.slope, "r2": fit.r2, "grid": list(ns)}


def decompose(n: int, gathered: dict, held: dict | None, slope: float) -> dict:
    """The peer figure per task at ``n`` and its parts (bytes per task); ``held`` is the
    same tasks held in a list (``None`` where the runtime has no gather, e.g. Go)."""
    growth = gathered["rss_settled"] - gathered["rss_start"]
    held_growth = growth if held is None else held["rss_settled"] - held["rss_start"]
    parts = {
        "fixed_per_task": gathered["rss_start"] / n,
        "parkbench_slope": slope,
        "unexplained": held_growth / n - slope,
        "gather_per_task": (growth - held_growth) / n,
        "peak_over_settled": (gathered["rss_peak"] - gathered["rss_settled"]) / n,  # may be a few pages below 0: RSS counters are batched
    }
    peer = gathered["rss_peak"] / n
    return {"n": n, "peer_per_task": peer, **parts,
            "parts_sum": sum(parts.values()),
            "slope_vs_peer": slope / peer}


def measure(runtimes=RUNTIMES, ns=(100_000, 1_000_000), sleep_seconds: float = 10.0,
            available: float | None = None, progress=None) -> dict:
    """Run the peer-style programs and parkbench's sleep variant; the document that
    ``save`` writes. A runtime whose largest N would not fit in half the available
    memory is refused before anything runs."""
    available = available if available is not None else guard.available_bytes()
    for runtime in runtimes:
        need = PEAK_PRIOR[runtime] * max(ns)  # the programs run one after another
        if need > available / 2:
            raise UserError(f"{runtime} at N={max(ns):,} may need {need / 1e9:.1f} GB, more "
                            f"than half of the {available / 1e9:.1f} GB available")
    rows, slopes = [], {}
    for runtime in runtimes:
        say = progress or (lambda text: None)
        say(f"{runtime}: parkbench sleep variant over N {', '.join(f'{n:,}' for n in SLOPE_GRID)}")
        slopes[runtime] = parkbench_slope(runtime)
        for n in ns:
            say(f"{runtime}: whole program, N={n:,}, each task sleeping {sleep_seconds:g} s")
            timeout = sleep_seconds + 300
            gathered = run_program(peer_command(runtime, "gather", n, sleep_seconds), timeout)
            held = None
            if runtime == "asyncio":
                held = run_program(peer_command(runtime, "tasks", n, sleep_seconds), timeout)
            rows.append({"runtime": runtime, **decompose(n, gathered, held, slopes[runtime]["slope"]),
                         "raw": {"gather": gathered, "tasks": held}})
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "sleep_seconds": sleep_seconds, "slopes": slopes, "rows": rows}


# --- reading a stored check: untrusted input ------------------------------------------

FILENAME = "peer-style.json"
_ROW_NUMBERS = ("n", "peer_per_task", "fixed_per_task", "parkbench_slope", "unexplained",
                "gather_per_task", "peak_over_settled", "parts_sum", "slope_vs_peer")


def load(path) -> dict:
    """A stored check, every name and number checked; ``UserError`` in one line if not."""
    from pathlib import Path

    path = Path(path)
    try:
        document = json.loads(files.read_text(path))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable peer-style check ({exc})") from None

    def bad(what):
        raise UserError(f"{path}: {what}")

    def number(value, what, low, high):
        if not is_finite_number(value) or not low <= value <= high:
            bad(f"{what} must be a finite number from {low:g} to {high:g}, not {value!r}")

    if not isinstance(document, dict):
        bad("must be a JSON object")
    version = document.get("schema_version") if document.get("schema") == SCHEMA else \
        document.get("format")  # how version 1 first named itself
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        bad(f"must be a {SCHEMA!r} file of schema_version {SCHEMA_VERSION}, not {version!r}")
    number(document.get("sleep_seconds"), "sleep_seconds", 0, 600)
    slopes = document.get("slopes")
    if not isinstance(slopes, dict) or not slopes or not set(slopes) <= set(RUNTIMES):
        bad(f"slopes must map {' or '.join(RUNTIMES)} to a fit")
    for runtime, fit in slopes.items():
        if not isinstance(fit, dict) or not isinstance(fit.get("grid"), list) or not fit["grid"]:
            bad(f"slopes.{runtime} must hold a slope and its grid")
        number(fit.get("slope"), f"slopes.{runtime}.slope", 0, 1e12)
        for n in fit["grid"]:
            number(n, f"slopes.{runtime}.grid", 1, 1e12)
    rows = document.get("rows")
    if not isinstance(rows, list) or not rows:
        bad("rows must be a non-empty list")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or row.get("runtime") not in RUNTIMES:
            bad(f"rows[{i}].runtime must be one of {', '.join(RUNTIMES)}")
        for key in _ROW_NUMBERS:
            number(row.get(key), f"rows[{i}].{key}", -1e12, 1e12)
        if row["n"] < 1:
            bad(f"rows[{i}].n must be at least 1")
    return document


def table(document) -> list[dict]:
    """Rows for a reader: bytes per task, each part, and the slope as a share of peer."""

    def signed(value):
        return ("-" if value < 0 else "+") + format_bytes(abs(value))

    return [{"runtime": row["runtime"], "N": f"{row['n']:,}",
             "peer (peak RSS / N)": format_bytes(row["peer_per_task"]),
             "parkbench sleep slope": format_bytes(row["parkbench_slope"]),
             "fixed / N": signed(row["fixed_per_task"]),
             "gather per task": signed(row["gather_per_task"]),
             "peak over settled": signed(row["peak_over_settled"]),
             "unexplained": signed(row["unexplained"]),
             "slope / peer": f"{row['slope_vs_peer']:.0%}"}
            for row in document["rows"]]


def render(document) -> str:
    rows = table(document)
    headings = list(rows[0])
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in headings]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headings, widths))]
    lines += ["  ".join(r[h].rjust(w) for h, w in zip(headings, widths)) for r in rows]
    return "\n".join(lines)
