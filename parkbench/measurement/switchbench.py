"""Switch latency: driving the pyperf benchmark and reading what it wrote.

- ``switch`` jobs run ``benchmarks/bench_switch.py`` (pyperf: calibrated loops, warm-ups,
  several worker processes) once per (model, primitive, placement) and round; it writes
  the round's pyperf file and, like every probe child, sends one record on the protocol's
  channel (``core/protocol.py``); the store merges the round into the benchmark's pyperf
  file under ``results/<machine>/<run-id>/`` (``store/pyperf_files.py``).
- ``tail`` jobs run a probe child that parks N waiters and, while they stay parked,
  times ``TAIL_LOOPS`` hand-offs one by one (see ``probe.py``), for p50 ... max.

Tuning constants are recorded in each run's parameters.
"""

import sys
from pathlib import Path

from parkbench import resources

SWITCH_SCRIPT = resources.path("bench_switch.py")

# pyperf options per latency mode, for each of SWITCH_ROUNDS interleaved rounds (the
# rounds of one benchmark are merged into one pyperf file). quick: short values from a
# few processes, to fit the default sweep's time budget (each model's first primitive
# only); rigorous: as many processes over the rounds as pyperf's own --rigorous (40).
SWITCH_ROUNDS = 3
PYPERF_MODES = {
    "quick": ("--processes", "2", "--values", "5", "--warmups", "1", "--min-time", "0.01"),
    "rigorous": ("--processes", "14"),
}

TAIL_LOOPS = 20_000         # round trips timed one by one per tail measurement
TAIL_PLACEMENT = "os"       # tail hand-offs are not pinned: the scheduler places them


def switch_filename(model: str, primitive: str, placement: str) -> str:
    return f"switch-{model}-{primitive}-{placement}.json"


def switch_command(model: str, primitive: str, placement: str, output: Path, mode: str,
                   python: str | None = None) -> list[str]:
    if not SWITCH_SCRIPT.is_file():
        raise FileNotFoundError(f"{SWITCH_SCRIPT} is missing: the parkbench install is damaged")
    return [
        python or sys.executable, str(SWITCH_SCRIPT),
        "--model", model, "--primitive", primitive, "--placement", placement,
        "--output", str(output), "--quiet", *PYPERF_MODES[mode],
        # pyperf's workers get a clean environment: the go model's worker needs to know
        # which toolchain and cache the runner found (children of another interpreter
        # cannot find a toolchain that lies beside the runner's)
        "--inherit-environ", "PARKBENCH_GO,PARKBENCH_CACHE",
    ]


def round_filename(model: str, primitive: str, placement: str, round_: int) -> str:
    return f"switch-{model}-{primitive}-{placement}.round{round_ + 1}.json"
