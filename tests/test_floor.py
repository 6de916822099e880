"""The machine's floor (``probes/served_search.Floor``): the generator's null echo servers
holding the same W idle connections as the server under test. One process holds no more
connections than its descriptors allow (the Go echo server stopped accepting near 20,000
here, and a --full served job at W = 100,000 failed), so the floor spreads them over as
many echo servers as that takes, as a server's processes do."""

import json
import subprocess
import sys
import textwrap

import pytest

from parkbench.measurement.probes import connections, served_search


@pytest.mark.parametrize("n, servers", [(1, 1), (936, 1), (937, 2), (1_936, 2), (1_937, 3)])
def test_one_echo_server_per_process_worth_of_descriptors(monkeypatch, n, servers):
    # 1,000 per process, 64 of them kept for the steps' connections
    monkeypatch.setattr(connections, "per_process_connections", lambda: 1_000)
    assert served_search.echo_processes(n) == servers


def test_the_floor_plan_spreads_every_source_evenly_over_the_echo_servers(monkeypatch):
    monkeypatch.setattr(connections, "per_process_connections", lambda: 1_000)
    monkeypatch.setattr(connections, "_ephemeral_ports", lambda: 1_000)  # a source holds fewer than N
    n = 2_503
    plan = served_search.floor_plan(n, 3)
    assert sum(part for part, _, _ in plan) == n
    per_echo = [sum(part for part, _, echo in plan if echo == j) for j in range(3)]
    assert max(per_echo) - min(per_echo) <= len({source for _, source, _ in plan})
    sources = {source: share for share, source in connections.client_plan(n)}
    assert {source: sum(p for p, s, _ in plan if s == source) for source in sources} == sources


FLOOR = textwrap.dedent("""
    import json, os, resource, sys, time
    resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300))
    from parkbench.measurement.probes import served_search

    def sockets(pid):
        return sum(os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
                   for fd in os.listdir(f"/proc/{pid}/fd"))

    with served_search.Floor(sys.argv[1], int(sys.argv[2]), sorted(os.sched_getaffinity(0)), 30) as floor:
        deadline = time.monotonic() + 20
        held = [sockets(echo.pid) - 1 for echo in floor.echoes]  # less the listener
        while sum(held) < floor.n and time.monotonic() < deadline:  # accepted by now, or never
            time.sleep(0.05)
            held = [sockets(echo.pid) - 1 for echo in floor.echoes]
        print(json.dumps({"held": held, "port": floor.port}))
""")


@pytest.mark.slow
def test_the_floor_holds_more_connections_than_one_process_can(loadgen):
    # 300 descriptors a process: 236 connections for a client, 172 idle ones an echo server
    found = subprocess.run([sys.executable, "-c", FLOOR, str(loadgen), "500"],
                           capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    held = json.loads(found.stdout)["held"]
    assert len(held) == 3 and sum(held) == 500 and max(held) <= 300 - 64
