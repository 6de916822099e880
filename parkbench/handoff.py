"""Timing a hand-off: the loop every model's ``pingpong`` shares.

A round trip is: waiter A wakes waiter B and blocks; B wakes A and blocks. The one-way
hand-off time is half a round trip. ``time_round_trips`` times ``loops`` round trips
as one block (what pyperf wants) or, given a ``samples`` list, each round trip on its
own (for tail percentiles; the clock read adds tens of nanoseconds to each sample).
"""

import statistics
import time


def time_round_trips(step, loops: int, samples=None) -> float:
    """Seconds for ``loops`` calls of ``step`` (one round trip each)."""
    clock = time.perf_counter_ns
    start = clock()
    if samples is None:
        for _ in range(loops):
            step()
    else:
        for _ in range(loops):
            before = clock()
            step()
            samples.append(clock() - before)
    return (clock() - start) / 1e9


async def time_round_trips_async(step, loops: int, samples=None) -> float:
    """``time_round_trips`` for a coroutine ``step``."""
    clock = time.perf_counter_ns
    start = clock()
    if samples is None:
        for _ in range(loops):
            await step()
    else:
        for _ in range(loops):
            before = clock()
            await step()
            samples.append(clock() - before)
    return (clock() - start) / 1e9


def one_way_percentiles(round_trip_ns: list[int]) -> dict:
    """p50, p99, p99.9 and max of one-way hand-off times (seconds) from round trips."""
    one_way = sorted(ns / 2e9 for ns in round_trip_ns)
    cuts = statistics.quantiles(one_way, n=1000, method="inclusive")
    return {
        "switch_p50": cuts[499],
        "switch_p99": cuts[989],
        "switch_p999": cuts[998],
        "switch_max": one_way[-1],
        "samples": len(one_way),
    }
