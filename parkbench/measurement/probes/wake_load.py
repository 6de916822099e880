"""Open-loop wake-ups on an event loop beside W idle tasks: the in-process workload's
map check (``map_checks.py``).

The probe child parks W tasks in ``asyncio.Event.wait()`` exactly as the memory probe
does (``asyncio_tasks.park``, which proves all W parked right before and right after
this runs). On the same loop, ``ACTIVE`` more tasks each await a future of their own:
the pool the wake-ups go to, separate from the W idle ones. For each offered rate R a
driver offers wake-ups open loop for ``step_seconds``: the i-th wake of a step is
*intended* at t0 + i/R. When it is due, the driver resolves the future of an active
task that is waiting, with the intended time as the result; the woken task records its
latency from that intended time, arms a fresh future and waits again. A driver behind
its schedule (the loop busy with other work, or every active task woken and not yet
run) wakes the due ones as soon as it can, and their lateness is in their latency:
coordinated omission corrected, as wrk2 and the load generator do. One wake is one
task woken and run (never two wakes folded into one run of a task), so a wake costs
what a hand-off costs plus the driver's share.

Pacing: the loop's timer rounds a sleep up to whole milliseconds (the selector's
timeout), so the driver sleeps on it until about ``SPIN_SECONDS`` before the next
intended time and yields (``asyncio.sleep(0)``) from there; how late it woke each task
is recorded beside the latency (``send_lag_p50``/``_p99``). A step stops offering at
``STOP_AFTER`` x ``step_seconds``: wakes not sent by then are ``unsent``, and the step
fails.

Each step is written in the shape of the load generator's open-loop steps
(``loadgen_output.Step``; ``loadgen_output.parse_steps`` checks it), so that ``served.sustains`` judges
it exactly as a served step: every wake sent and run, achieved (wakes run / the step's
wall time, at least the planned step) at least 99% of offered, p99 within the SLO.
Latency percentiles are exact over the stored samples: an array of doubles per step, at
most ``MAX_SAMPLES``; past that a reservoir (Algorithm R, RNG seeded with ``SEED``)
keeps ``MAX_SAMPLES`` chosen uniformly, and the max is kept exactly.
"""

import asyncio
import gc
import math
import random
import time
from array import array
from collections import deque

from parkbench.measurement import interference, knee
from parkbench.store import loadgen_output

ACTIVE = 16                 # active tasks the wake-ups go to
WARMUP_SECONDS = 0.5        # at the first rate, not recorded
INTERVALS = 5               # equal parts of a step with a rate each (the last takes later wakes)
STOP_AFTER = 2.0            # a step offers for at most this many times its length
SPIN_SECONDS = 0.001        # sleep on the loop's timer until this close to a wake
MAX_SAMPLES = 1_000_000     # latencies kept per step (8 MB); a reservoir beyond
SEED = 20261201


class Samples:
    """Values of one step, at most ``cap`` kept (a seeded reservoir beyond); count and
    max exact."""

    __slots__ = ("cap", "values", "count", "max", "rng")

    def __init__(self, cap: int = MAX_SAMPLES, seed: int = SEED):
        self.cap, self.values, self.count, self.max = cap, array("d"), 0, 0.0
        self.rng = random.Random(seed)

    def add(self, value: float) -> None:
        self.count += 1
        if value > self.max:
            self.max = value
        if len(self.values) < self.cap:
            self.values.append(value)
        else:
            slot = self.rng.randrange(self.count)
            if slot < self.cap:
                self.values[slot] = value

    def quantile(self, share: float, ordered=None) -> float:
        """The nearest-rank ``share`` quantile (0 with no values)."""
        ordered = sorted(self.values) if ordered is None else ordered
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


class Pool:
    """The active tasks and what the running step records."""

    def __init__(self, size: int, clock):
        self.size, self.clock = size, clock
        self.idle: deque = deque()   # futures of active tasks waiting to be woken
        self.free: asyncio.Future | None = None   # the driver awaits it when none is waiting
        self.t0 = 0.0
        self.latency = Samples()
        self.intervals: list[int] = []
        self.interval = 1.0
        self.last = 0.0

    def start(self, t0: float, seconds: float) -> None:
        self.t0, self.latency, self.last = t0, Samples(), t0
        self.intervals, self.interval = [0] * INTERVALS, seconds / INTERVALS

    def ran(self, intended: float) -> None:
        """A woken task ran: its latency from the intended time."""
        now = self.clock()
        self.latency.add(now - intended)
        self.intervals[min(int((now - self.t0) / self.interval), INTERVALS - 1)] += 1
        self.last = now

    def arm(self, future) -> None:
        self.idle.append(future)
        if self.free is not None:
            self.free.set_result(None)
            self.free = None

    async def one_free(self) -> None:
        free = self.free = asyncio.get_running_loop().create_future()
        await free


async def _active(pool: Pool) -> None:
    loop = asyncio.get_running_loop()
    while True:
        future = loop.create_future()
        pool.arm(future)
        pool.ran(await future)


async def pace(delay: float) -> None:
    """Wait about ``delay`` seconds: on the loop's timer while far, yielding when near."""
    await asyncio.sleep(delay - SPIN_SECONDS if delay > 2 * SPIN_SECONDS else 0)


async def drive(pool: Pool, rate: float, seconds: float, wait=pace) -> dict:
    """One step: ``rate`` wakes/s offered for ``seconds``, in the load generator's step
    shape (``loadgen_output.Step``)."""
    clock = pool.clock
    scheduled = max(1, round(rate * seconds))
    cpu = time.process_time()
    t0 = clock()
    pool.start(t0, seconds)
    stop, sent, lag = t0 + seconds * STOP_AFTER, 0, Samples()
    idle = pool.idle
    while sent < scheduled:
        now = clock()
        if now > stop:
            break
        intended = t0 + sent / rate
        while intended <= now and idle:
            idle.popleft().set_result(intended)
            lag.add(now - intended)
            sent += 1
            if sent == scheduled:
                break
            intended = t0 + sent / rate
        if sent == scheduled:
            break
        if intended <= now:   # due, and every active task woken and not yet run
            await pool.one_free()
        else:
            await wait(intended - clock())
    while len(idle) < pool.size:   # every wake sent has run before the step ends
        await pool.one_free()
    elapsed = max(seconds, pool.last - t0)
    latency = pool.latency
    ordered = sorted(latency.values)
    lags = sorted(lag.values)
    return {"seconds": elapsed, "count": latency.count, "achieved": latency.count / elapsed,
            "errors": 0, "timeouts": 0,
            "p50": latency.quantile(0.5, ordered), "p90": latency.quantile(0.9, ordered),
            "p99": latency.quantile(0.99, ordered), "p999": latency.quantile(0.999, ordered),
            "max": latency.max, "interval_seconds": pool.interval,
            "interval_rates": [count / pool.interval for count in pool.intervals],
            "cpu_seconds": time.process_time() - cpu, "offered": float(rate),
            "scheduled": scheduled, "unsent": scheduled - sent,
            "send_lag_p50": lag.quantile(0.5, lags), "send_lag_p99": lag.quantile(0.99, lags)}


async def offer(settings: dict, clock=time.perf_counter, wait=pace) -> dict:
    """Every step of ``settings`` on the running loop, with ``ACTIVE`` tasks of its own
    (they end before this returns): the knee search from ``start``
    (``measurement/knee.py``: no floor here; each step of ``step_seconds`` after
    ``warmup_seconds`` at its own rate), or a map check's rounds at its fixed ``rates``."""
    seconds = float(settings["step_seconds"])
    warmup = float(settings.get("warmup_seconds", WARMUP_SECONDS))
    pool = Pool(ACTIVE, clock)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(_active(pool)) for _ in range(pool.size)]
    while len(pool.idle) < pool.size:
        await asyncio.sleep(0)
    found: dict = {"active": pool.size, "warmup_seconds": warmup, "samples_cap": MAX_SAMPLES}
    try:
        found["search"] = await _search(pool, settings, seconds, warmup, wait)
    finally:   # the active tasks end here: only the W idle ones stay for the proof
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return found


async def _search(pool: Pool, settings: dict, seconds: float, warmup: float, wait) -> dict:
    """The knee search of the wake rate, steps on this loop: every trial, in order."""
    rates = tuple(sorted(float(rate) for rate in settings.get("rates") or ()))
    start = float(settings.get("start") or (rates[0] if rates else knee.MIN_RATE))
    search = knee.Search(start, float(settings["slo_seconds"]), floor=False, rates=rates)
    trials = []
    while (asked := search.next()) is not None:
        rate, round_, _ = asked
        if warmup > 0:
            await drive(pool, rate, warmup, wait)
        step = await drive(pool, rate, seconds, wait)
        trials.append({"rate": rate, "round": round_, "target": knee.SERVER, "step": step,
                       "cpu_seconds": step["cpu_seconds"], "requests": step["count"]})
        search.record(knee.Trial(rate, round_, knee.SERVER, loadgen_output.parse_steps([step], generator=False)[0],
                                 step["cpu_seconds"], step["count"]))
    return {"start": start, "generator_ceiling": None, "rates": list(rates), "trials": trials}


def measurer(chosen: dict, activity: dict):
    """A probe child's ``measure`` for an in-process map check: open-loop wake-ups
    offered to active tasks on the probe's loop while N stay parked, and in ``activity``
    what the rest of the machine did meanwhile."""
    def measure(**_context):
        gc.collect()  # start from a clean heap, as a tail probe does
        before = interference.snapshot()

        async def offered():  # awaited on the probe's running loop
            found = await offer(chosen)
            activity.update(interference.between(before, interference.snapshot()))
            return found

        return offered()

    return measure
