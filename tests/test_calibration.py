"""The per-run calibration: measured in a child, stored, and each hand-off shown as a
ratio to its own run's pipe hand-off. Its check on read is in ``test_schema.py``."""


import pytest

from parkbench.analysis import calibration, current
from parkbench.commands.compare import calibration_lines
from parkbench.measurement import calibration as measured_calibration
from parkbench.measurement import calibration_child
from parkbench.presentation import summary
from tests.synthetic import switch_record, write_run


def _calibration(start, end):
    return {"start": {"python_loop_ns": 20.0, "pipe_one_way_seconds": start, "pipe_spread": 0.01},
            "end": {"python_loop_ns": 21.0, "pipe_one_way_seconds": end, "pipe_spread": 0.02}}


def test_a_run_pipe_figure_is_the_mean_of_start_and_end():
    assert calibration.pipe_seconds(_calibration(2e-6, 4e-6)) == pytest.approx(3e-6)
    assert calibration.pipe_seconds({"start": {"pipe_one_way_seconds": 2e-6}, "end": None}) == 2e-6
    assert calibration.pipe_seconds(None) is None


def test_each_hand_off_is_divided_by_its_own_run_pipe(tmp_path):
    # two machines whose runs share one run id, with different calibrations and medians
    same = "20261126T100000"
    write_run(tmp_path, "fast", same, [switch_record("asyncio", "future", "same-core", "r", 2e-6)],
              calibration=_calibration(1e-6, 1e-6))
    write_run(tmp_path, "slow", same, [switch_record("asyncio", "future", "same-core", "r", 6e-6)],
              calibration=_calibration(3e-6, 5e-6))
    figures = current.load(tmp_path)
    pipes = calibration.pipes(figures)
    table = summary.latency_table(figures.frame, pipes).set_index("machine")
    assert table.loc["fast", "vs_pipe"] == pytest.approx(2.0)
    assert table.loc["slow", "vs_pipe"] == pytest.approx(6e-6 / 4e-6)


def test_compare_says_how_fast_each_machine_was():
    line, = calibration_lines(2e-6, 3e-6)
    assert "A 2 µs, B 3 µs (B/A 1.5)" in line
    assert calibration_lines(None, None) == []
    assert "B/A" not in calibration_lines(2e-6, None)[0]


@pytest.mark.slow
def test_the_calibration_runs_in_a_child_and_gives_both_figures():
    measured = measured_calibration.measure()
    assert measured is not None and measured["repeats"] == calibration_child.REPEATS
    assert 0 < measured["python_loop_ns"] < 10_000
    assert 1e-8 < measured["pipe_one_way_seconds"] < 1e-2


HUNG_CEILING = """#!/bin/sh
# a ceiling child whose echo server (here: a sleeper in its group) outlives it, and which hangs
sleep 300 &
echo $! > "{pid_file}"
exec sleep 300
"""


def test_a_hung_generator_ceiling_ends_at_the_run_s_timeout_with_its_echo_server(tmp_path):
    import os
    import time

    pid_file = tmp_path / "echo.pid"
    fake = tmp_path / "python"
    fake.write_text(HUNG_CEILING.format(pid_file=pid_file))
    fake.chmod(0o755)
    started = time.monotonic()
    assert measured_calibration.generator_ceiling(str(fake), {}, timeout=1.0) == (
        None, "no result within 1 s (the run's --timeout)")
    assert time.monotonic() - started < 10          # the run's --timeout, not 120 s
    echo = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # killed with its group; reaped by init meanwhile
        try:
            with open(f"/proc/{echo}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        os.kill(echo, 9)
        raise AssertionError("the ceiling's echo server outlived it")


def _ceiling(**closed):
    from tests.builders import closed_run

    run = closed_run(50_000)
    run["closed"].update(closed)
    return {"settings": {}, "placement": {}, "closed_run": run, "server_cpu_seconds": 1.0,
            "server_cpu_requests": 50_000}


@pytest.mark.parametrize("closed, problem", [
    ({}, ""),
    # the issue's: its echo server killed midway (interval rates 49,595 ... 9,895, 0; 16 errors)
    ({"errors": 16, "count": 35_661, "achieved": 35_661, "seconds": 1.0, "interval_seconds": 0.2,
      "interval_rates": [49_595, 58_695, 60_120, 9_895, 0]},
     "16 errors and 0 timeouts"),
    # interrupted: two good seconds, then nothing (18,526/s stored against a real 45-60k)
    ({"interval_rates": [50_000, 52_000, 0, 0], "interval_seconds": 1.0, "seconds": 4.0, "count": 102_000,
      "achieved": 25_500},
     "its rate over the phase, 25,500/s, is under half its best interval's 52,000/s (stopped or stalled midway)"),
    # one stall in a short phase (quick mode's 40 ms intervals): a steady ceiling still
    ({"interval_rates": [50_000, 0, 52_000, 50_000, 51_000], "interval_seconds": 0.04, "seconds": 0.2,
      "count": 8_120, "achieved": 40_600}, ""),
])
def test_a_ceiling_that_was_not_steady_is_no_ceiling(closed, problem):
    from parkbench.analysis import served_figures

    found = _ceiling(**closed)
    assert measured_calibration.ceiling_problem(found) == problem
    expected = None if problem else found["closed_run"]["closed"]["achieved"]
    assert measured_calibration.ceiling_rate(found) == expected
    assert served_figures.ceiling_peak({"generator_ceiling": found}) == expected


QUIET = {"window_seconds": 1.0, "other_cpu_seconds": 0.0, "other_threads": 0, "running": 1,
         "disturbed": False, "why": ""}
BUSY = {**QUIET, "other_cpu_seconds": 0.9, "disturbed": True,
        "why": "other processes used 0.90 CPU-s in a 1.00 s window (over 20% of a CPU)"}


def test_a_ceiling_round_on_a_busy_machine_is_no_ceiling_and_the_highest_quiet_one_is(monkeypatch):
    """issue 37.7: on a busy machine the ceiling stored 2,168/s with no error (against a
    real 45-60k), and every served row was flagged generator-bound."""
    activities = [BUSY, QUIET, QUIET]
    rates = [2_168.0, 50_000.0, 52_000.0]
    _patch_rounds(monkeypatch, rates, activities)
    found, failure = measured_calibration.generator_ceiling(None, {}, timeout=60)
    assert failure == "" and measured_calibration.ceiling_rate(found) == 52_000.0
    assert [a["achieved"] for a in found["attempts"]] == rates
    assert found["attempts"][0]["why_not"].startswith("measured while the rest of the machine was busy: other processes")
    assert [a["why_not"] for a in found["attempts"][1:]] == ["", ""]
    assert found["interference"] == QUIET


def test_a_ceiling_whose_every_round_was_disturbed_is_none_and_says_why(monkeypatch):
    from parkbench.analysis import served_figures

    _patch_rounds(monkeypatch, [2_168.0, 3_000.0, 2_500.0, 2_900.0], [BUSY] * 4)
    found, _ = measured_calibration.generator_ceiling(None, {}, timeout=60)
    assert len(found["attempts"]) == measured_calibration.CEILING_ATTEMPTS
    assert measured_calibration.ceiling_rate(found) is None
    assert "busy" in measured_calibration.ceiling_problem(found)
    assert served_figures.ceiling_peak({"generator_ceiling": found}) is None   # as read, too


def test_the_ceiling_s_rounds_share_the_run_s_timeout(monkeypatch):
    given = _patch_rounds(monkeypatch, [2_168.0] * 4, [BUSY] * 4, seconds_each=4.0)
    found, _ = measured_calibration.generator_ceiling(None, {}, timeout=10)
    assert given == [10, 6, 2] and len(found["attempts"]) == 3   # 12 s of rounds: none after the 10th


def _patch_rounds(monkeypatch, rates, activities, seconds_each=1.0):
    clock = {"now": 0.0}
    given: list = []
    pending = list(zip(rates, activities))
    current = {}

    def one_round(python, settings, timeout):
        given.append(timeout)
        clock["now"] += seconds_each
        rate, current["activity"] = pending.pop(0)
        return _ceiling(count=int(rate), achieved=rate, interval_rates=[rate, rate],
                        cpu_seconds=max(0.5, rate / 200_000)), ""

    monkeypatch.setattr(measured_calibration, "_ceiling_round", one_round)
    monkeypatch.setattr(measured_calibration.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(measured_calibration.interference, "snapshot", lambda: None)
    monkeypatch.setattr(measured_calibration.interference, "between", lambda before, after: current["activity"])
    return given


def test_a_disturbed_calibration_gives_no_pipe_figure_and_compare_marks_it():
    quiet, busy = _calibration(2e-6, 4e-6), _calibration(2e-6, 9e-6)
    busy["end"]["interference"] = BUSY
    assert calibration.pipe_seconds(busy) == 2e-6                    # the quiet start alone
    assert calibration.pipe_seconds(busy, disturbed=True) == 9e-6
    assert calibration.pipe_seconds(quiet) == pytest.approx(3e-6)
    line, = calibration_lines(2e-6, 9e-6, busy_b=True)
    assert "B 9 µs (timed on a busy machine)" in line and "B/A" not in line


FAILED_CEILING = """#!/bin/sh
# a ceiling child refused by the port range, as served_load's main ends then
echo 'Traceback (most recent call last):' >&2
echo "{line}" >&2
exit 1
"""


def test_a_ceiling_that_failed_is_stored_null_with_its_reason(tmp_path):
    """issue 37.11: a ceiling the port range refused was stored as a bare null, and the
    run said only "not measured". The null keeps the child's reason beside it
    (``generator_ceiling_failure``), which the run's warning shows; a ceiling measured
    later (``--resume``) replaces both."""
    import json

    from parkbench.store import results, run_file

    line = ("parkbench.measurement.probes.connections.TooManyConnections: the generator's ceiling needs 17 "
            "of the 16 ports of net.ipv4.ip_local_port_range")
    fake = tmp_path / "python"
    fake.write_text(FAILED_CEILING.format(line=line))
    fake.chmod(0o755)
    found, why = measured_calibration.generator_ceiling(str(fake), {}, timeout=30.0)
    assert (found, why) == (None, line)
    run = run_file.RunFile.create(tmp_path, "m", {"repeat": 1}, {"implementation": "CPython"}, {}, now=None)
    run.set_generator_ceiling(found, why)
    stored = results.read_run(run.path)
    assert stored["generator_ceiling"] is None and stored["generator_ceiling_failure"] == line
    assert measured_calibration.ceiling_problem(stored["generator_ceiling"], stored["generator_ceiling_failure"]) == line
    assert measured_calibration.ceiling_problem(None) == "not measured"  # a run before the reason was kept
    run.set_generator_ceiling({**_ceiling(), "placement": {"generator_cpus": [0], "server_cpus": [1]}})
    assert "generator_ceiling_failure" not in json.loads(run.path.read_text())
    document = json.loads(run.path.read_text())
    document["generator_ceiling_failure"] = line  # beside a measured ceiling: not the reader's to choose
    run.path.write_text(json.dumps(document))
    with pytest.raises(Exception, match="generator_ceiling_failure is only beside a null generator_ceiling"):
        results.read_run(run.path)
