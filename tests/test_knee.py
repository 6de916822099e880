"""The knee search (``measurement/knee.py``) on fake servers whose knee is known: the
bisection ends within 10% and never above a rate that failed; each candidate is held in
the majority of its rounds; a step the floor failed too is the machine's; saturation is
seen in the median, whatever p99 does; the SLO is judged only where the floor meets it;
a stored search replays to the same knees."""

import random
from dataclasses import dataclass

import pytest

from parkbench.measurement import knee


@dataclass(frozen=True)
class FakeStep:
    offered: float
    achieved: float
    p50: float
    p99: float
    errors: int = 0
    timeouts: int = 0
    unsent: int = 0


def server(capacity: float, p99_at=lambda rate: 0.001):
    """A server that keeps up below ``capacity`` and queues above it (its median climbs
    by tens of ms, its achieved rate stays at capacity)."""
    def step(rate: float, round_: int) -> FakeStep:
        if rate <= capacity:
            return FakeStep(rate, rate, 0.0002, p99_at(rate))
        return FakeStep(rate, capacity, 0.05, 0.2)
    return step


def floor(p99=0.001, stalls=()):
    """The machine's floor: quiet, except for the (rate, round) it stalls in."""
    def step(rate: float, round_: int) -> FakeStep:
        if (rate, round_) in stalls:
            return FakeStep(rate, rate * 0.9, 0.03, 0.08)
        return FakeStep(rate, rate, 0.0001, p99)
    return step


def run(search: knee.Search, serve, floor_step, limit=400):
    """Drive ``search`` to its end; the trials it made."""
    for _ in range(limit):
        asked = search.next()
        if asked is None:
            return search
        rate, round_, target = asked
        step = (serve if target == knee.SERVER else floor_step)(rate, round_)
        search.record(knee.Trial(rate, round_, target, step, 0.5 if target == knee.SERVER else None,
                                 int(rate)))
    raise AssertionError("the search did not end")


@pytest.mark.parametrize("capacity", [1_234.0, 9_000.0, 47_000.0, 130_000.0])
def test_the_bisection_ends_within_ten_percent_and_never_above_a_failure(capacity):
    search = run(knee.Search(start=2_000, slo_seconds=0.005), server(capacity), floor())
    found = search.knee("saturation")
    failed = [c.rate for c in search.candidates.values() if c.verdict("saturation") is False]
    assert found <= capacity < min(failed)            # never above a failed rate
    assert min(failed) / found <= knee.PRECISION     # and within 10% of one
    assert search.knee("slo") == found              # p99 1 ms: the SLO holds wherever it keeps up


def test_a_server_that_fails_one_round_in_three_is_held_by_the_majority():
    unlucky = {2_000.0: 1, 4_000.0: 0}  # one bad round at each of two rates, floor quiet

    def flaky(rate, round_):
        if unlucky.get(rate) == round_:
            return FakeStep(rate, rate * 0.9, 0.0002, 0.001)
        return server(10_000)(rate, round_)

    search = run(knee.Search(start=2_000, slo_seconds=0.005), flaky, floor())
    assert search.candidates[2_000.0].verdict("saturation") is True
    assert search.candidates[2_000.0].counts("saturation") == (2, 1, 0)  # held in 2 of 3
    assert 10_000 / knee.PRECISION <= search.knee("saturation") <= 10_000


def test_a_step_the_floor_failed_too_is_the_machine_s_and_run_again():
    stalls = {(4_000.0, 0), (4_000.0, 1)}  # the machine stalls twice at 4,000/s

    def stalled(rate, round_):  # the server stalls with the machine, and only then
        return floor(stalls=stalls)(rate, round_)

    search = run(knee.Search(start=2_000, slo_seconds=0.005), stalled, floor(stalls=stalls))
    candidate = search.candidates[4_000.0]
    assert candidate.counts("saturation") == (2, 0, 2)   # two voided rounds, two held
    assert candidate.verdict("saturation") is True
    # the same failures with a quiet floor are the server's
    quiet = run(knee.Search(start=2_000, slo_seconds=0.005), stalled, floor())
    assert quiet.candidates[4_000.0].verdict("saturation") is False
    assert quiet.knee("saturation") < 4_000


def test_saturation_is_read_in_the_median_even_when_p99_is_fine():
    def slows(rate, round_):  # achieved keeps up, but requests queue: the median climbs
        return FakeStep(rate, rate, 0.0002 if rate < 6_000 else 0.004, 0.004)

    search = run(knee.Search(start=1_000, slo_seconds=0.005), slows, floor())
    assert 6_000 / knee.PRECISION <= search.knee("saturation") < 6_000


def test_the_slo_knee_is_below_saturation_where_p99_grows_first():
    search = run(knee.Search(start=1_000, slo_seconds=0.005),
                 server(20_000, p99_at=lambda rate: 0.001 if rate < 8_000 else 0.009), floor())
    assert 20_000 / knee.PRECISION <= search.knee("saturation") <= 20_000
    assert 8_000 / knee.PRECISION <= search.knee("slo") < 8_000


def test_where_the_floor_misses_the_slo_only_saturation_speaks():
    search = run(knee.Search(start=1_000, slo_seconds=0.005),
                 server(20_000, p99_at=lambda rate: 0.009), floor(p99=0.007))
    assert not search.slo_judgeable() and search.knee("slo") is None
    assert 20_000 / knee.PRECISION <= search.knee("saturation") <= 20_000


def test_a_first_rate_that_fails_makes_the_search_go_down():
    search = run(knee.Search(start=50_000, slo_seconds=0.005), server(3_000), floor())
    assert 3_000 / knee.PRECISION <= search.knee("saturation") <= 3_000
    nothing = run(knee.Search(start=50_000, slo_seconds=0.005), server(5), floor())
    assert nothing.knee("saturation") is None


def test_the_search_goes_up_to_the_generator_s_ceiling_and_no_further_and_says_so():
    search = run(knee.Search(start=2_000, slo_seconds=0.005, ceiling=20_000), server(10**6), floor())
    assert search.generator_bound and search.knee("saturation") == 20_000
    assert max(c.rate for c in search.candidates.values()) == 20_000
    # a knee between the last doubling and the ceiling is the server's, found as any other
    below = run(knee.Search(start=2_000, slo_seconds=0.005, ceiling=20_000), server(18_500), floor())
    assert not below.generator_bound and 18_500 / knee.PRECISION <= below.knee("saturation") <= 18_500


def test_a_stored_search_replays_to_the_same_knees_and_spread():
    rng = random.Random(7)

    def noisy(rate, round_):
        capacity = 10_000 * rng.uniform(0.9, 1.1)
        return server(capacity)(rate, round_)

    live = run(knee.Search(start=1_000, slo_seconds=0.005), noisy, floor())
    again = knee.replay(list(live.trials), 1_000, 0.005)
    assert (again.knee("saturation"), again.knee("slo")) == (live.knee("saturation"), live.knee("slo"))
    assert again.spread("saturation") == live.spread("saturation") >= 0


def test_a_rate_held_above_one_that_failed_does_not_count():
    """The SLO failed at 2,000/s and held at 4,000/s (its p99 spiked once): the SLO knee is
    below 2,000, never the 4,000 above the failure."""
    search = run(knee.Search(start=2_000, slo_seconds=0.005),
                 server(10_000, p99_at=lambda rate: 0.009 if rate == 2_000 else 0.001), floor())
    assert search.candidates[4_000.0].verdict("slo") is True
    assert search.knee("slo") < 2_000 and 2_000 / search.knee("slo") <= knee.PRECISION


def test_a_server_that_slows_with_rate_is_saturated_where_its_median_climbs():
    """A queue that grows as the rate nears 10,000/s (p50 = 0.2 ms / (1 - rate / 10,000)):
    it falls behind, by the median's rule, past 9,111/s, where its p50 passes the base
    p50 at 2,000/s (0.25 ms) by 2 ms; its p99 never passes the SLO, its achieved rate is
    the offered one up to its capacity."""
    def queue(rate, round_):
        if rate >= 10_000:
            return FakeStep(rate, 10_000, 0.05, 0.004)
        return FakeStep(rate, rate, 0.0002 / (1 - rate / 10_000), 0.004)

    search = run(knee.Search(start=2_000, slo_seconds=0.005), queue, floor())
    assert 9_111 / knee.PRECISION <= search.knee("saturation") <= 9_111
    assert search.knee("slo") == search.knee("saturation")


@dataclass(frozen=True)
class PartedStep(FakeStep):
    interval_rates: tuple = ()


def test_a_stall_at_a_step_s_end_is_not_a_server_falling_behind():
    # the replies of the last fifth came late (one stall): achieved 97%, every part but one
    # at the offered rate; a server short of the rate is short in every part
    stalled = PartedStep(10_000, 9_700, 0.0002, 0.004, interval_rates=(10_000, 10_000, 10_000, 10_000, 8_500))
    behind = PartedStep(10_000, 9_500, 0.0002, 0.004, interval_rates=(9_500, 9_500, 9_500, 9_500, 9_500))
    assert knee.throughput(stalled) == 10_000 and knee.kept_up(stalled, 0.0002)
    assert knee.throughput(behind) == 9_500 and not knee.kept_up(behind, 0.0002)
    # too few parts to take a median of: the achieved rate alone
    assert knee.throughput(PartedStep(10_000, 9_700, 0.0002, 0.004, interval_rates=(10_000, 9_400))) == 9_700


def test_with_the_floor_in_every_round_each_round_waits_for_its_floor():
    search = run(knee.Search(start=2_000, slo_seconds=0.005, floor_always=True), server(10_000), floor())
    for candidate in search.candidates.values():
        assert all(r.server is not None and r.floor is not None for r in candidate.rounds)
    targets = [(t.rate, t.round, t.target) for t in search.trials]
    # the floor's step right after the server's, at the same rate and round
    assert all(targets[i + 1] == (rate, round_, knee.FLOOR)
               for i, (rate, round_, target) in enumerate(targets) if target == knee.SERVER)
    assert 10_000 / knee.PRECISION <= search.knee("saturation") <= 10_000


def test_a_map_check_runs_its_rates_rounds_interleaved_and_nothing_else():
    search = run(knee.Search(start=8_000, slo_seconds=0.005, rates=(8_000, 12_500)), server(10_000), floor())
    servers = [(t.rate, t.round) for t in search.trials if t.target == knee.SERVER]
    assert servers == [(8_000, 0), (12_500, 0), (8_000, 1), (12_500, 1)]
    assert search.candidates[8_000.0].verdict("slo") is True
    assert search.candidates[12_500.0].verdict("saturation") is False
    assert set(search.candidates) == {8_000.0, 12_500.0}


def test_the_cpu_per_request_is_read_at_the_highest_rate_held_over_all_its_rounds():
    def trial(rate, cpu, requests, target=knee.SERVER):
        return knee.Trial(rate, 0, target, FakeStep(rate, rate, 0.0002, 0.001), cpu, requests)

    trials = [trial(2_000, 0.09, 200), trial(4_000, 0.10, 1_000), trial(4_000, 0.30, 2_000),
              trial(4_000, None, 0, knee.FLOOR), trial(8_000, 0.08, 2_000)]
    # at 4,000/s (the highest rate at or below the knee): 0.40 s over 3,000 requests, not
    # the median of 100 and 150 µs, nor the cheaper paced requests of 8,000/s above the knee
    assert knee.cpu_per_request(trials, 4_000) == pytest.approx(0.40 / 3_000)
    assert knee.cpu_per_request(trials, 3_999) == pytest.approx(0.09 / 200)
    assert knee.cpu_per_request(trials, 1_000) is None and knee.cpu_per_request(trials, None) is None


def test_the_spread_counts_the_server_s_rounds_not_the_machine_s():
    """Round 0 keeps up to 10,000/s, round 1 to 8,000/s: the knee moved by their
    difference. A stall of the machine in round 0 at 4,000/s (the floor failed it too)
    is no verdict on the server, and does not widen the spread to 4,000/s."""
    capacities = {0: 10_000, 1: 8_000, 2: 9_000}
    stalls = {(4_000.0, 0)}

    def moody(rate, round_):
        if (rate, round_) in stalls:
            return floor(stalls=stalls)(rate, round_)
        return server(capacities[round_])(rate, round_)

    search = run(knee.Search(start=2_000, slo_seconds=0.005), moody, floor(stalls=stalls))
    assert search.candidates[4_000.0].counts("saturation") == (2, 0, 1)
    per_round = []
    for index in (0, 1):
        held = [c.rate for c in search.candidates.values() if c.rounds[index].server["saturation"]]
        failed = [c.rate for c in search.candidates.values() if not c.rounds[index].server["saturation"]
                  and (c.rate, index) not in stalls]
        per_round.append(max(r for r in held if r < min(failed)))
    assert per_round[0] > 8_000 >= per_round[1]
    assert search.spread("saturation") == pytest.approx((per_round[0] - per_round[1]) / search.knee("saturation"))
