"""The served rate, read from the load generator's output (``benchmarks/loadgen``).

A server's **sustainable rate** is the highest offered rate of an open-loop sweep that
it served: every scheduled request answered (no error, no timeout, none unsent), the
achieved rate at least ``ACHIEVED_SHARE`` of the offered one, and p99 latency (from the
intended send time) at most the SLO. Steps are read in increasing offered rate and the
search stops at the first step that fails: a step above a failing one does not count,
since a server that failed at 20,000/s and "passed" at 40,000/s passed by luck (a
quiet second), not by capacity. A rate at or above ``GENERATOR_BOUND_SHARE`` of the
generator's own ceiling (its closed-loop peak against a null echo server) is the
generator's figure as much as the server's: ``generator_bound`` says so.

The generator's output is read and checked by ``store/loadgen_output.py``. Pure
functions: no printing, no I/O.
"""

import math
from collections.abc import Sequence

from parkbench.measurement.knee import GENERATOR_SHARE as GENERATOR_BOUND_SHARE
from parkbench.store.loadgen_output import Step, check_increasing
from parkbench.store.run_plan import DEFAULT_SLO_SECONDS, slo_problem

ACHIEVED_SHARE = 0.99           # achieved / offered a sustained rate must reach


def sustains(step: Step, slo_seconds: float = DEFAULT_SLO_SECONDS) -> bool:
    """Whether the server served this step: every request answered, achieved at least
    ``ACHIEVED_SHARE`` of offered, p99 within the SLO."""
    return (step.errors == 0 and step.timeouts == 0 and step.unsent == 0
            and step.achieved >= ACHIEVED_SHARE * step.offered and step.p99 <= slo_seconds)


def sustainable_rate(steps: Sequence[Step], slo_seconds: float = DEFAULT_SLO_SECONDS) -> float | None:
    """The highest offered rate sustained before the first step that is not (steps in
    increasing offered rate, else ``ValueError``); ``None`` if the first one fails."""
    if slo_problem(slo_seconds):
        raise ValueError(slo_problem(slo_seconds))
    check_increasing(steps)
    best = None
    for step in steps:
        if not sustains(step, slo_seconds):
            break
        best = step.offered
    return best


def generator_bound(rate: float, generator_ceiling: float) -> bool:
    """True when ``rate`` is at least ``GENERATOR_BOUND_SHARE`` of the generator's own
    ceiling: the figure may be the generator's limit rather than the server's."""
    if not (math.isfinite(generator_ceiling) and generator_ceiling > 0):
        raise ValueError(f"the generator's ceiling must be a positive rate, not {generator_ceiling!r}")
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"a rate must be a finite number >= 0, not {rate!r}")
    return rate >= GENERATOR_BOUND_SHARE * generator_ceiling


def cpu_per_request(cpu_seconds: float, requests: int) -> float:
    """CPU seconds (user + system) per request served."""
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
        raise ValueError(f"requests must be a whole number >= 1, not {requests!r}")
    if not (math.isfinite(cpu_seconds) and cpu_seconds >= 0):
        raise ValueError(f"CPU time must be a finite number of seconds >= 0, not {cpu_seconds!r}")
    return cpu_seconds / requests
