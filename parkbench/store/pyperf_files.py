"""The pyperf files of a run's switch benchmarks, under ``results/<machine>/<run-id>/``:
each round's summary, each benchmark's rounds merged into one file (tagged with their
round), and the values behind a stored median. pyperf's own JSON format throughout, so
``python -m pyperf stats``, ``hist`` and ``compare_to`` read every file.
"""

import io
from pathlib import Path

from parkbench.core.errors import UserError
from parkbench.store.files import read_text, write_text_atomic

ROUND_KEY = "parkbench_round"  # pyperf metadata: the round (from 1) a merged run came from


def summary(benchmark) -> dict:
    """What a switch record stores of one round's pyperf benchmark: median, mean, stdev
    and the values themselves (seconds, ``value_list``, for pooling the rounds), their
    count, the loops and pyperf's name of the benchmark."""
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


def merge_round(round_file: Path, merged: Path, round_: int) -> None:
    """Add the runs of one round's pyperf file (tagged with their round) to the
    benchmark's merged file (created by the first round), written whole or not at all;
    the round file is removed. A round merged before (a resumed run whose record of it
    was lost after the merge) is replaced, not added twice."""
    import pyperf  # lazily: pyperf loads only where a pyperf file is read or written

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


def values(path: Path) -> list[float]:
    """The values (seconds) of a stored pyperf file; a missing or malformed file is a
    ``UserError``."""
    import pyperf  # lazily, as above

    try:
        benchmark = pyperf.Benchmark.load(io.StringIO(read_text(path)))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        # pyperf trusts the file's shape: a list or a number where it expects an object
        # fails as AttributeError, deep nesting as RecursionError
        raise UserError(f"{path} is not a pyperf benchmark file ({type(exc).__name__})") from None
    return benchmark.get_values()
