"""Results folders of every partial shape the report must render: memory only, latency
only, connections only, one model, and two models under one interpreter, one with a
measured wake rate (synthetic records with pyperf files, so every reader finds what it
needs)."""

from pathlib import Path

from tests import synthetic
from tests.builders import held_record, tail_record, wake_search_record

RUN = "20260101T000000"
NS = (1_000, 3_000, 10_000)


def _latency(model, variant, primitive, seconds):
    records = [synthetic.switch_record(model, primitive, where, "x", seconds * factor)
               for where, factor in (("same-core", 1.0), ("cross-core", 1.5))]
    return records + [tail_record(model, variant, primitive, n, seconds) for n in NS]


def _memory(model, variant):
    return [synthetic.memory_record(model, variant, n) for n in NS]


SHAPES = {
    "memory-only": _memory("asyncio", "event"),
    "latency-only": _latency("asyncio", "event", "future", 2e-6),
    "connections-only": [held_record(n, 2700.0, 11e-6, 30e-6) for n in NS],
    "one-model": _memory("threads", "condition") + _latency("threads", "condition", "lock", 5e-6),
    "one-interpreter": (_memory("asyncio", "event") + _latency("asyncio", "event", "future", 2e-6)
                        + [wake_search_record("asyncio", "event", w, rate) for w, rate in ((1_000, 410_000),
                                                                                           (10_000, 370_000))]
                        + _memory("threads", "condition") + _latency("threads", "condition", "lock", 5e-6)),
}


def write(folder: Path, shape: str) -> Path:
    """``folder`` holding one machine's run of ``shape`` (and the pyperf files its switch
    records name)."""
    path = synthetic.write_run(folder, "m", RUN, SHAPES[shape])
    write_pyperf_files(path, SHAPES[shape])
    return folder


def write_pyperf_files(run_path: Path, records) -> None:
    """The pyperf file of each switch record, beside the run file at ``run_path``."""
    import pyperf

    run_folder = run_path.with_suffix("")
    for record in records:
        if record["kind"] == "switch":
            run_folder.mkdir(exist_ok=True)
            values = [record["median"] * (1 + k / 100) for k in (-2, -1, 0, 1, 2)]
            run = pyperf.Run(values, metadata={"name": "switch", "loops": 1}, collect_metadata=False)
            pyperf.Benchmark([run]).dump(str(run_folder / record["file"].split("/", 1)[1]))
