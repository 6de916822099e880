"""The current-figures rule at its edges: runs of one second ordered by their number,
a fit exactly one decade wide, N from 1, and the runs that speak for a machine."""

import pytest

from parkbench import current

from . import synthetic


def _asyncio(n, per_waiter):
    views = dict(synthetic.VIEWS, pss=(25e6, per_waiter))
    return synthetic.memory_record("asyncio", "event", n, views)


def _pss(figures):
    frame = figures.frame
    rows = frame[(frame.model == "asyncio") & (frame.metric == "pss_per_waiter")]
    assert len(rows) == 1
    return rows.iloc[0]


def test_runs_of_one_second_are_ordered_by_their_number_not_as_text(tmp_path):
    for k in range(1, 11):  # as text, "-10" sorts before "-2"
        path = synthetic.write_run(tmp_path, "m", "20260101T000000",
                                   [_asyncio(n, 1000.0 + k) for n in (100, 1_000, 10_000)])
        assert path.stem == "20260101T000000Z" + (f"-{k}" if k > 1 else "")
    row = _pss(current.load(tmp_path))
    assert (row.run_id, row.value) == ("20260101T000000Z-10", pytest.approx(1010.0))


def test_a_fit_exactly_one_decade_wide_is_sound(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(n, 1000.0) for n in (100, 1_000, 10_000)])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio(n, 1100.0) for n in (100, 330, 1_000)])
    figures = current.load(tmp_path)
    assert _pss(figures).run_id == "20260102T000000Z"
    assert not any("short of" in note for note in figures.notes)


def test_a_fit_from_a_single_waiter_up_is_sound(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(n, 1000.0) for n in (100, 1_000, 10_000)])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio(n, 1100.0) for n in (1, 10, 100)])
    assert _pss(current.load(tmp_path)).run_id == "20260102T000000Z"


def test_a_fit_just_short_of_a_decade_is_not(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(n, 1000.0) for n in (100, 1_000, 10_000)])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio(n, 1100.0) for n in (101, 330, 1_000)])
    figures = current.load(tmp_path)
    assert _pss(figures).run_id == "20260101T000000Z"
    note, = [note for note in figures.notes if "short of" in note]
    assert "the newer run 20260102T000000Z fitted N 101-1,000 (9.9x span" in note


def test_the_runs_that_speak_and_each_machines_newest(tmp_path):
    synthetic.write_run(tmp_path, "a", "20260101T000000", [_asyncio(n, 1000.0) for n in (100, 1_000, 10_000)])
    # a newer run of a that speaks for nothing (a fit too narrow to replace the first)
    synthetic.write_run(tmp_path, "a", "20260103T000000", [_asyncio(n, 1000.0) for n in (100, 200, 300)])
    synthetic.write_run(tmp_path, "b", "20260102T000000", [_asyncio(n, 1000.0) for n in (100, 1_000, 10_000)])
    used = [(run.machine, run.run_id) for run in current.load(tmp_path).used_runs()]
    assert used == [("a", "20260101T000000Z"), ("a", "20260103T000000Z"), ("b", "20260102T000000Z")]
