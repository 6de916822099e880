"""Go's goroutines, the reference model: a Go program parks them, this probe child
reads the memory of its process tree from outside with the same code as for the
Python models.

The program is ``benchmarks/goprobe`` (built by ``gotoolchain``). Variants:

- ``chan``: each goroutine receives on one shared unbuffered channel; waking closes it.
- ``cond``: each waits on one ``sync.Cond``; waking broadcasts.
- ``sleep``: each is in ``time.Sleep`` for 1,000 hours; a timer wakes it and nothing
  else can, so wake is not timed (the child exits).
- ``connections``: the connections workload (``connections.py``): the program serves
  N TCP connections, a goroutine per ``net.Conn`` parked in ``Read``; proof: goroutines
  alive, and stacked in ``Read`` (``internal/poll.runtime_pollWait``) under the handler.

Proof of parking: the program counts, when asked, the goroutines alive beyond its
baseline and those whose stack in the goroutine profile (taken with the world stopped)
has ``runtime.gopark`` on top, the blocking call below it and the waiter function
below that; both must be N, right before and right after memory is read
(``proof.py``). The scheduler's count of waiting goroutines is recorded as
``info_scheduler_waiting`` (documented as approximate, so not a check). After each
proof the program collects garbage and returns free memory to the OS
(``debug.FreeOSMemory``), so the profile's own allocations are not measured.

Memory is the tree of this probe child and the Go process: the child's own interpreter
is a constant in the intercept, not in the per-goroutine slope.

Hand-off (``pingpong``): two goroutines over two unbuffered channels, timed inside the
Go program (the pipe to it is not in the timing). same-core: ``GOMAXPROCS=1`` with the
process pinned to one CPU; cross-core: each goroutine locked to an OS thread pinned to
its own CPU.
"""

import functools
import json
import os
import subprocess

from parkbench.core import registry
from parkbench.measurement import gotoolchain, placement
from parkbench.measurement.probes import connections, parked_result, proof

PRIMITIVES = {"chan": "receive on one unbuffered channel", "cond": "sync.Cond.Wait",
              "sleep": "time.Sleep"}
HANDOFF_PRIMITIVES = ("chan",)

_parked: "_Program | None" = None      # the program whose goroutines are parked now
_servers: dict = {}                     # hand-off programs by placement, kept per process


class _Program:
    """A running goprobe: one command line in, one JSON line out."""

    def __init__(self, *arguments: str):
        self.process = subprocess.Popen([str(gotoolchain.binary()), *arguments],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, bufsize=1)

    def read(self) -> dict:
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            self.process.wait()
            reason = (self.process.stderr.read().strip().splitlines() or ["no output"])[-1]  # type: ignore[union-attr]
            raise RuntimeError(f"the Go program ended (status {self.process.returncode}): {reason}")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.process.stdin.write(command + "\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        return self.read()

    def close(self) -> None:
        try:
            self.process.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        self.process.wait()


def park(n: int, variant: str, measure, wake: bool = True) -> dict:
    if registry.is_connections(variant):
        serve = functools.partial(serve_connections, str(gotoolchain.binary()))
        return connections.park(n, variant, measure, serve, CONNECTION_PRIMITIVE)
    global _parked
    program = _Program("park", "-variant", variant, "-n", str(n))
    _parked = program
    try:
        parked = program.read()

        def prove() -> dict:
            return program.ask("prove")

        memory, checked = proof.measured(n, prove, measure)
        result = parked_result(parked["parked"], parked["spawn_seconds"], PRIMITIVES[variant],
                               memory, checked)
        result["runtime"] = {"go_version": parked["go_version"], "gomaxprocs": parked["gomaxprocs"]}
        if variant == "sleep":
            result["wake_timed"] = False  # a timer wakes them, nothing else
        elif wake:
            result["wake_seconds"] = program.ask("wake")["wake_seconds"]
        return result
    finally:
        _parked = None
        program.close()


CONNECTION_PRIMITIVE = "a goroutine per net.Conn, parked in Read"


def serve_connections(binary: str, listener, control) -> None:
    """A connections server process (``conn_server.py``): becomes the Go program's
    ``serve`` on the inherited listening and control sockets (the process group and
    PR_SET_PDEATHSIG survive the exec)."""
    for sock in (listener, control):
        os.set_inheritable(sock.fileno(), True)
    os.execv(binary, [binary, "serve", "-listen-fd", str(listener.fileno()),
                      "-control-fd", str(control.fileno())])


def pingpong_here(primitive: str, loops: int, samples=None) -> float:
    """``loops`` round trips between two fresh goroutines of the parked program, each
    timed on its own; ``samples`` gets the round trips in nanoseconds."""
    if _parked is None:
        raise RuntimeError("no Go program is parked")
    round_trips = _parked.ask(f"tail {loops}")["round_trip_ns"]
    if samples is not None:
        samples.extend(round_trips)
    return sum(round_trips) / 1e9


def pingpong(primitive: str, loops: int, cpus=None, samples=None, observed=None) -> float:
    """Seconds for ``loops`` round trips between two goroutines placed as ``cpus`` says
    (one CPU: same-core; two: cross-core). The program starts on the first call and
    serves the later ones (pyperf calls this once per value). The Go program times the
    block as a whole: ``samples`` is not filled (``pingpong_here`` times one by one)."""
    if cpus is None:
        cpus = tuple(placement.usable_cpus()[:2]) * 2
    where = "same-core" if cpus[0] == cpus[1] else "cross-core"
    key = (where, tuple(cpus))
    if key not in _servers:
        # the program inherits this thread's CPUs: one for same-core, both for cross-core
        placement.pin(set(cpus))
        server = _Program("pingpong", "-placement", where, "-cpus", f"{cpus[0]},{cpus[1]}")
        _servers[key] = (server, server.read())
    server, hello = _servers[key]
    if observed is not None:
        observed.update(a=hello["cpus_a"], b=hello["cpus_b"], go_version=hello["go_version"],
                        gomaxprocs=hello["gomaxprocs"])
    return server.ask(str(loops))["ns"] / 1e9

