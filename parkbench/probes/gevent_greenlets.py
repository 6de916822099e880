"""gevent greenlets from ``gevent.spawn``, each parked in ``gevent.event.Event.wait()``.

Proof of parking: each greenlet increments a counter and, if it is the N-th, sets an
event the main greenlet waits on; then it waits on the shared event. Greenlets switch
only when they block, so the main greenlet resumes only after the N-th greenlet has
blocked, and every earlier one had already.

No monkey-patching: the probe uses gevent's own primitives, and runs in a child of its
own, so gevent never touches another model's process.
"""

import time

import gevent
from gevent.event import Event

PRIMITIVE = "gevent.event.Event.wait"


def park(n: int, variant: str, measure) -> dict:
    go = Event()
    all_parked = Event()
    all_finished = Event()
    state = {"parked": 0, "finished": 0}

    def waiter():
        state["parked"] += 1
        if state["parked"] == n:
            all_parked.set()
        go.wait()
        state["finished"] += 1
        if state["finished"] == n:
            all_finished.set()

    start = time.perf_counter()
    greenlets = [gevent.spawn(waiter) for _ in range(n)]
    all_parked.wait()
    spawn_seconds = time.perf_counter() - start

    memory = measure()

    start = time.perf_counter()
    go.set()
    all_finished.wait()
    wake_seconds = time.perf_counter() - start
    del greenlets
    return {
        "parked": state["parked"],
        "spawn_seconds": spawn_seconds,
        "wake_seconds": wake_seconds,
        "primitive": PRIMITIVE,
        "memory": memory,
    }
