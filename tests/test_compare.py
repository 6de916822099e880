"""Comparing two sides (machines, machine folders, run files): what makes two figures
comparable, flags where they are not, and the rank test behind significance, checked
against an independent computation."""

import json
import math
import random
import shutil
from pathlib import Path

import pytest

from parkbench.analysis import compare
from parkbench.cli import main
from parkbench.core.errors import UserError
from tests import synthetic

FIXTURES = str(Path(__file__).parent / "fixtures" / "results")


def test_mann_whitney_on_hand_checked_cases():
    same = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert compare.mann_whitney_p(same, same) == pytest.approx(1.0)
    low, high = [float(i) for i in range(10)], [float(i) for i in range(100, 110)]
    # U = 0, n1 = n2 = 10: z = (50 - 0.5) / sqrt(175) = 3.742, p = 0.000183
    assert compare.mann_whitney_p(low, high) == pytest.approx(0.000183, rel=0.01)
    rng = random.Random(3)
    a = [rng.gauss(10, 1) for _ in range(30)]
    b = [rng.gauss(10, 1) for _ in range(30)]
    assert compare.mann_whitney_p(a, b) > 0.05


def test_compare_two_machines_returns_a_table():
    table = compare.compare(compare.resolve("fixture-a", FIXTURES), compare.resolve("fixture-b", FIXTURES))
    assert table.attrs["a"].startswith("fixture-a") and table.attrs["b"].startswith("fixture-b")
    compared = table[table.status.str.match("compared|unstable")]  # unstable: compared, flagged
    assert set(compared.metric) >= {"rss_per_waiter", "pss_per_waiter", "total_per_waiter",
                                    "capacity", "switch_latency"}
    row = compared[(compared.model == "asyncio") & (compared.metric == "rss_per_waiter")].iloc[0]
    assert row.ratio == pytest.approx(row.b / row.a)
    switch = compared[compared.metric == "switch_latency"]
    assert len(switch) == 6  # 3 models x 2 placements
    assert switch.p_value.between(0, 1).all()
    assert set(switch.significant) <= {True, False}
    memory = compared[compared.metric == "rss_per_waiter"]
    assert memory.significant.isna().all()  # one value a side: no test, only the ratio


def test_records_that_cannot_be_compared_are_flagged_not_merged(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "res")
    (run_b,) = (tmp_path / "res" / "fixture-b").glob("2*.json")
    document = json.loads(run_b.read_text())
    for record in document["measurements"] + document["figures"]:  # figures: derived from records
        if record["model"] == "threads" and record.get("variant") == "condition":
            record["variant"] = "stack-64k"
            if "job" in record:  # a format-2 record names its job twice
                record["job"]["variant"] = "stack-64k"
    run_b.write_text(json.dumps(document))
    table = compare.compare(compare.resolve("fixture-a", tmp_path / "res"),
                            compare.resolve(str(run_b), tmp_path / "res"))
    threads = table[(table.model == "threads") & table.variant.isin(["condition", "stack-64k"])]
    assert set(threads[threads.variant == "condition"].status) == {"only in A"}
    assert set(threads[threads.variant == "stack-64k"].status) == {"only in B"}
    assert threads.ratio.isna().all() and len(threads) > 10


def test_compare_command_table_and_json(capsys):
    assert main(["compare", "fixture-a", "fixture-b", "--results", FIXTURES]) == 0
    out = capsys.readouterr().out
    assert "B/A" in out and "switch_latency" in out
    table = compare.compare(compare.resolve("fixture-a", FIXTURES), compare.resolve("fixture-b", FIXTURES))
    row = table[(table.model == "asyncio") & (table.metric == "rss_per_waiter")].iloc[0]
    from parkbench.commands.compare import format_value

    line = next(line for line in out.splitlines() if line.startswith("asyncio/event") and "rss_per_waiter" in line)
    assert format_value(row.a, "bytes") in line and format_value(row.b, "bytes") in line
    assert f"{row.ratio:.3g}" in line and "B" in format_value(row.a, "bytes")
    switch = next(line for line in out.splitlines() if "switch_latency" in line and "asyncio" in line)
    assert "µs" in switch and ("significant (p=" in switch or "apart (p=" in switch)
    assert main(["compare", "fixture-a", "fixture-b", "--results", FIXTURES, "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"model", "variant", "placement", "metric", "a", "b", "ratio", "p_value",
            "significant", "status"} <= set(rows[0])


def test_compare_unknown_machine_is_exit_2(capsys):
    assert main(["compare", "fixture-a", "nosuch", "--results", FIXTURES]) == 2
    assert "'nosuch' is neither a run file nor a machine" in capsys.readouterr().err


def _reference_p(x, y):
    """Mann-Whitney U by pairwise counting (ties count a half), tie-corrected variance
    from the tie groups, continuity correction: written apart from the product's code."""
    u = sum((1.0 if a > b else 0.5 if a == b else 0.0) for a in x for b in y)
    n1, n2, n = len(x), len(y), len(x) + len(y)
    groups = {}
    for value in list(x) + list(y):
        groups[value] = groups.get(value, 0) + 1
    ties = sum(t ** 3 - t for t in groups.values())
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = max(abs(u - n1 * n2 / 2) - 0.5, 0) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2)))


@pytest.mark.parametrize("seed", range(6))
def test_the_rank_test_matches_an_independent_computation_with_ties_and_unequal_sizes(seed):
    rng = random.Random(seed)
    x = [round(rng.gauss(10, 2)) for _ in range(rng.randint(3, 25))]
    y = [round(rng.gauss(10 + seed % 3, 2)) for _ in range(rng.randint(3, 25))]
    assert compare.mann_whitney_p(x, y) == pytest.approx(_reference_p(x, y), rel=1e-9, abs=1e-12)
    assert compare.mann_whitney_p(y, x) == pytest.approx(_reference_p(x, y), rel=1e-9, abs=1e-12)


def test_the_rank_test_edge_cases():
    assert math.isnan(compare.mann_whitney_p([], [1.0])) and math.isnan(compare.mann_whitney_p([1.0], []))
    assert compare.mann_whitney_p([3.0, 3.0], [3.0, 3.0, 3.0]) == 1.0  # all tied: no evidence
    assert compare.mann_whitney_p([0.0], [5.0, 6.0]) == pytest.approx(_reference_p([0.0], [5.0, 6.0]))


def _memory(model, variant, n, per):
    views = dict(synthetic.VIEWS, rss=(30e6, per))
    return synthetic.memory_record(model, variant, n, views)


def _side(tmp_path, name, ns=(100, 1_000, 10_000), per=1300.0, interpreter=None, parameters=None):
    path = synthetic.write_run(tmp_path, name, "20260101T000000", [_memory("asyncio", "event", n, per) for n in ns],
                               interpreter=interpreter or synthetic.INTERPRETER)
    if parameters is not None:
        import json

        document = json.loads(path.read_text())
        document["parameters"].update(parameters)
        path.write_text(json.dumps(document))
    return compare.resolve(str(path), tmp_path)


def _row(table, metric="rss_per_waiter"):
    return table[(table.model == "asyncio") & (table.metric == metric)].iloc[0]


def test_figures_of_the_same_grid_and_interpreter_are_compared(tmp_path):
    grid = {"grids": {"asyncio:event": [100, 1000, 10000]}}
    table = compare.compare(_side(tmp_path, "a", parameters=grid), _side(tmp_path, "b", per=1950.0, parameters=grid))
    row = _row(table)
    assert (row.status, row.ratio, row.unit) == ("compared", pytest.approx(1.5), "bytes")
    assert (row.run_a, row.run_b) == ("20260101T000000Z", "20260101T000000Z")


def test_different_grids_are_flagged(tmp_path):
    table = compare.compare(_side(tmp_path, "a", parameters={"grids": {"asyncio:event": [100, 1000, 10000]}}),
                            _side(tmp_path, "b", parameters={"grids": {"asyncio:event": [10, 100, 1000]}}))
    assert _row(table).status == "differ: grid"


def test_different_interpreters_are_flagged(tmp_path):
    newer = dict(synthetic.INTERPRETER, version="3.13.0")
    table = compare.compare(_side(tmp_path, "a"), _side(tmp_path, "b", interpreter=newer))
    assert _row(table).status == "differ: interpreter"


def test_interpreter_filters_and_their_errors(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", [_memory("asyncio", "event", n, 1.0) for n in (1, 10, 100)])
    synthetic.write_run(tmp_path, "m", "20260102T000000", [_memory("asyncio", "event", n, 1.0) for n in (1, 10, 100)],
                        interpreter=dict(synthetic.INTERPRETER, version="3.13.0"))
    with pytest.raises(UserError, match=r"holds figures of several interpreters \(CPython 3.11.7, CPython 3.13.0\)"):
        compare.resolve("m", tmp_path)
    side = compare.resolve("m", tmp_path, "3.13")
    assert side.label == "m, interpreter 3.13 (CPython 3.13.0)"
    assert set(side.current.frame.interpreter) == {"CPython 3.13.0"}
    with pytest.raises(UserError, match="m, interpreter 3.9: no figures of an interpreter matching '3.9'"):
        compare.resolve("m", tmp_path, "3.9")
    with pytest.raises(UserError, match=r"'\.\./x' is neither a run file nor a machine name"):
        compare.resolve("../x", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="is not a machine folder"):
        compare.resolve(str(tmp_path / "empty"), tmp_path)


def test_a_switch_figure_differs_by_latency_settings(tmp_path):
    record = synthetic.switch_record("asyncio", "future", "same-core", "20260101T000000Z", 2e-6)

    def side(name, mode):
        import json

        import pyperf

        path = synthetic.write_run(tmp_path, name, "20260101T000000", [dict(record)])
        document = json.loads(path.read_text())
        document["parameters"].update(latency_mode=mode, pyperf_options=[mode])
        path.write_text(json.dumps(document))
        folder = path.with_suffix("")
        folder.mkdir()
        runs = [pyperf.Run([2e-6 + k * 1e-9], metadata={"name": "s", "loops": 1}, collect_metadata=False)
                for k in range(10)]
        pyperf.Benchmark(runs).dump(str(folder / "switch-asyncio-future-same-core.json"))
        return compare.resolve(str(path), tmp_path)

    table = compare.compare(side("a", "quick"), side("b", "rigorous"))
    row = table[table.metric == "switch_latency"].iloc[0]
    assert row.status == "differ: latency mode, pyperf options"
    assert row.p_value == pytest.approx(1.0) and bool(row.significant) is False


def _side_with_values(tmp_path, name, values):
    import pyperf

    run_id = "20260101T000000Z"
    folder = tmp_path / name
    (folder / run_id).mkdir(parents=True)
    runs = [pyperf.Run([value], metadata={"name": "switch", "loops": 1}, collect_metadata=False)
            for value in values]
    pyperf.Benchmark(runs).dump(str(folder / run_id / "switch-asyncio-future-same-core.json"))
    record = synthetic.switch_record("asyncio", "future", "same-core", run_id, sorted(values)[len(values) // 2])
    synthetic.write_run(tmp_path, name, "20260101T000000", [record])
    return compare.resolve(str(folder), tmp_path)


def test_significance_says_yes_for_clearly_different_and_no_for_identical(tmp_path):
    import random

    rng = random.Random(7)
    fast = [rng.gauss(2e-6, 0.05e-6) for _ in range(30)]
    slow = [rng.gauss(3e-6, 0.05e-6) for _ in range(30)]
    a = _side_with_values(tmp_path, "a", fast)
    table = compare.compare(a, _side_with_values(tmp_path, "b", slow))
    row = table[table.metric == "switch_latency"].iloc[0]
    assert bool(row.significant) is True and row.p_value < 1e-6
    table = compare.compare(a, _side_with_values(tmp_path, "c", list(fast)))
    row = table[table.metric == "switch_latency"].iloc[0]
    assert bool(row.significant) is False and row.p_value > 0.5


def test_compare_sets_served_rates_side_by_side_w_by_w(tmp_path, capsys):
    from parkbench.cli import main
    from tests.builders import searched_record, served_run

    for side, knee in (("a", 40_000), ("b", 60_000)):
        served_run(tmp_path / side, [searched_record("asyncio", "connections", w, 90_000, knee, 20e-6)
                                     for w in (10_000, 100)])
    assert main(["compare", str(tmp_path / "a" / "m"), str(tmp_path / "b" / "m")]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if "served_rate_per_core" in line]
    assert [row[1] for row in rows] == ["W=100", "W=10,000"]      # by W, not as text
    for row in rows:
        a, b, ratio = float(row[3].replace(",", "")), float(row[5].replace(",", "")), float(row[7])
        assert row[4] == row[6] == "requests/s" and 1.3 < b / a < 1.6 and ratio == pytest.approx(b / a, rel=1e-2)


def test_a_served_rate_measured_on_a_busy_machine_is_not_judged(tmp_path):
    """issue 37 (a helper's attack): compare set a quiet run's 110,559 requests/s beside a
    busy one's 78,916 with a B/A of 0.714, a 29% drop that was the machine's load."""
    from tests.builders import searched_record, served_run

    busy = {"window_seconds": 1.0, "other_cpu_seconds": 0.9, "other_threads": 0, "running": 3,
            "disturbed": True, "why": "other processes used 0.90 CPU-s"}
    for side, knee, activity in (("a", 60_000, None), ("b", 40_000, busy)):
        records = [searched_record("asyncio", "connections", w, 90_000, knee, 20e-6) for w in (100, 10_000)]
        if activity:
            records[1]["interference"] = activity          # only B's W=10,000 was disturbed
        served_run(tmp_path / side, records)
    table = compare.compare(compare.resolve(str(tmp_path / "a" / "m"), tmp_path),
                            compare.resolve(str(tmp_path / "b" / "m"), tmp_path))
    rates = table[table.metric == "served_rate_per_core"].set_index("placement")
    assert rates.loc["W=10,000", "verdict"] == "not judged: B measured on a busy machine"
    assert rates.loc["W=10,000", "status"] == "disturbed: B" and math.isnan(rates.loc["W=10,000", "ratio"])
    assert rates.loc["W=100", "status"] == "compared" and rates.loc["W=100", "ratio"] == pytest.approx(40 / 60, rel=0.05)
