"""The server side of the connections workload (``connections.py``): the server
processes a connections probe forks, and what every model's ``serve`` shares.

Held here: the listening sockets on 127.0.0.1 (``listeners``); a server process forked
with one of them and a control socket (``fork_server``: ``server_started``, then the
model's ``serve``), the coordinator's handle on it (``Server.ask``) and its end
(``stop_servers``); inside a server, the answer to the coordinator's two questions
(``ARRIVALS``, ``PROOF``: ``answer``), the accept loop of a server without an event loop
(``serve_blocking``), what a server reports when the machine refuses it (``refusal``),
and the kernel waits of a thread or process asleep in a socket read (``SOCKET_WAITS``,
for the proof). ``raise_descriptors`` serves the coordinator too.
"""

import json
import os
import resource
import select
import socket
import struct
from pathlib import Path

from parkbench.measurement import lifeline, limits

HOST = "127.0.0.1"
BACKLOG = 4096                 # the kernel caps it at net.core.somaxconn
# wchan of a thread or process asleep in a TCP read (sk_wait_data -> wait_woken)
SOCKET_WAITS = ("wait_woken", "sk_wait_data", "tcp_recvmsg", "inet_recvmsg", "sock_recvmsg")
ARRIVALS, PROOF = b"n", b"?"   # the coordinator's two questions


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


# --- inside a server process: what every model's ``serve`` shares ----------------------

def server_started() -> None:
    """First steps of a forked server process: its own process group, death with the
    coordinator, the descriptor limit raised."""
    os.setpgid(0, 0)
    lifeline.die_with_parent()
    raise_descriptors()


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


# --- the coordinator's side of its servers ---------------------------------------------

class Server:
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


def fork_server(serve, listener, others) -> Server:
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
    return Server(pid, parent_end)


def stop_servers(servers) -> None:
    for server in servers:
        lifeline.kill_group(server.pid)
    for server in servers:
        try:
            os.waitpid(server.pid, 0)
        except ChildProcessError:
            pass
        server.control.close()
    servers.clear()

