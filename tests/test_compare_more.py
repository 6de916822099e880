"""compare: what makes two figures comparable, and the rank test checked against an
independent computation."""

import math
import random

import pytest

from parkbench.analysis import compare
from parkbench.core.errors import UserError

from . import synthetic


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
