"""gevent greenlets from ``gevent.spawn``, each parked in ``gevent.event.Event.wait()``.

Proof of parking: each greenlet increments a counter and, if it is the N-th, sets an
event the main greenlet waits on; then it waits on the shared event. Greenlets switch
only when they block, so the main greenlet resumes only after the N-th greenlet has
blocked, and every earlier one had already. Right before and after memory is read,
``prove`` counts from outside the greenlets alive and not running, and the event's
links (one per waiting greenlet): both must be N (``proof.py``).

Variant ``sleep``: each greenlet in ``gevent.sleep`` of a timer far in the future; proof:
greenlets alive and not running, and the hub loop's active watchers grown by N (one
timer per sleeping greenlet). No wake is timed: only a timer wakes them.

Hand-off (``pingpong``): two greenlets pass control back and forth. Primitives:
``event`` (two ``gevent.event.Event`` objects; each wake goes through the hub),
``channel`` (two ``gevent.queue.Channel`` objects, rendezvous without a buffer) and
``greenlet`` (raw ``greenlet.switch`` between two greenlets, no hub: the floor of what a
green switch costs). Both greenlets share one OS thread, so CPU placement only decides
which CPU that thread may run on.

No monkey-patching: the probe uses gevent's own primitives, and runs in a child of its
own, so gevent never touches another model's process.
"""

import os
import time

import gevent
import gevent.socket
import greenlet
from gevent.event import Event
from gevent.queue import Channel

from parkbench.core import registry
from parkbench.measurement import placement
from parkbench.measurement.handoff import time_round_trips
from parkbench.measurement.probes import conn_server, connections, parked_result, proof, sockets

PRIMITIVE = "gevent.event.Event.wait"


class _Crowd:
    """What the greenlets share: the event they park on and the counts that prove
    arrival. The waiters are module-level functions taking only this (and a socket), so
    a parked greenlet holds what a user's own waiter would, not the probe's closure."""

    __slots__ = ("n", "event", "all_parked", "all_finished", "parked", "finished")

    def __init__(self, n: int):
        self.n = n
        self.event, self.all_parked, self.all_finished = Event(), Event(), Event()
        self.parked = self.finished = 0

    def arrive(self) -> None:
        self.parked += 1
        if self.parked == self.n:
            self.all_parked.set()

    def leave(self) -> None:
        self.finished += 1
        if self.finished == self.n:
            self.all_finished.set()


def _event_waiter(crowd):
    crowd.arrive()
    crowd.event.wait()
    crowd.leave()


def _sleep_waiter(crowd):
    crowd.arrive()
    gevent.sleep(proof.SLEEP_SECONDS)
    crowd.leave()


def _socket_waiter(crowd, sock):
    crowd.arrive()
    sock.recv(1)
    crowd.leave()


def park(n: int, variant: str, measure, wake: bool = True) -> dict:
    if registry.is_connections(variant):
        return connections.park(n, variant, measure, serve_connections, CONNECTION_PRIMITIVE)
    crowd = _Crowd(n)
    go, all_parked, all_finished = crowd.event, crowd.all_parked, crowd.all_finished
    note = None
    if variant == "socket":
        note = sockets.ensure_descriptors(n)
        pairs = sockets.socketpairs(n, gevent.socket.socketpair)

    timers_before = gevent.get_hub().loop.activecnt

    start = time.perf_counter()
    if note is not None:
        greenlets = [gevent.spawn(_socket_waiter, crowd, waiter_end) for waiter_end, _ in pairs]
    else:
        waiter = _sleep_waiter if variant == "sleep" else _event_waiter
        greenlets = [gevent.spawn(waiter, crowd) for _ in range(n)]
    _arrival(all_parked, greenlets, crowd, n)
    spawn_seconds = time.perf_counter() - start

    def prove() -> dict:
        current = gevent.getcurrent()
        counts = {"method": "greenlets alive and not running, and linked to the event",
                  "greenlets_blocked": sum(1 for g in greenlets if not g.dead and g is not current)}
        if variant == "sleep":
            counts["method"] = "greenlets alive and not running, and active timers of the hub"
            counts["hub_timers"] = gevent.get_hub().loop.activecnt - timers_before
        elif note is None:
            counts["event_links"] = go.linkcount()  # one link per greenlet waiting on it
        else:
            counts["method"] = "greenlets alive and not running, and their sockets open"
            counts["sockets_open"] = sum(1 for end, _ in pairs if end.fileno() >= 0)
        return counts

    memory, checked = proof.measured(n, prove, measure)

    primitive = PRIMITIVE if note is None else "gevent socket recv on a socketpair"
    if variant == "sleep":
        primitive = "gevent.sleep (a timer far in the future)"
    result = parked_result(crowd.parked, spawn_seconds, primitive, memory, checked, note)
    if variant == "sleep":
        result["wake_timed"] = False  # only its timer wakes it
        return result
    if not wake:  # the caller exits without waking (tail latency needs no wake timing)
        return result

    start = time.perf_counter()
    if note is None:
        go.set()
    else:
        sockets.wake(pairs)
    all_finished.wait()
    result["wake_seconds"] = time.perf_counter() - start
    greenlets.clear()
    return result


ARRIVAL_POLL_SECONDS = 0.5


def _arrival(all_parked, greenlets, crowd, n: int) -> None:
    """Wait for the N-th greenlet to arrive; fail fast if one ended instead."""
    seen = -1
    while not all_parked.wait(timeout=ARRIVAL_POLL_SECONDS):
        if crowd.parked == seen:
            ended = sum(1 for g in greenlets if g.dead)
            if ended:
                raise proof.NotParked(f"{ended:,} of {n:,} greenlets ended before all arrived "
                                      f"({crowd.parked:,} arrived)")
        seen = crowd.parked


CONNECTION_PRIMITIVE = "gevent.server.StreamServer, a handler greenlet per connection in recv()"


class _Held:
    """A connections server's handler greenlets, each with its socket."""

    __slots__ = ("arrived", "handlers")

    def __init__(self):
        self.arrived = 0
        self.handlers: list = []


def _echo(held, sock, _address):
    held.arrived += 1
    handler = (gevent.getcurrent(), sock)
    held.handlers.append(handler)
    try:
        while data := sock.recv(1):
            sock.sendall(data)
    finally:  # a closed socket has no read watcher left to count
        held.handlers.remove(handler)


def serve_connections(listener, control) -> None:
    """A connections server process (``conn_server.py``): serves until killed. A
    handler blocked in ``recv`` is a greenlet switched out, waiting on its socket's
    read watcher: the proof counts both."""
    from gevent.server import StreamServer

    held = _Held()
    server = StreamServer(gevent.socket.socket(fileno=listener.detach()),
                          lambda sock, address: _echo(held, sock, address))
    server.start()
    control = gevent.socket.socket(fileno=control.detach())
    def counts() -> dict:
        current = gevent.getcurrent()
        return {
            "method": "handler greenlets alive and not running, each socket's read watcher active",
            "greenlets_blocked": sum(1 for g, _ in held.handlers if not g.dead and g is not current),
            "reads_waiting": sum(1 for _, sock in held.handlers if sock._read_event.active)}

    while question := control.recv(1):
        conn_server.answer(control, question, held.arrived, counts)
    os._exit(0)  # the coordinator is gone


HANDOFF_PRIMITIVES = ("event", "channel", "greenlet")


def _event_pair():
    to_b, to_a = Event(), Event()

    def a_step():
        to_b.set()
        to_a.wait()
        to_a.clear()

    def b_side(loops):
        for _ in range(loops):
            to_b.wait()
            to_b.clear()
            to_a.set()

    return a_step, b_side


def _channel_pair():
    to_b, to_a = Channel(), Channel()

    def a_step():
        to_b.put(None)
        to_a.get()

    def b_side(loops):
        for _ in range(loops):
            to_b.get()
            to_a.put(None)

    return a_step, b_side


def pingpong_here(primitive: str, loops: int, samples=None) -> float:
    """``loops`` round trips between the calling greenlet and another one, in seconds."""
    if primitive == "greenlet":
        caller = greenlet.getcurrent()

        def bounce():
            while True:
                caller.switch()

        partner = greenlet.greenlet(bounce)
        elapsed = time_round_trips(partner.switch, loops, samples)
        partner.throw(greenlet.GreenletExit)  # end the partner; it never returns otherwise
        return elapsed
    a_step, b_side = {"event": _event_pair, "channel": _channel_pair}[primitive]()
    b = gevent.spawn(b_side, loops)
    gevent.sleep(0)  # let B reach its first wait before A starts the clock
    elapsed = time_round_trips(a_step, loops, samples)
    b.join()
    return elapsed


def pingpong(primitive: str, loops: int, cpus=None, samples=None, observed=None) -> float:
    """Seconds for ``loops`` round trips; the calling thread is pinned to ``cpus``."""
    affinity = placement.pin(None if cpus is None else set(cpus))
    if observed is not None:
        observed.update(a=affinity, b=affinity)
    return pingpong_here(primitive, loops, samples)
