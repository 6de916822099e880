import json
from datetime import UTC, datetime

import pytest

from parkbench.analysis import tidy
from parkbench.core.errors import UserError
from parkbench.store import results, run_file


def _measurement(model, n, repeat=0):
    """Every view with its own slope, so that a figure taken from the wrong view shows."""
    return {
        "kind": "memory", "model": model, "variant": "event", "n": n, "repeat": repeat, "parked": n,
        "spawn_seconds": n * 2e-6, "wake_seconds": n * 1e-6, "parks_on": "p",
        "memory": {"rss": 1e7 + 1000 * n, "vms": 2e7 + 1700 * n, "uss": 9e6 + 900 * n,
                   "pss": 9.5e6 + 950 * n, "kernel": 16 * n, "maps": 100 + 2 * n, "processes": 1},
        "baseline": {"maps": 100},
    }


JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)


def _new_run(folder, machine="m1", now=JAN_1):
    return run_file.RunFile.create(folder, machine, {"repeat": 1}, {"implementation": "CPython", "version": "3.11.7"},
                                  {"logical_cpus": 2}, now=now)


def _write_run(folder, machine="m1", now=JAN_1):
    run = _new_run(folder, machine, now)
    for n in (10, 100, 1000):
        run.add_measurement(_measurement("asyncio", n))
    run.finish([])
    return run.path


def test_round_trip_through_write_and_load(tmp_path):
    path = _write_run(tmp_path)
    assert path == tmp_path / "m1" / "20260101T000000Z.json"
    frame = tidy.load(tmp_path)
    assert list(frame.columns) == list(tidy.COLUMNS)
    raw = frame[(frame.metric == "rss")]
    assert sorted(raw["n"].tolist()) == [10, 100, 1000]
    slope = frame[frame.metric == "rss_per_waiter"]
    assert slope["value"].item() == pytest.approx(1000)
    assert slope["unit"].item() == "bytes"
    assert slope["n"].isna().all()
    assert set(frame["machine"]) == {"m1"}


def test_load_accepts_machine_folder_run_file_and_lists(tmp_path):
    path = _write_run(tmp_path)
    _write_run(tmp_path, machine="m2")
    assert set(tidy.load(tmp_path)["machine"]) == {"m1", "m2"}
    assert set(tidy.load(tmp_path / "m2")["machine"]) == {"m2"}
    assert set(tidy.load(path)["machine"]) == {"m1"}
    assert set(tidy.load([path, tmp_path / "m2"])["machine"]) == {"m1", "m2"}


def test_every_save_leaves_a_loadable_file(tmp_path):
    run = _new_run(tmp_path)
    run.add_measurement(_measurement("asyncio", 10))
    document = results.read_run(run.path)
    assert document["complete"] is False
    assert len(document["measurements"]) == 1
    assert not list((tmp_path / "m1").glob(".*.tmp"))


def test_nan_figures_are_stored_as_null(tmp_path):
    run = _new_run(tmp_path)
    run.finish([{"model": "a", "variant": "v", "metric": "capacity", "value": float("nan"), "unit": "waiters"}])
    assert json.loads(run.path.read_text())["figures"][0]["value"] is None


@pytest.mark.parametrize("content, message", [
    ('{"schema": "parkbench-run", "schema_ver', "not valid JSON"),
    ("not json at all", "not valid JSON"),
])
def test_bad_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "m1" / "20260101T000000Z.json"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        tidy.load(tmp_path)


def test_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / "run.json"
    path.write_bytes(b"\x80\x81\xff")
    with pytest.raises(UserError, match="not UTF-8 text"):
        tidy.load(path)


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no results found"):
        tidy.load(tmp_path)
