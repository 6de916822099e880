"""A fourth round of hostile files and plans, against what the served rate, the map
checks and the busy-machine records added: each case failed (a traceback, a hang, a
guard bypassed, a raw escape) before its fix."""

import json
import os
import shutil

import pytest

from parkbench.analysis import current, map_checks, sizing
from parkbench.cli import main
from parkbench.core.errors import UserError
from parkbench.measurement import guard
from parkbench.store import map_check_schema, run_file
from tests import committed, synthetic
from tests.test_served_figures import ASYNCIO, _run

MACHINE = "x86_64-2cpu-24gib"
CHECK_RUN = "20261202T013159Z"   # a committed run with both map checks (served and wakes)


def _copy(tmp_path):
    shutil.copytree(committed.results() / MACHINE, tmp_path / MACHINE)
    return tmp_path / MACHINE


def _edit(path, change):
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("field", ["seconds", "count", "p99", "offered"])
def test_a_huge_integer_in_a_step_sets_the_file_aside_not_a_traceback(tmp_path, capsys, field):
    folder = _copy(tmp_path)

    def huge(document):
        record = next(m for m in document["measurements"] if m["kind"] == "wakes")
        record["wakes"]["steps"][0][field] = 10**400

    _edit(folder / f"{CHECK_RUN}.json", huge)
    assert main(["show", str(tmp_path)]) == 0          # answered from the rest
    err = capsys.readouterr().err
    assert f"{CHECK_RUN}.json" in err and "Traceback" not in err
    assert main(["check", str(tmp_path)]) == 2


@pytest.mark.parametrize("slo", ["x", None, [1], -1, 0, 11])
def test_a_bad_slo_in_a_run_file_is_the_reader_s_one_line(tmp_path, capsys, slo):
    path = _run(tmp_path, ASYNCIO)
    _edit(path, lambda document: document["parameters"].update(slo_seconds=slo))
    assert main(["check", str(tmp_path)]) == 2
    assert "parameters.slo_seconds" in capsys.readouterr().out
    good = _run(tmp_path / "other", ASYNCIO, when="20260102T000000")
    shutil.copy(good, path.parent / good.name)
    assert main(["show", str(tmp_path)]) == 0   # the bad one set aside, the good one answers
    err = capsys.readouterr().err
    assert "parameters.slo_seconds" in err and "Traceback" not in err


def test_a_hand_off_too_short_to_offer_gives_no_check_not_an_overflow():
    profile = sizing.Profile("m", "asyncio", "event", 1_100.0, 20_000_000, "memory", 5e-324, 1)
    assert map_checks.points(profile) is None        # 1 / 5e-324 per second: nothing to offer
    fine = sizing.Profile("m", "asyncio", "event", 1_100.0, 20_000_000, "memory", 2e-6, 1)
    assert map_checks.points(fine)["rates"] == [400_000, 625_000]


def test_notes_quoting_a_file_reach_the_terminal_escaped(tmp_path, capsys):
    records = [synthetic.memory_record("asyncio", "event", n) for n in (1_000, 10_000, 100_000)]
    for record in records:
        record["interference"] = {"window_seconds": 1.0, "other_cpu_seconds": 0.9, "other_threads": 0,
                                  "running": 2, "disturbed": True, "why": "\x1b]0;PWNED\x07\x1b[2J\r<b>"}
    synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "disturbed by the rest of the machine" in out
    assert not any(char in out for char in "\x1b\x07\r") and "\\x1b]0;PWNED" in out


@pytest.mark.parametrize("content", ["[]", "5", '{"version": "1.0", "benchmarks": [5]}', "[" * 100_000 + "]" * 100_000])
def test_a_malformed_pyperf_file_is_one_line(tmp_path, capsys, content):
    folder = _copy(tmp_path)
    switch = sorted((folder / "20261126T153352Z").glob("switch-*.json"))[0]
    switch.write_text(content)
    assert main(["compare", str(folder / "20261126T153352Z.json"), str(folder / "20261126T153122Z.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a pyperf benchmark file" in err[0]


def test_a_lock_file_that_is_a_fifo_or_a_link_is_refused_not_followed(tmp_path):
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [], complete=False)
    lock = path.parent / f".{path.stem}.lock"
    lock.unlink(missing_ok=True)
    os.mkfifo(lock)
    import signal

    def hung(*_):
        raise AssertionError("opening the lock file blocked on a FIFO")

    signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        with pytest.raises(UserError, match="lock file"):
            run_file.RunFile.reopen(path)          # before: blocked forever on the FIFO
    finally:
        signal.alarm(0)
    lock.unlink()
    outside = tmp_path / "created-by-lock"
    lock.symlink_to(outside)
    with pytest.raises(UserError, match="lock file"):
        run_file.RunFile.reopen(path)
    assert not outside.exists()                   # before: created outside the folder


def test_a_resumed_total_per_waiter_cannot_shrink_the_guard_s_prediction():
    peak, basis = guard.predict_peak("asyncio", 10**9, [], 1.5, per_waiter=1e-300)
    floor = 512  # asyncio's floor per waiter
    assert peak >= floor * 10**9 and "raised to the floor" in basis
    assert guard.Guard(budget_bytes=2**30, floor_bytes=0).refuse("asyncio", 10**9, [], per_waiter=1e-300) is not None


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
    folder = _copy(tmp_path)
    before = {row["run_id"] for row in map_checks.newest(current.load([folder]), MACHINE)}
    assert before
    copy = folder / "20261203T000000Z.json"
    shutil.copy(folder / f"{CHECK_RUN}.json", copy)

    def interrupted(document):
        document["run_id"], document["complete"] = "20261203T000000Z", False
        for record in document["measurements"]:
            for step in (record.get("wakes") or {}).get("steps", []):
                step["p99"] = step["max"] = step["p999"] = 1e-5   # would agree with the map
                step["p90"] = step["p50"] = 1e-6

    _edit(copy, interrupted)
    figures = current.load([folder])
    assert {row["run_id"] for row in map_checks.newest(figures, MACHINE)} == before   # not the newer copy
