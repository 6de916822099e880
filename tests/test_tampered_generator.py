"""A tampered or broken load generator gives no figure (issue 37, item 10): its output is
cross-checked against what parkbench knows, when measured (the address it was pointed
at, the time it ran) and when read (the server it names, its intervals against its
count and length, replies against the CPU time of the generator and of the server).
The issue's case: ``closed.address 127.0.0.1:1`` and a billion requests at 0 server CPU,
stored and shown as 999,999,999/s."""

import json
import sys

import pytest

from parkbench.measurement.probes import loadgen_driver
from parkbench.store import loadgen_output
from tests import synthetic
from tests.builders import closed_run, served_record, step_record
from tests.damage import refused_after


def _fake_generator(tmp_path, output: dict, sleep: float = 0.0):
    """A 'generator' that ignores its arguments, waits ``sleep`` s and prints ``output``."""
    script = tmp_path / "loadgen"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep({sleep})\nprint({json.dumps(output)!r})\n")
    script.chmod(0o755)
    return script


def test_a_generator_that_names_another_server_gives_no_figure(tmp_path):
    tampered = {**closed_run(50_000), "address": "127.0.0.1:1"}
    with pytest.raises(RuntimeError, match=r"names '127.0.0.1:1', not the server it was pointed at \(127.0.0.1:4000\)"):
        loadgen_driver.run_generator(_fake_generator(tmp_path, tampered), 4000, [], [0], 30)


def test_a_generator_that_claims_more_load_than_it_ran_gives_no_figure(tmp_path):
    honest = closed_run(50_000)   # 1 s of warm-up and 1 s closed: 2 s claimed
    with pytest.raises(RuntimeError, match=r"claims 2 s of load in a run of 0\.\d+ s"):
        loadgen_driver.run_generator(_fake_generator(tmp_path, honest), 4000, [], [0], 30)
    assert loadgen_driver.claimed_seconds(honest) == 2.0
    assert loadgen_driver.vouched(honest, 4000, 2.0) is honest   # on time: as it is


def test_an_interactive_step_is_held_to_the_time_it_took():
    answer = {"warmup": {"seconds": 0.02}, "step": step_record(1000, seconds=0.2)}
    assert loadgen_driver.claimed_seconds(answer) == pytest.approx(0.22)
    assert loadgen_driver.vouched(answer, 4000, 0.25) is answer
    with pytest.raises(RuntimeError, match="claims 0.22 s of load in a run of 0.010 s"):
        loadgen_driver.vouched(answer, 4000, 0.01)


def _closed(**change):
    doc = closed_run(50_000)
    doc["closed"].update(change)
    return doc


@pytest.mark.parametrize("change, said", [
    # the issue's: a billion replies at no CPU (its intervals made to agree)
    ({"count": 10**9, "achieved": 1e9, "interval_rates": [1e9, 1e9], "cpu_seconds": 0.0},
     "closed claims 1,000,000,000 replies in 0 s of CPU: more than one a CPU microsecond"),
    # replies its intervals never counted: the rates and the count disagree
    ({"count": 100_000, "achieved": 100_000}, "closed counts 50,000 replies in its intervals, not its 100,000"),
    # intervals that run past the phase: a rate over a time it did not last
    ({"interval_rates": [50_000, 50_000, 0, 0]}, "closed has 4 intervals of 0.5 s, more than its 1 s"),
])
def test_a_generator_phase_that_contradicts_itself_is_refused(change, said):
    with pytest.raises(ValueError, match=said):
        loadgen_output.parse(_closed(**change))


def test_the_issue_s_tampered_record_is_refused_as_read(tmp_path):
    """The issue's billion replies: no generator sends them in the CPU time a second holds."""
    record = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001)], 20e-6)
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [record])

    def tamper(document):
        served = document["measurements"][0]["served"]
        served["closed_run"]["closed"].update(count=10**9, achieved=1e9, interval_rates=[1e9, 1e9],
                                              cpu_seconds=1001.0)
        served.update(server_cpu_requests=10**9, server_cpu_seconds=1001.0)
    refused_after(path, tamper, r"closed claims 1001 s of CPU in a 1 s phase on 1 CPU\(s\)")


def test_replies_the_server_s_cpu_time_cannot_hold_are_refused_as_read(tmp_path):
    """A generator document consistent with itself (2,000,000 replies in 1 s at 4 s of its
    CPU): the server's CPU read by parkbench (0 s) says no server answered them."""
    record = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001)], 20e-6)
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [record])

    def tamper(document):
        served = document["measurements"][0]["served"]
        served["closed_run"]["closed"].update(count=2 * 10**6, achieved=2e6, interval_rates=[2e6, 2e6],
                                              cpu_seconds=4.0)
        served.update(server_cpu_requests=2 * 10**6, server_cpu_seconds=0.0)
    refused_after(path, tamper, r"server_cpu_requests claim 2,000,000 replies in 0 s of CPU")


def test_a_server_cpu_time_beyond_the_time_its_cpus_had_is_refused(tmp_path):
    """The attack's consistent billion: 1,001 s of server CPU in a 1 s phase on one CPU."""
    record = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001)], 20e-6)
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [record])
    refused_after(path, lambda d: d["measurements"][0]["served"].update(server_cpu_seconds=1001.0),
                  r"server_cpu_seconds claim 1001 s of CPU in a 2 s phase on 1 CPU\(s\)")


def test_a_served_rate_beyond_the_run_s_own_generator_ceiling_is_refused(tmp_path):
    """A rate the generator could not send: over twice its own quiet, steady ceiling."""
    from tests.builders import CEILING

    record = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001)], 20e-6)
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [record])

    def tamper(document):
        document["generator_ceiling"] = {"settings": {}, "placement": {"generator_cpus": [0], "server_cpus": [1]},
                                         "closed_run": closed_run(CEILING), "server_cpu_seconds": 1.0,
                                         "server_cpu_requests": int(CEILING)}
        closed = document["measurements"][0]["served"]["closed_run"]["closed"]
        rate = 2.5 * CEILING
        closed.update(count=int(rate), achieved=rate, interval_rates=[rate, rate], cpu_seconds=2.0)
        document["measurements"][0]["served"]["server_cpu_requests"] = int(rate)
    refused_after(path, tamper, r"closed_run achieved 375,000/s, more than 2x the run's own generator ceiling \(150,000/s\)")


def test_a_record_whose_generator_named_another_server_is_refused_as_read(tmp_path):
    record = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001)], 20e-6)
    record["served"]["server_address"] = "127.0.0.1:4000"
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [record])
    refused_after(path, lambda d: d["measurements"][0]["served"]["closed_run"].update(address="127.0.0.1:1"),
                  r"closed_run.address is '127.0.0.1:1', not the server's 127.0.0.1:4000")


def test_a_search_step_served_at_no_cpu_is_refused(tmp_path):
    from tests.builders import search_trials

    record = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001)], 20e-6)
    del record["served"]["open_run"]
    record["served"]["search"] = search_trials(10_000, 40_000, 20e-6)
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [record])

    def tamper(document):
        trial = next(t for t in document["measurements"][0]["served"]["search"]["trials"] if t["target"] == "server")
        trial.update(requests=10**7, cpu_seconds=0.001)
    refused_after(path, tamper, r"requests claim 10,000,000 replies in 0.001 s of CPU")

