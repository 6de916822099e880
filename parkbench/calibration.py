"""A short calibration per run: how fast this machine is at this moment, so that
hand-off figures of different days and machines can be put in context.

Two fixed measurements, each the median of ``REPEATS`` blocks, in a child process (it
pins itself to one CPU; the runner is never pinned):

- ``python_loop_ns``: nanoseconds per iteration of a fixed pure-Python loop (the
  interpreter's speed on this CPU);
- ``pipe_one_way_seconds``: a one-byte hand-off between two processes over pipes, both
  on one CPU (the kernel's wake-up path, the floor under every blocking hand-off).

A run measures both at its start and at its end; a hand-off figure is shown beside its
ratio to the run's pipe hand-off (``vs pipe``), and ``compare`` sets the two runs'
calibrations side by side. Run by hand: ``python -m parkbench.calibration``.
"""

import json
import os
import statistics
import subprocess
import sys
import time

LOOP_ITERATIONS = 200_000
PIPE_ROUND_TRIPS = 2_000
REPEATS = 5
TIMEOUT_SECONDS = 60.0


def _loop_block() -> float:
    start = time.perf_counter_ns()
    total = 0
    for i in range(LOOP_ITERATIONS):
        total += i
    return (time.perf_counter_ns() - start) / LOOP_ITERATIONS


def measure_here() -> dict:
    """Both measurements in this process (pins this thread to one CPU)."""
    from parkbench import placement
    from parkbench.probes import subprocess_workers

    cpu = placement.cpus_for("same-core")
    loop = [_loop_block() for _ in range(REPEATS)]
    pipe = [subprocess_workers.pingpong("pipe", PIPE_ROUND_TRIPS, cpu) / PIPE_ROUND_TRIPS / 2
            for _ in range(REPEATS)]
    return {"python_loop_ns": statistics.median(loop),
            "pipe_one_way_seconds": statistics.median(pipe),
            "pipe_spread": statistics.pstdev(pipe) / statistics.mean(pipe),
            "repeats": REPEATS}


def _tied_env() -> dict:
    """The child's environment: it dies with this process (``lifeline``), SIGKILL too."""
    return dict(os.environ, PARKBENCH_RUNNER_PID=str(os.getpid()))


def generator_ceiling(python: str | None, settings: dict) -> dict | None:
    """The load generator's closed-loop peak against its own echo server, in a fresh
    child (``probes/served_load.py``), or ``None`` if it failed (then no served figure is
    flagged as the generator's, and the run says so)."""
    try:
        done = subprocess.run([python or sys.executable, "-m", "parkbench.probes.served_load",
                               "--ceiling", json.dumps(settings, sort_keys=True)],
                              capture_output=True, text=True, timeout=120, env=_tied_env())
        if done.returncode == 0:
            return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        pass
    return None


def measure(python: str | None = None) -> dict | None:
    """Both measurements in a fresh child (under ``python``); ``None`` if it failed (a
    calibration is context, never a reason to stop a sweep)."""
    try:
        done = subprocess.run([python or sys.executable, "-m", "parkbench.calibration"],
                              capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                              env=_tied_env())
        if done.returncode == 0:
            return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        pass
    return None


def pipe_seconds(calibration: dict | None) -> float | None:
    """The run's pipe hand-off: the mean of its start and end measurements."""
    if not calibration:
        return None
    values = [calibration[when]["pipe_one_way_seconds"] for when in ("start", "end")
              if calibration.get(when)]
    return sum(values) / len(values) if values else None


def pipes(current) -> dict:
    """(machine, run id) -> the run's pipe hand-off (seconds), for every run of
    ``current`` (``current.load``) that has a calibration."""
    found = {}
    for (machine, run_id), run in current.runs.items():
        seconds = pipe_seconds(run.calibration)
        if seconds:
            found[(machine, run_id)] = seconds
    return found


if __name__ == "__main__":
    from parkbench import lifeline

    lifeline.die_with_parent(os.environ.get("PARKBENCH_RUNNER_PID"))
    print(json.dumps(measure_here()))
