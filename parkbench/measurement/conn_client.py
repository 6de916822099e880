"""The client child of the connections workload: opens N idle TCP connections to a
server and holds them, apart from the measured server's process tree.

Run by a connections probe (``probes/connections.py``) as ``python -m
parkbench.measurement.conn_client --port P --n N --source 127.0.0.K``. It binds every connection to
its own loopback source address (``IP_BIND_ADDRESS_NO_PORT``: the kernel picks the port
per destination at connect time), so one client never needs more than one address's
ephemeral ports, opens them as a stream (``BATCH`` connections, then a pause of
``PAUSE_SECONDS``), and raises its soft descriptor limit to the hard one. It writes one
line to stdout when all N are connected (``connected N``), or ``failed: reason``, then
reads commands from stdin:

- ``rtt LOOPS``: open one more connection and time ``LOOPS`` one-byte requests and
  their replies, one by one (``handoff.time_round_trips``); answer one JSON line with the
  round trips' percentiles (``request_p50``, ``request_p99``, ``request_p999``,
  ``request_max``, seconds, and ``samples``).
- end of input: close everything and exit.

Nothing is sent on the N idle connections: they stay parked in the server's reads. The
client dies with its parent (``lifeline``); it imports nothing heavy.
"""

import argparse
import json
import os
import resource
import socket
import sys
import time

from parkbench.measurement import lifeline
from parkbench.measurement.handoff import request_percentiles, time_round_trips

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
# Arrivals come as a stream, not one burst: at most BATCH connections, then a pause. A
# server that accepts thousands at once (asyncio accepts up to its backlog per wake-up)
# keeps the burst's transient allocations: measured here, an asyncio Protocol server at
# 10,000 connections held 39.3 MiB PSS after a burst and 30.9 MiB after paced arrivals.
BATCH = 64
PAUSE_SECONDS = 0.002
CONNECT_TIMEOUT_SECONDS = 30.0
HOST = "127.0.0.1"


def raise_descriptors() -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return {"nofile_soft": soft, "nofile_hard": hard}


def connect(port: int, source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.settimeout(CONNECT_TIMEOUT_SECONDS)
        sock.connect((HOST, port))
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock


def time_requests(port: int, source: str, loops: int) -> dict:
    sock = connect(port, source)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples: list[int] = []

    def request() -> None:
        sock.sendall(b"x")
        if sock.recv(1) != b"x":
            raise ConnectionError("the server did not echo the request byte")

    try:
        time_round_trips(request, loops, samples)
    finally:
        sock.close()
    return request_percentiles(samples)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parkbench.measurement.conn_client")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--source", default=HOST)
    args = parser.parse_args(argv)
    lifeline.die_with_parent(os.environ.get("PARKBENCH_CLIENT_PARENT"))
    raise_descriptors()
    held = []
    try:
        for count in range(1, args.n + 1):
            held.append(connect(args.port, args.source))
            if count % BATCH == 0:
                time.sleep(PAUSE_SECONDS)
    except OSError as exc:
        print(f"failed: {type(exc).__name__}: {exc} after {len(held):,} of {args.n:,} "
              f"connections", flush=True)
        return 1
    print(f"connected {len(held)}", flush=True)
    for line in sys.stdin:
        command, _, value = line.strip().partition(" ")
        if command == "rtt":
            try:
                answer = time_requests(args.port, args.source, int(value))
            except OSError as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
