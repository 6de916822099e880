"""Per-waiter figures are slopes: least squares over several N (not first to last),
R², the slope's noise and the exponent's interval against a t table, total = PSS +
kernel, and switch latency pooled over rounds."""

import math
import random
import statistics

import numpy as np
import pytest

from parkbench.analysis import slopes
from parkbench.analysis.slopes import derive, measurement_value
from parkbench.core import stats
from parkbench.core.stats import fit_line
from tests import synthetic


def test_fit_recovers_known_slope_and_intercept():
    xs = [100, 1_000, 10_000, 100_000]
    fit = fit_line(xs, [20e6 + 1200 * x for x in xs])
    assert fit.slope == pytest.approx(1200)
    assert fit.intercept == pytest.approx(20e6)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.points == 4


def test_fit_with_seeded_noise_stays_close_and_reports_lower_r2():
    rng = random.Random(42)
    xs = [n for n in (1_000, 3_000, 10_000, 30_000, 100_000) for _ in range(3)]
    ys = [5e6 + 800 * x + rng.gauss(0, 200_000) for x in xs]
    fit = fit_line(xs, ys)
    assert fit.slope == pytest.approx(800, rel=0.02)
    assert 0.99 < fit.r2 < 1.0


def test_fit_refuses_fewer_than_three_distinct_n():
    with pytest.raises(ValueError, match="at least 3 distinct N"):
        fit_line([10, 10, 100, 100], [1, 1, 2, 2])


def test_flat_line_has_no_r2():
    fit = fit_line([1, 10, 100], [5, 5, 5])
    assert fit.slope == 0
    assert math.isnan(fit.r2)


def _record(model, n, rss):
    """Every view with its own slope: RSS 100, USS 70, PSS 85, VMS 200, kernel 20 per
    waiter (for the fitted model), so a figure read from the wrong view shows."""
    extra = rss - 1e6
    return {
        "kind": "memory", "model": model, "variant": "v", "n": n, "spawn_seconds": n * 1e-6,
        "wake_seconds": n * 5e-7,
        "memory": {"rss": rss, "uss": 9e5 + 0.7 * extra, "pss": 9.5e5 + 0.85 * extra,
                   "vms": 2 * rss, "kernel": 20 * n, "maps": 2 * n},
    }


def test_fit_r2_is_the_square_of_the_correlation():
    xs, ys = [1, 2, 3, 4], [1.0, 3.0, 2.0, 4.0]
    fit = fit_line(xs, ys)
    assert fit.r2 == pytest.approx(0.64)  # r = 0.8 by hand
    with pytest.raises(ValueError, match="same length"):
        fit_line([1, 2, 3], [1, 2])


def test_derive_gives_slopes_per_model_and_max_n():
    records = [_record("a", n, 1e6 + 100 * n) for n in (10, 130, 1000)]
    records += [_record("b", n, 2e6) for n in (10, 100)]  # too few N to fit
    figures = {(f["model"], f["metric"]): f["value"] for f in derive(records)}
    assert figures[("a", "rss_per_waiter")] == pytest.approx(100)
    assert figures[("a", "rss_fixed")] == pytest.approx(1e6)
    assert figures[("a", "uss_per_waiter")] == pytest.approx(70)
    assert figures[("a", "pss_per_waiter")] == pytest.approx(85)
    assert figures[("a", "pss_fixed")] == pytest.approx(9.5e5)
    assert figures[("a", "vms_per_waiter")] == pytest.approx(200)
    assert figures[("a", "kernel_per_waiter")] == pytest.approx(20)
    assert figures[("a", "total_per_waiter")] == pytest.approx(105)  # PSS + kernel, not RSS + kernel
    assert figures[("a", "maps_per_waiter")] == pytest.approx(2)
    assert figures[("a", "min_n")] == 10
    assert figures[("a", "spawn_per_waiter")] == pytest.approx(1e-6)
    assert figures[("a", "wake_per_waiter")] == pytest.approx(5e-7)
    assert figures[("a", "max_n")] == 1000
    assert figures[("b", "max_n")] == 100
    assert ("b", "rss_per_waiter") not in figures


def test_the_slope_is_least_squares_not_first_to_last():
    # uneven N and one point off the line: least squares gives 10.5 (computed by hand),
    # the slope through the first and last point 10.0, the last two points 11.25
    xs = [10, 20, 60, 100]
    ys = [100 + 10 * x for x in xs]
    ys[2] += 60
    fit = fit_line(xs, ys)
    mean_x = sum(xs) / 4
    mean_y = sum(ys) / 4
    expected = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
                / sum((x - mean_x) ** 2 for x in xs))
    assert fit.slope == pytest.approx(expected)
    assert fit.slope != pytest.approx(10.0)
    assert fit.intercept == pytest.approx(mean_y - expected * mean_x)
    assert 0.9 < fit.r2 < 1.0


def test_total_is_pss_plus_kernel_with_views_of_different_slopes():
    records = [synthetic.memory_record("asyncio", "event", n) for n in (100, 350, 2_000)]
    figures = {f["metric"]: f["value"] for f in derive(records)}
    fixed_per = synthetic.VIEWS
    assert figures["rss_per_waiter"] == pytest.approx(fixed_per["rss"][1])
    assert figures["pss_per_waiter"] == pytest.approx(fixed_per["pss"][1])
    assert figures["uss_per_waiter"] == pytest.approx(fixed_per["uss"][1])
    assert figures["vms_per_waiter"] == pytest.approx(fixed_per["vms"][1])
    assert figures["kernel_per_waiter"] == pytest.approx(fixed_per["kernel"][1])
    assert figures["total_per_waiter"] == pytest.approx(fixed_per["pss"][1] + fixed_per["kernel"][1])
    assert figures["total_fixed"] == pytest.approx(fixed_per["pss"][0] + fixed_per["kernel"][0])
    assert measurement_value(records[0], "total") == records[0]["memory"]["pss"] + records[0]["memory"]["kernel"]
    assert figures["max_n"] == 2_000


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
