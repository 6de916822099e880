"""The memory guard: its budget, its prior, its fitted prediction and its boundary."""

from collections import namedtuple

import pytest

from parkbench.core import registry
from parkbench.core.errors import UserError
from parkbench.measurement import guard


@pytest.mark.parametrize("text, expected", [("50%", 500), ("100%", 1000), ("0.5%", 5), ("8GiB", 8 * 2**30),
                                            ("4GB", 4 * 10**9)])
def test_budgets_in_percent_of_available_or_as_sizes(text, expected):
    assert guard.parse_budget(text, 1000) == expected


@pytest.mark.parametrize("text", ["0%", "101%", "-5%", "x%", "%"])
def test_bad_percent_budgets_are_refused(text):
    with pytest.raises(UserError, match=r"in \(0, 100\]"):
        guard.parse_budget(text, 1000)


def test_the_prior_is_a_fixed_cost_plus_a_high_guess_per_waiter():
    peak, basis = guard.predict_peak("asyncio", 1000, [])
    assert peak == guard.PRIOR_FIXED_BYTES + registry.get("asyncio").prior_bytes_per_waiter * 1000
    assert "prior of 8 KiB per waiter" in basis
    one_point = [{"n": 10, "memory": {"pss": 1.0, "kernel": 0}}]  # one N is no line: still the prior
    assert guard.predict_peak("asyncio", 1000, one_point)[0] == peak


def test_the_fitted_prediction_is_the_line_times_the_margin():
    measured = [{"n": 100, "memory": {"pss": 30e6 + 2e3 * 100, "kernel": 10 * 100}},
                {"n": 1000, "memory": {"pss": 30e6 + 2e3 * 1000, "kernel": 10 * 1000}}]
    peak, basis = guard.predict_peak("asyncio", 10_000, measured, margin=1.5)
    assert peak == int((30e6 + 2010 * 10_000) * 1.5)
    assert basis == "fit over 2 measurements x 1.5"


def test_negative_kernel_noise_counts_as_zero():
    assert guard.measured_cost({"memory": {"pss": 1000, "kernel": -300}}) == 1000
    assert guard.measured_cost({"memory": {"pss": 1000, "kernel": 300}}) == 1300


def test_a_prediction_at_the_budget_fits_and_one_byte_over_does_not():
    peak, _ = guard.predict_peak("asyncio", 1000, [])
    assert guard.Guard(peak, 0).refuse("asyncio", 1000, []) is None
    reason = guard.Guard(peak - 1, 0).refuse("asyncio", 1000, [])
    assert reason.startswith("predicted peak ") and "exceeds the memory budget" in reason


def test_the_floor_is_five_percent_of_memory_but_at_least_512_mib(monkeypatch):
    Memory = namedtuple("Memory", "total available")
    monkeypatch.setattr(guard.psutil, "virtual_memory", lambda: Memory(100 * 2**30, 0))
    assert guard.default_floor() == 5 * 2**30
    monkeypatch.setattr(guard.psutil, "virtual_memory", lambda: Memory(2 * 2**30, 0))
    assert guard.default_floor() == 512 * 2**20


def test_the_guard_counts_kernel_memory_when_it_dominates():
    # threads: PSS grows 2 KiB per waiter, kernel 40 KiB: a PSS-only guard predicts a
    # 20th of the real need
    measured = [{"n": n, "memory": {"pss": 30e6 + 2048 * n, "kernel": 40_960 * n}} for n in (100, 1_000)]
    peak, _ = guard.predict_peak("threads", 100_000, measured, margin=1.0)
    assert peak == pytest.approx(30e6 + (2048 + 40_960) * 100_000, rel=1e-6)
    budget = int(30e6 + 2048 * 100_000 * 2)  # enough for PSS alone, not for the total
    assert guard.Guard(budget, 0, 1.0).refuse("threads", 100_000, measured) is not None


def test_a_resumed_total_per_waiter_cannot_shrink_the_guard_s_prediction():
    peak, basis = guard.predict_peak("asyncio", 10**9, [], 1.5, per_waiter=1e-300)
    floor = 512  # asyncio's floor per waiter
    assert peak >= floor * 10**9 and "raised to the floor" in basis
    assert guard.Guard(budget_bytes=2**30, floor_bytes=0).refuse("asyncio", 10**9, [], per_waiter=1e-300) is not None


def test_a_noisy_negative_slope_never_predicts_below_the_floor():
    measured = [{"n": 100, "memory": {"pss": 30e6, "kernel": 0}},
                {"n": 200, "memory": {"pss": 29e6, "kernel": -1e6}}]  # cost falls with N: noise
    peak, basis = guard.predict_peak("asyncio", 10**9, measured, margin=1.5)
    assert peak >= 512 * 10**9 * 1.5
    assert "floor" in basis
    assert guard.Guard(10 * 2**30, 2**29).refuse("asyncio", 10**9, measured) is not None
