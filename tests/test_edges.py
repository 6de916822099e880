"""A model's measured edge (``analysis/edges.py``): a point's band from the knee's spread,
the rate at W interpolated in log W between measured points and held flat beyond them
(marked extrapolated, below the smallest W as above the largest), and the held-out W a
map check goes to."""

import math

import pytest

from parkbench.analysis import edges

# uneven rates and spreads: a swapped end, a linear W or a band off its point shows
POINTS = (edges.point(100, 50_000, 0.2), edges.point(10_000, 20_000, 0.1), edges.point(1_000_000, 8_000, 0.5))


def test_a_point_s_band_is_half_its_spread_either_side():
    point = edges.point(1_000, 40_000, 0.3, "SLO: x", "r1")
    assert (point.low, point.rate, point.high) == pytest.approx((34_000, 40_000, 46_000))
    assert (point.basis, point.run) == ("SLO: x", "r1")
    assert edges.point(1_000, 40_000, None).low == 40_000          # no spread measured: no band
    assert edges.point(1_000, 40_000, float("nan")).high == 40_000
    assert edges.point(1_000, 40_000, 3.0).low == 0.0              # never below nothing


def test_between_measured_w_the_edge_is_linear_in_log_w():
    # 1,000 is halfway from 100 to 10,000 in log W: halfway from 50,000 to 20,000
    middle = edges.at(POINTS, 1_000)
    assert middle.rate == pytest.approx(35_000) and not middle.extrapolated
    assert middle.low == pytest.approx((45_000 + 19_000) / 2) and middle.high == pytest.approx((55_000 + 21_000) / 2)
    quarter = edges.at(POINTS, 10_000 * 10 ** 0.5)                 # a quarter of the way to 1,000,000
    assert quarter.rate == pytest.approx(20_000 - 12_000 / 4)
    assert edges.at(POINTS, 10_000).rate == 20_000                # a measured W: its own rate


def test_beyond_the_measured_w_the_nearest_rate_is_held_flat_and_marked():
    above = edges.at(POINTS, 5_000_000)
    assert (above.rate, above.low, above.high, above.extrapolated) == (8_000, 6_000, 10_000, True)
    below = edges.at(POINTS, 10)
    assert (below.rate, below.extrapolated) == (50_000, True)
    assert not edges.at(POINTS, 100).extrapolated and not edges.at(POINTS, 1_000_000).extrapolated
    one = (edges.point(1_000, 30_000, 0.0),)
    assert edges.at(one, 1_000) == edges.EdgeRate(30_000, 30_000, 30_000, False, (("", 1_000),))
    assert edges.at(one, 2_000).extrapolated and edges.at(one, 500).extrapolated
    assert edges.at((), 1_000) is None
    assert edges.at(tuple(reversed(POINTS)), 1_000).rate == pytest.approx(35_000)   # in any order


def test_a_check_goes_to_the_geometric_middle_of_each_pair_of_measured_w():
    assert edges.held_out(POINTS) == [1_000, 100_000]
    assert edges.held_out((edges.point(10, 1, 0), edges.point(11, 1, 0))) == []   # no W between
    assert edges.held_out((edges.point(1_000, 1, 0), edges.point(19_000, 1, 0))) == [round(math.sqrt(19e6))]


MIXED = (edges.point(100, 50_000, 0.2, "floor-bound: the floor missed", "r1"),
         edges.point(1_000, 40_000, 0.1, "generator-bound: 1 / CPU", "r1"),
         edges.point(10_000, 30_000, 0.1, "generator-bound: 1 / CPU", "r1"),
         edges.point(100_000, 20_000, 0.1, "SLO: p99 within", "r2"))


@pytest.mark.parametrize("waiters, basis, word", [
    (1_000, "generator-bound: 1 / CPU", "generator-bound"),       # a measured W: its own basis
    (3_000, "generator-bound: 1 / CPU", "generator-bound"),       # between two of one basis
    (100, "floor-bound: the floor missed", "floor-bound"),
    (50, "floor-bound: the floor missed", "floor-bound"),          # beyond: the nearest's
    (10**7, "SLO: p99 within", "SLO"),
    (300, "floor-bound: the floor missed (W=100) to generator-bound: 1 / CPU (W=1,000)",
     "floor-bound to generator-bound"),                            # between two that differ: both
])
def test_the_rate_at_w_names_the_basis_of_the_points_it_comes_from(waiters, basis, word):
    """issue 37.3: fit named the basis of the largest W (floor-bound) beside the rate at W
    = 10,000, which show's served table calls generator-bound."""
    from parkbench.analysis.sizing import Profile, answer

    assert edges.at(MIXED, waiters).basis == basis
    profile = Profile("m", "threads", "connections", 40_000.0, 19_936, "rlimit_nofile", 1e-5, 1, edge=MIXED)
    assert profile.rate_basis_at(waiters) == word
    assert profile.edge_basis_at(waiters).startswith(basis + "; measured at W=100, 1,000, 10,000, 100,000")
    assert profile.rate_basis == "floor-bound/generator-bound/SLO"   # a map panel's: every basis, in W order
    (row,) = answer([profile], waiters, 1_000)                          # what fit prints
    assert (row["rate_basis"], row["edge_basis"]) == (word, profile.edge_basis_at(waiters))
