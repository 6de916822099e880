"""A fifth round of hostile files, against results format 3 (a record names its job
once) and what the fourth round left: each case was accepted, or left something behind,
before its fix."""

import json
import shutil

import pytest

from parkbench import record_schema, results, served
from parkbench.cli import main
from parkbench.errors import UserError
from tests import committed, synthetic
from tests.test_inprocess_check import wakes_record
from tests.test_loadgen import document, step_record
from tests.test_map_checks import _check_record

MACHINE = "x86_64-2cpu-24gib"
RUN = "20261126T000000Z"


def _checked(record):
    return record_schema.check_measurement(json.loads(json.dumps(record)), "r", RUN)


def test_the_generator_format_true_is_not_format_1():
    served.parse(document(step_record(1_000)))
    with pytest.raises(ValueError, match="format"):
        served.parse({**document(step_record(1_000)), "format": True})


@pytest.mark.parametrize("extra, refused", [(0, False), (1, False), (2, True), (1_000, True)])
def test_a_step_schedules_no_more_than_its_rate_for_its_time(extra, refused):
    step = step_record(1_000, seconds=2.0)  # 2,000 scheduled
    step.update(scheduled=step["scheduled"] + extra, count=step["count"] + extra)
    step["achieved"] = step["count"] / step["seconds"]
    if refused:
        with pytest.raises(ValueError, match="more than 1000/s for 2 s"):
            served.parse_steps([step])
    else:
        served.parse_steps([step])


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
    (lambda r: r.update(rates=[1] * 11), "rates holds more than 10"),
    (lambda r: r.pop("model"), "lacks 'model'"),
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


def test_a_format_2_file_keeps_the_value_its_readers_read(tmp_path):
    """A format-2 record whose top-level n and job disagree: the upgrade keeps what
    format-2 readers read (the top level), so a hostile top-level value is still
    refused, never replaced by the job's."""
    shutil.copytree(committed.results() / MACHINE, tmp_path / MACHINE)
    path = tmp_path / MACHINE / "20261126T181921Z.json"
    stored = json.loads(path.read_text())
    stored["measurements"][0]["n"] = -5
    path.write_text(json.dumps(stored))
    with pytest.raises(UserError, match=r"measurements\[0\]\.n must be"):
        results.read_run(path)
