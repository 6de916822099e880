"""A hand-off timed while the rest of the machine was busy never replaces a quiet one:
the switch and tail figures follow the rule memory and served figures follow (issue 37).
The runner records each round's window (``runner.TIMED_HERE``); the current figures
prefer the newest undisturbed run, and mark a disturbed one kept for want of another."""

import pytest

from parkbench.analysis import current
from tests.synthetic import switch_record, write_run

QUIET, BUSY = 2.0e-6, 5.5e-6   # a busy machine's hand-off looks 2.75x slower


def _busy(record, disturbed=True):
    return {**record, "interference": {"window_seconds": 2.0, "other_cpu_seconds": 1.9 if disturbed else 0.0,
                                       "other_threads": 0, "running": 3, "disturbed": disturbed,
                                       "why": "other processes used 1.90 CPU-s in a 2.00 s window" if disturbed
                                       else ""}}


def _tail(median, disturbed):
    tail = {"switch_p50": median, "switch_p99": 2 * median, "switch_p999": 3 * median, "switch_max": 9 * median}
    return _busy({"kind": "tail", "model": "asyncio", "variant": "event", "n": 1_000, "parked": 1_000,
                  "primitive": "future", "placement": "os", "repeat": 0, "tail": tail, "tail_loops": 1_000,
                  "spawn_seconds": 0.01, "wake_seconds": None, "parks_on": "p"}, disturbed)


def _switch(median, disturbed=None):
    record = switch_record("asyncio", "future", "same-core", "r", median)
    return record if disturbed is None else _busy(record, disturbed)


def _figure(figures, metric):
    rows = figures.frame[figures.frame.metric == metric]
    assert len(rows) == 1, (metric, len(rows))
    return rows.iloc[0]


def test_a_newer_disturbed_hand_off_does_not_replace_a_quiet_one(tmp_path):
    write_run(tmp_path, "m", "20261201T100000", [_switch(QUIET, False), _tail(QUIET, False)])
    write_run(tmp_path, "m", "20261201T110000", [_switch(BUSY, True), _tail(BUSY, True)])
    figures = current.load(tmp_path)
    switch = _figure(figures, "switch_latency")
    assert (switch.value, switch.run_id) == (pytest.approx(QUIET), "20261201T100000Z")
    assert switch.basis != "disturbed"
    tail = figures.frame[figures.frame.metric == "switch_p50"]
    assert set(tail.run_id) == {"20261201T100000Z"} and tail.value.iloc[0] == pytest.approx(QUIET)
    assert any("the newer run 20261201T110000Z was disturbed" in note and "future same-core" in note
               for note in figures.notes)


def test_only_disturbed_hand_offs_are_shown_marked_and_said(tmp_path):
    write_run(tmp_path, "m", "20261201T100000", [_switch(QUIET)])           # before rounds recorded it
    write_run(tmp_path, "m", "20261201T110000", [_switch(BUSY, True)])
    figures = current.load(tmp_path)
    # a run from before the window was recorded counts as undisturbed: it was never flagged
    assert _figure(figures, "switch_latency").run_id == "20261201T100000Z"
    alone = tmp_path / "alone"
    write_run(alone, "m", "20261201T110000", [_switch(BUSY, True), _tail(BUSY, True)])
    figures = current.load(alone)
    switch = _figure(figures, "switch_latency")
    assert switch.value == pytest.approx(BUSY) and switch.basis == "disturbed"
    assert set(figures.frame[figures.frame.metric == "switch_p99"].basis) == {"disturbed"}
    assert _figure(figures, "switch_disturbed").value == 1
    assert any("which the rest of the machine disturbed: the hand-off may be the machine's" in note
               for note in figures.notes)


def test_a_quiet_newer_run_replaces_an_older_one_as_before(tmp_path):
    write_run(tmp_path, "m", "20261201T100000", [_switch(BUSY, False)])
    write_run(tmp_path, "m", "20261201T110000", [_switch(QUIET, False)])
    assert _figure(current.load(tmp_path), "switch_latency").run_id == "20261201T110000Z"


def test_compare_does_not_call_a_disturbed_hand_off_a_difference(tmp_path, capsys):
    from parkbench.cli import main
    from tests.shapes import write_pyperf_files

    for side, when, record in (("a", "20261201T100000", _switch(QUIET, False)),
                               ("b", "20261201T110000", _switch(BUSY, True))):
        write_pyperf_files(write_run(tmp_path / side, "m", when, [record]), [record])
    assert main(["compare", str(tmp_path / "a" / "m"), str(tmp_path / "b" / "m")]) == 0
    line, = [line for line in capsys.readouterr().out.splitlines() if "future" in line and "same-core" in line]
    assert line.rstrip().endswith("not judged: B timed on a busy machine"), line
    assert "significant" not in line


def test_fit_says_a_hand_off_beside_a_row_was_timed_on_a_busy_machine(tmp_path, capsys):
    from parkbench.cli import main
    from tests.synthetic import memory_record

    write_run(tmp_path, "m", "20261201T110000",
              [memory_record("asyncio", "event", n) for n in (1_000, 3_000, 12_000, 50_000)] + [_switch(BUSY, True)])
    assert main(["fit", "--waiters", "10k", "--rate", "1k", "--results", str(tmp_path)]) == 0
    row, = [line for line in capsys.readouterr().out.splitlines() if "asyncio/event" in line]
    assert "hand-off future same-core, run 20261201T110000Z (disturbed: timed on a busy machine" in row


def test_the_report_s_headline_marks_a_hand_off_kept_from_a_busy_machine(tmp_path):
    from parkbench.presentation import headline
    from tests.synthetic import memory_record

    write_run(tmp_path, "m", "20261201T110000",
              [memory_record("asyncio", "event", n) for n in (1_000, 3_000, 12_000, 50_000)] + [_switch(BUSY, True)])
    row = headline.headline(current.load(tmp_path).frame, "m").set_index("model/variant").loc["asyncio/event"]
    assert row["same-core"].endswith(" disturbed") and not row["cross-core"].endswith("disturbed")


def test_the_report_s_hand_off_bars_say_which_was_timed_on_a_busy_machine(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from parkbench.presentation import timeplots

    write_run(tmp_path, "m", "20261201T110000",
              [_switch(BUSY, True), {**switch_record("asyncio", "future", "cross-core", "r", QUIET),
                                     "interference": _busy({})["interference"] | {"disturbed": False}}])
    figure = timeplots.switch_latency(current.load(tmp_path).frame, "m")
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert sorted(texts) == ["  2 µs", "  5.5 µs (disturbed)"]
