"""The full sweep's estimate and the time per phase."""

import pytest

from parkbench.core.protocol import Job
from parkbench.measurement import estimate
from tests import synthetic


def test_phases_sum_the_childrens_wall_times():
    document = {"measurements": [{"kind": "memory", "model": "go", "wall_seconds": 2.0},
                                 {"kind": "switch", "model": "asyncio", "wall_seconds": 30.0},
                                 {"kind": "memory", "model": "asyncio", "wall_seconds": 3.5}],
                "failures": [{"kind": "tail", "model": "go", "wall_seconds": 4.0}]}
    phases = estimate.phase_seconds(document)
    assert phases == {"memory": 5.5, "switch": 30.0, "tail": 4.0,
                      "_models": {"go": 6.0, "asyncio": 33.5}}
    assert estimate.describe(phases, "took") == (  # 39.5 rounds to even
        "took: 40 s (memory 6 s, switch 30 s, tail 4 s); by workload: go 6 s (15%), "
        "asyncio 34 s (85%)")


def test_the_estimate_takes_earlier_timings_less_a_wake_that_will_be_skipped(tmp_path):
    record = synthetic.memory_record("gevent", "event", 500_000)
    record.update(wall_seconds=100.0, wake_seconds=60.0)
    synthetic.write_run(tmp_path, "m", "20260101T000000", [record])
    jobs = [Job("memory", "gevent", "event", 500_000), Job("memory", "gevent", "event", 1_000)]
    phases = estimate.plan_seconds(jobs, tmp_path / "m", {"gevent": 300_000})
    guessed = estimate.DEFAULT_SECONDS["memory"][0] + estimate.DEFAULT_SECONDS["memory"][1] * 1_000
    assert phases["memory"] == pytest.approx(40.0 + guessed)
    assert (phases["_known"], phases["_jobs"]) == (1, 2)
    assert "1 of 2 children timed by an earlier run" in estimate.describe(phases)


def test_a_quick_switch_benchmark_is_not_estimated_from_a_rigorous_one(tmp_path):
    record = synthetic.switch_record("asyncio", "queue", "same-core", "x", 2e-6)
    record.update(wall_seconds=35.0, mode="rigorous")
    synthetic.write_run(tmp_path, "m", "20260101T000000", [record])
    job = Job("switch", "asyncio", None, 0, 0, "queue", "same-core")
    quick = estimate.plan_seconds([job], tmp_path / "m", None, {"asyncio": ("future",)}, "rigorous")
    assert quick["switch"] == estimate.QUICK_SWITCH_SECONDS
    rigorous = estimate.plan_seconds([job], tmp_path / "m", None, None, "rigorous")
    assert rigorous["switch"] == 35.0


def test_an_earlier_whole_benchmark_counts_one_round_share(tmp_path):
    record = synthetic.switch_record("asyncio", "future", "same-core", "x", 2e-6)
    record.update(wall_seconds=36.0, mode="rigorous", whole=True)  # every round in one go
    synthetic.write_run(tmp_path, "m", "20260101T000000", [record])
    rounds = [Job("switch", "asyncio", None, 0, r, "future", "same-core") for r in range(3)]
    phases = estimate.plan_seconds(rounds, tmp_path / "m", None, None, "rigorous", switch_rounds=3)
    assert phases["switch"] == pytest.approx(36.0)  # three rounds of 12 s, not of 36 s
    assert phases["_models"] == {"asyncio": pytest.approx(36.0)}


def test_a_run_where_nothing_ran_says_so_without_empty_parentheses():
    from parkbench.measurement import estimate

    text = estimate.describe({"_models": {}}, "took")
    assert "()" not in text and text.startswith("took: 0")
    assert estimate.describe({"memory": 30.0}, "took") == "took: 30 s (memory 30 s)"
