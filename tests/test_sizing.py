"""Fit-map arithmetic on hand-computed cases, and the fit command on fixture results."""

from pathlib import Path

import pytest

from parkbench.analysis import current, edges, sizing
from parkbench.analysis.sizing import Profile, machines_needed
from parkbench.cli import main

FIXTURES = str(Path(__file__).parent / "fixtures" / "results")


def _edge(*points):
    """A measured edge: (W, rate, spread) per point."""
    return tuple(edges.point(w, rate, spread, "SLO: test", "r1") for w, rate, spread in points)


def _profile(**overrides):
    values = dict(machine="m", model="asyncio", variant="event", total_per_waiter=1200.0,
                  capacity=10_000_000, capacity_limit="memory", switch_seconds=5e-6, cores=1,
                  edge=_edge((1_000, 200_000, 0.1)))
    values.update(overrides)
    return Profile(**values)


def test_a_model_bound_by_memory():
    # 25M waiters over 10M per machine: 3 machines; 1,000/s against 200,000/s: 1.
    assert machines_needed(_profile(), 25_000_000, 1_000) == (3, "memory")


def test_a_model_bound_by_an_os_limit():
    threads = _profile(model="threads", capacity=22_361, capacity_limit="max_map_count")
    # 100,000 / 22,361 = 4.47 -> 5 machines; 10,000/s fits one (200,000/s).
    assert machines_needed(threads, 100_000, 10_000) == (5, "max_map_count")


def test_a_model_bound_by_its_measured_wake_rate_not_its_hand_off():
    # 1,000 waiters fit; 1,000,000 wake-ups/s against the 200,000/s measured: 5 machines
    # (one over the 5 µs hand-off would also say 200,000/s: a 4 µs one says 250,000/s, and
    # 4 machines, which the measured edge overrules)
    profile = _profile(switch_seconds=4e-6)
    assert profile.handoffs_per_second == pytest.approx(250_000)   # the upper bound, shown only
    assert machines_needed(profile, 1_000, 1_000_000) == (5, "wake rate")
    server = _profile(variant="connections", edge=_edge((100, 40_000, 0.0)))
    assert machines_needed(server, 100, 100_000) == (3, "request rate")


def test_the_edge_at_w_is_read_between_measured_points_in_log_w():
    profile = _profile(edge=_edge((1_000, 400_000, 0.0), (100_000, 100_000, 0.0)))
    # at W = 10,000 (halfway in log W): 250,000/s; 600,000/s needs 3 machines there, and
    # 2 at W = 1,000 (400,000/s), 6 beyond the largest W (100,000/s held flat)
    assert profile.rate_at(10_000).rate == pytest.approx(250_000)
    assert machines_needed(profile, 10_000, 600_000) == (3, "wake rate")
    assert machines_needed(profile, 1_000, 600_000) == (2, "wake rate")
    assert machines_needed(profile, 1_000_000, 600_000) == (6, "wake rate")
    assert profile.rate_at(1_000_000).extrapolated and not profile.rate_at(10_000).extrapolated


def test_a_model_without_a_measured_edge_is_sized_for_waiters_alone():
    bare = _profile(edge=())
    assert machines_needed(bare, 25_000_000, 0) == (3, "memory")
    assert machines_needed(bare, 1_000, 1) == (float("inf"), "no wake rate")
    assert machines_needed(_profile(variant="connections", edge=()), 1_000, 1) == (float("inf"), "no served rate")
    assert sizing.by_workload([bare, _profile()])[0][2] == [_profile()]
    assert sizing.without_edge([bare, _profile()], "in-process") == [bare]


def test_a_workload_that_fits_needs_one_machine():
    assert machines_needed(_profile(), 1, 1) == (1, "memory")


def test_grid_rows_are_rates_and_columns_waiters():
    grid = sizing.grid(_profile(capacity=100, edge=_edge((10, 1_000, 0.0))), [10, 1_000], [10, 10_000])
    assert grid == [[1, 10], [10, 10]]


def test_published_markers_are_labelled_as_published():
    markers = sizing.published_markers(2_711.18336e6, cores=1)  # 2,585.6 MiB: 1M goroutines
    go = markers[0]
    assert "published" in go["label"]
    assert go["waiters"] == pytest.approx(1e6) and go["rate"] == pytest.approx(5e6)


def test_profiles_from_fixture_results_of_two_machines():
    from parkbench.commands.fit import machine_cores

    loaded = current.load(FIXTURES)
    cores = machine_cores(loaded)
    assert cores == {"fixture-a": 2, "fixture-b": 2}  # from machine.json (format-1 runs)
    found = sizing.profiles(loaded.frame, cores)
    assert {(p.machine, p.model) for p in found} == {
        (m, model) for m in ("fixture-a", "fixture-b") for model in ("asyncio", "threads", "subprocess")}
    for profile in found:
        assert profile.capacity > 0 and profile.switch_seconds > 0
        expected = cores[profile.machine] if profile.model == "subprocess" else 1
        assert profile.cores == expected
    smaller = sizing.profiles(current.load(FIXTURES, memory_bytes=2**30).frame, cores)
    asyncio_small = next(p for p in smaller if p.model == "asyncio")
    assert asyncio_small.capacity_limit == "memory"
    assert asyncio_small.capacity == pytest.approx(2**30 / asyncio_small.total_per_waiter, rel=1e-6)


def test_fit_command_answers_one_workload(capsys):
    assert main(["fit", "--waiters", "200k", "--rate", "50k", "--results", FIXTURES,
                 "--machine", "fixture-a"]) == 0
    out = capsys.readouterr().out
    assert "200,000 idle waiters, 50,000 wake-ups/s" in out
    assert "fixture-a" in out and "fixture-b" not in out
    for model in ("asyncio/event", "threads/condition", "subprocess/fork"):
        assert model in out


@pytest.mark.parametrize("argv, message", [
    (["--waiters", "lots", "--rate", "5"], "--waiters must be a positive whole number"),
    (["--waiters", "5", "--rate", "-3"], "--rate must be a whole number (0 or more)"),
    (["--waiters", "5", "--rate", "5", "--memory", "big"], "a size must be"),
    (["--waiters", "5", "--rate", "5", "--machine", "nosuch"], "unknown machine 'nosuch'"),
])
def test_fit_bad_input_is_exit_2(capsys, argv, message):
    assert main(["fit", *argv, "--results", FIXTURES]) == 2
    assert message in capsys.readouterr().err


def test_fit_without_results_is_exit_2(tmp_path, capsys):
    assert main(["fit", "--waiters", "5", "--rate", "5", "--results", str(tmp_path)]) == 2
    assert "no results found" in capsys.readouterr().err
