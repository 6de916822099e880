"""The connections workload: N real TCP connections, each held idle by a model's server.

A connections probe child is the *coordinator*. It opens the listening socket(s) on
127.0.0.1, forks P **server** processes (each runs the model's ``serve``: accepts and
parks every connection in a read, echoing any byte it gets), and starts client children
(``python -m parkbench.conn_client``) that open the N connections and hold them idle.
Servers and clients each run in a process group of their own and die with the
coordinator (``PR_SET_PDEATHSIG``); the coordinator kills every group it started when it
ends, however it ends.

What is measured:

- **memory of the server side**: the views of the coordinator's process tree *without
  the clients* (``memory.tree_views(exclude=...)``); the coordinator's own memory is
  the same at every N and falls into the fitted fixed cost.
- **kernel memory, split**: kernel growth with both ends open is the *pair*. Each
  client connection is one plain socket, and nothing else. The **client's share** is
  N times the slab footprint (``/proc/slabinfo``: pages per slab / objects per slab) of
  a TCP sock and a file, the unreclaimable slabs a socket takes; the server's share
  (the record's ``kernel``, used by ``total`` and capacity) is the pair minus that: its
  own sockets and whatever the model adds per connection (epoll entries, thread
  stacks, worker processes' page tables). Freeing one side to measure the other cannot
  work: client and server socks are allocated alternately into the same slab pages, so
  killing the servers frees almost no page (measured: 6% of the pair). A socket also
  pins a socket inode and a dentry, which the kernel files as *reclaimable* slab and
  the kernel view leaves out: the record gives their footprint per socket. Where
  /proc/slabinfo is not readable, the server is charged with the pair, and the record
  says so.
- **request latency under load**: with the N connections idle, one more connection
  times ``RTT_LOOPS`` one-byte requests and replies (``request_p50`` ... ``_max``).

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
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from parkbench import conn_client, lifeline, limits
from parkbench.probes import LimitReached, parked_result, proof

HOST = "127.0.0.1"
BACKLOG = 4096                 # the kernel caps it at net.core.somaxconn
DESCRIPTOR_MARGIN = 64         # kept free in every server and client for the interpreter
RTT_LOOPS = 2000               # requests timed on one more connection, at every N
POLL_SECONDS = 0.05
STALL_SECONDS = 5.0            # arrivals that do not move this long have stopped
CLIENT_START_SECONDS = 60.0    # the longest the clients may take to connect, per 10k
REUSEPORT_TARGET = 200_000     # the reuseport variant is sized to hold this many (full sweep)
DEFAULT_EPHEMERAL_PORTS = 60999 - 32768 + 1  # net.ipv4.ip_local_port_range's default
REUSEPORT_HEADROOM = 1.15      # the kernel's hash spreads connections unevenly over servers
# wchan of a thread or process asleep in a TCP read (sk_wait_data -> wait_woken)
SOCKET_WAITS = ("wait_woken", "sk_wait_data", "tcp_recvmsg", "inet_recvmsg", "sock_recvmsg")
VARIANTS = ("connections", "protocol", "reuseport")
CONNTRACK_COUNT = Path("/proc/sys/net/netfilter/nf_conntrack_count")


def is_connections(variant: str | None) -> bool:
    """Whether a variant is one of the connections workload's."""
    return variant in VARIANTS


def per_process_connections() -> int:
    """Connections one process can hold: its hard descriptor limit, less a margin."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1] - DESCRIPTOR_MARGIN


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


def raise_descriptors() -> dict:
    """The soft descriptor limit raised to the hard one (and the hard one toward
    ``fs.nr_open`` where this process may): what was done, for the record."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    note = {"nofile_soft": soft, "nofile_hard": hard, "nofile_raised_to": None,
            "nr_open": limits.read_int(Path("/proc/sys/fs/nr_open"))}
    wanted = note["nr_open"] or hard
    if wanted > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            note["nofile_raised_to"] = wanted
            return note
        except (ValueError, OSError):
            pass  # no CAP_SYS_RESOURCE: the hard limit stands
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        note["nofile_raised_to"] = hard
    return note


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


def listeners(count: int) -> list[socket.socket]:
    """``count`` listening sockets on one port of 127.0.0.1 (``SO_REUSEPORT`` when more
    than one), each with ``SO_LINGER`` 0, which accepted sockets inherit: a server that
    dies resets its connections, and their kernel memory is freed at once."""
    made: list[socket.socket] = []
    port = 0
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            made.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if count > 1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((HOST, port))
            port = sock.getsockname()[1]
            sock.listen(BACKLOG)
    except BaseException:
        for sock in made:
            sock.close()
        raise
    return made


# --- the server side: what every model's ``serve`` shares -----------------------------

def server_started() -> None:
    """First steps of a forked server process: its own process group, death with the
    coordinator, the descriptor limit raised."""
    os.setpgid(0, 0)
    lifeline.die_with_parent()
    raise_descriptors()


ARRIVALS, PROOF = b"n", b"?"   # the coordinator's two questions


def answer(control: socket.socket, question: bytes, arrived: int, counts) -> None:
    """Answer the coordinator with one JSON line: to ``ARRIVALS`` the count of
    connections that arrived (cheap: asked while they are being opened), to ``PROOF``
    ``counts()``, which looks at every handler from outside."""
    reply = {"parked": arrived} if question == ARRIVALS else {"parked": arrived, **counts()}
    control.sendall((json.dumps(reply) + "\n").encode())


def serve_blocking(listener: socket.socket, control: socket.socket, on_accept, arrived,
                   counts) -> None:
    """The accept loop of a server without an event loop (threads, subprocess workers):
    one thread selects on the listener and the control socket; ``on_accept(conn)`` parks
    the new connection; ``arrived()`` and ``counts()`` answer the coordinator. An accept or park that
    fails (descriptors, threads, processes) stops accepting and is reported."""
    failure = None
    watched = [listener, control]
    while True:
        ready, _, _ = select.select(watched, [], [])
        if control in ready:
            question = control.recv(1)
            if not question:
                os._exit(0)  # the coordinator is gone
            if failure:
                control.sendall((json.dumps({"parked": arrived(), "error": failure}) + "\n").encode())
            else:
                answer(control, question, arrived(), counts)
        if listener in ready and failure is None:
            try:
                conn, _ = listener.accept()
            except OSError as exc:
                failure = refusal(exc)
                watched = [control]
                continue
            try:
                on_accept(conn)
            except (OSError, RuntimeError) as exc:
                conn.close()
                failure = refusal(exc)
                watched = [control]


def refusal(exc: BaseException) -> str:
    """What a server reports when the machine refused it (the coordinator raises it as
    an ``OSError``): an ``OSError``'s own text, else the exception's type too."""
    return str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"


# --- the coordinator -------------------------------------------------------------------

class _Server:
    def __init__(self, pid: int, control: socket.socket):
        self.pid, self.control = pid, control
        self.buffer = b""

    def ask(self, question: bytes, timeout: float = 30.0) -> dict:
        self.control.sendall(question)
        self.control.settimeout(timeout)
        while b"\n" not in self.buffer:
            chunk = self.control.recv(65536)
            if not chunk:
                raise RuntimeError(f"server process {self.pid} ended")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)


def _fork_server(serve, listener, others) -> _Server:
    parent_end, child_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the server process: never returns
        try:
            parent_end.close()
            for sock in others:
                if sock is not listener:
                    sock.close()
            server_started()
            serve(listener, child_end)
        except BaseException as exc:  # noqa: BLE001 - a server that fails says why and dies
            try:
                child_end.sendall((json.dumps({"error": f"{type(exc).__name__}: {exc}"})
                                   + "\n").encode())
            except OSError:
                pass
        os._exit(1)
    child_end.close()
    return _Server(pid, parent_end)


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


def client_plan(n: int) -> list[tuple[int, str]]:
    """(connections, source address) per client child: each within one process's
    descriptors and one source address's ephemeral ports."""
    cap = min(per_process_connections(), _ephemeral_ports() - DESCRIPTOR_MARGIN)
    count = max(1, math.ceil(n / cap))
    if count > 250:
        raise LimitReached(250 * cap, OSError(errno.EADDRNOTAVAIL, "more client source "
                                              "addresses than 127.0.0.2-251"))
    shares = [n // count + (1 if i < n % count else 0) for i in range(count)]
    return [(share, f"127.0.0.{2 + i}") for i, share in enumerate(shares)]


def _ephemeral_ports() -> int:
    """Ports one client address has (Linux's default range where it cannot be read)."""
    return limits.ephemeral_ports(Path("/")) or DEFAULT_EPHEMERAL_PORTS


def _start_client(port: int, n: int, source: str) -> _Client:
    env = dict(os.environ, PARKBENCH_CLIENT_PARENT=str(os.getpid()))
    process = subprocess.Popen(
        [sys.executable, "-m", "parkbench.conn_client", "--port", str(port), "--n", str(n),
         "--source", source],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, process_group=0)
    return _Client(process, n, source)


def _summed(servers, question: bytes = PROOF) -> dict:
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
        counts = _summed(servers, ARRIVALS)
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


def _stop_servers(servers) -> None:
    for server in servers:
        lifeline.kill_group(server.pid)
    for server in servers:
        try:
            os.waitpid(server.pid, 0)
        except ChildProcessError:
            pass
        server.control.close()
    servers.clear()


# The unreclaimable slabs a plain socket takes (counted by the kernel view, SUnreclaim),
# and the "reclaimable" ones it pins while open (SReclaimable: not in the kernel view).
CLIENT_SOCKET_CACHES = ("TCP", "filp")
PINNED_CACHES = ("sock_inode_cache", "dentry")
SHOWN_CACHES = CLIENT_SOCKET_CACHES + PINNED_CACHES + ("eventpoll_epi", "eventpoll_pwq")


def slabinfo(path: str = "/proc/slabinfo") -> dict | None:
    """{cache: (active objects, bytes one object takes in its slab)}, or ``None`` where
    the file is not readable (root only on most systems)."""
    page = os.sysconf("SC_PAGE_SIZE")
    found = {}
    try:
        with open(path) as handle:
            for line in handle:
                fields = line.split()
                if len(fields) < 6 or not fields[1].isdigit():
                    continue  # the header lines
                name, active, _total, _size, per_slab, pages = fields[:6]
                if int(per_slab) > 0:
                    found[name] = (int(active), int(pages) * page / int(per_slab))
    except (OSError, ValueError):
        return None
    return found or None


def client_share(n: int, before: dict | None, now: dict | None) -> dict:
    """The clients' kernel memory, from slab counts: each client connection is one plain
    socket and nothing else, so its share of the kernel view is N times the slab
    footprint of a TCP sock and a file (the unreclaimable slabs a socket takes). The
    server's share is the rest of the pair's growth: its own sockets and whatever the
    model adds per connection. A socket also pins a socket inode and a dentry, which
    the kernel files under reclaimable slabs (not in the kernel view): recorded per
    socket, for the reader."""
    needed = CLIENT_SOCKET_CACHES + PINNED_CACHES
    if before is None or now is None or any(cache not in now for cache in needed):
        return {"kernel_client": None,
                "kernel_split": "not split: /proc/slabinfo is not readable here; the "
                                "server is charged with the whole pair"}
    per_socket = sum(now[cache][1] for cache in CLIENT_SOCKET_CACHES)
    return {"kernel_client": round(n * per_socket),
            "kernel_client_per_socket": per_socket,
            "pinned_reclaimable_per_socket": sum(now[cache][1] for cache in PINNED_CACHES),
            "kernel_split": "clients' sockets x slab footprint of a TCP sock and a file "
                            "(/proc/slabinfo); the server: the pair minus that",
            "slab_objects_added": {cache: now[cache][0] - before[cache][0]
                                   for cache in SHOWN_CACHES if cache in now and cache in before}}


def park(n: int, variant: str, measure, serve, primitive: str) -> dict:
    """Park ``n`` connections on ``serve`` (the model's server), measure, split kernel
    memory, time requests under load; the ``parked_result`` of a connections probe."""
    processes, why = server_processes(variant)
    note = raise_descriptors()
    servers: list[_Server] = []
    clients: list[_Client] = []
    made = listeners(processes)
    try:
        port = made[0].getsockname()[1]
        for listener in made:
            servers.append(_fork_server(serve, listener, made))
        for listener in made:
            listener.close()
        conntrack_before = limits.read_int(CONNTRACK_COUNT)
        slabs_before = slabinfo()
        start = time.perf_counter()
        clients = [_start_client(port, share, source) for share, source in client_plan(n)]
        _wait_arrived(n, servers, clients, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        spawn_seconds = time.perf_counter() - start
        excluded = [client.process.pid for client in clients]
        views, checked = proof.measured(n, lambda: _summed(servers),
                                        lambda: measure(exclude=excluded))
        slabs_now = slabinfo()
        conntrack_after = limits.read_int(CONNTRACK_COUNT)
        at_measure = sockstat()
        requests = clients[0].rtt(RTT_LOOPS)
        split = client_share(n, slabs_before, slabs_now)
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
        _stop_servers(servers)
        for client in clients:
            lifeline.kill_group(client.process.pid)
            client.process.wait()
    result = parked_result(n, spawn_seconds, primitive, views, checked, note)
    result["connections"] = details
    if details["kernel_client"] is not None:
        result["kernel_client"] = details["kernel_client"]
    result["wake_timed"] = False  # connections are not woken: requests are timed instead
    return result
