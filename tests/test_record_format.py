"""What a stored record must say (results format 3 and later): a record names its job
once in plain fields, a failure too; one job is stored once; a failure reaches at most
its N; a switch record names a benchmark; a stored ``upgraded_from`` is refused."""

import json

import pytest

from parkbench.cli import main
from parkbench.core.errors import UserError
from parkbench.store import results
from tests import synthetic
from tests.damage import refused_after

MACHINE = "x86_64-2cpu-24gib"
RUN = "20261126T000000Z"


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
    refused_after(path, lambda document: change(document["measurements"][0]), said)


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


def test_a_record_without_repeat_is_the_first_child_at_its_n(tmp_path):
    records = [synthetic.memory_record("asyncio", "event", n) for n in (100, 1_000)]
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    stored = json.loads(path.read_text())
    stored["measurements"].append({key: value for key, value in stored["measurements"][0].items()
                                   if key != "repeat"})
    path.write_text(json.dumps(stored))
    with pytest.raises(UserError, match=r"measurements\[2\] names the same job as measurements\[0\]"):
        results.read_run(path)
