"""asyncio tasks on the stdlib event loop, each parked in ``asyncio.Event.wait()``.

Proof of parking: each task increments a counter and, if it is the N-th, resolves a
future the main coroutine awaits; then it awaits the event. The loop runs one callback
at a time, so by the time the main coroutine resumes, the N-th task has reached its
``await`` and every earlier one had already: all N are suspended.

The same code runs on uvloop (``uvloop_tasks``): only the loop differs.
"""

import asyncio
import time

PRIMITIVE = "asyncio.Event.wait"


def park(n: int, variant: str, measure, loop_factory=None) -> dict:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_park(n, measure))


async def _park(n: int, measure) -> dict:
    loop = asyncio.get_running_loop()
    go = asyncio.Event()
    all_parked = loop.create_future()
    all_finished = loop.create_future()
    state = {"parked": 0, "finished": 0}

    async def waiter():
        state["parked"] += 1
        if state["parked"] == n:
            all_parked.set_result(None)
        await go.wait()
        state["finished"] += 1
        if state["finished"] == n:
            all_finished.set_result(None)

    start = time.perf_counter()
    # The list is the strong reference a server keeps to its tasks (the loop holds weak
    # ones only), so it is part of what a parked task costs.
    tasks = [loop.create_task(waiter()) for _ in range(n)]
    await all_parked
    spawn_seconds = time.perf_counter() - start

    memory = measure()

    start = time.perf_counter()
    go.set()
    await all_finished
    wake_seconds = time.perf_counter() - start
    del tasks
    return {
        "parked": state["parked"],
        "spawn_seconds": spawn_seconds,
        "wake_seconds": wake_seconds,
        "primitive": PRIMITIVE,
        "memory": memory,
    }
