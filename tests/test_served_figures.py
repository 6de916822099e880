"""The served rate from stored records to the answer: per-W figures, the rate per core a
connections server is sized by, its current source, show's table, and fit sizing a
server by the requests it serves (never by the in-process hand-off)."""

import math

import pytest

from parkbench.analysis import current, served_figures, sizing
from parkbench.cli import main
from tests import synthetic
from tests.builders import ASYNCIO, served_record, served_run

MODEL_CPU = {"asyncio": 20e-6, "threads": 9e-6, "go": 6e-6}


def test_figures_per_w_and_the_rate_per_core_at_the_largest_w(tmp_path):
    uneven = ASYNCIO[:1] + [served_record("asyncio", "connections", 10_000, 70_000,
                                          [(20_000, 0.001), (30_000, 0.004), (45_000, 0.02)], 25e-6)]
    served_run(tmp_path, uneven)
    frame = current.load(tmp_path).frame
    rows = {(r.metric, r.n): r.value for r in frame[frame.metric.str.startswith("served")].itertuples()}
    assert rows[("served_peak", 100)] == pytest.approx(80_000)
    # the search stops at the first failing step: 80,000 after a failing 60,000 does not count
    assert rows[("served_sustainable", 100)] == 40_000
    assert rows[("served_sustainable", 10_000)] == 30_000
    assert rows[("served_cpu_per_request", 10_000)] == pytest.approx(25e-6)
    assert rows[("served_generator_bound", 100)] == 0
    (per_core,) = frame[frame.metric == "served_rate_per_core"].itertuples()
    assert per_core.value == 30_000 and per_core.limit == "held at the SLO, W=10,000"


def test_a_generator_bound_server_is_sized_by_its_cpu_per_request_and_said_so(tmp_path):
    fast = served_record("go", "connections", 100, 140_000, [(60_000, 0.001), (125_000, 0.002)], 6e-6,
                         server_cpus=(1,))
    served_run(tmp_path, [fast])
    frame = current.load(tmp_path).frame
    bound = frame[(frame.metric == "served_generator_bound")].value.iloc[0]
    assert bound == 1  # 125,000 is more than 80% of the generator's 150,000
    (per_core,) = frame[frame.metric == "served_rate_per_core"].itertuples()
    assert per_core.value == pytest.approx(1 / 6e-6) and "generator-bound" in per_core.limit


def test_no_rate_held_at_the_slo_gives_no_rate_to_size_by(tmp_path):
    served_run(tmp_path, [served_record("threads", "connections", 100, 90_000, [(20_000, 0.05)], 9e-6)])
    frame = current.load(tmp_path).frame
    assert "served_sustainable" not in set(frame.metric)
    assert "served_rate_per_core" not in set(frame.metric)


def test_a_slower_slo_holds_a_higher_rate(tmp_path):
    served_run(tmp_path, ASYNCIO, slo=0.010)
    frame = current.load(tmp_path).frame
    assert frame[(frame.metric == "served_sustainable") & (frame.n == 100)].value.iloc[0] == 80_000


def test_rounds_give_their_median_and_a_multicore_server_is_per_core(tmp_path):
    rounds = [served_record("asyncio", "reuseport", 1_000, 150_000,
                            [(50_000, 0.001), (100_000, 0.001), (r, 0.001)], 20e-6, round_=i,
                            server_cpus=(1, 2, 3))
              for i, r in enumerate((105_000, 120_000, 110_000))]
    served_run(tmp_path, rounds, ceiling=1e6)
    (per_core,) = current.load(tmp_path).frame.query("metric == 'served_rate_per_core'").itertuples()
    assert per_core.value == pytest.approx(110_000 / 3)  # the median round, over three cores


def test_the_newest_run_at_the_largest_w_speaks(tmp_path):
    served_run(tmp_path, ASYNCIO, when="20260101T000000")
    newer = [served_record("asyncio", "connections", w, 50_000, [(10_000, 0.001), (20_000, 0.001)], 30e-6)
             for w in (300, 10_000)]
    served_run(tmp_path, newer, when="20260102T000000")
    loaded = current.load(tmp_path)
    (per_core,) = loaded.frame.query("metric == 'served_rate_per_core'").itertuples()
    assert (per_core.value, per_core.run_id) == (20_000, "20260102T000000Z")
    assert {s["run_id"] for s in loaded.sources if s["family"] == "served"} == {"20260102T000000Z"}
    assert set(loaded.frame.query("metric == 'served_peak'").n) == {300, 10_000}
    assert not [note for note in loaded.notes if "served" in note]


def test_a_newer_run_at_a_smaller_w_does_not_replace_a_larger_crowd(tmp_path):
    """A default sweep (one small W) after a --full run (W up to the ceiling) must not take
    the answer: the maps size a server at large W, where the idle crowd may tax it."""
    served_run(tmp_path, ASYNCIO, when="20260101T000000")
    smaller = [served_record("asyncio", "connections", 9_999, 90_000, [(10_000, 0.001), (70_000, 0.001)], 10e-6)]
    served_run(tmp_path, smaller, when="20260102T000000")
    loaded = current.load(tmp_path)
    (per_core,) = loaded.frame.query("metric == 'served_rate_per_core'").itertuples()
    assert (per_core.value, per_core.run_id) == (40_000, "20260101T000000Z")
    assert set(loaded.frame.query("metric == 'served_peak'").n) == {100, 10_000}
    (note,) = [note for note in loaded.notes if "served" in note]
    assert "run 20260101T000000Z (W up to 10,000)" in note
    assert "20260102T000000Z served W up to 9,999 only" in note


def _profile(variant, served_per_core=None, switch=2e-6, cores=1):
    return sizing.Profile("m", "asyncio", variant, 5_000.0, 20_000, "rlimit_nofile_hard", switch, cores,
                          served_per_core=served_per_core, served_run="r" if served_per_core else "")


def test_a_server_is_sized_by_the_requests_it_serves_not_by_the_hand_off():
    server = _profile("connections", served_per_core=100_000)
    assert server.rate_per_machine == 100_000  # not 1 / 2 µs = 500,000
    assert sizing.machines_needed(server, 10_000, 200_000) == (2, "request rate")
    waiter = _profile("event")
    assert sizing.machines_needed(waiter, 10_000, 200_000) == (1, "rlimit_nofile_hard")  # 500,000 hand-offs/s
    assert sizing.machines_needed(_profile("reuseport", 100_000, cores=4), 10_000, 350_000) == (1, "rlimit_nofile_hard")
    unknown = _profile("connections")
    machines, bound = sizing.machines_needed(unknown, 10_000, 1)
    assert math.isinf(machines) and bound == "no served rate"
    assert sizing.machines_needed(unknown, 10_000, 0) == (1, "rlimit_nofile_hard")


def test_fit_does_not_fit_asyncio_connections_on_one_machine_at_200k_requests(tmp_path, capsys):
    memory = [dict(synthetic.memory_record("asyncio", "connections", n), connections={
        "processes": 1, "request_p50": 1e-5, "request_p99": 2e-5, "request_p999": 3e-5, "request_max": 4e-5})
        for n in (100, 1_000, 10_000)]
    served_run(tmp_path, memory + ASYNCIO)
    assert main(["fit", "--waiters", "10k", "--rate", "200k", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "asyncio/connections" in line]
    assert " 5  request rate " in line  # 200,000 / 40,000 per machine
    assert "served: held at the SLO, W=10,000, run 20260101T000000Z" in line
    assert "connections serving requests" in out
    assert main(["show", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "requests served while W connections sit idle" in shown and "p99 SLO 5 ms" in shown
    assert "40,000" in shown


@pytest.mark.slow
def test_a_served_job_holds_w_parked_before_and_after_and_stores_a_record_the_reader_takes(session_cache):
    """A real server, the real generator, the runner's own check of the record."""
    import os

    from parkbench.core.protocol import Job, JobKind
    from parkbench.measurement import gotoolchain, runner
    from tests.builders import ListStore, plan_of

    os.environ["PARKBENCH_CACHE"] = str(session_cache)
    if gotoolchain.unavailable_reason("loadgen"):
        pytest.skip(gotoolchain.unavailable_reason("loadgen"))
    quick = {"connections": 4, "warmup_seconds": 1.0, "closed_seconds": 0.5, "step_seconds": 0.3,
             "shares": [0.3, 0.6], "reply_timeout_seconds": 1.0}
    store = ListStore()
    job = Job(JobKind.SERVED, "asyncio", "protocol", 30)
    runner.Sweep([job], plan_of(timeout_seconds=60.0, served_settings=quick), store).run()
    assert store.failures == [], store.failures
    (record,) = store.measurements
    assert record["proof"]["blocked_before"] == record["proof"]["blocked_after"] == 30
    held = record["served"]
    assert held["closed_run"]["closed"]["achieved"] > 0 and len(held["open_run"]["steps"]) == 2
    # what the rest of the machine did while the server was timed (interference.py)
    assert record["interference"]["window_seconds"] > 1.0
    assert held["server_cpu_requests"] == held["closed_run"]["closed"]["count"]
    assert held["placement"]["generator_cpus"] != held["placement"]["server_cpus"] or os.cpu_count() == 1


def test_the_latency_plot_draws_one_line_per_round_and_the_slo(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from parkbench.presentation import timeplots

    rounds = [served_record("asyncio", "connections", 100, peak,
                            [(peak * 0.25, 0.001), (peak * 0.5, 0.002), (peak * 0.75, 0.02)], 20e-6, round_=i)
              for i, peak in enumerate((80_000, 70_000))]
    served_run(tmp_path, rounds)
    loaded = current.load(tmp_path)
    steps = served_figures.steps(loaded, "m")
    assert sorted(set(steps["round"])) == [0, 1] and len(steps) == 6
    figure = timeplots.served_latency(steps, "m", 0.005)
    (ax,) = [ax for ax in figure.axes if ax.get_visible()]
    drawn = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]
    assert len(drawn) == 4  # p99 and p50 of each round, each through its own three steps
    assert sorted(round(x) for x in drawn[0].get_xdata()) == [20, 40, 60]  # thousand/s
    assert any(list(line.get_ydata()) == [5.0, 5.0] for line in ax.get_lines())  # the SLO, in ms
    assert timeplots.served_latency(steps.iloc[0:0], "m", 0.005) is None


def test_the_peak_s_spread_is_its_intervals_range_over_their_median():
    record = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001)], 20e-6)
    record["served"]["closed_run"]["closed"]["interval_rates"] = [100_000, 60_000, 70_000]
    values = served_figures.record_values(record, 0.005, None)
    assert values["served_peak_spread"] == pytest.approx(40_000 / 70_000)   # not over the mean
    record["served"]["closed_run"]["closed"]["interval_rates"] = [80_000]
    assert "served_peak_spread" not in served_figures.record_values(record, 0.005, None)


def test_one_interpreter_is_one_core_however_many_the_servers_were_given():
    record = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001)], 20e-6, server_cpus=(1, 2, 3))
    assert served_figures.record_values(record, 0.005, None)["served_cores"] == 1
    workers = served_record("subprocess", "connections", 20, 80_000, [(20_000, 0.001)], 20e-6, server_cpus=(1, 2, 3))
    assert served_figures.record_values(workers, 0.005, None)["served_cores"] == 3


def test_rounds_split_on_the_generator_bound_count_as_bound(tmp_path):
    """Two rounds, one within 80% of the generator's ceiling and one not: the median flag
    is 0.5, and the sizing must not trust a rate the generator may have capped."""
    near = served_record("go", "connections", 100, 140_000, [(125_000, 0.001)], 6e-6, round_=0)
    far = served_record("go", "connections", 100, 140_000, [(60_000, 0.001), (125_000, 0.02)], 6e-6, round_=1)
    path = served_run(tmp_path, [near, far])
    import json

    figure, = [f for f in served_figures.derive(json.loads(path.read_text())) if f["metric"] == "served_rate_per_core"]
    assert figure["limit"].startswith("1 / CPU per request (generator-bound)")


def _disturbed(record, disturbed=True):
    return {**record, "interference": {"window_seconds": 6.0, "other_cpu_seconds": 3.0 if disturbed else 0.01,
                                       "other_threads": 0, "running": 3, "disturbed": disturbed,
                                       "why": "other processes used 3.00 CPU-s" if disturbed else ""}}


def test_a_disturbed_served_run_does_not_replace_a_quiet_one_and_is_said(tmp_path, capsys):
    """The rest of the machine busy while a server was timed: its rates may be the
    machine's. A newer disturbed run, even at a larger W, keeps out of the answer."""
    served_run(tmp_path, [_disturbed(r, False) for r in ASYNCIO], when="20260101T000000")
    busy = [_disturbed(served_record("asyncio", "connections", w, 30_000, [(5_000, 0.001), (9_000, 0.001)], 40e-6))
            for w in (100, 19_000)]
    served_run(tmp_path, busy, when="20260102T000000")
    loaded = current.load(tmp_path)
    (per_core,) = loaded.frame.query("metric == 'served_rate_per_core'").itertuples()
    assert (per_core.value, per_core.run_id) == (40_000, "20260101T000000Z")
    (note,) = [note for note in loaded.notes if "served" in note]
    assert "the newer run 20260102T000000Z was disturbed by the rest of the machine" in note
    rows = served_figures.table(loaded.frame)
    assert not rows.disturbed.any()

    only_busy = tmp_path / "busy"
    served_run(only_busy, busy, when="20260102T000000")
    loaded = current.load(only_busy)
    assert any("which the rest of the machine disturbed" in note for note in loaded.notes)
    assert served_figures.table(loaded.frame).disturbed.all()
    assert main(["show", str(only_busy)]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if "asyncio/connections" in line and "µs" in line]
    assert len(shown) == 2 and all("(disturbed: the machine was busy)" in line for line in shown)
