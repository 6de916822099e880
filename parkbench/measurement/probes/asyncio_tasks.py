"""asyncio tasks on the stdlib event loop, each parked in ``asyncio.Event.wait()``.

Proof of parking: each task increments a counter and, if it is the N-th, resolves a
future the main coroutine awaits; then it awaits the event. The loop runs one callback
at a time, so by the time the main coroutine resumes, the N-th task has reached its
``await`` and every earlier one had already (a task that ends instead fails the probe
at once). Right before and after memory is read, ``prove`` counts from outside the
tasks not done and the futures waiting on the event (one per parked task): both must
be N (``proof.py``).

Variant ``sleep``: each task awaits ``asyncio.sleep`` of a timer far in the future (a
timer handle and a future per task, as in whole-program "1M tasks" benchmarks); proof:
tasks not done, each suspended on its pending sleep future (``Task._fut_waiter``, on both
loops). Only its timer could wake it: no wake is timed, the child exits.

Hand-off (``pingpong``): two tasks on one loop pass control back and forth.
Primitives: ``future`` (each side resolves a fresh future the other awaits) and
``queue`` (two ``asyncio.Queue`` objects). Both tasks share one OS thread, so CPU
placement only decides which CPU that thread may run on.

The same code runs on uvloop (``uvloop_tasks``): only the loop differs.
"""

import asyncio
import functools
import os
import socket
import time

from parkbench.core import registry
from parkbench.measurement import placement
from parkbench.measurement.handoff import time_round_trips_async
from parkbench.measurement.probes import conn_server, connections, parked_result, proof, sockets

PRIMITIVE = "asyncio.Event.wait"


def park(n: int, variant: str, measure, wake: bool = True, loop_factory=None) -> dict:
    if registry.is_connections(variant):
        serve = functools.partial(serve_connections, variant=variant, loop_factory=loop_factory)
        return connections.park(n, variant, measure, serve, CONNECTION_PRIMITIVES[variant])
    if wake and variant != "sleep":  # a sleeping task is woken by its timer only
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(_park(n, measure, wake, variant))
    # The caller exits right after: leave the loop and its parked tasks as they are.
    # Closing a runner cancels them, which costs O(N²) here (each cancelled
    # Event.wait() removes its future from the event's deque): a minute at N = 100k.
    loop = (loop_factory or asyncio.new_event_loop)()
    asyncio.set_event_loop(loop)
    return loop.run_until_complete(_park(n, measure, wake, variant))


class _Crowd:
    """What the waiters share: the event they park on and the counts that prove arrival.
    The waiters are module-level coroutines taking only this (and a socket): a parked
    task's frame then holds what a user's own waiter would, not the probe's closure
    cells (they made each task 67 B larger here, 6% of a task)."""

    __slots__ = ("n", "event", "loop", "all_parked", "all_finished", "parked", "finished")

    def __init__(self, n: int, loop):
        self.n, self.loop = n, loop
        self.event = asyncio.Event()
        self.all_parked, self.all_finished = loop.create_future(), loop.create_future()
        self.parked = self.finished = 0

    def arrive(self) -> None:
        self.parked += 1
        if self.parked == self.n:
            self.all_parked.set_result(None)

    def leave(self) -> None:
        self.finished += 1
        if self.finished == self.n:
            self.all_finished.set_result(None)


async def _event_waiter(crowd):
    crowd.arrive()
    await crowd.event.wait()
    crowd.leave()


async def _sleep_waiter(crowd):
    crowd.arrive()
    await asyncio.sleep(proof.SLEEP_SECONDS)
    crowd.leave()


async def _socket_waiter(crowd, sock):
    crowd.arrive()
    await crowd.loop.sock_recv(sock, 1)
    crowd.leave()


async def _park(n: int, measure, wake: bool, variant: str = "event") -> dict:
    loop = asyncio.get_running_loop()
    crowd = _Crowd(n, loop)
    go, all_finished = crowd.event, crowd.all_finished
    note = None
    if variant == "socket":
        note = sockets.ensure_descriptors(n)
        pairs = sockets.socketpairs(n, socket.socketpair)
        for pair in pairs:
            for end in pair:
                end.setblocking(False)

    start = time.perf_counter()
    # The list is the strong reference a server keeps to its tasks (the loop holds weak
    # ones only), so it is part of what a parked task costs.
    if note is not None:
        tasks = [loop.create_task(_socket_waiter(crowd, waiter_end)) for waiter_end, _ in pairs]
    else:
        waiter = _sleep_waiter if variant == "sleep" else _event_waiter
        tasks = [loop.create_task(waiter(crowd)) for _ in range(n)]
    await _arrival(crowd.all_parked, tasks, crowd, n)
    spawn_seconds = time.perf_counter() - start

    def prove() -> dict:
        counts = {"method": "tasks not done, and futures waiting on the event",
                  "tasks_not_done": sum(1 for task in tasks if not task.done())}
        if variant == "sleep":
            counts["method"] = "tasks not done, and each awaiting its pending sleep future"
            counts["tasks_sleeping"] = sum(1 for task in tasks if _awaits_pending(task))
        elif note is None:
            counts["event_waiters"] = len(go._waiters)  # one future per waiting task
        else:
            counts["method"] = "tasks not done, and their sockets open"
            counts["sockets_open"] = sum(1 for end, _ in pairs if end.fileno() >= 0)
        return counts

    # the measurement may run on this loop (tail latency): it is awaited if need be
    memory, checked = await proof.measured_async(n, prove, measure)

    primitive = PRIMITIVE if note is None else "loop.sock_recv on a socketpair"
    if variant == "sleep":
        primitive = "asyncio.sleep (a timer far in the future)"
    result = parked_result(crowd.parked, spawn_seconds, primitive, memory, checked, note)
    if variant == "sleep":
        result["wake_timed"] = False
        return result
    if not wake:
        return result

    start = time.perf_counter()
    if note is None:
        go.set()
    else:
        sockets.wake(pairs)
    await all_finished
    result["wake_seconds"] = time.perf_counter() - start
    tasks.clear()
    return result


def _awaits_pending(task) -> bool:
    """A task not done, suspended on a future (its sleep's) that is still pending."""
    waiting_on = getattr(task, "_fut_waiter", None)
    return not task.done() and waiting_on is not None and not waiting_on.done()


async def _arrival(all_parked, tasks, crowd, n: int) -> None:
    """Wait for the N-th task to arrive; fail fast if arrivals stop because a task
    ended instead of parking (it would never arrive)."""
    seen = -1
    while True:
        done, _ = await asyncio.wait([all_parked], timeout=ARRIVAL_POLL_SECONDS)
        if done:
            all_parked.result()
            return
        if crowd.parked == seen:  # no progress in a whole poll: look why
            ended = sum(1 for task in tasks if task.done())
            if ended:
                raise proof.NotParked(f"{ended:,} of {n:,} tasks ended before all arrived "
                                      f"({crowd.parked:,} arrived)")
        seen = crowd.parked


ARRIVAL_POLL_SECONDS = 0.5


CONNECTION_PRIMITIVES = {
    "connections": "asyncio.start_server streams, each handler in StreamReader.read",
    "reuseport": "asyncio.start_server streams in P processes (SO_REUSEPORT), "
                 "each handler in StreamReader.read",
    "protocol": "a bare asyncio.Protocol per connection, its transport reading",
}


class _Held:
    """What a connections server keeps: its handler tasks (a server's strong references)
    or protocols, and the count of connections that arrived."""

    __slots__ = ("arrived", "tasks", "protocols")

    def __init__(self):
        self.arrived = 0
        self.tasks: set = set()
        self.protocols: list = []


async def _echo(held, reader, writer):
    held.arrived += 1
    held.tasks.add(asyncio.current_task())
    while data := await reader.read(1):
        writer.write(data)
    writer.close()


class _EchoProtocol(asyncio.Protocol):
    __slots__ = ("held", "transport")

    def __init__(self, held):
        self.held = held
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.held.arrived += 1
        self.held.protocols.append(self)

    def data_received(self, data):
        self.transport.write(data)


def _server_counts(held, variant: str) -> dict:
    if variant == "protocol":
        return {"method": "protocols whose transport is open and reading",
                "transports_open": sum(1 for p in held.protocols if not p.transport.is_closing()),
                "transports_reading": sum(1 for p in held.protocols if p.transport.is_reading())}
    return {"method": "handler tasks not done, each suspended on its pending read",
            "tasks_not_done": sum(1 for task in held.tasks if not task.done()),
            "tasks_reading": sum(1 for task in held.tasks if _awaits_pending(task))}


def serve_connections(listener, control, variant: str = "connections", loop_factory=None) -> None:
    """A connections server process (``conn_server.py``): serves until killed."""
    loop = (loop_factory or asyncio.new_event_loop)()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(_serve(listener, control, variant))


async def _serve(listener, control, variant: str) -> None:
    loop = asyncio.get_running_loop()
    held = _Held()
    if variant == "protocol":
        await loop.create_server(lambda: _EchoProtocol(held), sock=listener,
                                 backlog=conn_server.BACKLOG)
    else:
        await asyncio.start_server(functools.partial(_echo, held), sock=listener,
                                   backlog=conn_server.BACKLOG)

    def on_control():
        question = control.recv(1)
        if not question:
            os._exit(0)  # the coordinator is gone
        conn_server.answer(control, question, held.arrived, lambda: _server_counts(held, variant))

    loop.add_reader(control.fileno(), on_control)
    await loop.create_future()  # serve until killed


HANDOFF_PRIMITIVES = ("future", "queue")


def _future_pair(loop):
    state = {"a": None, "b": loop.create_future()}

    async def a_step():
        state["a"] = loop.create_future()
        state["b"].set_result(None)
        await state["a"]

    async def b_side(loops):
        for _ in range(loops):
            await state["b"]
            state["b"] = loop.create_future()
            state["a"].set_result(None)

    return a_step, b_side


def _queue_pair(loop):
    to_b, to_a = asyncio.Queue(), asyncio.Queue()

    async def a_step():
        to_b.put_nowait(None)
        await to_a.get()

    async def b_side(loops):
        for _ in range(loops):
            await to_b.get()
            to_a.put_nowait(None)

    return a_step, b_side


async def pingpong_here(primitive: str, loops: int, samples=None) -> float:
    """``loops`` round trips between two tasks on the running loop, in seconds."""
    loop = asyncio.get_running_loop()
    a_step, b_side = {"future": _future_pair, "queue": _queue_pair}[primitive](loop)
    b_task = loop.create_task(b_side(loops))
    await asyncio.sleep(0)  # let B reach its first wait before A starts the clock
    elapsed = await time_round_trips_async(a_step, loops, samples)
    await b_task
    return elapsed


def pingpong(primitive: str, loops: int, cpus=None, samples=None, observed=None,
             loop_factory=None) -> float:
    """Seconds for ``loops`` round trips on a fresh loop. Both tasks run on the calling
    thread, which is pinned to the CPUs of ``cpus`` (one CPU for same-core)."""
    affinity = placement.pin(None if cpus is None else set(cpus))
    if observed is not None:
        observed.update(a=affinity, b=affinity)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(pingpong_here(primitive, loops, samples))
