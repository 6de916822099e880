"""Reading older results files (``parkbench/store/upgrade.py``): each version is upgraded to
the current format in memory when read, never written back."""

import json
import shutil

import pytest

from parkbench.analysis import tidy
from parkbench.core.protocol import Job
from parkbench.store import results, run_file
from parkbench.store.schema import SCHEMA_VERSION
from tests import committed
from tests.damage import committed_copy, refused_after

COMMITTED = committed.results()
MACHINE = "x86_64-2cpu-24gib"


def test_version_1_files_load_through_the_upgrade(tmp_path):
    shutil.copytree(COMMITTED / MACHINE, tmp_path / MACHINE)
    (path,) = [p for p in (tmp_path / MACHINE).glob("20261126T050824Z.json")]
    before = path.read_bytes()
    document = results.read_run(path)
    assert document["schema_version"] == SCHEMA_VERSION == 6 and document["upgraded_from"] == 1
    assert document["interpreter"]["executable"] == "python"  # a name, not /work/.../python
    described = document["machine_description"]  # machine.json's kind: format 1 recorded none
    assert (described["cpu_model"], described["memory_gib"], described.get("limits")) == ("AMD EPYC", 24, None)
    assert described["source"].startswith("machine.json at upgrade")
    assert set(document["parameters"]["grids"]) >= {"threads:condition", "subprocess:fork"}
    assert all(record["kind"] in ("memory", "switch", "tail") for record in document["measurements"])
    assert path.read_bytes() == before  # never rewritten in place
    frame = tidy.load(path)
    assert set(frame.interpreter) == {"CPython 3.11.7"}


def _records(document):
    return document["measurements"] + document["failures"] + document["skipped"]


def test_version_2_records_name_their_job_once(tmp_path):
    """Format 2 kept a ``job`` copy beside ``model``, ``variant`` and ``n``; read, each
    record names its job once, at its top level, as the runner wrote it."""
    shutil.copytree(COMMITTED / MACHINE, tmp_path / MACHINE)
    for run_id, kinds in (("20261126T145655Z", {"memory", "switch", "tail"}),
                          ("20261202T013159Z", {"served", "wakes"})):
        path = tmp_path / MACHINE / f"{run_id}.json"
        stored = json.loads(path.read_text())
        document = results.read_run(path)
        assert document["upgraded_from"] == 2
        assert {record["kind"] for record in document["measurements"]} == kinds
        for old, new in zip(_records(stored), _records(document)):
            assert "job" not in new and "round" not in new and "handoff_primitive" not in new
            assert Job.from_record(new) == Job(**old["job"])  # the job that produced it
        for old, new in zip(stored["measurements"], document["measurements"]):
            if new["kind"] != "switch":
                assert new["parks_on"] == old["primitive"]  # the probe's words for the wait
        for old, new in zip(stored["measurements"], document["measurements"]):
            if new["kind"] == "tail":  # the hand-off primitive, not what the waiters park on
                assert new["primitive"] == old["handoff_primitive"] and new["placement"] == "os"
    tail = next(r for r in results.read_run(tmp_path / MACHINE / "20261126T145655Z.json")["measurements"]
                if r["kind"] == "tail" and r["model"] == "threads")
    assert tail["primitive"] == "lock" and tail["parks_on"] == "threading.Condition.wait"


def test_a_version_2_switch_record_keeps_its_round_or_says_it_was_whole(tmp_path):
    shutil.copytree(COMMITTED / MACHINE, tmp_path / MACHINE)
    rounds = results.read_run(tmp_path / MACHINE / "20261126T145655Z.json")
    stored = json.loads((tmp_path / MACHINE / "20261126T145655Z.json").read_text())
    switch = [r for r in rounds["measurements"] if r["kind"] == "switch"]
    assert [r["repeat"] for r in switch] == [r["round"] for r in stored["measurements"] if r["kind"] == "switch"]
    assert {r["repeat"] for r in switch} == {0, 1, 2} and not any(r.get("whole") for r in switch)
    whole = results.read_run(tmp_path / MACHINE / "20261126T122209Z.json")
    assert all(r["whole"] is True and r["repeat"] == 0 and r["n"] == 0
               for r in whole["measurements"] if r["kind"] == "switch")


def test_a_version_2_failure_gains_its_kind_and_keeps_its_n(tmp_path):
    shutil.copytree(COMMITTED / MACHINE, tmp_path / MACHINE)
    (failure,) = results.read_run(tmp_path / MACHINE / "20261126T181921Z.json")["failures"]
    assert (failure["kind"], failure["model"], failure["variant"], failure["n"], failure["repeat"]) == (
        "memory", "threads", "connections", 21_000, 0)
    assert failure["failure"] == "limit" and failure["reached"] == 19_994


def test_an_interrupted_version_2_run_is_resumed_and_written_in_the_current_format(tmp_path):
    shutil.copytree(COMMITTED / MACHINE, tmp_path / MACHINE)
    path = tmp_path / MACHINE / "20261126T181921Z.json"
    stored = json.loads(path.read_text())
    stored["complete"] = False
    path.write_text(json.dumps(stored))
    run = run_file.RunFile.reopen(path)
    try:
        assert "upgraded_from" not in run.snapshot()
        run.add_skip({**Job("memory", "threads", "connections", 22_000).as_record(), "reason": "r"})
    finally:
        run._lock.close()
    written = json.loads(path.read_text())
    assert written["schema_version"] == SCHEMA_VERSION and "upgraded_from" not in written
    assert not any("job" in record for record in _records(written))
    assert len(written["measurements"]) == len(stored["measurements"]) == 38
    assert results.read_run(path)["skipped"][-1]["n"] == 22_000


def test_a_run_before_the_knee_search_reads_and_resumes_with_its_plan_in_the_new_shape(tmp_path):
    """Format 4 offered fixed shares of the peak and judged map checks at the SLO; read,
    its plan says so in format 5's words (the smallest share is where a search starts,
    the checks are judged at the SLO), and an interrupted one resumes by the new method."""
    from parkbench.measurement.plan import RunPlan

    shutil.copytree(COMMITTED / MACHINE, tmp_path / MACHINE)
    path = tmp_path / MACHINE / "20261202T013159Z.json"
    stored = json.loads(path.read_text())
    assert stored["parameters"]["served_settings"]["shares"] == [0.3, 0.6]
    document = results.read_run(path)
    served = document["parameters"]["served_settings"]
    assert "shares" not in served and served["start_share"] == 0.3
    assert served["judge_slo"] is True and served["floor_every_round"] is False
    assert [check["criterion"] for check in document["parameters"]["map_checks"]] == ["slo", "slo"]
    assert served["step_seconds"] == stored["parameters"]["served_settings"]["step_seconds"]
    RunPlan.from_document(document["parameters"], str(path))      # a resume's plan meets every rule
    stored["complete"] = False
    path.write_text(json.dumps(stored))
    run = run_file.RunFile.reopen(path)
    run._lock.close()
    assert run.snapshot()["parameters"]["served_settings"]["start_share"] == 0.3


def _matches(shown, stored) -> bool:
    if isinstance(shown, dict):
        return isinstance(stored, dict) and all(
            key == "..." or (key in stored and _matches(value, stored[key])) for key, value in shown.items())
    if isinstance(shown, float):
        return abs(shown - stored) <= 0.01 * abs(stored)  # rounded for the page
    return shown == stored


def test_the_records_shown_in_the_format_docs_are_committed_records_as_read():
    """docs/results-format.md shows format-3 records: each is a committed record, read
    through the upgrade, field for field (floats rounded to 1%)."""
    import re
    from pathlib import Path

    from parkbench.core.protocol import JOB_FIELDS

    def job_identity(record):
        return tuple(record.get(key, 0 if key == "repeat" else None) for key in JOB_FIELDS)

    text = (Path(__file__).parent.parent / "docs" / "results-format.md").read_text()
    block = text.split("**Records, by example**")[1].split("```json\n")[1].split("```")[0]
    decoder, shown, at = json.JSONDecoder(), [], 0
    while block[at:].strip():
        record, end = decoder.raw_decode(block, len(block) - len(block[at:].lstrip()))
        shown.append(record)
        at = end
    runs = re.findall(r"run (\d{8}T\d{6}Z)", text.split("**Records, by example**")[1].split("```json")[0])
    stored = [record for run_id in runs for document in [results.read_run(COMMITTED / MACHINE / f"{run_id}.json")]
              for record in document["measurements"] + document["failures"]]
    assert len(shown) == 4 and len(runs) == 2
    for record in shown:
        (match,) = [s for s in stored if job_identity(s)[:5] == job_identity(record)[:5]
                    and s.get("primitive") == record.get("primitive") and s.get("placement") == record.get("placement")
                    and ("failure" in s) == ("failure" in record)]
        assert _matches(record, match), record


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
    refused_after(committed_copy(tmp_path), change, said)


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


@pytest.mark.parametrize("change, said", [
    (lambda job: job.clear(), r"job lacks 'kind'"),
    (lambda job: job.pop("n"), r"job lacks 'n'"),
    (lambda job: job.update(foo=1), r"job has unknown fields \['foo'\]"),
    (lambda job: job.update(repeat=False), r"\.repeat is 0 but its job's is False"),
])
def test_a_format_2_job_copy_keeps_format_2_s_own_rule(tmp_path, change, said):
    refused_after(committed_copy(tmp_path), lambda document: change(document["measurements"][0]["job"]), said)


def _first_switch(change):
    """A change for ``refused_after``: ``change`` applied to the first switch record of
    round 0 (format 2 kept its ``round``, a top-level ``repeat`` and a ``job`` copy)."""
    def changed(document):
        change(next(r for r in document["measurements"] if r["kind"] == "switch" and r["round"] == 0))
    return changed


@pytest.mark.parametrize("change, said", [
    (lambda r: r.update(round=1), r"measurements\[36\]\.round is 1 but its repeat is 0$"),
    (lambda r: (r.update(round=1), r.pop("repeat")), r"measurements\[36\]\.round is 1 but its job's repeat is 0$"),
    (lambda r: r.update(round=1, repeat=1), r"measurements\[36\]\.round is 1 but its job's repeat is 0$"),
    (lambda r: r.update(round=True), r"measurements\[36\]\.round is True but its repeat is 0$"),
])
def test_a_format_2_switch_record_whose_round_differs_from_its_repeat_is_refused(tmp_path, change, said):
    """issue 37.11: a switch record's round is its repeat; one that says another is
    refused in one line naming ``round``, never read as one of the two."""
    refused_after(committed_copy(tmp_path, "20261126T145655Z"), _first_switch(change), said)
