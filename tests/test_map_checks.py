"""The fit map checked against reality (``map_checks.py``): the points planned around a
profile's predicted edge, the jobs and commands they become, the verdicts of their
records, the report's marks, and a run file's checks as untrusted input."""

import json
import shutil

import pytest

from parkbench.analysis import current, map_checks, served_figures, sizing
from parkbench.cli import main
from parkbench.core import protocol
from parkbench.core.errors import UserError
from parkbench.core.protocol import JobKind
from parkbench.measurement import map_check_jobs, suite
from parkbench.presentation import headline
from parkbench.store import map_check_schema, record_schema, results
from tests import synthetic
from tests.builders import (
    connections_check,
    connections_check_record,
    document,
    served_record,
    served_run,
    step_record,
    wakes_record,
)
from tests.damage import COMMITTED_MACHINE, committed_copy, edit

# uneven figures: a mix-up of capacity and rate, or of the two shares, changes every number
PROFILE = sizing.Profile("m", "asyncio", "connections", 8_300.0, 19_937, "rlimit_nofile", 0.0, 1,
                         interpreter="CPython 3.11.7", capacity_basis="predicted",
                         memory_run="20260101T000000Z", served_per_core=15_479.0,
                         served_basis="held at the SLO, W=19,000", served_run="20260102T000000Z")


def test_points_sit_at_half_the_capacity_and_either_side_of_the_predicted_rate():
    check = map_checks.points(PROFILE)
    assert check["waiters"] == 9_968                   # half of 19,937, whole
    assert check["rates"] == [12_383, 19_349]          # 0.8x and 1.25x of 15,479
    assert check["predicted_rate"] == 15_479.0 and check["predicted_capacity"] == 19_937
    assert "20260102T000000Z" in check["basis"] and "20260101T000000Z" in check["basis"]
    assert set(check) == set(map_check_schema.FIELDS)


def test_a_profile_without_a_rate_or_room_is_not_checked():
    from dataclasses import replace

    assert map_checks.points(replace(PROFILE, served_per_core=None)) is None
    assert map_checks.points(replace(PROFILE, capacity=1)) is None


def _refused(checks, selection=None) -> str:
    said = []

    def fail(rule):
        said.append(rule)
        raise UserError(rule)

    with pytest.raises(UserError):
        map_check_schema.check(checks, fail, selection)
    return said[0]


def test_checks_are_untrusted_input():
    map_check_schema.check([connections_check()], pytest.fail, [("asyncio", "connections")])
    assert "at most 2" in _refused([connections_check()] * 100_000)
    assert "at most 2" in _refused("asyncio")
    assert "name exactly" in _refused([{**connections_check(), "extra": 1}])
    assert "not a checked default model" in _refused([{**connections_check(), "model": "threads"}])
    assert "not a checked default model" in _refused([{**connections_check(), "model": ["asyncio"]}])
    assert "does not select" in _refused([connections_check()], [("threads", "connections")])
    assert "waiters" in _refused([connections_check(waiters=True)])
    assert "waiters" in _refused([connections_check(waiters=10**400)])
    assert "rates" in _refused([connections_check(rates=(19_349, 12_383))])
    assert "rates" in _refused([connections_check(rates=(1.5,))])
    assert "rates" in _refused([connections_check(rates=list(range(1, 12)))])
    assert "predicted_rate" in _refused([{**connections_check(), "predicted_rate": float("nan")}])
    assert "predicted_capacity" in _refused([{**connections_check(), "predicted_capacity": 10**400}])


def test_a_check_is_a_served_job_of_its_own_after_the_served_ones():
    jobs, refused = suite.jobs([("asyncio", "connections")], {}, memory=False,
                               served_grids={"asyncio:connections": (100,)}, map_checks=[connections_check()])
    assert not refused
    assert [(j.kind, j.n, j.rates) for j in jobs] == [(JobKind.SERVED, 100, None),
                                                      (JobKind.SERVED, 9_968, (12_383, 19_349))]
    check = jobs[-1]
    assert check.series != jobs[0].series            # a failed check stops no served round
    record = json.loads(json.dumps(check.as_record()))
    assert protocol.Job(**record) == check and hash(protocol.Job(**record)) == hash(check)
    assert "rates" not in jobs[0].as_record()       # every other job's record as before
    assert "map check at 12,383, 19,349/s" in check.label()


def test_no_load_generator_refuses_the_checks_too():
    jobs, refused = suite.jobs([("asyncio", "connections")], {}, memory=False, served_grids={},
                               map_checks=[connections_check()], served_unavailable="no go")
    assert not jobs and [job.rates for job, _ in refused] == [(12_383, 19_349)]


def test_the_probe_is_given_the_rates_and_a_longer_step():
    from parkbench.measurement.runner import probe_command

    job = protocol.Job(JobKind.SERVED, "asyncio", "connections", 9_968, rates=(12_383, 19_349))
    command = probe_command(job, served={"step_seconds": 1.0, "shares": [0.5, 1.0]})
    chosen = json.loads(command[command.index("--served") + 1])
    assert chosen["rates"] == [12_383, 19_349] and chosen["step_seconds"] == map_check_jobs.STEP_SECONDS
    plain = probe_command(protocol.Job(JobKind.SERVED, "asyncio", "connections", 100),
                          served={"step_seconds": 1.0})
    assert "rates" not in json.loads(plain[plain.index("--served") + 1])


def test_verdicts_judge_each_rate_as_a_served_step_and_against_the_map(tmp_path):
    # 0.8x not held (p99 over the SLO), 1.25x held: both disagree with the map
    record = connections_check_record([(12_383, 0.0059), (19_349, 0.0003)])
    rows = map_checks.verdicts(record, connections_check(), 0.005)
    assert [(r["held"], r["predicted"], r["agrees"]) for r in rows] == [(False, True, False),
                                                                       (True, False, False)]
    assert rows[0]["share"] == pytest.approx(0.8, abs=1e-4)
    texts = [map_checks.disagreement(r) for r in rows]
    assert "overstates" in texts[0] and "W=9,968" in texts[0] and "12,383" in texts[0]
    assert "understates" in texts[1] and "1.25x" in texts[1]
    agreeing = map_checks.verdicts(connections_check_record([(12_383, 0.001), (19_349, 0.02)]), connections_check(), 0.005)
    assert [r["agrees"] for r in agreeing] == [True, True]
    assert [map_checks.disagreement(r) for r in agreeing] == ["", ""]
    # a low p99 is not enough: 97% of the offered rate achieved is not held

    short = connections_check_record([(12_383, 0.001)])
    short["served"]["open_run"] = document(step_record(12_383, achieved=12_000.0, p99=0.001, seconds=1.0))
    assert map_checks.verdicts(short, connections_check(), 0.005)[0]["held"] is False
    # a W beyond the predicted capacity is "more than one machine" whatever the rate
    beyond = map_checks.verdicts(connections_check_record([(12_383, 0.001)], waiters=20_000), connections_check(), 0.005)
    assert beyond[0]["predicted"] is False
    # a check the rest of the machine disturbed says so, in its row and its sentence
    busy = {**record, "interference": {"window_seconds": 12.0, "other_cpu_seconds": 6.0, "other_threads": 0,
                                       "running": 3, "disturbed": True, "why": "others used 6.00 CPU-s"}}
    rows = map_checks.verdicts(busy, connections_check(), 0.005)
    assert [r["disturbed"] for r in rows] == [True, True]
    assert "busy meanwhile" in map_checks.disagreement(rows[0])
    assert "busy meanwhile" not in texts[0]
    quiet = {**record, "interference": {**busy["interference"], "disturbed": False}}
    quiet_rows = map_checks.verdicts(quiet, connections_check(), 0.005)
    shown = headline.checks_table([{**r, "run_id": "x"} for r in rows + quiet_rows + agreeing])
    assert list(shown["rest of the machine"]) == ["busy", "busy", "quiet", "quiet", "-", "-"]  # -: not recorded


def test_check_records_stay_out_of_the_served_figures_and_the_newest_run_speaks(tmp_path):
    from parkbench.analysis import current

    normal = served_record("asyncio", "connections", 100, 80_000, [(20_000, 0.001), (40_000, 0.001)], 12e-6)
    older = served_run(tmp_path, [normal, connections_check_record([(12_383, 0.001), (19_349, 0.001)])],
                 when="20260101T000000")
    newer = served_run(tmp_path, [connections_check_record([(12_383, 0.009), (19_349, 0.009)])], when="20260103T000000")
    for path in (older, newer):
        doc = json.loads(path.read_text())
        doc["parameters"]["map_checks"] = [connections_check()]
        path.write_text(json.dumps(doc))
    rows = served_figures.rows(json.loads(older.read_text()), {"machine": "m", "run_id": "r", "interpreter": "i"})
    assert {row["n"] for row in rows} == {100}       # the check's W=9,968 is no served figure
    figures = current.load([tmp_path / "m"])
    found = map_checks.newest(figures, "m")
    assert {row["run_id"] for row in found} == {"20260103T000000Z"}
    assert [row["held"] for row in found] == [False, False]
    assert map_checks.newest(figures, "other") == []


def test_a_run_file_with_malformed_checks_is_a_one_line_error(tmp_path):

    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [])
    doc = json.loads(path.read_text())
    doc["parameters"]["map_checks"] = [{**connections_check(), "rates": "many"}]
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="parameters.map_checks .*rates"):
        results.read_run(path)


def test_the_maps_mark_held_and_not_held_points_on_the_checked_model_only():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from parkbench.presentation import sizing_plots

    other = sizing.Profile("m", "threads", "connections", 48_000.0, 19_994, "rlimit_nofile", 0.0, 1,
                           served_per_core=44_230.0)
    rows = map_checks.verdicts(connections_check_record([(12_383, 0.0059), (19_349, 0.0003)]), connections_check(), 0.005)
    axis = [10 ** (k / 4) for k in range(8, 33)]
    decision = sizing_plots.decision_map([PROFILE, other], axis, axis, 24 * 2**30, 2, rows)
    marks = [line.get_gid() for ax in decision.axes for line in ax.lines if str(line.get_gid()).startswith("check:")]
    assert sorted(marks) == ["check:held:19349", "check:not-held:12383"]
    fit = sizing_plots.fit_map([PROFILE, other], axis, axis, 24 * 2**30, 2, rows)
    per_panel = [[line.get_gid() for line in ax.lines if str(line.get_gid()).startswith("check:")]
                 for ax in fit.axes[:2]]
    assert per_panel == [["check:not-held:12383", "check:held:19349"], []]
    labels = [text.get_text() for legend in fit.legends for text in legend.get_texts()]
    assert "asyncio/connections checked: held at the SLO" in labels
    assert "asyncio/connections checked: not held at the SLO" in labels
    plt.close("all")


def test_a_plan_stores_its_checks_and_a_resumed_one_meets_the_same_rule():
    import dataclasses

    from parkbench.cli import build_parser
    from parkbench.measurement.plan import RunPlan

    args = build_parser().parse_args(["run", "--only", "check", "--models", "asyncio:connections"])
    plan = RunPlan.from_args(args)
    assert plan.served and not plan.served_grids and not plan.memory and not plan.latency
    with_checks = dataclasses.replace(plan, map_checks=(connections_check(),)).checked()
    stored = json.loads(json.dumps(with_checks.as_parameters()))
    assert stored["map_checks"] == [connections_check()]
    reopened = RunPlan.from_document(stored, "run.json")
    assert reopened.jobs()[0][-1].rates == (12_383, 19_349)
    with pytest.raises(UserError, match="run.json.*rates"):
        RunPlan.from_document({**stored, "map_checks": [connections_check(rates=(5, 5))]}, "run.json")
    assert "map_checks" not in plan.as_parameters()       # a run without checks stores none


def test_only_check_on_a_machine_without_figures_is_a_one_line_error(tmp_path, capsys):

    status = main(["run", "--only", "check", "--output", str(tmp_path), "--machine", "fresh"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert "--only check: no figures of fresh yet" in err[0]
    assert not (tmp_path / "fresh").exists()            # nothing written on bad input


def _checked(record):
    return record_schema.check_measurement(json.loads(json.dumps(record)), "r", "20261126T000000Z")


def test_a_wakes_record_offers_its_jobs_rates():
    _checked(wakes_record([(109_589, 0.001), (171_233, 0.002)]))
    other = wakes_record([(109_589, 0.001), (171_234, 0.002)])  # one more per second
    with pytest.raises(UserError, match=r"wakes.steps offer \[109589, 171234\]/s, not the job's rates"):
        _checked(other)
    unplanned = wakes_record([(109_589, 0.001), (171_233, 0.002)])
    del unplanned["rates"]
    with pytest.raises(UserError, match="lacks 'rates'"):
        _checked(unplanned)


def test_a_served_map_check_offers_its_jobs_rates_and_may_stop_early():
    record = connections_check_record([(12_383, 0.001), (19_349, 0.002)])
    _checked({**record, "n": record["n"], "parked": record["n"]})
    with pytest.raises(UserError, match="open_run.steps offer"):
        _checked(connections_check_record([(19_349, 0.001), (30_000, 0.002)]))  # the first rate missing
    _checked(connections_check_record([(12_383, 0.001)]))  # a stopped run: the rates it reached


def test_a_hand_off_too_short_to_offer_gives_no_check_not_an_overflow():
    profile = sizing.Profile("m", "asyncio", "event", 1_100.0, 20_000_000, "memory", 5e-324, 1)
    assert map_checks.points(profile) is None        # 1 / 5e-324 per second: nothing to offer
    fine = sizing.Profile("m", "asyncio", "event", 1_100.0, 20_000_000, "memory", 2e-6, 1)
    assert map_checks.points(fine)["rates"] == [400_000, 625_000]


def _in_process_check(waiters=1_000, rates=(100, 200)):
    return {"model": "asyncio", "variant": "event", "waiters": waiters, "rates": list(rates),
            "predicted_rate": 150.0, "predicted_capacity": 2_000, "basis": "b", "bytes_per_waiter": 1_100.0}


def test_repeated_map_checks_run_once_and_two_of_one_model_are_refused():
    same = _in_process_check()
    assert map_check_schema.once([same, dict(same)]) == (same,)
    problems = []
    map_check_schema.check([same, _in_process_check(waiters=999)], problems.append)
    assert problems and "two map checks of asyncio/event" in problems[0]


def test_an_incomplete_run_s_checks_speak_for_nothing(tmp_path):
    folder = committed_copy(tmp_path).parent
    before = {row["run_id"] for row in map_checks.newest(current.load([folder]), COMMITTED_MACHINE)}
    assert before
    copy = folder / "20261203T000000Z.json"
    shutil.copy(folder / "20261202T013159Z.json", copy)  # a committed run with both map checks

    def interrupted(document):
        document["run_id"], document["complete"] = "20261203T000000Z", False
        for record in document["measurements"]:
            for step in (record.get("wakes") or {}).get("steps", []):
                step["p99"] = step["max"] = step["p999"] = 1e-5   # would agree with the map
                step["p90"] = step["p50"] = 1e-6

    edit(copy, interrupted)
    figures = current.load([folder])
    assert {row["run_id"] for row in map_checks.newest(figures, COMMITTED_MACHINE)} == before   # not the newer copy
