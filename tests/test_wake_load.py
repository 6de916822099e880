"""The wake driver's open loop (``probes/wake_load.py``): latency from the intended time
on a fake clock (a stalled driver shows in p99, and the round it stalled is outvoted),
the stop bound, the knee search on a loop that slows with rate, the bounded samples, and
one small real probe child (about 1.5 s)."""

import asyncio

import pytest

from parkbench.measurement import knee
from parkbench.measurement.probes import wake_load
from parkbench.store import loadgen_output


class FakeTime:
    """A clock that moves only when the driver waits (the tasks run in no time), and
    once, at ``stall_at``, stalls the driver ``stall`` seconds longer than it asked."""

    def __init__(self, stall_at=None, stall=0.0, per_read=0.0):
        self.now, self.stall_at, self.stall, self.per_read = 100.0, stall_at, stall, per_read

    def clock(self) -> float:
        self.now += self.per_read
        return self.now

    async def wait(self, delay: float) -> None:
        await asyncio.sleep(0)  # the tasks woken so far run now, before time moves on
        self.now += max(delay, 0.0)
        if self.stall_at is not None and self.now >= 100.0 + self.stall_at:
            self.now += self.stall
            self.stall_at = None


def _offer(fake, rates=(1000,), seconds=1.0, **settings):
    async def main():
        return await wake_load.offer({"rates": list(rates), "step_seconds": seconds, "warmup_seconds": 0,
                                      "slo_seconds": 0.005, **settings}, clock=fake.clock, wait=fake.wait)
    return asyncio.run(main())


def _trials(found):
    """(rate, round, step) of each trial of an offer's search."""
    return [(t["rate"], t["round"], loadgen_output.parse_steps([t["step"]])[0]) for t in found["search"]["trials"]]


def test_an_on_time_driver_runs_every_wake_at_its_intended_time():
    found = _offer(FakeTime(), rates=(1000, 4000))
    trials = _trials(found)
    # a map check's rounds at fixed rates, interleaved: both held in two rounds each
    assert [(rate, round_) for rate, round_, _ in trials] == [(1000, 0), (4000, 0), (1000, 1), (4000, 1)]
    (_, _, first), (_, _, second) = trials[:2]
    assert found["active"] == wake_load.ACTIVE and found["search"]["rates"] == [1000, 4000]
    assert (first.scheduled, first.count, first.unsent) == (1000, 1000, 0)
    assert second.count == 4000 and second.offered == 4000
    assert first.p99 == first.max == 0.0 and first.achieved == pytest.approx(1000)
    # five equal parts of the step (a wake on a boundary falls either side of it)
    assert first.interval_seconds == 0.2 and len(first.interval_rates) == wake_load.INTERVALS
    assert first.interval_rates == pytest.approx([1000.0] * wake_load.INTERVALS, abs=5.0)
    assert knee.kept_up(first, None) and knee.kept_up(second, first.p50)


def test_a_stalled_driver_shows_in_p99_though_no_wake_runs_during_the_stall():
    # 1,000 wakes/s for 1 s; the driver stalls 100 ms at 0.3 s: the ~100 wakes due in the
    # stall are sent after it, each late by up to 100 ms from its intended time
    trials = _trials(_offer(FakeTime(stall_at=0.3, stall=0.1)))
    (_, _, step) = trials[0]
    assert step.count == 1000 and step.unsent == 0          # the driver caught up
    assert step.p50 == 0.0                                  # most wakes were on time
    assert step.p99 >= 0.08 and step.max == pytest.approx(0.1, abs=0.002)
    assert step.send_lag_p99 >= 0.08                        # the driver was late, and says so
    # the stall was once: the next two rounds held, and the rate is held in the majority
    assert [(round_, s.p99 <= 0.005) for _, round_, s in trials] == [(0, False), (1, True), (2, True)]


def test_a_loop_that_cannot_keep_up_stops_at_the_bound_with_wakes_unsent():
    # every clock read costs 1 ms: 16 wakes take 16 ms, a tenth of the 10,000/s offered
    fake = FakeTime(per_read=0.001)
    (_, _, step), *_ = _trials(_offer(fake, rates=(10_000,), seconds=0.1))
    assert step.scheduled == 1000 and step.unsent > 500
    assert step.count + step.unsent == step.scheduled
    assert step.seconds >= 0.1 * wake_load.STOP_AFTER
    assert step.achieved < 0.5 * step.offered and not knee.kept_up(step, None)


def test_the_wake_search_finds_the_knee_of_a_loop_that_slows_with_rate():
    # every clock read costs 2 µs: the loop keeps up to some rate and falls behind past
    # it; the search ends within 10% of where it fell behind, never above a failed rate
    found = _offer(FakeTime(per_read=2e-6), rates=(), seconds=0.05, start=20_000)
    search = knee.replay([knee.Trial(t["rate"], t["round"], t["target"], loadgen_output.parse_steps([t["step"]])[0],
                                     t["cpu_seconds"], t["requests"]) for t in found["search"]["trials"]],
                         20_000, 0.005, floor=False)
    held, failed = search.bounds("saturation")
    assert held and failed and held < failed <= held * knee.PRECISION
    below = [step for rate, _, step in _trials(found) if rate <= held]
    above = [step for rate, _, step in _trials(found) if rate >= failed]
    assert all(step.unsent == 0 for step in below)
    assert all(knee.throughput(step) < knee.ACHIEVED_SHARE * step.offered or step.unsent for step in above)


def test_samples_are_bounded_by_a_seeded_reservoir_and_the_max_is_exact():
    kept = [wake_load.Samples(cap=100) for _ in range(2)]
    for samples in kept:
        for i in range(10_000):
            samples.add(i / 10_000)
    assert len(kept[0].values) == 100 and kept[0].count == 10_000
    assert kept[0].max == 0.9999 and list(kept[0].values) == list(kept[1].values)  # seeded
    assert 0.3 < kept[0].quantile(0.5) < 0.7                     # a uniform pick of all
    exact = wake_load.Samples()
    for value in (5.0, 1.0, 4.0, 2.0, 3.0):
        exact.add(value)
    assert [exact.quantile(q) for q in (0.5, 0.9, 0.99, 0.2)] == [3.0, 5.0, 5.0, 1.0]
    assert wake_load.Samples().quantile(0.99) == 0.0


def test_a_real_probe_offers_wakes_beside_a_thousand_parked_tasks_and_proves_them_parked():
    import json
    import sys

    from parkbench.core.protocol import Job, JobKind
    from parkbench.measurement import runner
    from parkbench.store import record_schema

    job = Job(JobKind.WAKES, "asyncio", "event", 1_000, rates=(2_000,))
    settings = {"rates": [2_000], "step_seconds": 0.3, "warmup_seconds": 0.1, "slo_seconds": 0.005}
    command = [sys.executable, "-m", "parkbench.measurement.probe_child", "--model", "asyncio", "--variant",
               "event", "--n", "1000", "--wakes", json.dumps(settings)]
    record = runner.run_child(job, 60.0, command)
    assert isinstance(record, dict), record
    record_schema.check_measurement(record, "the child's record", "run")
    assert record["kind"] == "wakes" and record["parked"] == 1_000
    assert record["proof"]["blocked_before"] == record["proof"]["blocked_after"] == 1_000
    trials = record["wakes"]["search"]["trials"]
    assert len(trials) >= 2 and {t["rate"] for t in trials} == {2_000}   # rounds at the check's rate
    step = loadgen_output.parse_steps([trials[0]["step"]])[0]
    assert step.scheduled == 600 and step.count + step.unsent == 600
    assert 0 <= step.p50 <= step.p99 <= step.max < 60
    # what the rest of the machine did while the wakes were offered (interference.py)
    assert record["interference"]["window_seconds"] >= 0.6


def test_the_child_refuses_wakes_for_a_model_that_parks_no_asyncio_task():
    from parkbench.measurement import probe_child

    with pytest.raises(ValueError, match="offered wake-ups need"):
        probe_child.run("asyncio", "connections", 10, wakes="{}")
    with pytest.raises(ValueError, match="offered wake-ups need"):
        probe_child.run("threads", "condition", 10, wakes="{}")
