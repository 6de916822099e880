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
    return _percentiles([ns / 2e9 for ns in round_trip_ns], "switch")


def request_percentiles(round_trip_ns: list[int]) -> dict:
    """p50, p99, p99.9 and max of request-and-reply round trips (seconds): a connection's
    wake-up as its client sees it (``conn_client``)."""
    return _percentiles([ns / 1e9 for ns in round_trip_ns], "request")


def _percentiles(seconds: list[float], prefix: str) -> dict:
    ordered = sorted(seconds)
    cuts = statistics.quantiles(ordered, n=1000, method="inclusive")
    return {
        f"{prefix}_p50": cuts[499],
        f"{prefix}_p99": cuts[989],
        f"{prefix}_p999": cuts[998],
        f"{prefix}_max": ordered[-1],
        "samples": len(ordered),
    }
