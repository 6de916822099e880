"""The calibration child: ``python -m parkbench.measurement.calibration_child`` measures,
in a fresh process pinned to one CPU, how fast this machine is at this moment
(``calibration.py`` says what and why) and prints one JSON line."""

import json
import os
import statistics
import time

from parkbench.measurement import lifeline, placement
from parkbench.measurement.probes import subprocess_workers

LOOP_ITERATIONS = 200_000
PIPE_ROUND_TRIPS = 2_000
REPEATS = 5


def _loop_block() -> float:
    start = time.perf_counter_ns()
    total = 0
    for i in range(LOOP_ITERATIONS):
        total += i
    return (time.perf_counter_ns() - start) / LOOP_ITERATIONS


def measure_here() -> dict:
    """Both measurements in this process (pins this thread to one CPU)."""
    cpu = placement.cpus_for("same-core")
    loop = [_loop_block() for _ in range(REPEATS)]
    pipe = [subprocess_workers.pingpong("pipe", PIPE_ROUND_TRIPS, cpu) / PIPE_ROUND_TRIPS / 2
            for _ in range(REPEATS)]
    return {"python_loop_ns": statistics.median(loop),
            "pipe_one_way_seconds": statistics.median(pipe),
            "pipe_spread": statistics.pstdev(pipe) / statistics.mean(pipe),
            "repeats": REPEATS}


if __name__ == "__main__":
    lifeline.die_with_parent(os.environ.get("PARKBENCH_RUNNER_PID"))
    print(json.dumps(measure_here()))
