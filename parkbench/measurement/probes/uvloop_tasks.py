"""asyncio tasks on uvloop's event loop, each parked in ``asyncio.Event.wait()``.

The tasks, the primitive and the proof of parking are those of ``asyncio_tasks``; only
the loop is uvloop's (libuv underneath), so the difference between the two models is
the loop's own cost per parked task.
"""

import uvloop

from parkbench.measurement.probes import asyncio_tasks

PRIMITIVE = asyncio_tasks.PRIMITIVE
HANDOFF_PRIMITIVES = asyncio_tasks.HANDOFF_PRIMITIVES
pingpong_here = asyncio_tasks.pingpong_here


def park(n: int, variant: str, measure, wake: bool = True) -> dict:
    return asyncio_tasks.park(n, variant, measure, wake, loop_factory=uvloop.new_event_loop)


def pingpong(primitive: str, loops: int, cpus=None, samples=None, observed=None) -> float:
    return asyncio_tasks.pingpong(primitive, loops, cpus, samples, observed,
                                  loop_factory=uvloop.new_event_loop)
