"""compare, row by row: two sides whose every figure is known, and the whole table
checked, so that a wrong field, a swapped side or a boundary moved by one shows."""

import json
import math

import pyperf
import pytest

from parkbench.analysis import compare
from tests import synthetic

RUN = "20260101T000000"
GRID = [100, 700, 10_000]  # uneven N


def _pyperf(folder, name, values):
    runs = [pyperf.Run([value], metadata={"name": name, "loops": 1}, collect_metadata=False)
            for value in values]
    pyperf.Benchmark(runs).dump(str(folder / f"{name}.json"))


def _switch(model, primitive, placement, values):
    mean = sum(values) / len(values)
    stdev = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    record = synthetic.switch_record(model, primitive, placement, "x", sorted(values)[len(values) // 2])
    record.update(mean=mean, stdev=stdev, values=len(values))
    return record


def _wake_curve(record, exponent):
    record = dict(record)
    record["wake_seconds"] = 1e-7 * record["n"] ** exponent
    return record


# A's and B's hand-off values (seconds): B slower by 15% (significant), by 2% (a
# significant rank test, but under the 5% threshold), and one of B's with a 20% spread.
A_SAME = [2.00e-6 + k * 1e-9 for k in range(12)]
B_SAME = [v * 1.15 for v in A_SAME]
A_CROSS = [3.00e-6 + k * 1e-10 for k in range(12)]
B_CROSS = [v * 1.02 for v in A_CROSS]
A_LOCK = [7e-6 + k * 1e-9 for k in range(12)]
B_LOCK = [7e-6 * (1 + (0.35 if k % 2 else -0.35)) for k in range(12)]
A_QUEUE = [9e-6 * (1 + (0.25 if k % 2 else -0.25)) for k in range(12)]
B_QUEUE = [9e-6 * (1 + (0.45 if k % 2 else -0.45)) for k in range(12)]


def _cv(values):
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 / mean


def _side(tmp_path, name, per, switches, extra=(), calibration=None, wake_exponent=1.0,
          asyncio_wake_exponent=1.0):
    records = [_wake_curve(synthetic.memory_record("asyncio", "event", n,
                                                   dict(synthetic.VIEWS, rss=(30e6, per))),
                           asyncio_wake_exponent)
               for n in GRID]
    records += [_wake_curve(synthetic.memory_record("threads", "condition", n), wake_exponent)
                for n in GRID]
    records += list(extra)
    records += [_switch(model, primitive, placement, values)
                for (model, primitive, placement), values in switches.items()]
    path = synthetic.write_run(tmp_path, name, RUN, records, calibration=calibration)
    document = json.loads(path.read_text())
    document["parameters"]["grids"] = {"asyncio:event": GRID, "threads:condition": GRID}
    path.write_text(json.dumps(document))
    folder = path.with_suffix("")
    folder.mkdir()
    for (model, primitive, placement), values in switches.items():
        _pyperf(folder, f"switch-{model}-{primitive}-{placement}", values)
    return compare.resolve(str(path), tmp_path)


CALIBRATION = {"start": {"python_loop_ns": 20.0, "pipe_one_way_seconds": 2e-6, "pipe_spread": 0.01},
               "end": {"python_loop_ns": 21.0, "pipe_one_way_seconds": 4e-6, "pipe_spread": 0.02}}
CALIBRATION_B = {"start": {"python_loop_ns": 20.0, "pipe_one_way_seconds": 5e-6, "pipe_spread": 0.01},
                 "end": None}


@pytest.fixture
def table(tmp_path):
    only_in_a = [synthetic.memory_record("gevent", "event", n) for n in GRID]
    a = _side(tmp_path, "a", 1300.0, {("asyncio", "future", "same-core"): A_SAME,
                                      ("asyncio", "future", "cross-core"): A_CROSS,
                                      ("threads", "lock", "same-core"): A_LOCK,
                                      ("threads", "queue", "same-core"): A_QUEUE},
              extra=only_in_a, calibration=CALIBRATION, asyncio_wake_exponent=1.4)
    b = _side(tmp_path, "b", 1950.0, {("asyncio", "future", "same-core"): B_SAME,
                                      ("asyncio", "future", "cross-core"): B_CROSS,
                                      ("threads", "lock", "same-core"): B_LOCK,
                                      ("threads", "queue", "same-core"): B_QUEUE},
              wake_exponent=1.6, calibration=CALIBRATION_B)
    return compare.compare(a, b)


def _row(table, model, variant, metric, placement=""):
    named = table.primitive if metric.startswith("switch") else table.variant  # a hand-off names its primitive
    rows = table[(table.model == model) & (named == variant) & (table.metric == metric)
                 & (table.placement == placement)]
    assert len(rows) == 1, (model, variant, metric, placement)
    return rows.iloc[0]


def test_a_memory_figure_compared(table):
    row = _row(table, "asyncio", "event", "rss_per_waiter")
    assert (row.a, row.b) == (pytest.approx(1300.0), pytest.approx(1950.0))
    assert row.ratio == pytest.approx(1.5)
    assert (row.status, row.unit, row.run_a, row.run_b) == ("compared", "bytes", RUN + "Z", RUN + "Z")
    assert math.isnan(row.p_value) and row.significant is None


def test_a_curve_on_one_side_is_named_and_not_compared(table):
    row = _row(table, "threads", "condition", "wake_per_waiter")
    assert row.status == "curve (A linear, B N^1.60): per-waiter slopes not compared"
    assert math.isnan(row.ratio)
    row = _row(table, "asyncio", "event", "wake_per_waiter")
    assert row.status == "curve (A N^1.40, B linear): per-waiter slopes not compared"
    assert _row(table, "threads", "condition", "rss_per_waiter").status == "compared"
    assert set(table.metric) <= set(compare.COMPARED)


def test_a_figure_on_one_side_only(table):
    row = _row(table, "gevent", "event", "rss_per_waiter")
    assert row.status == "only in A" and row.run_b != row.run_b and row.run_a == RUN + "Z"
    assert row.a == pytest.approx(1300.0) and math.isnan(row.b) and math.isnan(row.ratio)
    assert row.unit == "bytes"


def test_a_clearly_slower_hand_off_is_significant(table):
    row = _row(table, "asyncio", "future", "switch_latency", "same-core")
    assert row.ratio == pytest.approx(1.15, rel=1e-3)
    assert row.p_value < 0.001 and bool(row.significant) is True
    assert row.verdict.startswith("significant (p=") and row.verdict.endswith(")")
    assert row.status == "compared" and row.unit == "seconds"


def test_a_difference_under_the_ratio_threshold_is_never_significant(table):
    row = _row(table, "asyncio", "future", "switch_latency", "cross-core")
    assert row.ratio == pytest.approx(1.02, rel=1e-3)
    assert row.p_value < compare.ALPHA and bool(row.significant) is False
    # compare printed "no (p=1.16e-07)" beside "yes (p=8.88e-06)" without saying why
    assert row.verdict.startswith("under 5% apart (p")


def test_an_unstable_side_is_named_with_its_spread(table):
    row = _row(table, "threads", "lock", "switch_latency", "same-core")
    assert row.status == f"unstable: B ±{_cv(B_LOCK) * 100:.0f}%"
    row = _row(table, "threads", "queue", "switch_latency", "same-core")
    assert row.status == f"unstable: A ±{_cv(A_QUEUE) * 100:.0f}%, B ±{_cv(B_QUEUE) * 100:.0f}%"
    assert (round(_cv(A_QUEUE) * 100), round(_cv(B_QUEUE) * 100)) == (26, 47)  # the fixture's


def test_each_sides_calibration_travels_with_the_table(table):
    assert table.attrs["calibration_a"] == pytest.approx(3e-6)
    assert table.attrs["calibration_b"] == pytest.approx(5e-6)
    assert table.attrs["a"].endswith(f"a/{RUN}Z.json (CPython 3.11.7)")
    assert table.attrs["b"].endswith(f"b/{RUN}Z.json (CPython 3.11.7)")
    assert list(table.columns) == compare.KEY + ["unit", "a", "b", "ratio", "p_value",
                                                 "significant", "verdict", "status", "run_a", "run_b",
                                                 "noise_a", "noise_b"]


@pytest.mark.parametrize("ratio, p, expected", [
    (1.05, 0.049, True), (1.0499, 0.001, False), (0.95, 0.049, True), (1.2, 0.05, False)])
def test_significance_needs_both_the_test_and_the_ratio_at_their_boundaries(monkeypatch, tmp_path,
                                                                          ratio, p, expected):
    monkeypatch.setattr(compare, "mann_whitney_p", lambda x, y: p)
    a = _side(tmp_path, "a", 1300.0, {("asyncio", "future", "same-core"): A_SAME})
    b = _side(tmp_path, "b", 1300.0, {("asyncio", "future", "same-core"): [v * ratio for v in A_SAME]})
    row = _row(compare.compare(a, b), "asyncio", "future", "switch_latency", "same-core")
    assert bool(row.significant) is expected


def test_a_sides_calibration_is_that_of_the_runs_its_hand_offs_came_from(tmp_path):
    slow_day = dict(CALIBRATION, start=dict(CALIBRATION["start"], pipe_one_way_seconds=9e-6),
                    end=None)
    memory = [synthetic.memory_record("asyncio", "event", n) for n in GRID]
    synthetic.write_run(tmp_path, "m", "20260101T000000", memory, calibration=slow_day)
    path = synthetic.write_run(tmp_path, "m", "20260102T000000",
                               [_switch("asyncio", "future", "same-core", A_SAME)],
                               calibration=CALIBRATION)
    folder = path.with_suffix("")
    folder.mkdir()
    _pyperf(folder, "switch-asyncio-future-same-core", A_SAME)
    side = compare.resolve("m", tmp_path)
    assert compare.calibration_pipe(side) == pytest.approx(3e-6)  # not the memory run's 9 µs


def test_switch_and_capacity_figures_that_differ_in_context_say_how(tmp_path):
    def side(name, interpreter, memory_available):
        limits = dict(synthetic.LIMITS, memory_available=memory_available)
        path = synthetic.write_run(tmp_path, name, RUN,
                                   [synthetic.memory_record("asyncio", "event", n) for n in GRID]
                                   + [_switch("asyncio", "future", "same-core", A_SAME)],
                                   interpreter=interpreter, limits=limits)
        folder = path.with_suffix("")
        folder.mkdir()
        _pyperf(folder, "switch-asyncio-future-same-core", A_SAME)
        return compare.resolve(str(path), tmp_path)

    newer = dict(synthetic.INTERPRETER, version="3.13.0")
    table = compare.compare(side("a", synthetic.INTERPRETER, 24 * 2**30), side("b", newer, 12 * 2**30))
    assert _row(table, "asyncio", "future", "switch_latency", "same-core").status == "differ: interpreter"
    capacity = _row(table, "asyncio", "event", "capacity")
    assert capacity.status == "differ: interpreter"
    assert capacity.ratio == pytest.approx(0.5, rel=0.01)


def test_an_interpreter_filter_is_plain_text_not_a_pattern(tmp_path):
    from parkbench.core.errors import UserError

    synthetic.write_run(tmp_path, "m", RUN, [synthetic.memory_record("asyncio", "event", n) for n in GRID],
                        interpreter=dict(synthetic.INTERPRETER, version="3.13.0"))
    with pytest.raises(UserError, match=r"^m, interpreter 3\.1\.: no figures of an interpreter matching '3\.1\.'$"):
        compare.resolve("m", tmp_path, "3.1.")  # as a pattern it would match 3.13


def test_resolve_errors_name_what_was_given(tmp_path):
    from parkbench.core.errors import UserError

    with pytest.raises(UserError) as error:
        compare.resolve("nosuch", tmp_path)
    assert str(error.value) == f"'nosuch' is neither a run file nor a machine under {str(tmp_path)!r}"
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as error:
        compare.resolve(str(tmp_path / "empty"), tmp_path)
    assert str(error.value) == (f"{str(tmp_path / 'empty')!r} is not a machine folder "
                                f"(no machine.json, no run files)")
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "machine.json").write_text("{}")
    with pytest.raises(UserError) as error:
        compare.resolve(str(tmp_path / "bare"), tmp_path)
    assert "is not a machine folder" not in str(error.value)  # a machine folder, no runs yet


@pytest.mark.parametrize("p, ratio, words", [
    (0.29, 1.5, (False, "not significant (p=0.29)")),
    (0.05, 1.5, (False, "not significant (p=0.05)")),
    (0.049, 1.5, (True, "significant (p=0.049)")),
    (1e-7, 1.049, (False, "under 5% apart (p<1e-6)")),
    (1e-7, 0.951, (False, "under 5% apart (p<1e-6)")),
    (1e-7, 1.05, (True, "significant (p<1e-6)")),
    (1e-7, 0.95, (True, "significant (p<1e-6)")),
])
def test_one_wording_for_a_difference(p, ratio, words):
    assert compare.verdict(p, ratio) == words
