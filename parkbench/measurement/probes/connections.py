"""The connections workload: N real TCP connections, each held idle by a model's server.

A connections probe child is the *coordinator* (this module). It opens the listening
socket(s) on 127.0.0.1, forks P **server** processes (each runs the model's ``serve``:
accepts and parks every connection in a read, echoing any byte it gets;
``conn_server.py``), and starts client children (``python -m parkbench.measurement.conn_client``)
that open the N connections and hold them idle. Servers and clients each run in a
process group of their own and die with the coordinator (``PR_SET_PDEATHSIG``); the
coordinator kills every group it started when it ends, however it ends.

What is measured:

- **memory of the server side**: the views of the coordinator's process tree *without
  the clients* (``memory.tree_views(exclude=...)``); the coordinator's own memory is
  the same at every N and falls into the fitted fixed cost.
- **kernel memory, split**: kernel growth with both ends open is the *pair*; the
  clients' share is N times the slab footprint of a plain socket, the server's (the
  record's ``kernel``) the pair minus that (``kernel_split.py`` says how and why).
- **request latency under load**: with the N connections idle, one more connection
  times ``RTT_LOOPS`` one-byte requests and replies (``request_p50`` ... ``_max``).
- **the served rate** (a ``served`` job instead of a memory one): with the N connections
  idle, the load generator drives K more (``served_load.py``); memory is not read.

Proof of parking: every server answers the coordinator's question ``?`` with counts
looked at from outside its handlers (tasks suspended in their read, transports reading,
greenlets alive and not running, threads or worker processes asleep in a socket read in
the kernel); the sums over the servers must all be N right before and after memory is
read (``proof.measured``).

``processes``: 1 for a model's ``connections`` variant (per-connection figures are
slopes within one server process). The ``reuseport`` variant runs P servers sharing one
port with ``SO_REUSEPORT`` (one event loop per process, the way production servers use
every core): P = the larger of the machine's cores and what the descriptor limit asks
for ``REUSEPORT_TARGET`` connections; the record says P and why.
"""

import errno
import json
import math
import os
import resource
import select
import subprocess
import sys
import time
from pathlib import Path

from parkbench.measurement import conn_client, lifeline, limits
from parkbench.measurement.probes import LimitReached, conn_server, kernel_split, parked_result, proof

RTT_LOOPS = 2000               # requests timed on one more connection, at every N
POLL_SECONDS = 0.05
STALL_SECONDS = 5.0            # arrivals that do not move this long have stopped
SETTLE_SECONDS = 10.0          # the longest a served job's active handlers may take to end
CLIENT_START_SECONDS = 60.0    # the longest the clients may take to connect, per 10k
REUSEPORT_TARGET = 200_000     # the reuseport variant is sized to hold this many (full sweep)
DEFAULT_EPHEMERAL_PORTS = 60999 - 32768 + 1  # net.ipv4.ip_local_port_range's default
REUSEPORT_HEADROOM = 1.15      # the kernel's hash spreads connections unevenly over servers
CONNTRACK_COUNT = Path("/proc/sys/net/netfilter/nf_conntrack_count")
PROC_ROOT = Path("/")  # where /proc is read from (a test gives a tree of its own)


def per_process_connections() -> int:
    """Connections one process can hold: its hard descriptor limit, less a margin."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1] - limits.DESCRIPTOR_MARGIN


def server_processes(variant: str) -> tuple[int, str]:
    """(P, why) for a variant."""
    if variant != "reuseport":
        return 1, "one server process: per-connection figures are slopes within it"
    cores = os.cpu_count() or 1
    cap = per_process_connections()
    needed = math.ceil(REUSEPORT_TARGET * REUSEPORT_HEADROOM / cap)
    processes = max(cores, needed)
    why = (f"max({cores} cores, {REUSEPORT_TARGET:,} x {REUSEPORT_HEADROOM} / {cap:,} "
           f"descriptors per process = {needed})")
    return processes, why


def sockstat() -> dict:
    """``sockets: used`` and the TCP line of /proc/net/sockstat, as numbers."""
    found = {}
    try:
        with open("/proc/net/sockstat") as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                if name in ("sockets", "TCP"):
                    fields = rest.split()
                    for key, value in zip(fields[::2], fields[1::2]):
                        found[f"{name.lower()}_{key}"] = int(value)
    except OSError:
        pass
    return found


class _Client:
    def __init__(self, process: subprocess.Popen, n: int, source: str):
        assert process.stdin is not None and process.stdout is not None  # both are pipes
        self.process, self.n, self.source = process, n, source
        self.stdin, self.stdout = process.stdin, process.stdout
        self.line: str | None = None

    def poll_line(self) -> None:
        if self.line is None:
            ready, _, _ = select.select([self.stdout], [], [], 0)
            if ready:
                self.line = self.stdout.readline().strip() or "failed: exited"

    def rtt(self, loops: int) -> dict:
        self.stdin.write(f"rtt {loops}\n")
        self.stdin.flush()
        reply = json.loads(self.stdout.readline())
        if "error" in reply:
            raise RuntimeError(f"timing requests failed: {reply['error']}")
        return reply


class TooManyConnections(Exception):
    """N is more than the loopback clients can open here: refused before anything starts."""


def client_plan(n: int, listening: int = 1) -> list[tuple[int, str]]:
    """(connections, source address) per client child: each within one process's
    descriptors and one source address's ephemeral ports; ``TooManyConnections``
    naming the limit when N does not fit in ``limits.CLIENT_SOURCES`` of them.
    ``listening``: the job's listening sockets bound in the range by then (connect never
    shares their ports); the first is one of the ``PORTS_KEPT_FREE``, each other one
    comes off every address's share."""
    ports, descriptors = _ephemeral_ports(), per_process_connections()
    cap = min(descriptors, limits.ports_per_client(ports - (listening - 1)))
    most = cap * limits.CLIENT_SOURCES
    if n > most:
        if cap < descriptors:
            more = f" and {listening - 1:,} more listening ports" if listening > 1 else ""
            why = (f"the ephemeral port range (net.ipv4.ip_local_port_range, {ports:,} ports, "
                   f"{limits.PORTS_KEPT_FREE} kept free{more}) lets each of {limits.CLIENT_SOURCES} "
                   f"loopback client addresses open {cap:,}; {limits.HOW_TO_RAISE['ephemeral_ports']}")
        else:
            why = (f"each of {limits.CLIENT_SOURCES} client processes holds {cap:,} (its hard "
                   f"descriptor limit less {limits.DESCRIPTOR_MARGIN}); {limits.HOW_TO_RAISE['rlimit_nofile_hard']}")
        raise TooManyConnections(f"{n:,} connections are more than the {most:,} the clients can "
                                 f"open here: {why}")
    count = max(1, math.ceil(n / cap))
    shares = [n // count + (1 if i < n % count else 0) for i in range(count)]
    return [(share, f"127.0.0.{2 + i}") for i, share in enumerate(shares)]


RAISE_RANGE = "sysctl -w net.ipv4.ip_local_port_range='1024 65535'"


def generator_ports(connections: int, listening: int, what: str) -> None:
    """That the load generator's ``connections``, all from 127.0.0.1 to one port, find
    their ports beside the ``listening`` ports the job's listening sockets took from the
    range (connect never shares one); ``TooManyConnections`` naming the range if not."""
    ports = _ephemeral_ports()
    if connections + listening > ports:
        raise TooManyConnections(
            f"{what} needs {connections + listening:,} of the {ports:,} ports of "
            f"net.ipv4.ip_local_port_range: the load generator's {connections:,} connections from "
            f"127.0.0.1 to one port, beside {listening:,} listening port{'s' * (listening != 1)} "
            f"bound in the range; raise it: {RAISE_RANGE}")


def port_range_note(failure: str) -> str:
    """``failure`` (a connect on loopback that failed), with what the port range holds
    where the kernel found no free local port (EADDRNOTAVAIL) in it."""
    if "cannot assign requested address" not in failure:
        return failure
    return (f"{failure}: no local port was free; net.ipv4.ip_local_port_range holds "
            f"{_ephemeral_ports():,} ports; raise it: {RAISE_RANGE}")


def _ephemeral_ports() -> int:
    """Ports one client address has (Linux's default range where it cannot be read):
    ``net.ipv4.ip_local_port_range`` under ``PROC_ROOT``."""
    return limits.ephemeral_ports(PROC_ROOT) or DEFAULT_EPHEMERAL_PORTS


def start_client(port: int, n: int, source: str) -> _Client:
    """A client child holding ``n`` idle connections to ``port`` from ``source``."""
    env = dict(os.environ, PARKBENCH_CLIENT_PARENT=str(os.getpid()))
    process = subprocess.Popen(
        [sys.executable, "-m", "parkbench.measurement.conn_client", "--port", str(port), "--n", str(n),
         "--source", source],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, process_group=0)
    return _Client(process, n, source)


def _summed(servers, question: bytes = conn_server.PROOF) -> dict:
    """The servers' answers added up (a server's failure kept as ``info_error``)."""
    total: dict = {}
    for server in servers:
        for key, value in server.ask(question).items():
            if key == "error":
                total.setdefault("info_error", value)
            elif key == "method":
                total["method"] = value
            else:
                total[key] = total.get(key, 0) + value
    return total


def _descriptors_full(servers, limit: int) -> bool:
    for server in servers:
        try:
            if len(os.listdir(f"/proc/{server.pid}/fd")) >= limit:
                return True
        except OSError:
            continue
    return False


def _wait_arrived(n: int, servers, clients, fd_limit: int) -> None:
    """Until N connections are parked and every client said so; the machine's refusal is ``LimitReached``, a
    client or server that fails is a failure, arrivals that stop are one too."""
    deadline = time.monotonic() + CLIENT_START_SECONDS * max(1.0, n / 10_000)
    last, since = -1, time.monotonic()
    while True:
        counts = _summed(servers, conn_server.ARRIVALS)
        parked = counts.get("parked", 0)
        if "info_error" in counts:
            raise LimitReached(parked, OSError(counts["info_error"]))
        if parked > n:
            raise RuntimeError(f"{parked:,} connections arrived, {n:,} were opened")
        for client in clients:
            client.poll_line()
            if client.line and not client.line.startswith("connected"):
                raise LimitReached(parked, OSError(client.line.removeprefix("failed: ")))
        if parked == n and all(client.line for client in clients):
            return
        now = time.monotonic()
        if parked != last:
            last, since = parked, now
        elif now - since > STALL_SECONDS or now > deadline:
            if _descriptors_full(servers, fd_limit):
                raise LimitReached(parked, OSError(errno.EMFILE, "a server process ran out "
                                                   "of file descriptors"))
            raise proof.NotParked(f"arrivals stopped at {parked:,} of {n:,} connections")
        time.sleep(POLL_SECONDS)



def _settle(n: int, servers) -> None:
    """Until every count of the servers' proof is N again (the load generator's
    connections closed and their handlers ended), or ``SETTLE_SECONDS``; ``parked`` counts
    every connection that ever arrived, so it stays above N."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        counts = _summed(servers)
        if all(value == n for key, value in counts.items()
               if key not in ("method", "info_error", "parked") and not key.startswith("info_")):
            return
        time.sleep(POLL_SECONDS)


def _served_result(n, spawn_seconds, primitive, served, checked, note, processes, why, clients,
                   port) -> dict:
    result = parked_result(n, spawn_seconds, primitive, served, checked, note)
    result["connections"] = {"processes": processes, "processes_why": why, "clients": len(clients),
                             "sources": [client.source for client in clients], "port": port}
    result["wake_timed"] = False
    return result


def park(n: int, variant: str, measure, serve, primitive: str) -> dict:
    """Park ``n`` connections on ``serve`` (the model's server), measure, split kernel
    memory, time requests under load; the ``parked_result`` of a connections probe."""
    processes, why = server_processes(variant)
    note = conn_server.raise_descriptors()
    plan = client_plan(n)  # an N the clients cannot open is refused before anything starts
    servers: list[conn_server.Server] = []
    clients: list[_Client] = []
    made = conn_server.listeners(processes)
    try:
        port = made[0].getsockname()[1]
        for listener in made:
            servers.append(conn_server.fork_server(serve, listener, made))
        for listener in made:
            listener.close()
        conntrack_before = limits.read_int(CONNTRACK_COUNT)
        slabs_before = kernel_split.slabinfo()
        start = time.perf_counter()
        clients = [start_client(port, share, source) for share, source in plan]
        _wait_arrived(n, servers, clients, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        spawn_seconds = time.perf_counter() - start
        excluded = [client.process.pid for client in clients]
        views, checked = proof.measured(n, lambda: _summed(servers), lambda: measure(
            exclude=excluded, port=port, servers=[server.pid for server in servers],
            settle=lambda: _settle(n, servers), waiters=n))
        if "served" in views:  # a served job: requests answered under load, no memory
            return _served_result(n, spawn_seconds, primitive, views["served"], checked, note,
                                  processes, why, clients, port)
        slabs_now = kernel_split.slabinfo()
        conntrack_after = limits.read_int(CONNTRACK_COUNT)
        at_measure = sockstat()
        requests = clients[0].rtt(RTT_LOOPS)
        split = kernel_split.client_share(n, slabs_before, slabs_now)
        pair = views["kernel"]
        if split["kernel_client"] is not None:
            views["kernel"] = pair - split["kernel_client"]
        details = {
            "processes": processes, "processes_why": why, "clients": len(clients),
            "sources": [client.source for client in clients], "port": port,
            "arrivals": f"each client: {conn_client.BATCH} connections, then "
                        f"{conn_client.PAUSE_SECONDS * 1e3:g} ms",
            "kernel_pair": pair, **split, "sockstat_at_measure": at_measure,
            "conntrack_added": (None if conntrack_before is None or conntrack_after is None
                                else conntrack_after - conntrack_before),
            **requests, "request_loops": RTT_LOOPS,
        }
    finally:
        conn_server.stop_servers(servers)
        for client in clients:
            lifeline.kill_group(client.process.pid)
            client.process.wait()
    result = parked_result(n, spawn_seconds, primitive, views, checked, note)
    result["connections"] = details
    if details["kernel_client"] is not None:
        result["kernel_client"] = details["kernel_client"]
    result["wake_timed"] = False  # connections are not woken: requests are timed instead
    return result
