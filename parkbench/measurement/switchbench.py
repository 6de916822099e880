"""Switch latency: driving the pyperf benchmark and reading what it wrote.

- ``switch`` jobs run ``benchmarks/bench_switch.py`` (pyperf: calibrated loops, warm-ups,
  several worker processes) once per (model, primitive, placement); its pyperf JSON file
  is kept under ``results/<machine>/<run-id>/`` and summarised into a record.
- ``tail`` jobs run a probe child that parks N waiters and, while they stay parked,
  times ``TAIL_LOOPS`` hand-offs one by one (see ``probe.py``), for p50 ... max.

Tuning constants are recorded in each run's parameters.
"""

import sys
from pathlib import Path

from parkbench import resources
from parkbench.core.errors import UserError
from parkbench.store import results
from parkbench.store.results import write_text_atomic

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


def read_switch(path: Path) -> dict:
    """The summary of one pyperf result file: median, mean, stdev, values (seconds), and
    the values themselves (``value_list``, for pooling the rounds of a benchmark)."""
    import pyperf

    benchmark = pyperf.Benchmark.load(str(path))
    values = benchmark.get_values()
    return {
        "median": benchmark.median(),
        "mean": benchmark.mean(),
        "stdev": benchmark.stdev() if len(values) > 1 else 0.0,
        "values": len(values),
        "value_list": list(values),
        "loops": benchmark.get_loops(),
        "pyperf_name": benchmark.get_name(),
    }


ROUND_KEY = "parkbench_round"  # pyperf metadata: the round (from 1) a merged run came from


def merge_round(round_file: Path, merged: Path, round_: int) -> None:
    """Add the runs of one round's pyperf file (tagged with their round) to the
    benchmark's merged file (created by the first round), written whole or not at all
    (the results store's atomic write); the round file is removed. A round merged
    before (a resumed run whose record of it was lost after the merge) is replaced, not
    added twice."""
    import io

    import pyperf


    runs = [pyperf.Run(run.values, warmups=run.warmups, collect_metadata=False,
                       metadata={**run.get_metadata(), ROUND_KEY: round_ + 1})
            for run in pyperf.Benchmark.load(str(round_file)).get_runs()]
    if merged.exists():
        runs = [run for run in pyperf.Benchmark.load(str(merged)).get_runs()
                if run.get_metadata().get(ROUND_KEY) != round_ + 1] + runs
    text = io.StringIO()
    pyperf.Benchmark(runs).dump(text)
    write_text_atomic(merged, text.getvalue())
    round_file.unlink()


# A hand-off median whose spread (``spreads``) is above this is marked unstable.
UNSTABLE_CV = 0.10


def spreads(frame) -> dict:
    """(machine, interpreter, model, primitive, placement) -> the spread of each switch
    median: the larger of its pyperf values' standard deviation over mean and, where the
    benchmark ran in interleaved rounds, its rounds' medians' (a benchmark can be tight
    within each round and still move between rounds). The one place it is computed."""
    rows = frame[frame["metric"].isin(["switch_latency_mean", "switch_latency_stdev",
                                       "switch_latency_round_cv"])]
    found: dict = {}
    for row in rows.itertuples():
        key = (row.machine, row.interpreter, row.model, row.variant, row.placement)
        found.setdefault(key, {})[row.metric] = row.value
    return {key: max(stats["switch_latency_stdev"] / stats["switch_latency_mean"],
                     stats.get("switch_latency_round_cv", 0.0))
            for key, stats in found.items()
            if stats.get("switch_latency_mean") and "switch_latency_stdev" in stats}


def switch_values(current) -> dict:
    """(machine, interpreter, model, primitive, placement) -> the pyperf values (seconds)
    behind each current switch median (``current.select``), read from the run's pyperf
    files. A missing or malformed file is a ``UserError``."""
    import io

    import pyperf


    frame = current.frame
    medians = frame[frame.metric == "switch_latency"]
    values = {}
    for row in medians.itertuples():
        run = current.runs[(row.machine, row.run_id)]
        file = run.switch_files.get((row.model, row.variant, row.placement))
        if file is None:
            continue  # a median without its benchmark record (a hand-edited file): no values
        path = run.path.parent / file
        try:
            benchmark = pyperf.Benchmark.load(io.StringIO(results.read_text(path)))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            # pyperf trusts the file's shape: a list or a number where it expects an object
            # fails as AttributeError, deep nesting as RecursionError
            raise UserError(f"{path} is not a pyperf benchmark file ({type(exc).__name__})") from None
        values[(row.machine, row.interpreter, row.model, row.variant, row.placement)] = \
            benchmark.get_values()
    return values
