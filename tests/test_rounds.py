"""Interleaved latency rounds: planned A B C ... A B C, each round's pyperf runs merged
into one file, the figure pooled from every round's values, and rounds that disagree
flagged as unstable."""

import statistics

import pytest

from parkbench.analysis import slopes, switch_figures
from parkbench.core.protocol import JobKind
from parkbench.measurement import suite, switchbench
from parkbench.presentation import summary
from parkbench.store import pyperf_files


def test_rounds_are_planned_round_by_round_across_models():
    selection = [("asyncio", "event"), ("threads", "condition")]
    jobs, refused = suite.jobs(selection, suite.grids_for(selection), memory=False, latency=True,
                               placements=("same-core",), switch_rounds=3)
    switch = [(job.repeat, job.model) for job in jobs if job.kind == JobKind.SWITCH]
    assert switch == [(0, "asyncio"), (0, "threads"), (1, "asyncio"), (1, "threads"),
                      (2, "asyncio"), (2, "threads")]
    assert not refused


def _round(round_, values):
    return {"kind": "switch", "model": "asyncio", "primitive": "future", "placement": "same-core",
            "repeat": round_, "median": statistics.median(values), "mean": statistics.mean(values),
            "stdev": statistics.stdev(values), "values": len(values), "value_list": values}


def _figures(records):
    return {f["metric"]: f["value"] for f in slopes.derive_switch(records)}


def test_the_figure_pools_every_round_values():
    # a round of seven 1 µs values, one of 2 µs, one of 10 µs: the pooled median is 1 µs,
    # the median of the rounds' medians would be 2 µs
    rounds = [_round(0, [1e-6] * 6 + [1.1e-6]), _round(1, [2e-6, 2e-6]), _round(2, [10e-6, 10e-6])]
    figures = _figures(rounds)
    pooled = [v for r in rounds for v in r["value_list"]]
    assert figures["switch_latency"] == statistics.median(pooled) == 1e-6
    assert figures["switch_latency_mean"] == pytest.approx(statistics.mean(pooled))
    assert figures["switch_latency_stdev"] == pytest.approx(statistics.stdev(pooled))
    assert figures["switch_latency_values"] == 11
    medians = [1e-6, 2e-6, 10e-6]
    assert figures["switch_latency_round_cv"] == pytest.approx(statistics.pstdev(medians) / statistics.mean(medians))


def test_a_record_from_before_rounds_stands_alone():
    old = {k: v for k, v in _round(0, [1e-6, 3e-6]).items() if k not in ("repeat", "value_list")}
    figures = _figures([old])
    assert figures["switch_latency"] == old["median"] and "switch_latency_round_cv" not in figures


def test_rounds_that_disagree_are_unstable_even_when_each_is_tight():
    import pandas as pd

    rows = [{"machine": "m", "interpreter": "i", "model": "asyncio", "variant": None, "primitive": "future",
             "placement": "same-core", "metric": metric, "value": value}
            for metric, value in (("switch_latency_mean", 2e-6), ("switch_latency_stdev", 0.02e-6),
                                  ("switch_latency_round_cv", 0.25))]
    spread = switch_figures.spreads(pd.DataFrame(rows))[("m", "i", "asyncio", "future", "same-core")]
    assert spread == 0.25 and summary.stability(spread) == "±25% unstable"


def test_a_round_merges_into_the_benchmark_file(tmp_path):
    import pyperf

    def write(path, values):
        run = pyperf.Run(values, warmups=[(1, values[0])], metadata={"name": "b", "loops": 1},
                         collect_metadata=False)
        pyperf.Benchmark([run]).dump(str(path))

    merged = tmp_path / "switch-a-future-same-core.json"
    for round_, values in enumerate(([1.0, 2.0], [3.0, 4.0])):
        path = tmp_path / switchbench.round_filename("a", "future", "same-core", round_)
        write(path, values)
        pyperf_files.merge_round(path, merged, round_)
        assert not path.exists()
    whole = pyperf.Benchmark.load(str(merged))
    assert sorted(whole.get_values()) == [1.0, 2.0, 3.0, 4.0]
    assert [run.get_metadata()[pyperf_files.ROUND_KEY] for run in whole.get_runs()] == [1, 2]
    assert whole.get_metadata()["name"] == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == [merged.name]
    # a resumed run runs round 1 again (its record was lost after the merge): replaced
    path = tmp_path / switchbench.round_filename("a", "future", "same-core", 0)
    write(path, [5.0, 6.0])
    pyperf_files.merge_round(path, merged, 0)
    assert sorted(pyperf.Benchmark.load(str(merged)).get_values()) == [3.0, 4.0, 5.0, 6.0]
