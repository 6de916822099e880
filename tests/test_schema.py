"""The results format (``parkbench/store/schema.py``): every file read from disk is checked
against its format like command-line input, and a file that breaks a rule is one line
naming the file and the rule (exit 2), never a traceback or a wrong figure."""

import json
import re
import shutil

import pytest

from parkbench.analysis import tidy
from parkbench.cli import main
from parkbench.core.errors import UserError
from parkbench.store import results
from parkbench.store.schema import SCHEMA_VERSION
from tests import committed, synthetic
from tests.damage import FIXTURES, mutated, one_line_error, set_at

COMMITTED = committed.results()
MACHINE = "x86_64-2cpu-24gib"


# --- the version: another tool's file, no version, a newer one --------------------------


@pytest.mark.parametrize("content, message", [
    ('{"schema": "parkbench-run", "schema_version": 99}', "newer than this parkbench"),
    ('{"schema": "asv-result", "schema_version": 1}', "not a parkbench"),
    ('[1, 2, 3]', "not a parkbench"),
    ('{"schema": "parkbench-run", "schema_version": "1"}', "no valid schema_version"),
])
def test_files_of_another_tool_or_version_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "m1" / "20260101T000000Z.json"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        tidy.load(tmp_path)


def test_a_newer_version_is_refused_in_one_line(tmp_path, capsys):
    shutil.copytree(COMMITTED / MACHINE, tmp_path / MACHINE)
    path = tmp_path / MACHINE / "20261126T050824Z.json"
    document = json.loads(path.read_text())
    document["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(document))
    assert main(["show", str(tmp_path)]) == 0  # set aside, named; the other runs answer
    err = capsys.readouterr().err
    assert err.startswith(f"parkbench: skipped: {path} has schema version {SCHEMA_VERSION + 1}, newer than this parkbench reads ({SCHEMA_VERSION})")
    assert len(err.strip().splitlines()) == 1
    assert main(["check", str(tmp_path)]) == 2


# --- machine.json -----------------------------------------------------------------------


def test_a_bad_machine_json_is_a_one_line_error(tmp_path, capsys):
    shutil.copytree(FIXTURES / "fixture-a", tmp_path / "fixture-a")
    machine = tmp_path / "fixture-a" / "machine.json"
    document = json.loads(machine.read_text())
    document["limits"] = "none"
    machine.write_text(json.dumps(document))
    one_line_error(capsys, main(["show", str(tmp_path)]), "limits must be an object")
    del document["name"]
    document["limits"] = {}
    machine.write_text(json.dumps(document))
    one_line_error(capsys, main(["show", str(tmp_path)]), "lacks 'name'")


# --- run files: shapes, figures, the folder they are in ---------------------------------


@pytest.mark.parametrize("change, message", [
    (set_at(["measurements"], KeyError), "lacks 'measurements'"),
    (set_at(["figures"], KeyError), "lacks 'figures'"),
    (set_at(["machine"], KeyError), "lacks 'machine'"),
    # the fixture is format 1: its record's n disagrees with its job copy's (format 3's
    # own shape rules for n: test_hostile_round5)
    (set_at(["measurements", 0, "n"], "ten"), "measurements[0].n is 'ten' but its job's is 10"),
    (set_at(["measurements", 0, "n"], None), "measurements[0].n is None but its job's is 10"),
    (set_at(["measurements", 0, "n"], 1e30), "measurements[0].n is 1e+30 but its job's is 10"),
    (set_at(["measurements", 0, "job", "n"], -5), "measurements[0].n is 10 but its job's is -5"),
    (set_at(["measurements", 0, "job"], "x"), "measurements[0].job must be an object in results format 2"),
    (set_at(["measurements", 0, "memory", "rss"], float("nan")), "not a number JSON allows"),
    (set_at(["measurements", 0, "memory", "pss"], float("inf")), "not a number JSON allows"),
    (set_at(["figures", 0], {}), "figures[0] lacks 'model'"),
    (lambda document: document["figures"].insert(0, {**next(f for f in document["figures"]
                                                            if f["metric"] == "capacity"), "value": "big"}),
     "figures[0].value must be"),
    (set_at(["parameters"], "fast"), "parameters must be an object"),
])
def test_wrong_shapes_are_one_line_errors(tmp_path, capsys, change, message):
    folder = mutated(tmp_path, change)
    for command in (["show", str(folder)], ["fit", "--waiters", "1k", "--rate", "1k", "--results", str(folder)]):
        one_line_error(capsys, main(command), message)


@pytest.mark.parametrize("metric, value, message", [
    ("capacity", -5, "must be a finite number in [0,"),
    ("capacity", 1e19, "must be a finite number in [0,"),
])
def test_impossible_figures_are_refused(tmp_path, capsys, metric, value, message):
    def change(document):
        for figure in document["figures"]:
            if figure["metric"] == metric:
                figure["value"] = value
    folder = mutated(tmp_path, change)
    one_line_error(capsys, main(["fit", "--waiters", "1k", "--rate", "1k", "--results", str(folder)]),
                   message)


def test_a_run_file_in_another_machines_folder_is_refused(tmp_path, capsys):
    shutil.copytree(FIXTURES / "fixture-a", tmp_path / "fixture-b")
    shutil.copy(FIXTURES / "fixture-b" / "machine.json", tmp_path / "fixture-b" / "machine.json")
    one_line_error(capsys, main(["show", str(tmp_path)]), "differs from the folder it is in")


def test_a_hostile_calibration_is_refused_in_one_line(tmp_path):
    calibration = {"start": {"python_loop_ns": 20.0, "pipe_one_way_seconds": 1e-6, "pipe_spread": 0.01},
                   "end": {"python_loop_ns": 21.0, "pipe_one_way_seconds": 1e-6, "pipe_spread": 0.02}}
    path = synthetic.write_run(tmp_path, "m", "20261126T100000",
                               [synthetic.switch_record("asyncio", "future", "same-core", "r", 2e-6)],
                               calibration=calibration)
    document = json.loads(path.read_text())
    document["calibration"]["end"]["pipe_one_way_seconds"] = -1
    path.write_text(json.dumps(document))
    with pytest.raises(UserError, match=r"calibration\.end\.pipe_one_way_seconds"):
        results.read_run(path)


def test_a_run_file_with_a_negative_request_time_is_refused(tmp_path):
    record = synthetic.memory_record("asyncio", "connections", 100)
    record["kernel_client"] = 5000 + 2700.0 * 100
    record["wake_seconds"] = None
    record["connections"] = {"processes": 1, "request_p50": 11e-6, "request_p99": 30e-6,
                             "request_p999": 60e-6, "request_max": 80e-6}
    path = synthetic.write_run(tmp_path, "m", "20261126T100000", [record])
    document = json.loads(path.read_text())  # a run refuses to write it: edited by hand
    document["measurements"][0]["connections"]["request_p99"] = -1
    path.write_text(json.dumps(document))
    with pytest.raises(UserError, match="request_p99"):
        results.read_run(path)


def test_a_current_run_file_stores_no_figure_the_reader_derives(tmp_path, capsys):
    """Format 4 stores only what depends on the limits when a run ended; a stored
    switch median (which the reader derives from the records) is refused in one line,
    and a format-3 file's is left out on reading, not refused."""
    import json

    from tests import synthetic

    path = synthetic.write_run(tmp_path, "m", "20260101T000000",
                               [synthetic.memory_record("asyncio", "event", n) for n in (10, 100, 1000)])
    document = json.loads(path.read_text())
    derived = {"model": "asyncio", "variant": "future", "placement": "same-core",
               "metric": "switch_latency", "value": 1e-6, "unit": "seconds"}
    document["figures"].append(derived)
    path.write_text(json.dumps(document))
    assert main(["check", str(tmp_path)]) == 2
    assert re.search(r"figures\[\d+\]\.metric is 'switch_latency': a run file stores only capacity, "
                     r"limit_reached", capsys.readouterr().out)
    document["schema_version"] = 3
    path.write_text(json.dumps(document))
    assert main(["check", str(tmp_path)]) == 0
