import math
import random

import pytest

from parkbench.analysis.slopes import derive
from parkbench.core.stats import fit_line


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
