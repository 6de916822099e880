"""CPU placement of the two waiters of a hand-off.

- ``same-core``: both waiters pinned to one CPU: every hand-off is a context switch on
  that CPU.
- ``cross-core``: the waiters pinned to two different CPUs: every hand-off wakes a
  waiter on the other CPU (an inter-processor wake-up, often several times slower).
- ``os``: not pinned; the scheduler places them (used for tail latency under load).

Where the model's two waiters share one OS thread (asyncio, uvloop, gevent) there is
no cross-core hand-off: ``cross-core`` then lets that thread run on either CPU, and the
record says so. On Linux ``os.sched_setaffinity(0, ...)`` pins the calling thread only,
which is what a threads hand-off needs.
"""

import os

PLACEMENTS = ("same-core", "cross-core")


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def refuse(placement: str) -> str | None:
    """Why this machine cannot honour ``placement``, or ``None``."""
    if placement == "cross-core" and len(usable_cpus()) < 2:
        return "cross-core needs two CPUs; this process may use only one"
    return None


def cpus_for(placement: str) -> tuple[int, int] | None:
    """(CPU of waiter A, CPU of waiter B), or ``None`` for ``os`` placement."""
    if placement == "os":
        return None
    cpus = usable_cpus()
    if placement == "same-core":
        return (cpus[0], cpus[0])
    if placement == "cross-core":
        if len(cpus) < 2:
            raise ValueError(refuse(placement))
        return (cpus[0], cpus[1])
    raise ValueError(f"unknown placement {placement!r}; accepted: {', '.join(PLACEMENTS)}, os")


def pin(cpus) -> list[int]:
    """Pin the calling thread to ``cpus`` (an iterable, or ``None`` to leave it);
    return the affinity it then has, so callers can prove the placement."""
    if cpus is not None:
        os.sched_setaffinity(0, set(cpus))
    return sorted(os.sched_getaffinity(0))
