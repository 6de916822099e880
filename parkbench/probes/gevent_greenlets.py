"""gevent greenlets from ``gevent.spawn``, each parked in ``gevent.event.Event.wait()``.

Proof of parking: each greenlet increments a counter and, if it is the N-th, sets an
event the main greenlet waits on; then it waits on the shared event. Greenlets switch
only when they block, so the main greenlet resumes only after the N-th greenlet has
blocked, and every earlier one had already.

Hand-off (``pingpong``): two greenlets pass control back and forth. Primitives:
``event`` (two ``gevent.event.Event`` objects; each wake goes through the hub),
``channel`` (two ``gevent.queue.Channel`` objects, rendezvous without a buffer) and
``greenlet`` (raw ``greenlet.switch`` between two greenlets, no hub: the floor of what a
green switch costs). Both greenlets share one OS thread, so CPU placement only decides
which CPU that thread may run on.

No monkey-patching: the probe uses gevent's own primitives, and runs in a child of its
own, so gevent never touches another model's process.
"""

import time

import gevent
import gevent.socket
import greenlet
from gevent.event import Event
from gevent.queue import Channel

from parkbench import placement
from parkbench.handoff import time_round_trips
from parkbench.probes import sockets

PRIMITIVE = "gevent.event.Event.wait"


def park(n: int, variant: str, measure, wake: bool = True) -> dict:
    go = Event()
    all_parked = Event()
    all_finished = Event()
    state = {"parked": 0, "finished": 0}
    note = None
    if variant == "socket":
        note = sockets.ensure_descriptors(n)
        pairs = sockets.socketpairs(n, gevent.socket.socketpair)

    def waiter(sock=None):
        state["parked"] += 1
        if state["parked"] == n:
            all_parked.set()
        if sock is None:
            go.wait()
        else:
            sock.recv(1)
        state["finished"] += 1
        if state["finished"] == n:
            all_finished.set()

    start = time.perf_counter()
    if note is None:
        greenlets = [gevent.spawn(waiter) for _ in range(n)]
    else:
        greenlets = [gevent.spawn(waiter, waiter_end) for waiter_end, _ in pairs]
    all_parked.wait()
    spawn_seconds = time.perf_counter() - start

    memory = measure()

    result = {"parked": state["parked"], "spawn_seconds": spawn_seconds, "wake_seconds": None,
              "primitive": PRIMITIVE if note is None else "gevent socket recv on a socketpair",
              "memory": memory}
    if note is not None:
        result["sockets"] = note
    if not wake:  # the caller exits without waking (tail latency needs no wake timing)
        return result

    start = time.perf_counter()
    if note is None:
        go.set()
    else:
        for _, probe_end in pairs:
            probe_end.send(b"w")
    all_finished.wait()
    result["wake_seconds"] = time.perf_counter() - start
    del greenlets
    return result


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
