"""One machine, one answer: the current-figures rule, on synthetic runs and on a copy of
the committed results."""

import json
import shutil

import pytest

from parkbench.analysis import current, sizing, tidy
from parkbench.cli import main
from parkbench.core.errors import UserError
from parkbench.store import run_file
from tests import committed, synthetic
from tests.builders import tail_record

COMMITTED = committed.results()
MACHINE = "x86_64-2cpu-24gib"
def _newest_committed_ceiling() -> tuple[int, str]:
    """The threads/condition ceiling of the newest committed run that met it, and that
    run's interpreter, read straight from the files (not through current.py, which is
    what is tested)."""
    found = []
    for path in sorted((COMMITTED / MACHINE).glob("2*.json")):
        document = json.loads(path.read_text())
        for figure in document["figures"]:
            if (figure["model"], figure["variant"], figure["metric"]) == ("threads", "condition", "limit_reached"):
                interpreter = document.get("interpreter") or {"implementation": "CPython", "version": "3.11.7"}
                found.append((document["run_id"], int(figure["value"]),
                              f"{interpreter['implementation']} {interpreter['version']}"))
    return max(found)[1:]


# the committed results hold several interpreters: the ceiling is met under one of them
THREAD_CEILING, CEILING_INTERPRETER = _newest_committed_ceiling()


def _figure(frame, model, variant, metric):
    rows = frame[(frame.model == model) & (frame.variant == variant) & (frame.metric == metric)]
    assert len(rows) == 1, (model, variant, metric, rows)
    return rows.iloc[0]


def _asyncio(n, per_waiter, noise=0.0):
    views = dict(synthetic.VIEWS, pss=(25e6 + noise * (-1) ** (n // 500), per_waiter))
    return synthetic.memory_record("asyncio", "event", n, views)


def test_a_newer_narrow_fit_does_not_replace_a_sound_one(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(n, 1200.0) for n in (1_000, 10_000, 100_000)])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio(n, 2980.0, 3e5) for n in (1_500, 2_000, 3_000)])
    figures = current.load(tmp_path)
    pss = _figure(figures.frame, "asyncio", "event", "pss_per_waiter")
    assert pss.value == pytest.approx(1200.0)
    assert pss.run_id == "20260101T000000Z"
    assert any("newer run 20260102T000000Z" in note and "2.0x span" in note for note in figures.notes)
    # raw points come from the chosen run only
    raw = figures.frame[(figures.frame.metric == "pss") & figures.frame.n.notna()]
    assert sorted(raw.n.tolist()) == [1_000, 10_000, 100_000]


def test_a_newer_sound_fit_replaces_an_older_one(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(n, 1200.0) for n in (1_000, 10_000, 100_000)])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio(n, 1100.0) for n in (300, 3_000, 30_000)])
    frame = current.load(tmp_path).frame
    assert _figure(frame, "asyncio", "event", "pss_per_waiter").value == pytest.approx(1100.0)
    assert _figure(frame, "asyncio", "event", "total_per_waiter").value == pytest.approx(1100.0 + 40.0)


def test_a_partial_newer_run_hides_no_model(tmp_path):
    threads = [synthetic.memory_record("threads", "condition", n, maps_per_waiter=2.5) for n in (100, 1_000, 3_000)]
    synthetic.write_run(tmp_path, "m", "20260101T000000", threads)
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio(n, 1100.0) for n in (300, 3_000, 30_000)])
    frame = current.load(tmp_path).frame
    assert {"threads", "asyncio"} <= set(frame[frame.metric == "capacity"].model)


def test_incomplete_runs_speak_for_nothing(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(n, 1200.0) for n in (1_000, 10_000, 100_000)])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio(n, 900.0) for n in (1_000, 10_000, 100_000)],
                        complete=False)
    figures = current.load(tmp_path)
    assert _figure(figures.frame, "asyncio", "event", "pss_per_waiter").value == pytest.approx(1200.0)
    assert any("incomplete run" in note and "--resume" in note for note in figures.notes)


def test_interpreters_are_never_merged(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(n, 1200.0) for n in (1_000, 10_000, 100_000)])
    newer = dict(synthetic.INTERPRETER, version="3.13.0")
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio(n, 1100.0) for n in (1_000, 10_000, 100_000)],
                        interpreter=newer)
    frame = current.load(tmp_path).frame
    pss = frame[frame.metric == "pss_per_waiter"].set_index("interpreter").value
    assert pss["CPython 3.11.7"] == pytest.approx(1200.0)
    assert pss["CPython 3.13.0"] == pytest.approx(1100.0)


def test_capacity_measured_beats_predicted_and_maps_come_from_the_largest_n(tmp_path):
    # mappings per thread grow with N (2.0 at small N, 3.0 at the largest): the bound
    # uses the largest N measured, in any run.
    small = [synthetic.memory_record("threads", "condition", n, maps_per_waiter=2.0) for n in (100, 300, 1_000)]
    large = [synthetic.memory_record("threads", "condition", n, maps_per_waiter=m)
             for n, m in ((100, 2.0), (1_000, 2.0), (12_800, 3.0))]
    synthetic.write_run(tmp_path, "m", "20260101T000000", large)
    synthetic.write_run(tmp_path, "m", "20260102T000000", small)
    capacity = _figure(current.load(tmp_path).frame, "threads", "condition", "capacity")
    assert capacity.basis == "predicted" and capacity.limit == "max_map_count"
    assert capacity.value == int((65_530 - 200) / 3.0)  # the 200 held before any thread are not theirs
    failure = {"kind": "memory", "repeat": 0,
               "model": "threads", "variant": "condition", "n": 22_000, "failure": "limit",
               "reached": 21_700, "reason": "RuntimeError: can't start new thread", "exit_code": 4,
               "wall_seconds": 1.0}
    synthetic.write_run(tmp_path, "m", "20260103T000000", large, failures=[failure])
    capacity = _figure(current.load(tmp_path).frame, "threads", "condition", "capacity")
    assert (capacity.value, capacity.basis, capacity.run_id) == (21_700, "measured", "20260103T000000Z")


@pytest.fixture
def committed_plus_small_run(tmp_path):
    """The issue's scenario: the committed results, plus a small asyncio run over
    1.5k-3k written into the same machine folder."""
    folder = tmp_path / "results"
    shutil.copytree(COMMITTED / MACHINE, folder / MACHINE)
    synthetic.write_run(folder, MACHINE, "20261127T000000",
                        [_asyncio(n, 2980.0, 3e5) for n in (1_500, 2_000, 3_000)])
    return folder


def test_fit_and_limits_answer_for_every_model_after_a_small_run(committed_plus_small_run, capsys):
    folder = committed_plus_small_run
    assert main(["fit", "--waiters", "200k", "--rate", "50k", "--results", str(folder)]) == 0
    out = capsys.readouterr().out
    for label in ("threads/condition", "asyncio/event", "uvloop/event", "gevent/event",
                  "subprocess/fork", "subprocess/exec"):
        assert label in out
    assert "asyncio/event" in out and "20261127T000000Z" not in out  # the narrow fit is set aside

    assert main(["limits", "--results", str(folder), "--machine", MACHINE]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()
             if line.startswith("  ") and "/" in line.split()[0] and f"[{CEILING_INTERPRETER}," in line}
    for label in ("uvloop/event", "gevent/event", "asyncio/event", "subprocess/exec"):
        assert "none known" not in lines[label]
    threads = int(lines["threads/condition"].split()[1].replace(",", ""))
    assert threads == pytest.approx(THREAD_CEILING, rel=0.01)
    assert "measured" in lines["threads/condition"]
    assert "memory" in lines["subprocess/exec"]  # ~4,900 by memory, not 20,000 by descriptors
    per_waiter = int(lines["asyncio/event"].split("/ ")[1].split()[0].replace(",", ""))
    assert 1_000 < per_waiter < 1_300  # the sound fit's ~1.1-1.2 KB per waiter, not the narrow 2,980
    assert "run 2026" in lines["asyncio/event"]


def test_profiles_use_the_measured_thread_ceiling(committed_plus_small_run):
    profiles = sizing.profiles(current.load(committed_plus_small_run).frame)
    (threads,) = [p for p in profiles if (p.model, p.variant) == ("threads", "condition")
                  and p.interpreter == CEILING_INTERPRETER]
    assert (threads.capacity, threads.capacity_basis) == (THREAD_CEILING, "measured")


def test_show_and_compare_work_on_a_machine_folder_with_an_incomplete_newest_run(
        committed_plus_small_run, capsys):
    folder = committed_plus_small_run
    synthetic.write_run(folder, MACHINE, "20261128T000000", [_asyncio(100, 1.0)], complete=False)
    (folder / MACHINE / "20261128T000000Z").mkdir()
    (folder / MACHINE / "20261128T000000Z" / "switch-asyncio-future-cross-core.json").write_text("{}")
    assert main(["show", str(folder / MACHINE)]) == 0
    out = capsys.readouterr().out
    assert "incomplete run" in out and "threads" in out and f"{THREAD_CEILING:,}" in out
    runs = sorted(path for path in (folder / MACHINE).glob("2026*.json"))
    assert main(["compare", str(runs[0]), str(runs[2]), "--results", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "KiB" in out and "µs" in out and "only in B" in out
    assert main(["compare", MACHINE, str(folder / MACHINE), "--results", str(folder),
                 "--interpreter-a", CEILING_INTERPRETER, "--interpreter-b", CEILING_INTERPRETER]) == 0
    assert "B/A" in capsys.readouterr().out


def test_two_runs_started_in_one_second_keep_both_files(tmp_path):
    first = synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(n, 1.0) for n in (1, 10, 100)])
    second = synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(n, 2.0) for n in (1, 10, 100)])
    assert (first.name, second.name) == ("20260101T000000Z.json", "20260101T000000Z-2.json")
    assert set(tidy.load(tmp_path).run_id) == {"20260101T000000Z", "20260101T000000Z-2"}


def test_a_run_file_being_written_is_locked(tmp_path):
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(1, 1.0)], complete=False)
    first = run_file.RunFile.reopen(path)
    with pytest.raises(UserError, match="being written by another parkbench process"):
        run_file.RunFile.reopen(path)
    first._lock.close()
    run_file.RunFile.reopen(path)._lock.close()


def test_to_limit_with_a_bare_model_runs_its_default_variant():
    import argparse

    from parkbench.measurement.plan import RunPlan

    args = argparse.Namespace(full=False, to_limit="threads", models=None, n=None, only=None,
                              latency_mode=None, timeout=None, memory_budget=None, repeat=None,
                              primitives=None, child_rlimit=None, slo=None)
    parameters = RunPlan.from_args(args).as_parameters()
    assert parameters["selection"] == [["threads", "condition"]]
    assert parameters["memory"] and not parameters["latency"]


def test_predicted_capacity_uses_the_limits_given_or_the_runs_own(tmp_path):
    records = [_asyncio(n, 1000.0) for n in (1_000, 10_000, 100_000)]
    synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    stored = _figure(current.load(tmp_path).frame, "asyncio", "event", "capacity")
    assert stored.value == int(synthetic.LIMITS["memory_available"] / 1040.0)  # PSS 1,000 + kernel 40
    live = dict(synthetic.LIMITS, memory_available=2**30, cgroup_memory_max=2**29)
    assert _figure(current.load(tmp_path, limits=live).frame, "asyncio", "event", "capacity").value \
        == int(2**29 / 1040.0)  # the tighter of available memory and the cgroup's
    planned = current.load(tmp_path, limits=live, memory_bytes=2**31).frame
    capacity = _figure(planned, "asyncio", "event", "capacity")
    assert capacity.value == int(2**31 / 1040.0) and capacity.basis == "predicted"


def test_mappings_fall_back_to_the_fitted_slope_without_a_baseline(tmp_path):
    records = [synthetic.memory_record("threads", "condition", n, maps_per_waiter=3.0) for n in (100, 300, 1_000)]
    for record in records:
        del record["baseline"]
    synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    capacity = _figure(current.load(tmp_path).frame, "threads", "condition", "capacity")
    assert (capacity.value, capacity.limit) == (int(65_530 / 3.0), "max_map_count")
    assert "at N" not in capacity.detail


def test_every_family_names_its_run(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio(n, 1200.0) for n in (1_000, 10_000, 100_000)])
    figures = current.load(tmp_path)
    families = {(s["family"], s["what"], s["run_id"], s["machine"]) for s in figures.sources}
    assert ("memory", "asyncio/event", "20260101T000000Z", "m") in families
    assert ("capacity", "asyncio/event", "20260101T000000Z", "m") in families
    memory = next(s for s in figures.sources if s["family"] == "memory")
    assert memory["reason"] == "N 1,000-100,000, R² 1.0000"
    assert [run.run_id for run in figures.used_runs()] == ["20260101T000000Z"]
    assert figures.notes == []
    assert list(figures.frame.index) == list(range(len(figures.frame)))


def test_switch_and_tail_come_from_the_newest_run_that_timed_them(tmp_path):
    old = synthetic.switch_record("asyncio", "future", "same-core", "x", 5e-6)
    new = synthetic.switch_record("asyncio", "future", "same-core", "x", 2e-6)
    other = synthetic.switch_record("asyncio", "future", "cross-core", "x", 7e-6)
    synthetic.write_run(tmp_path, "m", "20260101T000000", [old, other])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [new])
    frame = current.load(tmp_path).frame
    switch = frame[frame.metric == "switch_latency"].set_index("placement")
    assert switch.loc["same-core", "value"] == 2e-6 and switch.loc["same-core", "run_id"] == "20260102T000000Z"
    assert switch.loc["cross-core", "value"] == 7e-6 and switch.loc["cross-core", "run_id"] == "20260101T000000Z"


def _ceiling_run(tmp_path, reached, reason):
    records = [synthetic.memory_record("threads", "condition", n, maps_per_waiter=2.95) for n in (100, 1_000, 3_000)]
    failure = {"kind": "memory", "repeat": 0,
               "model": "threads", "variant": "condition", "n": max(30_000, reached + 900), "failure": "limit",
               "reached": reached, "reason": reason, "exit_code": 4, "wall_seconds": 1.0}
    synthetic.write_run(tmp_path, "m", "20260101T000000", records, failures=[failure])


def test_another_memory_size_keeps_a_ceiling_that_memory_did_not_set(tmp_path):
    """fit --memory 64GiB turned threads' measured 22,141 (max_map_count) into a 22,669
    prediction; only memory moves with the memory planned for."""
    _ceiling_run(tmp_path, 22_141, "RuntimeError: can't start new thread")
    total = 1_240.0  # PSS 1,200 + kernel 40 per thread
    measured = _figure(current.load(tmp_path).frame, "threads", "condition", "capacity")
    assert (measured.value, measured.basis, measured.limit) == (22_141, "measured", "max_map_count")
    bigger = _figure(current.load(tmp_path, memory_bytes=64 * 2**30).frame, "threads", "condition", "capacity")
    assert (bigger.value, bigger.basis, bigger.limit) == (22_141, "measured", "max_map_count")
    tiny = 10_000 * 1_240
    smaller = _figure(current.load(tmp_path, memory_bytes=tiny).frame, "threads", "condition", "capacity")
    assert (smaller.value, smaller.basis, smaller.limit) == (int(tiny / total), "predicted", "memory")


def test_another_memory_size_moves_a_ceiling_that_memory_set(tmp_path):
    _ceiling_run(tmp_path, int(synthetic.LIMITS["memory_available"] / 1_240.0) - 9, "MemoryError: out of memory")
    frame = current.load(tmp_path).frame
    assert _figure(frame, "threads", "condition", "capacity")[["basis", "limit"]].tolist() == ["measured", "memory"]
    moved = _figure(current.load(tmp_path, memory_bytes=2**24).frame, "threads", "condition", "capacity")
    assert (moved.value, moved.basis, moved.limit) == (int(2**24 / 1_240.0), "predicted", "memory")


def _asyncio_pss(n, per_waiter):
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
                                   [_asyncio_pss(n, 1000.0 + k) for n in (100, 1_000, 10_000)])
        assert path.stem == "20260101T000000Z" + (f"-{k}" if k > 1 else "")
    row = _pss(current.load(tmp_path))
    assert (row.run_id, row.value) == ("20260101T000000Z-10", pytest.approx(1010.0))


def test_a_fit_exactly_one_decade_wide_is_sound(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio_pss(n, 1000.0) for n in (100, 1_000, 10_000)])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio_pss(n, 1100.0) for n in (100, 330, 1_000)])
    figures = current.load(tmp_path)
    assert _pss(figures).run_id == "20260102T000000Z"
    assert not any("short of" in note for note in figures.notes)


def test_a_fit_from_a_single_waiter_up_is_sound(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio_pss(n, 1000.0) for n in (100, 1_000, 10_000)])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio_pss(n, 1100.0) for n in (1, 10, 100)])
    assert _pss(current.load(tmp_path)).run_id == "20260102T000000Z"


def test_a_fit_just_short_of_a_decade_is_not(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_asyncio_pss(n, 1000.0) for n in (100, 1_000, 10_000)])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_asyncio_pss(n, 1100.0) for n in (101, 330, 1_000)])
    figures = current.load(tmp_path)
    assert _pss(figures).run_id == "20260101T000000Z"
    note, = [note for note in figures.notes if "short of" in note]
    assert "the newer run 20260102T000000Z fitted N 101-1,000 (9.9x span" in note


def test_the_runs_that_speak_and_each_machines_newest(tmp_path):
    synthetic.write_run(tmp_path, "a", "20260101T000000", [_asyncio_pss(n, 1000.0) for n in (100, 1_000, 10_000)])
    # a newer run of a that speaks for nothing (a fit too narrow to replace the first)
    synthetic.write_run(tmp_path, "a", "20260103T000000", [_asyncio_pss(n, 1000.0) for n in (100, 200, 300)])
    synthetic.write_run(tmp_path, "b", "20260102T000000", [_asyncio_pss(n, 1000.0) for n in (100, 1_000, 10_000)])
    used = [(run.machine, run.run_id) for run in current.load(tmp_path).used_runs()]
    assert used == [("a", "20260101T000000Z"), ("a", "20260103T000000Z"), ("b", "20260102T000000Z")]


LIMIT = {"kind": "memory", "repeat": 0,
         "model": "threads", "variant": "condition", "n": 22_000, "failure": "limit",
         "reached": 21_700, "reason": "RuntimeError: can't start new thread", "exit_code": 4,
         "wall_seconds": 1.0}


def test_every_family_names_where_it_came_from_and_capacity_rows_are_whole(tmp_path):
    threads = [synthetic.memory_record("threads", "condition", n, maps_per_waiter=2.5)
               for n in (100, 1_000, 3_000)]
    first = synthetic.write_run(
        tmp_path, "m", "20260101T000000",
        [_asyncio_pss(n, 1000.0) for n in (100, 1_000, 10_000)] + threads
        + [synthetic.switch_record("asyncio", "future", "same-core", "x", 2e-6),
           tail_record("asyncio", "event", "future", 1_000, 1e-6)], failures=[LIMIT])
    second = synthetic.write_run(
        tmp_path, "m", "20260102T000000",
        [synthetic.switch_record("asyncio", "future", "same-core", "x", 3e-6),
         tail_record("asyncio", "event", "future", 1_000, 5e-6)])
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

    records = [_asyncio_pss(n, 1000.0) for n in (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)]
    for record in records:  # a total that bends: its per-waiter cost is no slope
        record["memory"]["pss"] = 25e6 + 100.0 * record["n"] + 0.001 * record["n"] ** 2
    synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    frame = current.load(tmp_path).frame
    exponent = frame.query("metric == 'total_exponent'").value.iloc[0]
    assert frame.query("metric == 'total_nonlinear'").value.iloc[0] == 1.0 and exponent != 1.0
    row = frame.query("metric == 'capacity'").iloc[0]
    assert row.detail.endswith(f" (total per waiter grows as N^{exponent:.2f}: this straight-line bound "
                               "holds near the N measured)")
