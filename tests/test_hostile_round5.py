"""A fifth round of hostile files, against results format 3 (a record names its job
once) and what the fourth round left: each case was accepted, or left something behind,
before its fix."""

import json
import shutil

import pytest

from parkbench.cli import main
from parkbench.core.errors import UserError
from parkbench.store import loadgen_output, record_schema, results
from tests import committed, synthetic
from tests.test_inprocess_check import wakes_record
from tests.test_loadgen import document, step_record
from tests.test_map_checks import _check_record

MACHINE = "x86_64-2cpu-24gib"
RUN = "20261126T000000Z"


def _refused_after(path, change, said):
    """``path`` (a run file) edited by ``change(document)``, then read: refused so."""
    stored = json.loads(path.read_text())
    change(stored)
    path.write_text(json.dumps(stored))
    with pytest.raises(UserError, match=said):
        results.read_run(path)


def _committed_copy(tmp_path, run_id="20261126T181921Z"):
    shutil.copytree(committed.results() / MACHINE, tmp_path / MACHINE)
    return tmp_path / MACHINE / f"{run_id}.json"


def _checked(record):
    return record_schema.check_measurement(json.loads(json.dumps(record)), "r", RUN)


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
    record = _check_record([(12_383, 0.001), (19_349, 0.002)])
    _checked({**record, "n": record["n"], "parked": record["n"]})
    with pytest.raises(UserError, match="open_run.steps offer"):
        _checked(_check_record([(19_349, 0.001), (30_000, 0.002)]))  # the first rate missing
    _checked(_check_record([(12_383, 0.001)]))  # a stopped run: the rates it reached


@pytest.mark.parametrize("change, said", [
    (lambda r: r.update(job={"kind": "memory"}), "job belongs to results format 2"),
    (lambda r: r.update(kind="sleep"), "kind must be one of memory, switch, tail, served, wakes"),
    (lambda r: r.update(repeat=-1), "repeat must be"),
    (lambda r: r.update(repeat=True), "repeat must be"),
    (lambda r: r.update(primitive={"a": 1}), "primitive"),
    (lambda r: r.update(placement="../x"), "placement"),
    (lambda r: r.update(rates=[1] * 11), "rates belong to a map check"),
    (lambda r: r.pop("model"), "lacks 'model'"),
    (lambda r: r.update(n="ten"), "n must be a whole number"),
    (lambda r: r.update(n=None), "n must be"),
    (lambda r: r.update(n=1e30), "n must be"),
    (lambda r: r.update(n=0), "n must be at least 1 waiter"),
    (lambda r: r.update(variant=None), "variant"),
    (lambda r: r.update(handoff_primitive="lock"), "handoff_primitive belongs to results format 2"),
    (lambda r: r.update(parks_on=5), "parks_on must be text"),
])
def test_a_format_3_record_names_its_job_in_plain_fields(tmp_path, capsys, change, said):
    path = synthetic.write_run(tmp_path, "m", "20260101T000000",
                               [synthetic.memory_record("asyncio", "event", n) for n in (100, 1_000)])
    stored = json.loads(path.read_text())
    change(stored["measurements"][0])
    path.write_text(json.dumps(stored))
    assert main(["check", str(tmp_path)]) == 2
    (bad,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("bad: ")]
    assert said in bad and "measurements[0]" in bad, bad


def test_a_failure_names_its_job_too(tmp_path):
    failure = {"kind": "memory", "model": "threads", "variant": "condition", "n": 30_000, "repeat": 0,
               "failure": "limit", "reached": 22_000, "reason": "r", "exit_code": 4, "wall_seconds": 1.0}
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [], failures=[failure])
    results.read_run(path)
    stored = json.loads(path.read_text())
    del stored["failures"][0]["kind"]
    path.write_text(json.dumps(stored))
    with pytest.raises(UserError, match=r"failures\[0\] lacks 'kind'"):
        results.read_run(path)


@pytest.mark.parametrize("change, said", [
    (lambda d: d["measurements"][0].update(n=-5), r"measurements\[0\]\.n is -5 but its job's is 300"),
    (lambda d: d["measurements"][0]["job"].update(model="asyncio"), r"\.model is 'threads' but its job's is 'asyncio'"),
    (lambda d: d["measurements"][0]["job"].update(kind="tail"), r"\.kind is 'memory' but its job's is 'tail'"),
    (lambda d: d["measurements"][0]["job"].update(repeat=3), r"\.repeat is 0 but its job's is 3"),
    (lambda d: d["measurements"][0].pop("job"), r"measurements\[0\]\.job must be an object in results format 2"),
    (lambda d: d["failures"][0].pop("job"), r"failures\[0\]\.job must be an object in results format 2"),
])
def test_a_format_2_record_whose_two_copies_disagree_is_refused(tmp_path, change, said):
    """Format 2 held the job twice; the upgrade keeps one, so it refuses a file whose
    copies disagree (or that lacks the copy format 2 required) rather than choose."""
    _refused_after(_committed_copy(tmp_path), change, said)


def test_format_2_fields_outside_its_job_copy_come_from_the_job_alone(tmp_path):
    """A failure's kind and a served record's rates were the job copy's only: a value
    beside it at the top level is not the job's and is dropped."""
    shutil.copytree(committed.results() / MACHINE, tmp_path / MACHINE)
    path = tmp_path / MACHINE / "20261126T181921Z.json"
    stored = json.loads(path.read_text())
    stored["failures"][0]["kind"] = "switch"
    path.write_text(json.dumps(stored))
    assert results.read_run(path)["failures"][0]["kind"] == "memory"
    served = tmp_path / MACHINE / "20261201T081047Z.json"
    stored = json.loads(served.read_text())
    stored["measurements"][0]["rates"] = [1]
    served.write_text(json.dumps(stored))
    assert "rates" not in results.read_run(served)["measurements"][0]


def test_a_stored_upgraded_from_is_refused(tmp_path):
    path = synthetic.write_run(tmp_path, "m", "20260101T000000",
                               [synthetic.memory_record("asyncio", "event", n) for n in (100, 1_000)])
    stored = json.loads(path.read_text())
    stored["upgraded_from"] = 1
    path.write_text(json.dumps(stored))
    with pytest.raises(UserError, match="upgraded_from is not a field a run file holds"):
        results.read_run(path)


@pytest.mark.parametrize("change, said", [
    (lambda r: r.update(n=7), "n of a switch benchmark must be 0"),
    (lambda r: r.update(variant="event"), "variant does not name a switch job"),
    (lambda r: r.pop("placement"), "lacks 'placement'"),
])
def test_a_switch_record_names_a_benchmark_not_a_crowd(tmp_path, change, said):
    record = synthetic.switch_record("asyncio", "future", "same-core", "x", 2e-6)
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [record])
    _refused_after(path, lambda document: change(document["measurements"][0]), said)


def test_one_job_is_stored_once(tmp_path):
    records = [synthetic.memory_record("asyncio", "event", n) for n in (100, 1_000)]
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    stored = json.loads(path.read_text())
    stored["measurements"].append(dict(stored["measurements"][0]))
    path.write_text(json.dumps(stored))
    with pytest.raises(UserError, match=r"measurements\[2\] names the same job as measurements\[0\]"):
        results.read_run(path)
    stored["measurements"][2]["repeat"] = 1  # a second fresh child at that N: another job
    path.write_text(json.dumps(stored))
    results.read_run(path)


def test_a_failure_reaches_no_more_than_its_n(tmp_path):
    failure = {"kind": "memory", "model": "threads", "variant": "condition", "n": 30_000, "repeat": 0,
               "failure": "limit", "reached": 30_001, "reason": "r", "exit_code": 4, "wall_seconds": 1.0}
    with pytest.raises(UserError, match="reached must be at most the job's N"):
        synthetic.write_run(tmp_path, "m", "20260101T000000", [], failures=[failure])


def test_the_runner_keeps_no_job_field_a_child_adds():
    import sys

    from parkbench.core.protocol import Job, JobKind
    from parkbench.measurement import runner

    job = Job(JobKind.MEMORY, "asyncio", "event", 10)
    code = ("import os, json\nfd = int(os.environ['PARKBENCH_RECORD_FD'])\n"
            "os.write(fd, json.dumps({'kind': 'memory', 'model': 'asyncio', 'variant': 'event', 'n': 10,"
            " 'primitive': 'lock', 'placement': 'same-core', 'rates': [5]}).encode())\nos.close(fd)\n")
    record = runner.run_child(job, 20.0, [sys.executable, "-c", code])
    assert not {"primitive", "placement", "rates"} & set(record)
    assert Job.from_record(record) == job  # so --resume counts it done


@pytest.mark.parametrize("change, said", [
    (lambda job: job.clear(), r"job lacks 'kind'"),
    (lambda job: job.pop("n"), r"job lacks 'n'"),
    (lambda job: job.update(foo=1), r"job has unknown fields \['foo'\]"),
    (lambda job: job.update(repeat=False), r"\.repeat is 0 but its job's is False"),
])
def test_a_format_2_job_copy_keeps_format_2_s_own_rule(tmp_path, change, said):
    _refused_after(_committed_copy(tmp_path), lambda document: change(document["measurements"][0]["job"]), said)


def test_a_record_without_repeat_is_the_first_child_at_its_n(tmp_path):
    records = [synthetic.memory_record("asyncio", "event", n) for n in (100, 1_000)]
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    stored = json.loads(path.read_text())
    stored["measurements"].append({key: value for key, value in stored["measurements"][0].items()
                                   if key != "repeat"})
    path.write_text(json.dumps(stored))
    with pytest.raises(UserError, match=r"measurements\[2\] names the same job as measurements\[0\]"):
        results.read_run(path)


@pytest.mark.parametrize("change, said", [
    (lambda d: d.update(complete=True), "already complete"),
    (lambda d: d["parameters"].update(repeat=1000), "repeat must be"),
])
def test_a_resume_refused_after_reopening_leaves_no_lock_file(tmp_path, capsys, change, said):
    from parkbench.cli import main

    shutil.copytree(committed.results() / MACHINE, tmp_path / MACHINE)
    path = tmp_path / MACHINE / "20261126T181921Z.json"
    stored = json.loads(path.read_text())
    stored["complete"] = False
    change(stored)
    path.write_text(json.dumps(stored))
    assert main(["run", "--output", str(tmp_path), "--resume", str(path)]) == 2
    assert said in capsys.readouterr().err
    assert not (path.parent / ".20261126T181921Z.lock").exists()
