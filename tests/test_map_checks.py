"""The fit map checked against reality (``map_checks.py``): the points planned around a
profile's predicted edge, the jobs and commands they become, the verdicts of their
records, the report's marks, and a run file's checks as untrusted input."""

import dataclasses
import json
import shutil

import pytest

from parkbench.analysis import current, edges, map_checks, served_figures, sizing
from parkbench.cli import main
from parkbench.core import protocol
from parkbench.core.errors import UserError
from parkbench.core.protocol import JobKind
from parkbench.measurement import map_check_jobs, suite
from parkbench.presentation import rate_tables
from parkbench.store import map_check_schema, record_schema, results
from tests import synthetic
from tests.builders import (
    checked_record,
    checked_wakes_record,
    connections_check,
    connections_check_record,
    document,
    searched_record,
    served_run,
    step_record,
    wakes_record,
)
from tests.damage import COMMITTED_MACHINE, committed_copy, edit


def _edge(*points, basis="SLO: p99 within the SLO", run="20260102T000000Z"):
    return tuple(edges.point(w, rate, spread, basis, run) for w, rate, spread in points)


# uneven figures: a mix-up of capacity and rate, of the two shares, or of log and linear W
# changes every number
PROFILE = sizing.Profile("m", "asyncio", "connections", 8_300.0, 19_937, "rlimit_nofile", 0.0, 1,
                         interpreter="CPython 3.11.7", capacity_basis="predicted",
                         memory_run="20260101T000000Z",
                         edge=_edge((100, 41_000, 0.1), (1_000, 30_000, 0.1), (10_000, 16_000, 0.2)))


def test_points_sit_at_a_held_out_w_and_either_side_of_the_edge_there():
    check = map_checks.points(PROFILE)
    # between the two largest W measured (1,000 and 10,000), never one the edge was drawn
    # from: their geometric midpoint, 3,162, where the edge (log-W interpolated) is 23,000
    assert check["waiters"] == 3_162
    assert check["predicted_rate"] == pytest.approx(30_000 + (16_000 - 30_000) * 0.5, rel=1e-4)
    assert check["rates"] == [round(check["predicted_rate"] * 0.8), round(check["predicted_rate"] * 1.25)]
    assert check["predicted_capacity"] == 19_937 and check["criterion"] == "slo"
    assert "20260102T000000Z" in check["basis"] and "20260101T000000Z" in check["basis"]
    assert set(check) == set(map_check_schema.FIELDS)
    # one measured W: twice it, the edge held flat there; never more than half the capacity
    single = dataclasses.replace(PROFILE, edge=_edge((1_000, 30_000, 0.1)))
    assert map_checks.points(single)["waiters"] == 2_000
    assert map_checks.points(dataclasses.replace(single, capacity=3_000))["waiters"] == 1_500


def test_a_check_is_judged_by_its_edge_s_criterion():
    saturated = dataclasses.replace(PROFILE, edge=_edge((1_000, 30_000, 0.1), (10_000, 16_000, 0.2),
                                                        basis="saturation: kept up"))
    assert map_checks.points(saturated)["criterion"] == "saturation"
    mixed = dataclasses.replace(PROFILE, edge=_edge((1_000, 30_000, 0.1)) + _edge(
        (10_000, 16_000, 0.2), basis="floor-bound: kept up"))
    assert map_checks.criterion(mixed, 3_162) == "saturation"
    assert map_checks.criterion(PROFILE, 3_162) == "slo"


def test_a_profile_without_an_edge_or_room_is_not_checked():
    assert map_checks.points(dataclasses.replace(PROFILE, edge=())) is None
    assert map_checks.points(dataclasses.replace(PROFILE, capacity=1)) is None
    # a rate the offered steps cannot reach (over 10^8/s at 1.25x) is no prediction to check
    assert map_checks.points(dataclasses.replace(PROFILE, edge=_edge((1_000, 1e300, 0.0)))) is None


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
    assert "criterion" in _refused([connections_check(criterion="vibes")])


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


def test_the_probe_is_given_the_rates_its_rounds_and_the_slo_judged():
    from parkbench.measurement.runner import probe_command

    job = protocol.Job(JobKind.SERVED, "asyncio", "connections", 9_968, rates=(12_383, 19_349))
    command = probe_command(job, served={**suite.served_settings(False), "slo_seconds": 0.005})
    chosen = json.loads(command[command.index("--served") + 1])
    assert chosen["rates"] == [12_383, 19_349] and chosen["step_seconds"] == map_check_jobs.STEP_SECONDS
    assert chosen["judge_slo"] is True   # where the floor lets it; the verdict takes the edge's criterion
    plain = probe_command(protocol.Job(JobKind.SERVED, "asyncio", "connections", 100),
                          served=suite.served_settings(False))
    assert "rates" not in json.loads(plain[plain.index("--served") + 1])
    wakes = protocol.Job(JobKind.WAKES, "asyncio", "event", 3_162, rates=(100, 200))
    command = probe_command(wakes, wakes={**suite.wake_settings(False), "slo_seconds": 0.005})
    chosen = json.loads(command[command.index("--wakes") + 1])
    assert chosen["rates"] == [100, 200] and chosen["slo_seconds"] == 0.005
    assert chosen["step_seconds"] == map_check_jobs.STEP_SECONDS


def test_verdicts_judge_each_rate_over_its_rounds_and_against_the_map():
    # the server's knee between the two rates: 0.8x held, 1.25x not, both agree with the map
    rows = map_checks.verdicts(checked_record(15_000), connections_check(), 0.005)
    assert [(r["offered"], r["held"], r["predicted"], r["agrees"]) for r in rows] == [
        (12_383, True, True, True), (19_349, False, False, True)]
    assert rows[0]["share"] == pytest.approx(0.8, abs=1e-4) and rows[0]["rounds"] == "2 held, 0 failed, 0 the machine's"
    assert [map_checks.verdict_word(r) for r in rows] == ["agrees", "agrees"]
    assert [map_checks.disagreement(r) for r in rows] == ["", ""]
    # the knee below 0.8x: the map overstates the edge; above 1.25x: it understates it
    low = map_checks.verdicts(checked_record(10_000), connections_check(), 0.005)
    assert [(r["held"], r["agrees"]) for r in low] == [(False, False), (False, True)]
    text = map_checks.disagreement(low[0])
    assert "overstates" in text and "W=9,968" in text and "12,383" in text and "did not hold the SLO" in text
    high = map_checks.verdicts(checked_record(25_000), connections_check(), 0.005)
    assert [(r["held"], r["agrees"]) for r in high] == [(True, True), (True, False)]
    assert "understates" in map_checks.disagreement(high[1]) and "1.25x" in map_checks.disagreement(high[1])
    # held means what the edge's criterion says: a p99 over the SLO fails an SLO check, and
    # passes a saturation one
    slow = checked_record(25_000, p99_at=lambda rate: 0.009)
    assert [r["held"] for r in map_checks.verdicts(slow, connections_check(), 0.005)] == [False, False]
    by_saturation = map_checks.verdicts(slow, connections_check(criterion="saturation"), 0.005)
    assert [(r["held"], r["criterion"]) for r in by_saturation] == [(True, "saturation"), (True, "saturation")]
    assert "kept up (saturation)" in map_checks.disagreement(by_saturation[1])
    # where the machine's own floor misses the SLO, saturation judges, and the row says so
    floor = checked_record(15_000, p99_at=lambda rate: 0.009, floor_p99=0.009)
    judged = map_checks.verdicts(floor, connections_check(), 0.005)
    assert [(r["held"], r["criterion"]) for r in judged] == [(True, "saturation"), (False, "saturation")]
    assert "floor missed the SLO" in judged[0]["note"]
    # a W beyond the predicted capacity is "more than one machine" whatever the rate
    beyond = map_checks.verdicts(checked_record(15_000, waiters=20_000), connections_check(), 0.005)
    assert beyond[0]["predicted"] is False


def test_a_round_the_floor_failed_too_is_the_machine_s_not_the_server_s():
    record = checked_record(15_000)
    trials = record["served"]["search"]["trials"]
    first = next(t for t in trials if t["rate"] == 12_383)
    stalled = step_record(12_383, achieved=11_000.0, p99=0.05, seconds=0.1, p50=0.02)
    first["step"] = stalled                   # the server's first round at 0.8x stalled ...
    machine = {**first, "target": "floor", "cpu_seconds": None, "requests": 0}
    trials.insert(trials.index(first) + 1, machine)   # ... and the floor beside it too
    again = next(t for t in trials if t["rate"] == 12_383 and t["round"] == 1)
    trials.append({**again, "round": 2})              # so a third round was run
    (held, _) = map_checks.verdicts(record, connections_check(), 0.005)
    assert held["held"] is True and held["rounds"] == "2 held, 0 failed, 1 the machine's"
    machine["step"] = step_record(12_383, p99=0.001, seconds=0.1)   # a quiet floor
    (failed_once, _) = map_checks.verdicts(record, connections_check(), 0.005)
    assert failed_once["rounds"] == "2 held, 1 failed, 0 the machine's" and failed_once["held"] is True


def test_a_check_from_before_the_rounds_is_judged_by_its_one_step():
    # format 4: one step per rate, held at the SLO or not
    record = connections_check_record([(12_383, 0.0059), (19_349, 0.0003)])
    rows = map_checks.verdicts(record, connections_check(), 0.005)
    assert [(r["held"], r["predicted"], r["agrees"], r["rounds"]) for r in rows] == [
        (False, True, False, "1 step"), (True, False, False, "1 step")]
    short = connections_check_record([(12_383, 0.001)])
    short["served"]["open_run"] = document(step_record(12_383, achieved=12_000.0, p99=0.001, seconds=1.0))
    assert map_checks.verdicts(short, connections_check(), 0.005)[0]["held"] is False


def test_a_disturbed_check_says_so_in_its_row_its_sentence_and_the_report():
    record = checked_record(10_000)
    busy = {**record, "interference": {"window_seconds": 12.0, "other_cpu_seconds": 6.0, "other_threads": 0,
                                       "running": 3, "disturbed": True, "why": "others used 6.00 CPU-s"}}
    rows = map_checks.verdicts(busy, connections_check(), 0.005)
    assert [r["disturbed"] for r in rows] == [True, True]
    assert "busy meanwhile" in map_checks.disagreement(rows[0])
    assert "busy meanwhile" not in map_checks.disagreement(map_checks.verdicts(record, connections_check(), 0.005)[0])
    quiet = {**record, "interference": {**busy["interference"], "disturbed": False}}
    quiet_rows = map_checks.verdicts(quiet, connections_check(), 0.005)
    plain = map_checks.verdicts(record, connections_check(), 0.005)
    shown = rate_tables.checks_table([{**r, "run_id": "x"} for r in rows + quiet_rows + plain])
    assert list(shown["rest of the machine"]) == ["busy", "busy", "quiet", "quiet", "-", "-"]  # -: not recorded
    assert list(shown["verdict"]) == ["disagrees", "agrees"] * 3


def test_check_records_stay_out_of_the_served_figures_and_the_newest_run_speaks(tmp_path, capsys):
    from parkbench.analysis import current

    normal = searched_record("asyncio", "connections", 100, 80_000, 41_000, 12e-6)
    older = served_run(tmp_path, [normal, checked_record(15_000)], when="20260101T000000")
    newer = served_run(tmp_path, [checked_record(10_000)], when="20260103T000000")
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
    # one interpreter's maps take its own runs' checks, each named with its interpreter
    label = figures.runs[("m", "20260103T000000Z")].interpreter
    assert {row["interpreter"] for row in found} == {label}
    assert map_checks.newest(figures, "m", label) == found
    assert map_checks.newest(figures, "m", label + "t") == []
    # show states each check's verdict
    assert main(["show", str(tmp_path)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "asyncio/connections" in line and "9,968" in line]
    assert [line.split()[6] for line in lines[:2]] == ["disagrees", "agrees"]
    assert any("the map overstates this edge" in line for line in lines)
    # show's json: a record per checked point after the figures, with its verdict
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    checks = [record for record in records if record.get("kind") == "map_check"]
    assert [(c["waiters"], c["held"], c["agrees"], c["run_id"]) for c in checks] == [
        (9_968, False, False, "20260103T000000Z"), (9_968, False, True, "20260103T000000Z")]
    assert records[-len(checks):] == checks and len(records) > len(checks)
    # fit: the row of the checked edge says what the check found, and in which run
    synthetic.write_run(tmp_path, "m", "20260102T000000",
                        [synthetic.memory_record("asyncio", "connections", n) for n in (1_000, 3_000, 12_000)])
    assert main(["fit", "--waiters", "1k", "--rate", "1k", "--results", str(tmp_path)]) == 0
    row, = [line for line in capsys.readouterr().out.splitlines() if "asyncio/connections" in line]
    assert ("map checked at W=9,968 (run 20260103T000000Z): 0.80x not held, 1.25x not held: "
            "DISAGREES with the map") in row


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
                           edge=_edge((100, 44_230, 0.1)))
    rows = map_checks.verdicts(checked_record(10_000), connections_check(), 0.005)
    axis = [10 ** (k / 4) for k in range(8, 33)]
    decision = sizing_plots.decision_map([PROFILE, other], axis, axis, 24 * 2**30, 2, rows)
    marks = [line.get_gid() for ax in decision.axes for line in ax.lines if str(line.get_gid()).startswith("check:")]
    assert sorted(marks) == ["check:not-held:12383", "check:not-held:19349"]
    fit = sizing_plots.fit_map([PROFILE, other], axis, axis, 24 * 2**30, 2, rows)
    per_panel = [[line.get_gid() for line in ax.lines if str(line.get_gid()).startswith("check:")]
                 for ax in fit.axes[:2]]
    assert per_panel == [["check:not-held:12383", "check:not-held:19349"], []]
    labels = [text.get_text() for legend in fit.legends for text in legend.get_texts()]
    assert "asyncio/connections checked: not held, DISAGREES with the map" in labels
    assert "asyncio/connections checked: not held, agrees with the map" in labels
    plt.close("all")


def test_a_checked_point_wears_its_model_colour_not_the_winners():
    """The asyncio check sat on threads' region of the decision map as a red cross: read as a
    threads failure. Each marker is filled with the checked model's colour, and its legend
    entry, drawn the same, names that model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from parkbench.presentation import plots, sizing_plots

    other = sizing.Profile("m", "threads", "connections", 48_000.0, 19_994, "rlimit_nofile", 0.0, 1,
                           edge=_edge((100, 44_230, 0.1)))
    rows = map_checks.verdicts(checked_record(10_000), connections_check(), 0.005)
    axis = [10 ** (k / 4) for k in range(8, 33)]
    for figure in (sizing_plots.decision_map([PROFILE, other], axis, axis, 24 * 2**30, 2, rows),
                   sizing_plots.fit_map([PROFILE, other], axis, axis, 24 * 2**30, 2, rows)):
        marks = [line for ax in figure.axes for line in ax.lines if str(line.get_gid()).startswith("check:")]
        assert marks and {to_hex(line.get_markerfacecolor()) for line in marks} == {plots.model_colour("asyncio")}
        legends = [ax.get_legend() for ax in figure.axes if ax.get_legend()] + list(figure.legends)
        handles = [h for legend in legends for h in legend.legend_handles if "checked" in h.get_label()]
        assert handles and all(h.get_label().startswith("asyncio/connections checked") for h in handles)
        assert {to_hex(h.get_markerfacecolor()) for h in handles} == {plots.model_colour("asyncio")}
        assert {h.get_marker() for h in handles} <= {line.get_marker() for line in marks}
    plt.close("all")


def test_the_fit_map_draws_the_measured_edge_its_band_and_where_it_is_held_flat():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from parkbench.presentation import sizing_plots

    axis = [10 ** (k / 4) for k in range(8, 33)]      # 100 .. 10^8
    fit = sizing_plots.fit_map([PROFILE], axis, axis, 24 * 2**30, 2)
    ax = fit.axes[0]
    (points,) = [line for line in ax.lines if line.get_gid() == "edge:asyncio/connections"]
    assert list(points.get_xdata()) == [100, 1_000, 10_000] and list(points.get_ydata()) == [41_000, 30_000, 16_000]
    (band,) = [c for c in ax.collections if c.get_gid() == "band:asyncio/connections"]
    low, high = band.get_paths()[0].vertices[:, 1].min(), band.get_paths()[0].vertices[:, 1].max()
    assert low == pytest.approx(16_000 * 0.9) and high == pytest.approx(41_000 * 1.05)
    solid, dashed = [line for line in ax.lines if line.get_gid() is None and line.get_linestyle() in ("-", "--")][:2]
    beyond = [x for x, y in zip(dashed.get_xdata(), dashed.get_ydata()) if y == y]
    assert min(beyond) > 10_000 and max(beyond) <= PROFILE.capacity   # held flat to the capacity
    assert "W 100-10,000 (3)" in ax.get_title()
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
    _checked(checked_wakes_record(150_000))
    _checked(wakes_record([(109_589, 0.001), (171_233, 0.002)]))       # format 4: one step a rate
    other = checked_wakes_record(150_000, rates=(109_589, 171_234))
    other["rates"] = [109_589, 171_233]                                 # one more per second
    with pytest.raises(UserError, match=r"wakes.search.rates are \[109589, 171234\]/s, not the job's rates"):
        _checked(other)
    old = wakes_record([(109_589, 0.001), (171_234, 0.002)])
    with pytest.raises(UserError, match=r"wakes.steps offer \[109589, 171234\]/s, not the job's rates"):
        _checked(old)
    unplanned = checked_wakes_record(150_000)     # a check's rounds in a job without rates
    del unplanned["rates"]
    with pytest.raises(UserError, match=r"wakes.search.rates are \[109589, 171233\]/s, not the job's rates \[\]"):
        _checked(unplanned)


def test_a_served_map_check_offers_its_jobs_rates():
    _checked(checked_record(15_000))
    stray = checked_record(15_000)
    stray["served"]["search"]["trials"][0]["rate"] = 30_000.0
    stray["served"]["search"]["trials"][0]["step"] = step_record(30_000, seconds=0.1)
    with pytest.raises(UserError, match="offer .*none of the job's rates"):
        _checked(stray)
    with pytest.raises(UserError, match="open_run.steps offer"):
        _checked(connections_check_record([(19_349, 0.001), (30_000, 0.002)]))  # format 4, the first rate missing
    _checked(connections_check_record([(12_383, 0.001)]))  # a stopped run: the rates it reached


def _in_process_check(waiters=1_000, rates=(100, 200)):
    return {"model": "asyncio", "variant": "event", "waiters": waiters, "rates": list(rates),
            "predicted_rate": 150.0, "predicted_capacity": 2_000, "criterion": "slo", "basis": "b",
            "bytes_per_waiter": 1_100.0}


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


def test_a_held_out_w_is_never_a_midpoint_cut_down_onto_a_measured_w():
    # measured at 100, 1,000, 10,000 and 19,000 with a capacity of 19,936: the midpoint of
    # the two largest (13,784) is over half the capacity, and cut to 9,968 it would sit
    # beside the measured 10,000; the largest midpoint under it is 3,162
    measured = dataclasses.replace(PROFILE, capacity=19_936, edge=_edge(
        (100, 40_000, 0.1), (1_000, 30_000, 0.1), (10_000, 16_000, 0.2), (19_000, 15_000, 0.2)))
    assert map_checks.held_out_waiters(measured) == 3_162
