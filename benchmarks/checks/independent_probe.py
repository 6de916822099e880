"""An independent check of parkbench's per-waiter memory, under any interpreter.

It shares no code with parkbench: each N runs in a fresh interpreter that parks N
waiters written the plain way a user writes them (a coroutine awaiting an Event in an
asyncio or uvloop task, a function waiting on a gevent Event in a greenlet, a thread
waiting on a Condition), collects garbage, reads its own VmRSS from /proc/self/status, and exits; the
slope of RSS over N is the figure. Run it with the interpreter to check (its
environment must have uvloop and gevent for those models), e.g. the environment
``parkbench run --python 3.12`` created:

    ~/.cache/parkbench/venvs/cpython-3.12.1-*/bin/python benchmarks/checks/independent_probe.py

It prints one JSON object: model -> bytes per waiter (RSS slope) and the N used.
"""

import json
import statistics
import subprocess
import sys

GRIDS = {"asyncio": (10_000, 30_000, 100_000), "uvloop": (10_000, 30_000, 100_000),
         "gevent": (10_000, 30_000, 100_000), "threads": (300, 1_000, 3_000)}

CHILD = r"""
import gc, sys, time
model, n = sys.argv[1], int(sys.argv[2])


def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024


def report():
    gc.collect()
    time.sleep(0.1)
    print(rss(), flush=True)


if model in ("asyncio", "uvloop"):
    import asyncio
    if model == "uvloop":
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    async def waiter(event):  # a user's own waiter: its coroutine, awaiting the event
        await event.wait()

    async def main():
        event = asyncio.Event()
        tasks = [asyncio.ensure_future(waiter(event)) for _ in range(n)]
        await asyncio.sleep(0)
        assert len(event._waiters) == n
        report()
        event.set()
        await asyncio.gather(*tasks)
    asyncio.run(main())
elif model == "gevent":
    import gevent
    from gevent.event import Event
    def waiter(event):  # a user's own waiter: its function, waiting on the event
        event.wait()

    event = Event()
    greenlets = [gevent.spawn(waiter, event) for _ in range(n)]
    gevent.sleep(0)
    assert event.linkcount() == n
    report()
    event.set()
    gevent.joinall(greenlets)
else:
    import threading
    # each arrival tells the main thread alone: a notify_all per arrival would wake every
    # thread parked before it (N^2/2 wake-ups), which on a free-threaded build adds
    # memory to each thread (benchmarks/checks/thread_memory_cause.py measures it)
    condition, arrived, go = threading.Condition(), threading.Semaphore(0), [False]

    def waiter():
        with condition:
            arrived.release()
            while not go[0]:
                condition.wait()
    threads = [threading.Thread(target=waiter, daemon=True) for _ in range(n)]
    for thread in threads:
        thread.start()
    for _ in range(n):
        arrived.acquire()
    with condition:  # the last arrival released inside the lock: once we hold it, all wait
        assert len(condition._waiters) == n
    report()
    with condition:
        go[0] = True
        condition.notify_all()
"""


def slope(xs, ys) -> float:
    return statistics.linear_regression(xs, ys).slope


def main() -> int:
    models = sys.argv[1:] or list(GRIDS)
    found = {}
    for model in models:
        grid = GRIDS[model]
        rss = []
        for n in grid:
            done = subprocess.run([sys.executable, "-c", CHILD, model, str(n)],
                                  capture_output=True, text=True, timeout=300)
            if done.returncode:
                print(f"independent_probe: {model} at N={n}: {done.stderr.strip().splitlines()[-1]}",
                      file=sys.stderr)
                return 2
            rss.append(int(done.stdout.split()[0]))
        found[model] = {"rss_per_waiter": slope(grid, rss), "grid": list(grid)}
    print(json.dumps({"python": sys.version.split()[0], "models": found}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
