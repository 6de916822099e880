"""OS threads: ``threading.Thread`` objects, each parked in ``Condition.wait()``.

Proof of parking: each thread increments a counter while holding the condition's lock,
then calls ``wait()``, which registers the thread's own waiter lock and releases the
condition's lock on its way to blocking. The last thread to arrive sets an event; the
main thread then takes the condition's lock, which it can only get once that last thread
has released it inside ``wait()``, and checks the count is N.

Each parked thread owns an OS thread with its own stack (virtual size: the thread
stack size; resident: the pages it touched) plus kernel memory that RSS does not show.
"""

import threading
import time

PRIMITIVE = "threading.Condition.wait"


def park(n: int, variant: str, measure) -> dict:
    condition = threading.Condition()
    all_arrived = threading.Event()
    state = {"parked": 0, "go": False, "finished": 0}
    all_finished = threading.Event()

    def waiter():
        with condition:
            state["parked"] += 1
            if state["parked"] == n:
                all_arrived.set()
            while not state["go"]:
                condition.wait()
            state["finished"] += 1
            if state["finished"] == n:
                all_finished.set()

    threads = []
    start = time.perf_counter()
    for _ in range(n):
        thread = threading.Thread(target=waiter, daemon=True)
        thread.start()
        threads.append(thread)
    all_arrived.wait()
    with condition:
        parked = state["parked"]
    spawn_seconds = time.perf_counter() - start

    memory = measure()

    start = time.perf_counter()
    with condition:
        state["go"] = True
        condition.notify_all()
    all_finished.wait()
    for thread in threads:
        thread.join()
    wake_seconds = time.perf_counter() - start
    return {
        "parked": parked,
        "spawn_seconds": spawn_seconds,
        "wake_seconds": wake_seconds,
        "primitive": PRIMITIVE,
        "memory": memory,
    }
