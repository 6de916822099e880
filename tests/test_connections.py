"""The connections workload: N real TCP connections held idle by a model's server, a
client apart, the kernel split between them, requests timed under load, nothing left
behind."""

import os
import time
import uuid

import psutil
import pytest

from parkbench.analysis import slopes, tidy
from parkbench.core import registry
from parkbench.core.protocol import Job
from parkbench.measurement import limits, suite
from parkbench.measurement.probes import connections, kernel_split
from parkbench.measurement.runner import Failure, run_child
from parkbench.presentation import summary
from tests import synthetic
from tests.builders import held_record

# A /proc/slabinfo whose caches all have different footprints (pages * 4096 / objects
# per slab): a client share computed from the wrong caches gives another number.
SLABINFO = """slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables
TCP                 1052   1104   2368   13    8 : tunables    0    0    0 : slabdata
filp                2672   2840    192   21    1 : tunables    0    0    0 : slabdata
sock_inode_cache    2148   2266    832   19    4 : tunables    0    0    0 : slabdata
dentry            444591 446145    192   20    1 : tunables    0    0    0 : slabdata
eventpoll_epi       1280   1384    128   32    1 : tunables    0    0    0 : slabdata
"""


def _slabs(tmp_path, text=SLABINFO):
    path = tmp_path / "slabinfo"
    path.write_text(text)
    return kernel_split.slabinfo(str(path))


def test_the_clients_kernel_share_is_their_sockets_tcp_sock_and_file(tmp_path):
    now = _slabs(tmp_path)
    before = {name: (active - 1000, size) for name, (active, size) in now.items()}
    page = os.sysconf("SC_PAGE_SIZE")
    tcp, filp = 8 * page / 13, page / 21
    split = kernel_split.client_share(1000, before, now)
    assert split["kernel_client"] == round(1000 * (tcp + filp))
    assert split["kernel_client_per_socket"] == pytest.approx(tcp + filp)
    assert split["pinned_reclaimable_per_socket"] == pytest.approx(4 * page / 19 + page / 20)
    assert split["slab_objects_added"]["TCP"] == 1000


def test_without_slabinfo_the_server_carries_the_pair_and_the_record_says_so(tmp_path):
    assert kernel_split.slabinfo(str(tmp_path / "missing")) is None
    split = kernel_split.client_share(1000, None, None)
    assert split["kernel_client"] is None and "not split" in split["kernel_split"]


def test_clients_split_n_within_descriptors_and_ports(monkeypatch):
    monkeypatch.setattr(connections, "per_process_connections", lambda: 19_936)
    monkeypatch.setattr(connections, "_ephemeral_ports", lambda: 60999 - 32768 + 1)
    plan = connections.client_plan(200_001)
    assert sum(share for share, _ in plan) == 200_001
    assert len(plan) == 11 and max(share for share, _ in plan) <= 19_936
    assert len({source for _, source in plan}) == 11
    assert connections.client_plan(10) == [(10, "127.0.0.2")]
    monkeypatch.setattr(connections, "_ephemeral_ports", lambda: 1000)  # ports bind first
    assert max(share for share, _ in connections.client_plan(5_000)) <= 1000 - limits.PORTS_KEPT_FREE


def _port_range(tmp_path, monkeypatch, text):
    """This machine's port range as ``text`` (no root needed): a /proc tree of the test's own."""
    path = tmp_path / "proc/sys/net/ipv4/ip_local_port_range"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    monkeypatch.setattr(connections, "PROC_ROOT", tmp_path)
    monkeypatch.setattr(connections, "per_process_connections", lambda: 1_048_576 - 64)


def test_sixty_four_ephemeral_ports_still_make_a_plan(tmp_path, monkeypatch):
    """issue 28.11: 64 ports left 0 per client after a 64-port margin: ZeroDivisionError."""
    _port_range(tmp_path, monkeypatch, "32768 32831\n")
    plan = connections.client_plan(1_000)
    assert sum(share for share, _ in plan) == 1_000
    assert max(share for share, _ in plan) <= 64 - limits.PORTS_KEPT_FREE
    with pytest.raises(connections.TooManyConnections, match="ip_local_port_range, 64 ports"):
        connections.client_plan(56 * limits.CLIENT_SOURCES + 1)


def test_an_n_the_port_range_cannot_hold_is_refused_naming_it_before_anything_starts(tmp_path, monkeypatch):
    """issue 28.11: with 101 ports and N=30,000 the probe reported "reached 9,250 waiters
    before the OS refused one more" (its own client cap; nothing had connected) and the
    binding limit ``unidentified``. Now: refused before a server starts, naming the port
    range, and the ``ephemeral_ports`` bound of the limits is that same ceiling."""
    _port_range(tmp_path, monkeypatch, "32768\t32868\n")

    def no_server(count):
        raise AssertionError("a server started for an N the clients cannot open")

    monkeypatch.setattr(connections.conn_server, "listeners", no_server)
    with pytest.raises(connections.TooManyConnections) as refused:
        connections.park(30_000, "protocol", measure=None, serve=None, primitive="echo")
    assert str(refused.value).startswith("30,000 connections are more than the 23,250 the clients can open")
    assert "net.ipv4.ip_local_port_range, 101 ports" in str(refused.value)
    assert "sysctl -w net.ipv4.ip_local_port_range" in str(refused.value)
    bound = {b.limit: b for b in limits.bounds("asyncio", "protocol", {"ephemeral_ports": 101})}
    assert bound["ephemeral_ports"].waiters == 23_250
    assert sum(share for share, _ in connections.client_plan(23_250)) == 23_250


def test_reuseport_sizes_p_for_its_target_and_says_why(monkeypatch):
    monkeypatch.setattr(connections, "per_process_connections", lambda: 19_936)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    processes, why = connections.server_processes("reuseport")
    assert processes == 12  # ceil(200,000 x 1.15 / 19,936)
    assert "19,936" in why and "2 cores" in why
    monkeypatch.setattr(connections, "per_process_connections", lambda: 10**6)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert connections.server_processes("reuseport")[0] == 16  # one loop per core at least
    assert connections.server_processes("connections")[0] == 1


def test_capacity_of_one_server_process_is_its_descriptors_and_p_processes_escape_it():
    limits_ = dict(synthetic.LIMITS, ephemeral_ports=28232, nf_conntrack_max=262144,
                   nf_conntrack_count=0)
    bound = limits.capacity("asyncio", "connections", limits_, total_per_waiter=9000)
    assert (bound.limit, bound.waiters) == ("rlimit_nofile_hard", 20000 - 64)
    bound = limits.capacity("asyncio", "reuseport", limits_, total_per_waiter=9000)
    assert bound.limit == "memory"  # no per-process descriptor bound; conntrack not tracking
    tracking = dict(limits_, nf_conntrack_count=100)
    bound = limits.capacity("asyncio", "reuseport", tracking, total_per_waiter=9000)
    assert (bound.limit, bound.waiters) == ("nf_conntrack_max", 262144 - 100)
    bound = limits.capacity("subprocess", "connections", limits_, total_per_waiter=10**6)
    assert bound.limit != "rlimit_nofile_hard"  # each worker holds its own descriptor
    assert bound.how_to_raise


UNEVEN = [(100, 11e-6, 20e-6), (700, 13e-6, 30e-6), (10_000, 40e-6, 900e-6)]


def test_the_clients_share_is_fitted_apart_from_the_servers_kernel():
    records = [held_record(n, 2700.0, p50, p99) for n, p50, p99 in UNEVEN]
    figures = {f["metric"]: f["value"] for f in slopes.derive_memory(records)}
    assert figures["kernel_client_per_waiter"] == pytest.approx(2700.0)
    assert figures["kernel_per_waiter"] == pytest.approx(40.0)  # the server's, not the pair
    assert figures["total_per_waiter"] == pytest.approx(1240.0)


def test_summary_shows_requests_at_the_smallest_and_largest_n(tmp_path):
    records = [held_record(n, 2700.0, p50, p99) for n, p50, p99 in UNEVEN]
    synthetic.write_run(tmp_path, "m", "20261126T100000", records)
    frame = tidy.load(tmp_path)
    assert set(frame[frame.metric == "request_p99"].n) == {100, 700, 10_000}
    rows = summary.connections_table(frame).to_dict("records")
    assert len(rows) == 1
    row = rows[0]
    assert (row["n_low"], row["n_high"]) == (100, 10_000)
    assert row["p50_low"] == pytest.approx(11e-6) and row["p99_high"] == pytest.approx(900e-6)
    assert row["p99_low"] == pytest.approx(20e-6) and row["p50_high"] == pytest.approx(40e-6)
    assert row["kernel_client_per_waiter"] == pytest.approx(2700.0)
    text = "\n".join(summary._connection_lines(summary.connections_table(frame)))
    assert "2.64 KiB" in text and "900 µs at 10,000" in text


def test_connections_time_their_own_requests_not_tail_jobs():
    selection = [("asyncio", "connections"), ("threads", "connections")]
    jobs, _ = suite.jobs(selection, suite.grids_for(selection), latency=True)
    assert not [job for job in jobs if job.kind == "tail"]
    assert {job.model for job in jobs if job.kind == "switch"} == {"asyncio", "threads"}
    assert suite.grids_for([("threads", "connections")])["threads:connections"] == (30, 300, 3_000)


# --- real servers and clients ----------------------------------------------------------

MARK = "PARKBENCH_TEST_MARK"


def _marked() -> dict:
    """An environment that this test's probe child and everything it starts inherit: the
    processes to look for afterwards are only those that carry it (another sweep running
    beside the tests is none of this test's business)."""
    return {MARK: uuid.uuid4().hex}


def _leftovers(env: dict, port=None) -> list:
    """Processes started under ``env`` (the probe child, its servers and clients) still
    alive, and sockets still on ``port``."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == env[MARK] and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue  # gone meanwhile, or not ours to read
    if port is not None:
        found += [c for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port
                  or c.raddr and c.raddr.port == port]
    return found


def _gone(env: dict, port=None) -> list:
    """Wait (up to 5 s: PR_SET_PDEATHSIG and the kernel's reaping are asynchronous) for
    leftovers to go; what is still there."""
    deadline = time.monotonic() + 5
    while (left := _leftovers(env, port)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.slow
@pytest.mark.parametrize("model, variant, n", [
    ("asyncio", "connections", 37), ("uvloop", "protocol", 37), ("gevent", "connections", 37),
    ("threads", "connections", 37), ("subprocess", "connections", 7),
    ("asyncio", "reuseport", 37), ("go", "connections", 37)])
def test_a_server_holds_n_connections_proved_and_measured_without_its_clients(model, variant, n):
    if model == "go" and suite.unavailable(registry.get("go")):
        pytest.skip(suite.unavailable(registry.get("go")))
    env = _marked()
    record = run_child(Job("memory", model, variant, n), timeout=60, env=env)
    assert not isinstance(record, Failure), record
    assert record["parked"] == n
    proof = record["proof"]
    assert proof["blocked_before"] == proof["blocked_after"] == n
    assert set(proof["before"].values()) == {n} and len(proof["before"]) >= 3
    held = record["connections"]
    servers = held["processes"]
    workers = n if model == "subprocess" else 0
    assert record["memory"]["processes"] == 1 + servers + workers  # no client counted
    assert held["clients"] == 1 and held["sources"] == ["127.0.0.2"]
    if held["kernel_client"] is not None:
        assert record["kernel_client"] == held["kernel_client"]
        assert record["memory"]["kernel"] == held["kernel_pair"] - held["kernel_client"]
    assert 0 < held["request_p50"] <= held["request_p99"] <= held["request_max"]
    assert held["samples"] == connections.RTT_LOOPS
    assert record["wake_seconds"] is None and record["wake_timed"] is False
    assert not _gone(env, held["port"])


@pytest.mark.slow
def test_a_server_out_of_descriptors_is_a_limit_with_how_far_it_got():
    env = {**_marked(), "PARKBENCH_CHILD_RLIMITS": "nofile=160"}
    record = run_child(Job("memory", "threads", "connections", 300), timeout=60, env=env)
    assert isinstance(record, Failure) and record.kind == "limit", record
    assert 90 < record.reached < 160
    assert "Too many open files" in record.reason and "OSError: OSError" not in record.reason
    assert not _gone(env)


@pytest.mark.slow
def test_a_timed_out_connections_probe_leaves_no_server_client_or_socket():
    env = _marked()
    outcome = run_child(Job("memory", "asyncio", "reuseport", 30_000), timeout=1.0, env=env)
    assert isinstance(outcome, Failure) and outcome.kind == "timeout", outcome
    assert not _gone(env)


def test_a_handler_that_ended_or_does_not_wait_on_a_read_is_not_counted_parked():
    import asyncio

    from parkbench.measurement.probes import asyncio_tasks

    async def scene():
        loop = asyncio.get_running_loop()
        held = asyncio_tasks._Held()
        read = loop.create_future()
        waiting = loop.create_task(asyncio.wait_for(read, None))  # suspended on a pending future
        ended = loop.create_task(asyncio.sleep(0))
        await asyncio.sleep(0.01)
        held.tasks.update({waiting, ended})
        held.arrived = 2
        counts = asyncio_tasks._server_counts(held, "connections")
        read.set_result(None)
        await waiting
        return counts

    counts = asyncio.run(scene())
    assert counts["tasks_not_done"] == 1 and counts["tasks_reading"] == 1


def test_the_reuseport_server_counts_every_core_one_loop_counts_one():

    assert registry.serves_every_core("asyncio", "reuseport")
    assert not registry.serves_every_core("asyncio", "connections")
    assert registry.serves_every_core("subprocess", "connections")


def test_a_connection_is_set_against_a_goroutines_connection_a_waiter_against_a_goroutine():
    import pandas as pd

    wide = pd.DataFrame([
        {"machine": "m", "interpreter": "i", "model": model, "variant": variant, "total_per_waiter": total}
        for model, variant, total in (("go", "chan", 2700.0), ("go", "connections", 7000.0),
                                      ("asyncio", "event", 1150.0), ("asyncio", "connections", 8750.0))])
    ratios = {row["variant"] + "/" + row["model"]: row["vs_reference"]
              for _, row in summary.with_reference_ratio(wide, "total_per_waiter").iterrows()}
    assert ratios["connections/asyncio"] == pytest.approx(1.25)
    assert ratios["event/asyncio"] == pytest.approx(1150 / 2700)
    assert ratios["connections/go"] == pytest.approx(1.0)


def test_the_client_opens_its_connections_as_a_stream_not_one_burst(monkeypatch, capsys):
    from parkbench.measurement import conn_client

    opened, pauses = [], []
    monkeypatch.setattr(conn_client, "connect", lambda port, source: opened.append(port) or object())
    monkeypatch.setattr(conn_client.time, "sleep", lambda seconds: pauses.append((len(opened), seconds)))
    monkeypatch.setattr(conn_client.lifeline, "die_with_parent", lambda parent=None: None)
    monkeypatch.setattr("sys.stdin", iter(()))
    assert conn_client.main(["--port", "9", "--n", str(2 * conn_client.BATCH + 5)]) == 0
    assert len(opened) == 2 * conn_client.BATCH + 5
    assert pauses == [(conn_client.BATCH, conn_client.PAUSE_SECONDS),
                      (2 * conn_client.BATCH, conn_client.PAUSE_SECONDS)]
    assert capsys.readouterr().out == f"connected {2 * conn_client.BATCH + 5}\n"


def test_a_server_out_of_descriptors_names_the_hard_limit_it_met():
    from parkbench.analysis import capacity

    failure = {"kind": "memory", "failure": "limit", "model": "threads",
               "variant": "connections", "reached": 19_994,
               "reason": "OSError: [Errno 24] Too many open files"}
    limits_ = dict(synthetic.LIMITS, ephemeral_ports=28232)
    figure, = capacity.derive_limits_reached([failure], [], limits_)
    assert (figure["limit"], figure["value"]) == ("rlimit_nofile_hard", 19_994)
    far = dict(failure, reached=12_000)  # other descriptors were open: still the one it names
    assert capacity.derive_limits_reached([far], [], limits_)[0]["limit"] == "rlimit_nofile_hard"
    socket = dict(failure, variant="socket", reached=9_990)
    assert capacity.derive_limits_reached([socket], [], limits_)[0]["limit"] == "rlimit_nofile"


def _served(n, tmp_path, monkeypatch, ports):
    """A served job's child (in this process) at W = ``n`` with a port range of ``ports``
    ports: its one-line refusal, or ``None`` where the pre-check let it start (a server
    starting raises here: nothing runs)."""
    import json

    from parkbench.measurement import gotoolchain, probe_child

    _port_range(tmp_path / str(ports), monkeypatch, f"40000 {40000 + ports - 1}\n")

    def started(count):
        raise AssertionError("started")

    monkeypatch.setattr(connections.conn_server, "listeners", started)
    monkeypatch.setattr(gotoolchain, "binary", lambda program: program)  # no build: nothing runs it
    settings = {**suite.served_settings(False), "slo_seconds": 0.005}
    try:
        probe_child.run("asyncio", "connections", n, served=json.dumps(settings))
    except connections.TooManyConnections as refused:
        return str(refused)
    except AssertionError as exc:
        assert str(exc) == "started"
        return None
    raise AssertionError("neither refused nor started")


def test_a_served_job_the_port_range_cannot_hold_is_refused_naming_it_before_it_starts(tmp_path, monkeypatch):
    """issue 37.11: with a narrow range the pre-check passed a served job (it counted
    the W idle clients alone) and the generator then failed as "could not connect 5 of
    16 connections". Every pair's need counts now: the generator's 16 connections from
    127.0.0.1 to one port, beside the listening ports the job binds in the range (the
    server's and the floor's echo server): 18 ports."""
    said = _served(100, tmp_path, monkeypatch, 17)
    assert said == ("a served job at W=100 needs 18 of the 17 ports of net.ipv4.ip_local_port_range: the load "
                    "generator's 16 connections from 127.0.0.1 to one port, beside 2 listening ports bound in "
                    "the range; raise it: sysctl -w net.ipv4.ip_local_port_range='1024 65535'")
    assert _served(100, tmp_path, monkeypatch, 18) is None  # exactly enough: it starts


def test_the_floor_s_idle_connections_count_the_listening_ports_beside_them(tmp_path, monkeypatch):
    """The floor's W connect while the server's port and the floor's are bound: one port
    fewer for each source address than the server's W had. 100 ports: the server's W fit
    up to 250 x 92 = 23,000, the floor's up to 250 x 91 = 22,750."""
    from parkbench.measurement.probes import served_search

    _port_range(tmp_path, monkeypatch, "40000 40099\n")
    assert sum(share for share, _ in connections.client_plan(22_800)) == 22_800
    with pytest.raises(connections.TooManyConnections) as refused:
        served_search.ports_fit(22_800, {"connections": 16})
    assert str(refused.value).startswith("22,800 connections are more than the 22,750 the clients can open")
    assert "net.ipv4.ip_local_port_range, 100 ports, 8 kept free and 1 more listening ports" in str(refused.value)
    served_search.ports_fit(22_750, {"connections": 16})


def test_the_generator_s_ceiling_is_refused_before_its_echo_server_starts(tmp_path, monkeypatch):
    from parkbench.measurement.probes import served_load

    _port_range(tmp_path, monkeypatch, "40000 40015\n")
    def nothing_may_start(cpus):
        raise AssertionError("the ceiling went on")

    monkeypatch.setattr(served_load, "placement", nothing_may_start)
    with pytest.raises(connections.TooManyConnections, match=r"^the generator's ceiling needs 17 of the 16 ports "
                       r"of net.ipv4.ip_local_port_range: the load generator's 16 connections from 127.0.0.1 "
                       r"to one port, beside 1 listening port bound"):
        served_load.ceiling("loadgen", {**suite.served_settings(False)})


@pytest.mark.parametrize("said, names_the_range", [
    ("loadgen: could not connect 5 of 16 connections to 127.0.0.1:40001 (last: dial tcp "
     "127.0.0.1:40001: connect: cannot assign requested address)", True),
    ("loadgen: could not connect 16 of 16 connections to 127.0.0.1:40001 (last: dial tcp "
     "127.0.0.1:40001: connect: connection refused)", False),
])
def test_a_generator_that_found_no_free_port_names_the_range(tmp_path, monkeypatch, said, names_the_range):
    """At run time (a range narrowed after the pre-check, ports held by others), the
    failure names the range where the kernel found no free local port, and only there."""
    from parkbench.measurement.probes import loadgen_driver

    _port_range(tmp_path, monkeypatch, "40000 40011\n")
    fake = tmp_path / "loadgen"
    fake.write_text(f"#!/bin/sh\necho '{said}' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(RuntimeError) as failed:
        loadgen_driver.run_generator(fake, 40001, [], [0], 10.0)
    assert str(failed.value).startswith(f"the load generator failed: {said}")
    note = ": no local port was free; net.ipv4.ip_local_port_range holds 12 ports; raise it: sysctl -w"
    assert (note in str(failed.value)) == names_the_range
