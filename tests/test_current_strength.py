"""The current-figures rule at its edges: runs of one second ordered by their number,
a fit exactly one decade wide, N from 1, and the runs that speak for a machine."""

import pytest

from parkbench.analysis import current

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


def _tail(model, variant, primitive, n, p50):
    return {"kind": "tail", "model": model, "variant": variant, "primitive": primitive,
            "placement": "os", "n": n, "parked": n, "repeat": 0,
            "tail": {"switch_p50": p50, "switch_p99": 2 * p50, "switch_p999": 3 * p50,
                     "switch_max": 4 * p50, "samples": 1000}}


LIMIT = {"kind": "memory", "repeat": 0,
         "model": "threads", "variant": "condition", "n": 22_000, "failure": "limit",
         "reached": 21_700, "reason": "RuntimeError: can't start new thread", "exit_code": 4,
         "wall_seconds": 1.0}


def test_every_family_names_where_it_came_from_and_capacity_rows_are_whole(tmp_path):
    threads = [synthetic.memory_record("threads", "condition", n, maps_per_waiter=2.5)
               for n in (100, 1_000, 3_000)]
    first = synthetic.write_run(
        tmp_path, "m", "20260101T000000",
        [_asyncio(n, 1000.0) for n in (100, 1_000, 10_000)] + threads
        + [synthetic.switch_record("asyncio", "future", "same-core", "x", 2e-6),
           _tail("asyncio", "event", "future", 1_000, 1e-6)], failures=[LIMIT])
    second = synthetic.write_run(
        tmp_path, "m", "20260102T000000",
        [synthetic.switch_record("asyncio", "future", "same-core", "x", 3e-6),
         _tail("asyncio", "event", "future", 1_000, 5e-6)])
    figures = current.load(tmp_path)
    one, two = first.stem, second.stem
    found = {(s["family"], s["what"]): (s["machine"], s["run_id"]) for s in figures.sources}
    assert found == {
        ("memory", "asyncio/event"): ("m", one), ("memory", "threads/condition"): ("m", one),
        ("switch", "asyncio/future same-core"): ("m", two), ("tail", "asyncio/future"): ("m", two),
        ("limit_reached", "threads/condition"): ("m", one),
        ("capacity", "asyncio/event"): ("m", one), ("capacity", "threads/condition"): ("m", one)}
    reasons = {s["what"]: s["reason"] for s in figures.sources if s["family"] == "capacity"}
    assert reasons["threads/condition"] == "measured: the OS refused one more waiter at 21,700"
    assert reasons["asyncio/event"].startswith("predicted: ")
    frame = figures.frame
    assert list(frame.index) == list(range(len(frame)))
    tail = frame[frame.metric == "switch_p50"]
    assert set(tail.run_id) == {two} and tail.value.tolist() == [pytest.approx(5e-6)]
    capacity = frame[frame.metric == "capacity"]
    assert set(capacity.unit) == {"waiters"} and capacity.n.isna().all()
    assert capacity.placement.isna().all() and capacity.repeat.isna().all()


def test_capacity_says_when_the_fit_was_noise_or_a_curve(tmp_path):
    # a total per waiter below zero (PSS falling with N) is noise: the model's floor is used
    noisy = dict(synthetic.VIEWS, pss=(25e6, -30.0), kernel=(0.0, 0.0))
    synthetic.write_run(tmp_path, "m", "20260101T000000",
                        [synthetic.memory_record("asyncio", "event", n, noisy) for n in (100, 1_000, 10_000)])
    row = current.load(tmp_path).frame.query("metric == 'capacity'").iloc[0]
    assert row.detail.endswith(" (total per waiter: noise, not above zero; the floor of 512 B used)")
    assert row.value == int(24 * 2**30 / 512)


def test_capacity_of_a_curve_says_the_bound_holds_near_the_n_measured(tmp_path):

    records = [_asyncio(n, 1000.0) for n in (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)]
    for record in records:  # a total that bends: its per-waiter cost is no slope
        record["memory"]["pss"] = 25e6 + 100.0 * record["n"] + 0.001 * record["n"] ** 2
    synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    frame = current.load(tmp_path).frame
    exponent = frame.query("metric == 'total_exponent'").value.iloc[0]
    assert frame.query("metric == 'total_nonlinear'").value.iloc[0] == 1.0 and exponent != 1.0
    row = frame.query("metric == 'capacity'").iloc[0]
    assert row.detail.endswith(f" (total per waiter grows as N^{exponent:.2f}: this straight-line bound "
                               "holds near the N measured)")
