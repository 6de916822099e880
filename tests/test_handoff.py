"""Timing a hand-off: percentiles read from the round trips one by one, and the CPUs
each placement pins its two waiters to."""

import os

import pytest

from parkbench.measurement import handoff


def test_percentiles_on_a_known_sequence():
    # round trips of 2, 4, ..., 2000 ns: one-way 1 ... 1000 ns, one of each
    samples = [2 * k for k in range(1, 1001)]
    cuts = handoff.one_way_percentiles(samples)
    assert cuts["switch_p50"] == pytest.approx(500.5e-9)
    assert cuts["switch_p99"] == pytest.approx(990.01e-9)
    assert cuts["switch_p999"] == pytest.approx(999.001e-9)
    assert cuts["switch_max"] == pytest.approx(1000e-9)
    assert cuts["samples"] == 1000


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="cross-core needs two CPUs")
def test_cross_core_placement_names_two_different_cpus_and_same_core_one():
    from parkbench.measurement import placement

    a, b = placement.cpus_for("cross-core")
    assert a != b and {a, b} <= os.sched_getaffinity(0)
    a, b = placement.cpus_for("same-core")
    assert a == b
