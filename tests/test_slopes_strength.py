"""Fitting at its edges: the exponent's 95% interval against an independent computation
(numpy's least squares and the t quantile by its degrees of freedom), the curve rule's
two reasons, whole figures with their units, and the rounds' spread."""

import math
import random
import statistics

import numpy as np
import pytest

from parkbench.analysis import slopes
from parkbench.core import stats

# Student's t 97.5% quantiles, from a table written apart (df 1 .. 5 and 30), and 1.96 beyond
T = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 30: 2.042}


def _interval(ns, costs):
    """The exponent and its 95% interval, computed independently with numpy."""
    x, y = np.log(np.array(ns, float)), np.log(np.array(costs, float))
    design = np.vstack([x, np.ones_like(x)]).T
    (slope, intercept), *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = float(((y - (slope * x + intercept)) ** 2).sum())
    standard_error = math.sqrt(residual / (len(x) - 2) / float(((x - x.mean()) ** 2).sum()))
    t = T[len(x) - 2] if len(x) - 2 <= 30 else 1.96
    return slope, slope - t * standard_error, slope + t * standard_error


@pytest.mark.parametrize("points", [3, 4, 5, 7, 32, 40])
def test_the_exponent_and_its_interval_match_an_independent_computation(points):
    rng = random.Random(points)
    ns = sorted({int(10 ** rng.uniform(2, 6)) for _ in range(points * 3)})[:points]
    costs = [5e-6 * n ** 1.2 * math.exp(rng.gauss(0, 0.05)) for n in ns]
    curve = slopes.scaling(ns, costs, 0.99)
    exponent, low, high = _interval(ns, costs)
    assert curve.exponent == pytest.approx(exponent, rel=1e-9)
    assert (curve.low, curve.high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))


def test_the_t_table_by_degrees_of_freedom():
    assert [stats.t975(d) for d in (1, 2, 3, 30)] == [12.706, 4.303, 3.182, 2.042]
    assert stats.t975(31) == 1.96 and stats.t975(0) == 1.96


def test_a_curve_is_named_for_its_reason():
    ns = [100, 1_000, 10_000, 100_000]
    bending = slopes.scaling(ns, [1e-6 * n ** 1.5 for n in ns], 0.99)
    assert bending.nonlinear and bending.reason.startswith("per-waiter cost changes ")
    assert bending.reason.endswith(" across N 100-100,000 even at the edge of the exponent's 95% interval")
    noisy = [1e-6 * n * (1.3 if i % 2 else 0.8) for i, n in enumerate(ns)]  # flat, but scattered
    scattered = slopes.scaling(ns, noisy, 0.85)
    assert scattered.nonlinear and scattered.reason == "a straight line explains too little (R² 0.85)"
    straight = slopes.scaling(ns, [2e-6 * n for n in ns], 0.9)  # R² at the threshold is enough
    assert straight == slopes.Curve(pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0), False, "")


def _memory(n, wake):
    views = {"rss": 30e6 + 1300 * n, "uss": 20e6 + 1100 * n, "pss": 25e6 + 1200 * n,
             "vms": 90e6 + 1500 * n, "kernel": 40 * n, "maps": 200 + n // 100, "processes": 1}
    return {"kind": "memory", "model": "threads", "variant": "condition", "n": n, "memory": views,
            "spawn_seconds": 2e-5 * n, "wake_seconds": wake(n)}


def test_curve_figures_carry_their_units_and_reasons():
    records = [_memory(n, lambda n: 1e-7 * n ** 1.6) for n in (100, 1_000, 10_000, 100_000)]
    figures = {f["metric"]: f for f in slopes.derive_memory(records)}
    for metric in ("wake_exponent", "wake_exponent_low", "wake_exponent_high", "wake_nonlinear",
                   "rss_fit_r2"):
        assert figures[metric]["unit"] == "1", metric
    assert figures["wake_nonlinear"]["value"] == 1.0 and figures["wake_nonlinear"]["reason"]
    assert figures["wake_exponent_low"]["value"] < figures["wake_exponent"]["value"] \
        < figures["wake_exponent_high"]["value"]
    assert figures["rss_per_waiter"]["r2"] == pytest.approx(1.0) and figures["rss_per_waiter"]["points"] == 4
    assert (figures["max_n"]["value"], figures["max_n"]["unit"]) == (100_000, "waiters")
    assert (figures["min_n"]["value"], figures["min_n"]["unit"]) == (100, "waiters")
    assert figures["maps_per_waiter"]["value"] == pytest.approx(0.01, rel=0.01)


def test_mappings_are_fitted_only_where_every_record_counted_them():
    records = [_memory(n, lambda n: 1e-6 * n) for n in (100, 1_000, 10_000)]
    records[0]["memory"]["maps"] = None
    metrics = {f["metric"] for f in slopes.derive_memory(records)}
    assert "maps_per_waiter" not in metrics and "rss_per_waiter" in metrics and "wake_per_waiter" in metrics


def test_the_rounds_spread_and_the_pooled_values():
    def round_(values):
        return {"model": "asyncio", "primitive": "future", "placement": "same-core",
                "median": statistics.median(values), "mean": statistics.mean(values),
                "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
                "values": len(values), "value_list": values}

    rounds = [round_([1.0, 2.0, 3.0]), round_([2.0, 4.0, 6.0])]
    figures = {f["metric"]: f for f in slopes.derive_switch(rounds)}
    pooled = [1.0, 2.0, 3.0, 2.0, 4.0, 6.0]
    assert figures["switch_latency"]["value"] == statistics.median(pooled)
    assert figures["switch_latency_stdev"]["value"] == pytest.approx(statistics.stdev(pooled))
    assert figures["switch_latency_values"]["value"] == 6
    cv = figures["switch_latency_round_cv"]
    assert cv["value"] == pytest.approx(statistics.pstdev([2.0, 4.0]) / 3.0)
    assert (cv["unit"], cv["model"], cv["primitive"], cv["placement"]) == ("ratio", "asyncio", "future", "same-core")
    assert cv["variant"] is None  # a switch benchmark parks no variant
    one = {f["metric"]: f["value"] for f in slopes.derive_switch([round_([5.0])])}
    assert one["switch_latency_stdev"] == 0.0 and "switch_latency_round_cv" not in one
