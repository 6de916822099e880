"""The served rate from stored records to the answer: per-W figures, the rate per core a
connections server is sized by, its current source, show's table, and fit sizing a
server by the requests it serves (never by the in-process hand-off)."""

import copy
import math

import pytest

from parkbench.analysis import current, served_figures
from parkbench.cli import main
from tests import synthetic
from tests.builders import CEILING, searched_record, served_record, served_run

MODEL_CPU = {"asyncio": 20e-6, "threads": 9e-6, "go": 6e-6}
KNEES = {100: 41_000, 10_000: 23_000}   # the fake asyncio server's knee at each W


def asyncio_runs(**search):
    return [searched_record("asyncio", "connections", w, 80_000, KNEES[w], 20e-6, closed_cpu_per_request=12e-6,
                            **search) for w in (100, 10_000)]


def test_figures_per_w_and_the_rate_per_core_at_each_w(tmp_path):
    served_run(tmp_path, asyncio_runs())
    frame = current.load(tmp_path).frame
    rows = {(r.metric, r.n): r.value for r in frame[frame.metric.str.startswith("served")].itertuples()}
    assert rows[("served_peak", 100)] == pytest.approx(80_000)
    for w, knee_rate in KNEES.items():
        # the knee found within 10% below the true one, never above it
        assert knee_rate / 1.10 <= rows[("served_saturation", w)] <= knee_rate
        assert rows[("served_slo", w)] == rows[("served_saturation", w)]  # p99 1 ms: within the SLO
        assert rows[("served_sustainable", w)] == rows[("served_slo", w)]
        # the open loop's CPU per request at the rate served, the closed loop's beside it
        assert rows[("served_cpu_per_request", w)] == pytest.approx(20e-6)
        assert rows[("served_cpu_per_request_closed", w)] == pytest.approx(12e-6)
        assert rows[("served_generator_bound", w)] == 0 and rows[("served_slo_judged", w)] == 1
    per_core = {r.n: r for r in frame[frame.metric == "served_rate_per_core"].itertuples()}
    assert sorted(per_core) == [100, 10_000]
    assert per_core[10_000].value == rows[("served_sustainable", 10_000)]
    assert served_figures.basis_label(per_core[10_000].limit) == "SLO"


def test_the_slo_knee_sits_below_saturation_where_p99_grows_first(tmp_path):
    record = searched_record("asyncio", "connections", 100, 80_000, 41_000, 20e-6,
                             p99_at=lambda rate: 0.001 if rate < 30_000 else 0.009)
    values, basis = served_figures.record_values(record, 0.005, None)
    assert 41_000 / 1.10 <= values["served_saturation"] <= 41_000
    assert 30_000 / 1.10 <= values["served_slo"] < 30_000 and values["served_sustainable"] == values["served_slo"]
    assert served_figures.basis_label(basis) == "SLO"


def test_where_the_floor_misses_the_slo_the_rate_is_saturation_and_says_floor_bound(tmp_path):
    # the server and the machine's own floor both at p99 8 ms: the SLO of 5 ms cannot be
    # judged here, and saturation speaks
    record = searched_record("asyncio", "connections", 100, 80_000, 41_000, 20e-6,
                             p99_at=lambda rate: 0.008, floor_p99=0.008)
    values, basis = served_figures.record_values(record, 0.005, None)
    assert values["served_slo_judged"] == 0 and "served_slo" not in values
    assert values["served_sustainable"] == values["served_saturation"]
    assert served_figures.basis_label(basis) == "floor-bound"
    short = searched_record("asyncio", "connections", 100, 80_000, 41_000, 20e-6, judge_slo=False)
    assert served_figures.basis_label(served_figures.record_values(short, 0.005, None)[1]) == "saturation"


def test_a_generator_bound_server_is_sized_by_its_open_loop_cpu_per_request_and_said_so(tmp_path):
    # the search stops short of 80% of the generator's 150,000/s ceiling: sized by 1 / the
    # open loop's CPU per request at the rate held (25 µs: 40,000/s), never the closed
    # loop's (5 µs: 200,000/s)
    fast = searched_record("go", "connections", 100, 140_000, 500_000, 25e-6, closed_cpu_per_request=5e-6,
                           ceiling=CEILING)
    served_run(tmp_path, [fast])
    frame = current.load(tmp_path).frame
    assert frame[(frame.metric == "served_generator_bound")].value.iloc[0] == 1
    (per_core,) = frame[frame.metric == "served_rate_per_core"].itertuples()
    assert per_core.value == pytest.approx(1 / 25e-6)
    assert served_figures.basis_label(per_core.limit) == "generator-bound"


def test_no_rate_kept_up_gives_no_rate_to_size_by(tmp_path):
    served_run(tmp_path, [searched_record("threads", "connections", 100, 90_000, 5, 9e-6)])
    frame = current.load(tmp_path).frame
    assert "served_sustainable" not in set(frame.metric)
    assert "served_rate_per_core" not in set(frame.metric)


def test_a_record_from_before_the_search_is_judged_by_its_old_rule(tmp_path):
    legacy = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001), (40_000, 0.002),
                                                                   (60_000, 0.009), (80_000, 0.001)], 20e-6)
    values, basis = served_figures.record_values(legacy, 0.005, None)
    # the old rule stops at the first failing step: 80,000 after a failing 60,000 does not count
    assert values["served_sustainable"] == 40_000 and "served_saturation" not in values
    assert basis == served_figures.BASES["before-search"]
    assert served_figures.record_values(legacy, 0.010, None)[0]["served_sustainable"] == 80_000


def test_rounds_give_their_median_and_a_multicore_server_is_per_core(tmp_path):
    rounds = [searched_record("asyncio", "reuseport", 1_000, 150_000, knee_rate, 20e-6, round_=i,
                              server_cpus=(1, 2, 3))
              for i, knee_rate in enumerate((105_000, 120_000, 110_000))]
    served_run(tmp_path, rounds, ceiling=1e6)
    frame = current.load(tmp_path).frame
    middle = sorted(frame.query("metric == 'served_sustainable'").value)[1]
    (per_core,) = frame.query("metric == 'served_rate_per_core'").itertuples()
    assert per_core.value == pytest.approx(middle / 3)  # the median round, over three cores


def test_the_newest_run_at_the_largest_w_speaks(tmp_path):
    served_run(tmp_path, asyncio_runs(), when="20260101T000000")
    newer = [searched_record("asyncio", "connections", w, 50_000, 20_000, 30e-6) for w in (300, 10_000)]
    served_run(tmp_path, newer, when="20260102T000000")
    loaded = current.load(tmp_path)
    per_core = {r.n: r for r in loaded.frame.query("metric == 'served_rate_per_core'").itertuples()}
    assert sorted(per_core) == [300, 10_000] and per_core[10_000].run_id == "20260102T000000Z"
    assert {s["run_id"] for s in loaded.sources if s["family"] == "served"} == {"20260102T000000Z"}
    assert not [note for note in loaded.notes if "served" in note]


def test_a_newer_run_at_a_smaller_w_does_not_replace_a_larger_crowd(tmp_path):
    """A default sweep (small W) after a --full run (W up to the ceiling) must not take
    the answer: the maps size a server at large W, where the idle crowd may tax it."""
    served_run(tmp_path, asyncio_runs(), when="20260101T000000")
    smaller = [searched_record("asyncio", "connections", 9_999, 90_000, 70_000, 10e-6)]
    served_run(tmp_path, smaller, when="20260102T000000")
    loaded = current.load(tmp_path)
    per_core = {r.n: r for r in loaded.frame.query("metric == 'served_rate_per_core'").itertuples()}
    assert sorted(per_core) == [100, 10_000] and {r.run_id for r in per_core.values()} == {"20260101T000000Z"}
    (note,) = [note for note in loaded.notes if "served" in note]
    assert "run 20260101T000000Z (W up to 10,000)" in note
    assert "20260102T000000Z measured W up to 9,999 only" in note


def test_fit_sizes_asyncio_connections_by_its_measured_edge_at_w(tmp_path, capsys):
    memory = [dict(synthetic.memory_record("asyncio", "connections", n), connections={
        "processes": 1, "request_p50": 1e-5, "request_p99": 2e-5, "request_p999": 3e-5, "request_max": 4e-5})
        for n in (100, 1_000, 10_000)]
    served_run(tmp_path, memory + asyncio_runs())
    frame = current.load(tmp_path).frame
    at_10k = frame[(frame.metric == "served_rate_per_core") & (frame.n == 10_000)].value.iloc[0]
    assert main(["fit", "--waiters", "10k", "--rate", "200k", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "asyncio/connections" in line]
    assert f" {math.ceil(200_000 / at_10k)}  request rate " in line
    assert f"{at_10k:,.0f} SLO" in line
    assert "rate: SLO: p99 within the SLO" in line and "measured at W=100, 10,000; run 20260101T000000Z" in line
    assert "connections serving requests" in out
    # beyond the largest W measured the edge is held flat, and fit says so
    assert main(["fit", "--waiters", "15k", "--rate", "200k", "--results", str(tmp_path)]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if "asyncio/connections" in line]
    assert f"{at_10k:,.0f}* SLO" in line
    assert main(["show", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "requests served while W connections sit idle" in shown and "p99 SLO 5 ms" in shown
    assert f"{at_10k:,.0f}" in shown


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
    quick = {"connections": 4, "warmup_seconds": 0.5, "closed_seconds": 0.3, "step_seconds": 0.1,
             "start_share": 0.5, "reply_timeout_seconds": 1.0, "judge_slo": False, "floor_every_round": True}
    store = ListStore()
    job = Job(JobKind.SERVED, "asyncio", "protocol", 30)
    runner.Sweep([job], plan_of(timeout_seconds=60.0, served_settings=quick), store).run()
    assert store.failures == [], store.failures
    (record,) = store.measurements
    assert record["proof"]["blocked_before"] == record["proof"]["blocked_after"] == 30
    held = record["served"]
    assert held["closed_run"]["closed"]["achieved"] > 0
    trials = held["search"]["trials"]
    # the knee search ran, the floor beside the server in every round (the floor held the
    # same 30 idle connections)
    assert {t["target"] for t in trials} == {"server", "floor"} and held["search"]["floor_connections"] == 30
    assert all(t["cpu_seconds"] > 0 and t["requests"] > 0 for t in trials if t["target"] == "server")
    # what the rest of the machine did while the server was timed (interference.py)
    assert record["interference"]["window_seconds"] > 1.0
    assert held["server_cpu_requests"] == held["closed_run"]["closed"]["count"]
    assert held["placement"]["generator_cpus"] != held["placement"]["server_cpus"] or os.cpu_count() == 1


def test_the_latency_plot_draws_the_server_the_floor_and_the_knee(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from parkbench.presentation import timeplots

    served_run(tmp_path, asyncio_runs(floor_always=True))
    loaded = current.load(tmp_path)
    steps = served_figures.steps(loaded, "m")
    assert set(steps.target) == {"server", "floor"} and set(steps.n) == {100, 10_000}
    table = served_figures.table(loaded.frame)
    knees = served_figures.knees(table)
    figure = timeplots.knee_latency(steps, knees, "m", 0.005)
    (ax,) = [ax for ax in figure.axes if ax.get_visible()]
    gids = {line.get_gid() for line in ax.get_lines()}
    assert {"server:asyncio/connections:100", "floor:asyncio/connections:100",
            "server:asyncio/connections:10000", "floor:asyncio/connections:10000",
            "knee:asyncio/connections:100", "knee:asyncio/connections:10000"} <= gids
    (server,) = [line for line in ax.get_lines() if line.get_gid() == "server:asyncio/connections:10000"]
    mine = steps[(steps.n == 10_000) & (steps.target == "server")]
    assert list(server.get_xdata()) == sorted(set(mine.offered))  # one point per rate, the median round
    # the knee's rate and basis in its W's legend entry, not written across the lines
    assert f"W=10,000, knee {knees[('asyncio', 'connections', 10_000)][0]:,.0f}/s (SLO)" == server.get_label()
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert server.get_label() in labels and "SLO 5 ms" in labels
    assert any(list(line.get_ydata()) == [5.0, 5.0] for line in ax.get_lines())  # the SLO, in ms
    assert timeplots.knee_latency(steps.iloc[0:0], knees, "m", 0.005) is None


def test_the_peak_s_spread_is_its_intervals_range_over_their_median():
    record = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001)], 20e-6)
    closed = record["served"]["closed_run"]["closed"]
    closed.update(interval_rates=[110_000, 60_000, 70_000], interval_seconds=1 / 3)  # 80,000 in 1 s
    values, _ = served_figures.record_values(record, 0.005, None)
    assert values["served_peak_spread"] == pytest.approx(50_000 / 70_000)   # not over the mean (80,000)
    closed.update(interval_rates=[80_000], interval_seconds=1.0)
    assert "served_peak_spread" not in served_figures.record_values(record, 0.005, None)[0]


def test_one_interpreter_is_one_core_however_many_the_servers_were_given():
    record = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001)], 20e-6, server_cpus=(1, 2, 3))
    assert served_figures.record_values(record, 0.005, None)[0]["served_cores"] == 1
    workers = served_record("subprocess", "connections", 20, 80_000, [(20_000, 0.001)], 20e-6, server_cpus=(1, 2, 3))
    assert served_figures.record_values(workers, 0.005, None)[0]["served_cores"] == 3


def test_rounds_split_on_the_generator_bound_count_as_bound(tmp_path):
    """Two rounds, one stopped short of the generator's ceiling and one not: the median
    flag is 0.5, and the sizing must not trust a rate the generator may have capped."""
    near = searched_record("go", "connections", 100, 140_000, 500_000, 6e-6, round_=0, ceiling=CEILING)
    far = searched_record("go", "connections", 100, 140_000, 70_000, 6e-6, round_=1, ceiling=CEILING)
    served_run(tmp_path, [near, far])
    (per_core,) = current.load(tmp_path).frame.query("metric == 'served_rate_per_core'").itertuples()
    assert served_figures.basis_label(per_core.limit) == "generator-bound"


def _disturbed(record, disturbed=True):
    return {**record, "interference": {"window_seconds": 6.0, "other_cpu_seconds": 3.0 if disturbed else 0.01,
                                       "other_threads": 0, "running": 3, "disturbed": disturbed,
                                       "why": "other processes used 3.00 CPU-s" if disturbed else ""}}


def test_a_disturbed_served_run_does_not_replace_a_quiet_one_and_is_said(tmp_path, capsys):
    """The rest of the machine busy while a server was timed: its rates may be the
    machine's. A newer disturbed run, even at a larger W, keeps out of the answer."""
    served_run(tmp_path, [_disturbed(r, False) for r in asyncio_runs()], when="20260101T000000")
    busy = [_disturbed(searched_record("asyncio", "connections", w, 30_000, 9_000, 40e-6)) for w in (100, 19_000)]
    served_run(tmp_path, busy, when="20260102T000000")
    loaded = current.load(tmp_path)
    assert set(loaded.frame.query("metric == 'served_rate_per_core'").run_id) == {"20260101T000000Z"}
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


def _floor_missing(records, misses: int):
    """The records with the first ``misses`` floor steps of the first record over the SLO."""
    floor = [t for t in records[0]["served"]["search"]["trials"] if t["target"] == "floor"]
    for trial in floor[:misses]:
        trial["step"]["p99"] = 0.008
    return records


def test_a_run_whose_floor_missed_the_slo_in_over_1_step_in_20_is_judged_by_saturation(tmp_path):
    # the server's p99 grows past the SLO at 30k/s, its saturation knee is 41k/s (23k at
    # W 10,000): SLO and saturation rates differ, so the basis shows in the rate
    knees = {100: 41_000, 1_000: 30_000, 10_000: 23_000}
    records = [searched_record("asyncio", "connections", w, 80_000, k, 20e-6, floor_always=True,
                               p99_at=lambda rate: 0.001 if rate < 20_000 else 0.009) for w, k in knees.items()]
    steps = sum(t["target"] == "floor" for r in records for t in r["served"]["search"]["trials"])
    allowed = int(served_figures.FLOOR_MISS_LIMIT * steps)
    # pooled over the run: 1 in 20 of all the floor's steps, every one in the first record
    assert allowed >= 1 and allowed / sum(t["target"] == "floor" for t in records[0]["served"]["search"]["trials"]) > 0.05
    for misses, label in ((allowed, "SLO"), (allowed + 1, "floor-bound")):
        folder = tmp_path / str(misses)
        served_run(folder, _floor_missing(copy.deepcopy(records), misses))
        frame = current.load(folder).frame
        per_core = {r.n: r for r in frame[frame.metric == "served_rate_per_core"].itertuples()}
        rows = {(r.metric, r.n): r.value for r in frame[frame.metric.str.startswith("served")].itertuples()}
        for w in knees:
            assert served_figures.basis_label(per_core[w].limit) == label, (misses, w)
            wanted = rows[("served_slo", w)] if label == "SLO" else rows[("served_saturation", w)]
            assert per_core[w].value == wanted and rows[("served_slo_judged", w)] == (label == "SLO")
        if label == "floor-bound":
            assert "1 step in 20 of this run" in per_core[100].limit and ("served_slo", 100) not in rows


@pytest.mark.parametrize("over, judged", [(2, True), (3, False)])
def test_the_run_judges_the_slo_up_to_exactly_1_floor_step_in_20(over, judged):
    # 40 floor steps in two records (and server steps over the SLO, which do not count)
    def record(p99s):
        trials = [{"target": "floor", "step": {"p99": p99}} for p99 in p99s]
        trials += [{"target": "server", "step": {"p99": 0.009}}] * 5
        return {"kind": "served", "served": {"search": {"trials": trials}}}
    document = {"measurements": [record([0.0051] * over + [0.005] * (20 - over)), record([0.001] * 20),
                                 {"kind": "memory"}]}
    assert served_figures.floor_misses(document, 0.005) == (over, 40)
    assert served_figures.run_judges_slo(document, 0.005) is judged


@pytest.mark.parametrize("value, label", [(200_000, "200k"), (300_000, ""), (5_000_000, "5M"), (50, "50"),
                                          (1_000, ""), (2_000, "2k")])
def test_a_rate_axis_labels_its_minor_ticks_at_two_and_five_only(value, label):
    from parkbench.presentation import timeplots

    assert timeplots._two_and_five(value) == label
