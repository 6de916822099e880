"""Curves, not slopes, where cost does not grow linearly: the scaling exponent with its
interval, and the classification that decides how a figure is shown."""

import math
import random
import re

import pytest

from parkbench.analysis import current, slopes
from parkbench.analysis.fit_quality import MIN_R2
from parkbench.analysis.slopes import scaling
from parkbench.core.stats import fit_line
from parkbench.presentation import summary
from tests import committed

NS = [100, 300, 1_000, 3_000, 10_000, 30_000]


def _classify(costs, ns=NS):
    fit = fit_line(ns, costs)
    return scaling(ns, costs, fit.r2)


def test_linear_data_is_a_slope():
    rng = random.Random(1)
    curve = _classify([2e-6 * n * rng.uniform(0.98, 1.02) for n in NS])
    assert curve.exponent == pytest.approx(1.0, abs=0.02)
    assert curve.low < 1 < curve.high
    assert not curve.nonlinear


def test_quadratic_data_is_a_curve_with_exponent_two():
    rng = random.Random(2)
    curve = _classify([1e-9 * n * n * rng.uniform(0.98, 1.02) for n in NS])
    assert curve.exponent == pytest.approx(2.0, abs=0.03)
    assert curve.nonlinear and "changes" in curve.reason


def test_n_log_n_is_a_curve_slightly_above_one():
    curve = _classify([1e-7 * n * math.log(n) for n in NS])
    assert 1.05 < curve.exponent < 1.2
    assert curve.low > 1.0
    assert curve.nonlinear


def test_memory_with_a_large_fixed_cost_keeps_its_slope():
    # 30 MB of interpreter plus 1.2 KiB per task: the cost above the fitted fixed cost
    # is linear (the raw totals, fixed cost included, would fake an exponent of ~0.3)
    values = [30e6 + 1228 * n for n in NS]
    figures = slopes.curve_figures("asyncio", "event", "rss", "bytes", NS, values, fit_line(NS, values))
    by = {f["metric"]: f["value"] for f in figures}
    assert by["rss_exponent"] == pytest.approx(1.0, abs=1e-6)
    assert by["rss_nonlinear"] == 0.0
    assert by["rss_at_min_n"] == pytest.approx(1228) and by["rss_at_max_n"] == pytest.approx(1228)


def test_a_poor_straight_line_is_a_curve_even_with_a_wide_interval():
    rng = random.Random(3)
    ns = [100, 1_000, 10_000]
    costs = [n * 1e-6 * rng.choice((0.3, 3.0)) for n in ns]
    fit = fit_line(ns, costs)
    curve = scaling(ns, costs, fit.r2)
    if fit.r2 < slopes.CURVE_MIN_R2:
        assert curve.nonlinear


def test_noise_around_a_fixed_cost_has_no_exponent():
    assert _classify([5.0, -3.0, 2.0, 1.0, 4.0, 2.0]) is None


def test_the_committed_wake_curves_are_shown_as_curves_and_memory_as_slopes():
    figures = current.load(committed.results())
    frame = figures.frame
    # the full sweeps ran under the interpreter with the most figures
    main = frame.interpreter.value_counts().index[0]
    wide = summary.table(frame[frame.interpreter == main])
    rows = {(r["model"], r["variant"]): r for _, r in wide.iterrows()}
    text = summary.curve_text(rows[("threads", "condition")], "wake_per_waiter", lambda v: f"{v:.3g}")
    assert text and text.startswith("N^1.")
    # gevent's wake-all grows too (its exponent), though four points up to 500,000 do not
    # always pin it down enough to be drawn as a curve
    assert rows[("gevent", "event")]["wake_exponent"] > 1.1
    weak = [key for key, row in rows.items() if row["rss_fit_r2"] < MIN_R2]
    for model, variant in weak:  # a fit too weak to stand is said to be so, never drawn as a curve
        assert any(f"{model}/{variant}: no run fits memory" in note for note in figures.notes)
    for key, row in rows.items():
        if key in weak:
            continue
        for view in ("rss", "pss", "total"):
            assert row[f"{view}_nonlinear"] != 1, (key, view)
            exponent = row[f"{view}_exponent"]
            assert exponent != exponent or abs(exponent - 1) < 0.1, (key, view, exponent)
    rendered = summary.render(wide)
    threads = next(line for line in rendered.splitlines() if line.startswith("threads     condition"))
    assert re.search(r"N\^1\.\d\d: [\d.]+ µs → [\d.]+ [µm]?s", threads)


def test_wake_not_timed_at_the_largest_n_is_fitted_over_the_rest():
    from . import synthetic

    records = [synthetic.memory_record("gevent", "event", n) for n in (10, 30, 100, 300)]
    records[-1]["wake_seconds"] = None  # the child exited without waking
    figures = {f["metric"]: f for f in slopes.derive_memory(records)}
    assert figures["wake_per_waiter"]["points"] == 3
    assert figures["wake_at_max_n"]["value"] == pytest.approx(5e-6)
    assert figures["rss_per_waiter"]["points"] == 4 and figures["max_n"]["value"] == 300
    records[-2]["wake_seconds"] = None  # two N left: no wake figure at all
    assert "wake_per_waiter" not in {f["metric"] for f in slopes.derive_memory(records)}


def test_the_probe_command_skips_the_wake_above_its_cap():
    from parkbench.core.protocol import Job
    from parkbench.measurement.runner import probe_command

    assert "--no-wake" in probe_command(Job("memory", "gevent", "event", 600_000), None, {"gevent": 500_000})
    assert "--no-wake" not in probe_command(Job("memory", "gevent", "event", 500_000), None, {"gevent": 500_000})
    assert "--no-wake" not in probe_command(Job("memory", "asyncio", "event", 10**7), None, {"gevent": 500_000})
