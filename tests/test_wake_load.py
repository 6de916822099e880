"""The in-process map check's open loop (``probes/wake_load.py``): latency from the
intended time on a fake clock (a stalled driver shows in p99), the stop bound, the
bounded samples, and one small real probe child (about 1.5 s)."""

import asyncio

import pytest

from parkbench.analysis import served
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


def _offer(fake, rates=(1000,), seconds=1.0):
    async def main():
        return await wake_load.offer({"rates": list(rates), "step_seconds": seconds,
                                      "warmup_seconds": 0}, clock=fake.clock, wait=fake.wait)
    return asyncio.run(main())


def test_an_on_time_driver_runs_every_wake_at_its_intended_time():
    found = _offer(FakeTime(), rates=(1000, 4000))
    first, second = loadgen_output.parse_steps(found["steps"])
    assert found["active"] == wake_load.ACTIVE
    assert (first.scheduled, first.count, first.unsent) == (1000, 1000, 0)
    assert second.count == 4000 and second.offered == 4000
    assert first.p99 == first.max == 0.0 and first.achieved == pytest.approx(1000)
    assert first.interval_rates == (1000.0, 1000.0)
    assert served.sustains(first, 0.005) and served.sustains(second, 0.005)


def test_a_stalled_driver_shows_in_p99_though_no_wake_runs_during_the_stall():
    # 1,000 wakes/s for 1 s; the driver stalls 100 ms at 0.3 s: the ~100 wakes due in the
    # stall are sent after it, each late by up to 100 ms from its intended time
    step = loadgen_output.parse_steps(_offer(FakeTime(stall_at=0.3, stall=0.1))["steps"])[0]
    assert step.count == 1000 and step.unsent == 0          # the driver caught up
    assert step.p50 == 0.0                                  # most wakes were on time
    assert step.p99 >= 0.08 and step.max == pytest.approx(0.1, abs=0.002)
    assert step.send_lag_p99 >= 0.08                        # the driver was late, and says so
    assert not served.sustains(step, 0.005)


def test_a_loop_that_cannot_keep_up_stops_at_the_bound_with_wakes_unsent():
    # every clock read costs 1 ms: 16 wakes take 16 ms, a tenth of the 10,000/s offered
    fake = FakeTime(per_read=0.001)
    step = loadgen_output.parse_steps(_offer(fake, rates=(10_000,), seconds=0.1)["steps"])[0]
    assert step.scheduled == 1000 and step.unsent > 500
    assert step.count + step.unsent == step.scheduled
    assert step.seconds >= 0.1 * wake_load.STOP_AFTER
    assert step.achieved < 0.5 * step.offered and not served.sustains(step, 10.0)


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
    settings = {"rates": [2_000], "step_seconds": 1.0, "warmup_seconds": 0.2}
    command = [sys.executable, "-m", "parkbench.measurement.probe_child", "--model", "asyncio", "--variant",
               "event", "--n", "1000", "--wakes", json.dumps(settings)]
    record = runner.run_child(job, 60.0, command)
    assert isinstance(record, dict), record
    record_schema.check_measurement(record, "the child's record", "run")
    assert record["kind"] == "wakes" and record["parked"] == 1_000
    assert record["proof"]["blocked_before"] == record["proof"]["blocked_after"] == 1_000
    step = loadgen_output.parse_steps(record["wakes"]["steps"])[0]
    assert step.scheduled == 2_000 and step.count + step.unsent == 2_000
    assert 0 <= step.p50 <= step.p99 <= step.max < 60
    # what the rest of the machine did while the wakes were offered (interference.py)
    assert record["interference"]["window_seconds"] >= 1.0


def test_the_child_refuses_wakes_for_a_model_that_parks_no_asyncio_task():
    from parkbench.measurement import probe_child

    with pytest.raises(ValueError, match="offered wake-ups need"):
        probe_child.run("asyncio", "connections", 10, wakes="{}")
    with pytest.raises(ValueError, match="offered wake-ups need"):
        probe_child.run("threads", "condition", 10, wakes="{}")
