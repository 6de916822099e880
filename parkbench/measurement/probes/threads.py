"""OS threads: ``threading.Thread`` objects, each parked in ``Condition.wait()``.

Proof of parking: each thread increments a counter while holding the condition's lock,
then calls ``wait()``, which registers the thread's own waiter lock and releases the
condition's lock on its way to blocking. The last thread to arrive sets an event; the
main thread then takes the condition's lock, which it can only get once that last thread
has released it inside ``wait()``, and checks the count is N (a thread that ends instead
fails the probe at once). Right before and after memory is read, ``prove`` counts from
outside the threads alive, those asleep in the kernel (/proc state S) and the waiter
locks the condition holds: all must be N (``proof.py``).

Variant ``sleep``: each thread in ``time.sleep`` far in the future (``_park_asleep``).

Hand-off (``pingpong``): two threads pass control back and forth; each blocks until
the other releases it. Primitives: ``lock`` (two ``threading.Lock`` objects, each
released by the other thread) and ``queue`` (two ``queue.Queue`` objects). With
``cross-core`` placement the two threads are pinned to different CPUs.

Each parked thread owns an OS thread with its own stack (virtual size: the thread
stack size; resident: the pages it touched) plus kernel memory that RSS does not show.
"""

import queue
import socket
import threading
import time

from parkbench.core import registry
from parkbench.core.registry import stack_variant_bytes
from parkbench.measurement import placement
from parkbench.measurement.handoff import time_round_trips
from parkbench.measurement.probes import LimitReached, conn_server, connections, parked_result, proof, sockets

PRIMITIVE = "threading.Condition.wait"


def park(n: int, variant: str, measure, wake: bool = True) -> dict:
    if registry.is_connections(variant):
        return connections.park(n, variant, measure, serve_connections, CONNECTION_PRIMITIVE)
    if variant == "socket":
        return _park_on_sockets(n, measure, wake)
    if variant == "sleep":
        return _park_asleep(n, measure)
    stack = stack_variant_bytes(variant)
    if stack is not None:
        threading.stack_size(stack)
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

    start = time.perf_counter()
    threads = _start_threads(n, waiter)
    _arrival(all_arrived, threads, state, n)
    with condition:
        parked = state["parked"]
    spawn_seconds = time.perf_counter() - start

    def prove() -> dict:
        with condition:  # the waiter locks the condition holds: one per waiting thread
            waiters = len(condition._waiters)  # type: ignore[attr-defined]
        return {"method": "threads alive and asleep in the kernel, and waiting on the condition",
                "threads_alive": sum(1 for thread in threads if thread.is_alive()),
                "threads_asleep": proof.sleeping_threads(t.native_id for t in threads),
                "condition_waiters": waiters}

    memory, checked = proof.measured(n, prove, measure)
    result = parked_result(parked, spawn_seconds, PRIMITIVE, memory, checked)
    if not wake:  # the caller exits without waking (tail latency needs no wake timing)
        return result

    start = time.perf_counter()
    with condition:
        state["go"] = True
        condition.notify_all()
    all_finished.wait()
    for thread in threads:
        thread.join()
    result["wake_seconds"] = time.perf_counter() - start
    return result


ARRIVAL_POLL_SECONDS = 0.5


def _arrival(all_arrived, threads, state, n: int) -> None:
    """Wait for the N-th thread to arrive; fail fast if one ended instead."""
    seen = -1
    while not all_arrived.wait(ARRIVAL_POLL_SECONDS):
        if state["parked"] == seen:
            ended = sum(1 for thread in threads if not thread.is_alive())
            if ended:
                raise proof.NotParked(f"{ended:,} of {n:,} threads ended before all arrived "
                                      f"({state['parked']:,} arrived)")
        seen = state["parked"]


def _start_threads(n: int, target, args_of=lambda i: ()) -> list:
    threads: list[threading.Thread] = []
    for i in range(n):
        thread = threading.Thread(target=target, args=args_of(i), daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:  # "can't start new thread": an OS limit said no
            raise LimitReached(len(threads), exc) from exc
        threads.append(thread)
    return threads


def _park_asleep(n: int, measure) -> dict:
    """Each thread in ``time.sleep`` of a timer far in the future. Nothing can interrupt
    a thread's sleep from outside (no signal is delivered to one chosen thread in
    Python): the threads are daemons, and the child exits without waking them (no wake
    is timed). Proof: threads alive and asleep in the kernel's nanosleep."""
    lock = threading.Lock()
    all_arrived = threading.Event()
    state = {"parked": 0}

    def waiter():
        with lock:
            state["parked"] += 1
            if state["parked"] == n:
                all_arrived.set()
        time.sleep(proof.SLEEP_SECONDS)

    start = time.perf_counter()
    threads = _start_threads(n, waiter)
    _arrival(all_arrived, threads, state, n)
    spawn_seconds = time.perf_counter() - start

    def prove() -> dict:
        ids = [t.native_id for t in threads]
        return {"method": "threads alive, and asleep in the kernel's nanosleep",
                "threads_alive": sum(1 for thread in threads if thread.is_alive()),
                "threads_in_nanosleep": proof.sleeping_threads(ids, proof.NANOSLEEP_WAITS)}

    memory, checked = proof.measured(n, prove, measure)
    result = parked_result(state["parked"], spawn_seconds, "time.sleep (a timer far in the future)",
                           memory, checked)
    result["wake_timed"] = False
    return result


def _park_on_sockets(n: int, measure, wake: bool) -> dict:
    """Each thread blocks in recv() on its own socketpair. Proof of parking: each thread
    counts itself under a lock just before recv(); the gap between the two is a few
    bytecodes, and a thread cannot get past recv() until the probe sends."""
    note = sockets.ensure_descriptors(n)
    pairs = sockets.socketpairs(n, socket.socketpair)
    lock = threading.Lock()
    all_arrived = threading.Event()
    state = {"parked": 0}

    def waiter(sock):
        with lock:
            state["parked"] += 1
            if state["parked"] == n:
                all_arrived.set()
        sock.recv(1)

    start = time.perf_counter()
    threads = _start_threads(n, waiter, lambda i: (pairs[i][0],))
    _arrival(all_arrived, threads, state, n)
    spawn_seconds = time.perf_counter() - start

    def prove() -> dict:
        return {"method": "threads alive and asleep in the kernel, and their sockets open",
                "threads_alive": sum(1 for thread in threads if thread.is_alive()),
                "threads_asleep": proof.sleeping_threads(t.native_id for t in threads),
                "sockets_open": sum(1 for end, _ in pairs if end.fileno() >= 0)}

    memory, checked = proof.measured(n, prove, measure)
    result = parked_result(state["parked"], spawn_seconds, "socket.recv on a socketpair", memory,
                           checked, note)
    if not wake:
        return result
    start = time.perf_counter()
    sockets.wake(pairs)
    for thread in threads:
        thread.join()
    result["wake_seconds"] = time.perf_counter() - start
    return result


CONNECTION_PRIMITIVE = "a thread per TCP connection, blocked in socket.recv()"


def _echo(conn, ids, arrived) -> None:
    ids.append(threading.get_native_id())
    arrived.append(None)  # list.append is atomic: the count the proof reads
    while data := conn.recv(1):
        conn.sendall(data)


def serve_connections(listener, control) -> None:
    """A connections server process (``conn_server.py``): a thread per accepted
    connection, blocked in ``recv``; serves until killed. Proof: threads alive and
    asleep in the kernel in a socket read (/proc state S and wchan)."""
    threads: list[threading.Thread] = []
    ids: list[int] = []
    arrived: list[None] = []

    def on_accept(conn) -> None:
        thread = threading.Thread(target=_echo, args=(conn, ids, arrived), daemon=True)
        thread.start()
        threads.append(thread)

    def counts() -> dict:
        return {"method": "threads alive and asleep in a socket read (/proc state S, wchan)",
                "threads_alive": sum(1 for thread in threads if thread.is_alive()),
                "threads_in_recv": proof.sleeping_threads(list(ids), conn_server.SOCKET_WAITS)}

    conn_server.serve_blocking(listener, control, on_accept, lambda: len(arrived), counts)


HANDOFF_PRIMITIVES = ("lock", "queue")


def _lock_pair():
    a_turn, b_turn = threading.Lock(), threading.Lock()
    a_turn.acquire()
    b_turn.acquire()

    def a_step():
        b_turn.release()
        a_turn.acquire()

    def b_step():
        b_turn.acquire()
        a_turn.release()

    return a_step, b_step


def _queue_pair():
    to_b, to_a = queue.Queue(), queue.Queue()

    def a_step():
        to_b.put(None)
        to_a.get()

    def b_step():
        to_b.get()
        to_a.put(None)

    return a_step, b_step


def pingpong(primitive: str, loops: int, cpus=None, samples=None, observed=None) -> float:
    """Seconds for ``loops`` round trips between two threads (A on ``cpus[0]``, B on
    ``cpus[1]``). ``samples`` gets each round trip in ns; ``observed`` each thread's
    affinity after pinning."""
    a_step, b_step = {"lock": _lock_pair, "queue": _queue_pair}[primitive]()
    observed = {} if observed is None else observed
    ready = threading.Barrier(2)
    result = {}

    def side_b():
        observed["b"] = placement.pin(None if cpus is None else [cpus[1]])
        ready.wait()
        for _ in range(loops):
            b_step()

    def side_a():
        observed["a"] = placement.pin(None if cpus is None else [cpus[0]])
        ready.wait()
        result["elapsed"] = time_round_trips(a_step, loops, samples)

    threads = [threading.Thread(target=side_b), threading.Thread(target=side_a)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result["elapsed"]


def pingpong_here(primitive: str, loops: int, samples=None) -> float:
    """The hand-off where the probe stands (for tail latency): not pinned."""
    return pingpong(primitive, loops, None, samples)
