"""The in-process workload's map check (``map_checks.py`` with ``probes/wake_load.py``):
points planned at a held-out W from the measured wake-rate edge and capped by the memory
budget, the wakes job the runner gives them (its command, its guard), the verdicts of its
rounds, its record and plan as untrusted input, and the marks on the in-process maps."""

import json

import pytest

from parkbench.analysis import current, edges, map_checks, sizing
from parkbench.core import protocol
from parkbench.core.errors import UserError
from parkbench.core.protocol import JobKind
from parkbench.measurement import guard, map_check_jobs, suite
from parkbench.presentation import rate_tables
from parkbench.store import map_check_schema, record_schema
from tests.builders import checked_wakes_record, wakes_record


def _edge(*points):
    return tuple(edges.point(w, rate, spread, "SLO: woken within the SLO", "20260102T000000Z")
                 for w, rate, spread in points)


# uneven figures: the loop's measured wake rate at three W (its held-out W is between the
# two largest, 948,683, where the edge is 275,000/s); 1,103 B per task
PROFILE = sizing.Profile("m", "asyncio", "event", 1_103.0, 15_811_000, "memory", 7.3e-6, 1,
                         interpreter="CPython 3.11.7", capacity_basis="predicted",
                         primitive="future", placement="same-core",
                         memory_run="20260101T000000Z", switch_run="20260102T000000Z",
                         edge=_edge((10_000, 420_000, 0.1), (300_000, 300_000, 0.2), (3_000_000, 250_000, 0.3)))
RATE = 275_000.0
WAITERS = 948_683
RATES = (220_000, 343_750)
GiB = 2**30


def in_process_check(waiters=WAITERS, rates=RATES):
    return {"model": "asyncio", "variant": "event", "waiters": waiters, "rates": list(rates),
            "predicted_rate": RATE, "predicted_capacity": 15_811_000, "criterion": "slo", "basis": "b",
            "bytes_per_waiter": 1_103.0}


def test_points_sit_at_a_held_out_w_and_either_side_of_the_measured_wake_rate():
    check = map_checks.points(PROFILE)
    assert check["waiters"] == WAITERS and check["predicted_capacity"] == 15_811_000
    assert check["predicted_rate"] == pytest.approx(RATE, rel=1e-6)
    assert check["rates"] == list(RATES)             # 0.8x and 1.25x of the edge there, never 1 / hand-off
    assert check["bytes_per_waiter"] == 1_103.0 and set(check) == set(map_check_schema.IN_PROCESS_FIELDS)
    assert "wake rate 275,000/s at W=948,683" in check["basis"] and "20260102T000000Z" in check["basis"]
    assert "capped" not in check["basis"]
    map_check_schema.check([check], pytest.fail, [("asyncio", "event")])


def test_a_budget_too_small_for_the_held_out_w_caps_it_and_the_guard_takes_that_w():
    import dataclasses

    large = dataclasses.replace(PROFILE, edge=_edge((2_000_000, 300_000, 0.1), (8_000_000, 200_000, 0.1)))
    roomy = map_checks.points(large, 100 * GiB, 1.15)
    assert roomy["waiters"] == 4_000_000                     # 4.4 GB x 1.15 fits in 100 GiB
    check = map_checks.points(large, 4 * GiB, 1.15)
    cap = guard.waiters_within(4 * GiB, 1_103.0, 1.15)
    assert check["waiters"] == cap and 3_000_000 < cap < 3_400_000
    assert f"W capped at {cap:,}" in check["basis"] and "4,000,000" in check["basis"]
    # the edge is read at the capped W
    assert check["predicted_rate"] == pytest.approx(large.rate_at(cap).rate) and check["predicted_rate"] > 264_000
    keeper = guard.Guard(4 * GiB, 0, 1.15)
    assert keeper.refuse("asyncio", cap, [], 1_103.0) is None
    assert "exceeds the memory budget" in keeper.refuse("asyncio", cap + 10_000, [], 1_103.0)
    assert "prior" in keeper.refuse("asyncio", cap, [])     # the prior (8 KiB) would refuse it
    assert map_checks.points(large, guard.PRIOR_FIXED_BYTES, 1.15) is None   # room for none


def test_an_in_process_check_is_a_wakes_job_that_needs_no_load_generator():
    connections = {**in_process_check(9_968, (12_383, 19_349)), "variant": "connections"}
    del connections["bytes_per_waiter"]
    jobs, refused = suite.jobs([("asyncio", "event"), ("asyncio", "connections")], {}, memory=False,
                               served_grids={}, map_checks=[in_process_check(), connections],
                               served_unavailable="no go")
    assert [(j.kind, j.variant, j.rates) for j in jobs] == [(JobKind.WAKES, "event", RATES)]
    assert [job.kind for job, _ in refused] == [JobKind.SERVED]
    record = json.loads(json.dumps(jobs[0].as_record()))
    assert protocol.Job(**record) == jobs[0] and "map check at 220,000, 343,750/s" in jobs[0].label()


def test_the_probe_is_given_the_rates_and_the_checked_step():
    from parkbench.measurement.runner import probe_command

    job = protocol.Job(JobKind.WAKES, "asyncio", "event", WAITERS, rates=RATES)
    command = probe_command(job, served={"step_seconds": 1.0}, wakes={**suite.wake_settings(False), "slo_seconds": 0.005})
    chosen = json.loads(command[command.index("--wakes") + 1])
    assert chosen["rates"] == list(RATES) and chosen["step_seconds"] == map_check_jobs.STEP_SECONDS
    assert "--served" not in command and command[command.index("--n") + 1] == str(WAITERS)


def test_the_sweep_guards_a_check_by_its_planned_total_per_waiter(monkeypatch):
    from parkbench.measurement import runner
    from tests.builders import ListStore, plan_of

    asked = []

    class Recording:
        floor_bytes = 0

        def refuse(self, model, n, measured, per_waiter=None):
            asked.append((model, n, per_waiter))
            return "no room"

    check = protocol.Job(JobKind.WAKES, "asyncio", "event", WAITERS, rates=RATES)
    memory = protocol.Job(JobKind.MEMORY, "asyncio", "event", 1_000)
    monkeypatch.setattr(runner, "run_child", lambda *a, **k: pytest.fail("the guard refused it"))
    store = ListStore()
    plan = plan_of(map_checks=(in_process_check(),))
    runner.Sweep([memory, check], plan, store, guard=Recording()).run()
    assert asked == [("asyncio", 1_000, None), ("asyncio", WAITERS, 1_103.0)]
    assert [skip["reason"] for skip in store.skipped] == ["no room", "no room"]


def _checked(knee_rate, waiters=WAITERS, rates=RATES, **search):
    return checked_wakes_record(knee_rate, waiters, rates, **search)


def test_verdicts_judge_each_wake_rate_over_its_rounds_and_against_the_map():
    agreeing = map_checks.verdicts(_checked(300_000), in_process_check(), 0.005)
    assert [(r["held"], r["predicted"], r["agrees"]) for r in agreeing] == [(True, True, True),
                                                                           (False, False, True)]
    assert agreeing[0]["share"] == pytest.approx(0.8, abs=1e-5) and agreeing[0]["waiters"] == WAITERS
    assert agreeing[0]["rounds"] == "2 held, 0 failed, 0 the machine's"   # a loop has no floor
    # the loop's knee below 0.8x: the map overstates; above 1.25x: it understates
    rows = map_checks.verdicts(_checked(200_000), in_process_check(), 0.005)
    assert [(r["held"], r["agrees"]) for r in rows] == [(False, False), (False, True)]
    assert "asyncio/event at W=948,683" in map_checks.disagreement(rows[0])
    assert "overstates" in map_checks.disagreement(rows[0])
    rows = map_checks.verdicts(_checked(400_000), in_process_check(), 0.005)
    assert [(r["held"], r["agrees"]) for r in rows] == [(True, True), (True, False)]
    assert "understates" in map_checks.disagreement(rows[1]) and "1.25x" in map_checks.disagreement(rows[1])
    # the run's SLO decides: 4 ms is not held at a 3 ms SLO
    slow = _checked(400_000, p99_at=lambda rate: 0.004)
    assert [r["held"] for r in map_checks.verdicts(slow, in_process_check(), 0.005)] == [True, True]
    assert [r["held"] for r in map_checks.verdicts(slow, in_process_check(), 0.003)] == [False, False]


def test_a_run_with_both_checks_gives_verdicts_of_both_kinds():
    from tests.builders import checked_record, connections_check

    document = {"run_id": "20260105T000000Z",
                "parameters": {"slo_seconds": 0.005, "map_checks": [in_process_check(), connections_check()]},
                "measurements": [_checked(300_000), checked_record(15_000)]}
    rows = map_checks.of_run(document)
    assert [(r["variant"], r["held"]) for r in rows] == [("event", True), ("event", False),
                                                        ("connections", True), ("connections", False)]
    assert [r["variant"] for r in map_checks.of_workload(rows, "in-process")] == ["event", "event"]
    assert [r["variant"] for r in map_checks.of_workload(rows, "connections")] == ["connections"] * 2
    table = rate_tables.checks_table(rows)
    assert list(table["model/variant"]) == ["asyncio/event"] * 2 + ["asyncio/connections"] * 2


def test_a_wakes_record_and_an_in_process_check_are_untrusted_input():
    record_schema.check_measurement(_checked(300_000), "r", "run")
    broken = _checked(300_000)
    broken["wakes"]["search"]["trials"][0]["step"]["p50"] = 0.5                       # above its p99
    with pytest.raises(UserError, match="trials.0. is not one open-loop step .*out of order"):
        record_schema.check_measurement(broken, "r", "run")
    floored = _checked(300_000)
    floored["wakes"]["search"]["trials"][0]["target"] = "floor"                   # a loop has no floor
    with pytest.raises(UserError, match="target must be server"):
        record_schema.check_measurement(floored, "r", "run")
    with pytest.raises(UserError, match="1 to 10 steps"):
        record_schema.check_measurement(wakes_record([]), "r", "run")            # format 4's steps
    said = []

    def fail(rule):
        said.append(rule)
        raise UserError(rule)

    for bad in ({k: v for k, v in in_process_check().items() if k != "bytes_per_waiter"},
                {**in_process_check(), "bytes_per_waiter": -1.0}, {**in_process_check(), "bytes_per_waiter": "1 KB"}):
        with pytest.raises(UserError):
            map_check_schema.check([bad], fail)
    assert "must name bytes_per_waiter" in said[0] and "bytes_per_waiter" in said[1] + said[2]
    with pytest.raises(UserError, match="must not name bytes_per_waiter"):
        map_check_schema.check([{**in_process_check(), "variant": "connections"}], fail)


def test_only_check_plans_a_wakes_job_and_a_resumed_plan_meets_the_same_rule():
    import dataclasses

    from parkbench.cli import build_parser
    from parkbench.measurement.plan import RunPlan

    args = build_parser().parse_args(["run", "--only", "check", "--models", "asyncio:event"])
    plan = dataclasses.replace(RunPlan.from_args(args), map_checks=(in_process_check(),)).checked()
    # a check parks half a model's capacity: 7.2M asyncio tasks took over the default 120 s
    assert plan.timeout_seconds == suite.FULL_TIMEOUT_SECONDS
    timed = build_parser().parse_args(["run", "--only", "check", "--models", "asyncio:event", "--timeout", "30"])
    assert RunPlan.from_args(timed).timeout_seconds == 30
    stored = json.loads(json.dumps(plan.as_parameters()))
    reopened = RunPlan.from_document(stored, "run.json")
    jobs, refused = reopened.jobs(served_unavailable="no load generator")
    assert [(j.kind, j.n) for j in jobs] == [(JobKind.WAKES, WAITERS)] and not refused
    with pytest.raises(UserError, match="run.json.*bytes_per_waiter"):
        RunPlan.from_document({**stored, "map_checks": [{**in_process_check(), "bytes_per_waiter": 0}]}, "run.json")
    with pytest.raises(UserError, match="does not select"):
        dataclasses.replace(plan, selection=(("asyncio", "connections"),),
                            grids={"asyncio:connections": (1, 10, 100)}).checked()


def test_an_estimate_counts_a_checks_rounds(tmp_path):
    from parkbench.measurement import estimate, knee

    job = protocol.Job(JobKind.WAKES, "asyncio", "event", 1_000_000, rates=RATES)
    phases = estimate.plan_seconds([job], tmp_path, wake_settings=suite.wake_settings(False))
    assert phases["wakes"] == pytest.approx(1.0 + 25.0 + 2 * knee.ROUNDS * (
        map_check_jobs.WAKE_WARMUP_SECONDS + map_check_jobs.STEP_SECONDS))
    search = protocol.Job(JobKind.WAKES, "asyncio", "event", 1_000)
    settings = suite.wake_settings(False)
    phases = estimate.plan_seconds([search], tmp_path, wake_settings=settings)
    assert phases["wakes"] == pytest.approx(1.0 + 0.025 + estimate.SEARCH_STEPS * (
        settings["warmup_seconds"] + settings["step_seconds"]))


def test_the_in_process_maps_mark_held_and_not_held_points():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from parkbench.presentation import sizing_plots

    other = sizing.Profile("m", "threads", "condition", 40_000.0, 30_000, "threads-max", 9e-6, 1,
                           edge=_edge((1_000, 60_000, 0.1)))
    rows = map_checks.verdicts(_checked(300_000), in_process_check(), 0.005)
    axis = [10 ** (k / 4) for k in range(8, 33)]
    decision = sizing_plots.decision_map([PROFILE, other], axis, axis, 24 * GiB, 2, rows)
    marks = [line.get_gid() for ax in decision.axes for line in ax.lines
             if str(line.get_gid()).startswith("check:")]
    assert sorted(marks) == ["check:held:220000", "check:not-held:343750"]
    fit = sizing_plots.fit_map([PROFILE, other], axis, axis, 24 * GiB, 2, rows)
    per_panel = [[line.get_gid() for line in ax.lines if str(line.get_gid()).startswith("check:")]
                 for ax in fit.axes[:2]]
    assert per_panel == [["check:held:220000", "check:not-held:343750"], []]
    labels = [text.get_text() for legend in fit.legends for text in legend.get_texts()]
    assert "asyncio/event checked: held, agrees with the map" in labels
    plt.close("all")


def test_a_newer_run_that_checked_one_workload_hides_no_other(tmp_path):
    from parkbench.analysis import current
    from tests.builders import checked_record, connections_check, served_run

    older = served_run(tmp_path, [checked_record(15_000), _checked(100_000)], when="20260101T000000")
    newer = served_run(tmp_path, [_checked(300_000)], when="20260103T000000")
    for path, checks in ((older, [in_process_check(), connections_check()]), (newer, [in_process_check()])):
        doc = json.loads(path.read_text())
        doc["parameters"]["map_checks"] = checks
        path.write_text(json.dumps(doc))
    found = map_checks.newest(current.load([tmp_path / "m"]), "m")
    assert [(r["variant"], r["run_id"], r["held"]) for r in found] == [
        ("event", "20260103T000000Z", True), ("event", "20260103T000000Z", False),
        ("connections", "20260101T000000Z", True), ("connections", "20260101T000000Z", False)]


def test_the_report_marks_and_tables_an_in_process_check(tmp_path):
    import matplotlib

    from tests import shapes, synthetic
    from tests.builders import run_notebook

    shapes.write(tmp_path, "one-interpreter")
    path = synthetic.write_run(tmp_path, "m", "20260102T000000", [_checked(300_000, waiters=50_000)])
    doc = json.loads(path.read_text())
    doc["parameters"]["map_checks"] = [in_process_check(waiters=50_000)]
    path.write_text(json.dumps(doc))
    shown = run_notebook(tmp_path)
    marks = [line.get_gid() for item in shown if isinstance(item, matplotlib.figure.Figure)
             for ax in item.axes for line in ax.lines if str(line.get_gid()).startswith("check:")]
    assert "check:held:220000" in marks and "check:not-held:343750" in marks
    texts = " ".join(str(getattr(item, "data", "")) for item in shown)
    assert "asyncio/event" in texts and "run 20260102T000000Z" in texts
    assert "Every checked point agrees with the map." in texts


def test_a_run_predicts_the_in_process_check_from_the_machines_current_figures(tmp_path):
    from parkbench.analysis.tidy import interpreter_key
    from tests import shapes, synthetic

    shapes.write(tmp_path, "one-interpreter")
    key = interpreter_key(synthetic.INTERPRETER)
    found, why = map_checks.predict(tmp_path, "m", key, 2, [("asyncio", "event")])
    assert not why and [(c["model"], c["variant"]) for c in found] == [("asyncio", "event")]
    check = found[0]
    frame = current.load([tmp_path]).frame
    rates = {int(r.n): r.value for r in frame[frame.metric == "wake_rate_per_core"].itertuples()}
    assert sorted(rates) == [1_000, 10_000]
    # the loop's measured wake rate, interpolated at the held-out W between them; never
    # the hand-off's 1 / 3 µs
    assert check["waiters"] == 3_162 and check["bytes_per_waiter"] > 0
    assert check["predicted_rate"] == pytest.approx((rates[1_000] + rates[10_000]) / 2, rel=1e-3)
    assert 370_000 / 1.1 <= check["predicted_rate"] <= 410_000
    small = int((guard.PRIOR_FIXED_BYTES + 2**20) * 1.5)   # room for 1 MiB of tasks
    capped, _ = map_checks.predict(tmp_path, "m", key, 2, [("asyncio", "event")], small, 1.5)
    assert capped[0]["waiters"] == guard.waiters_within(small, check["bytes_per_waiter"], 1.5)
    assert 800 < capped[0]["waiters"] < 900 and "capped" in capped[0]["basis"]
    assert capped[0]["predicted_rate"] == pytest.approx(rates[1_000])   # held flat below 1,000
    assert map_checks.predict(tmp_path, "m", key, 2, [("threads", "condition")])[0] == []


@pytest.mark.slow
def test_only_check_runs_a_tiny_in_process_check_end_to_end(tmp_path, monkeypatch, capsys):
    """``parkbench run --only check`` with a prediction shrunk to W=1,000 and 1 s steps:
    the wakes job runs, the run file stores and re-reads it, and its verdicts come out."""
    from parkbench.cli import main
    from parkbench.store import results

    tiny = {**in_process_check(waiters=1_000, rates=(1_000, 1_500)), "predicted_rate": 1_250.0,
            "predicted_capacity": 2_000, "bytes_per_waiter": 1_103.0}
    monkeypatch.setattr(map_checks, "predict", lambda *a, **k: ([tiny], ""))
    monkeypatch.setattr(map_check_jobs, "STEP_SECONDS", 1.0)
    status = main(["run", "--only", "check", "--models", "asyncio:event", "--output", str(tmp_path),
                   "--machine", "tiny"])
    assert status == 0, capsys.readouterr().err
    (path,) = results.find_run_files(tmp_path / "tiny")
    document = results.read_run(path)
    (record,) = document["measurements"]
    assert record["kind"] == "wakes" and record["rates"] == [1_000, 1_500]
    rows = map_checks.of_run(document)
    assert [(r["offered"], r["predicted"]) for r in rows] == [(1_000, True), (1_500, False)]
    assert all(r["waiters"] == 1_000 for r in rows)
