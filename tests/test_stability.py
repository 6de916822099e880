"""Latency figures carry their spread, and an unstable one says so everywhere."""

from parkbench.analysis import compare, current
from parkbench.presentation import summary
from tests import synthetic


def _run(tmp_path, name, stdev):
    import pyperf

    record = synthetic.switch_record("asyncio", "future", "same-core", "20260101T000000Z", 2e-6)
    record.update(mean=2e-6, stdev=stdev)
    synthetic.write_run(tmp_path, name, "20260101T000000", [record])
    folder = tmp_path / name / "20260101T000000Z"
    folder.mkdir()
    values = [2e-6 - stdev, 2e-6, 2e-6 + stdev] * 4
    runs = [pyperf.Run([v], metadata={"name": "switch", "loops": 1}, collect_metadata=False) for v in values]
    pyperf.Benchmark(runs).dump(str(folder / "switch-asyncio-future-same-core.json"))
    return tmp_path / name


def test_the_spread_is_shown_and_flagged_above_ten_percent(tmp_path):
    assert summary.stability(0.04) == "±4%"
    assert summary.stability(0.32) == "±32% unstable"
    assert summary.stability(0.10) == "±10%"  # pyperf warns above 10%
    _run(tmp_path, "steady", 0.1e-6)
    _run(tmp_path, "noisy", 0.6e-6)
    text = summary.render(summary.table(current.load(tmp_path).frame),
                          latency=summary.latency_table(current.load(tmp_path).frame))
    assert "±5%" in text and "±30% unstable" in text


def test_compare_flags_an_unstable_hand_off(tmp_path):
    steady, noisy = _run(tmp_path, "steady", 0.1e-6), _run(tmp_path, "noisy", 0.6e-6)
    table = compare.compare(compare.resolve(str(steady), tmp_path), compare.resolve(str(noisy), tmp_path))
    row = table[table.metric == "switch_latency"].iloc[0]
    assert row.status == "unstable: B ±30%"
