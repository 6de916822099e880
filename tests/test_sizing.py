"""Fit-map arithmetic on hand-computed cases, and the fit command on fixture results."""

from pathlib import Path

import pytest

from parkbench.analysis import current, sizing
from parkbench.analysis.sizing import Profile, machines_needed
from parkbench.cli import main

FIXTURES = str(Path(__file__).parent / "fixtures" / "results")


def _profile(**overrides):
    values = dict(machine="m", model="asyncio", variant="event", total_per_waiter=1200.0,
                  capacity=10_000_000, capacity_limit="memory", switch_seconds=5e-6, cores=1)
    values.update(overrides)
    return Profile(**values)


def test_a_model_bound_by_memory():
    # 25M waiters over 10M per machine: 3 machines; 1,000/s against 200,000/s: 1.
    assert machines_needed(_profile(), 25_000_000, 1_000) == (3, "memory")


def test_a_model_bound_by_an_os_limit():
    threads = _profile(model="threads", capacity=22_361, capacity_limit="max_map_count",
                       switch_seconds=8e-6)
    # 100,000 / 22,361 = 4.47 -> 5 machines; 10,000/s fits one (125,000/s).
    assert machines_needed(threads, 100_000, 10_000) == (5, "max_map_count")


def test_a_model_bound_by_hand_off_rate():
    # 1,000 waiters fit; 1,000,000 wake-ups/s at 5 µs each (200,000/s): 5 machines.
    assert machines_needed(_profile(), 1_000, 1_000_000) == (5, "hand-off rate")


def test_worker_processes_use_every_core():
    workers = _profile(model="subprocess", variant="fork", capacity=20_000,
                       capacity_limit="rlimit_nofile", switch_seconds=5e-6, cores=2)
    assert workers.handoffs_per_second == pytest.approx(400_000)
    assert machines_needed(workers, 1_000, 1_000_000) == (3, "hand-off rate")


def test_a_workload_that_fits_needs_one_machine():
    assert machines_needed(_profile(), 1, 1) == (1, "memory")


def test_grid_rows_are_rates_and_columns_waiters():
    grid = sizing.grid(_profile(capacity=100, switch_seconds=1e-3), [10, 1_000], [10, 10_000])
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
    (["--waiters", "lots", "--rate", "5"], "N must be a positive whole number"),
    (["--waiters", "5", "--rate", "-3"], "N must be a whole number (0 or more)"),
    (["--waiters", "5", "--rate", "5", "--memory", "big"], "a size must be"),
    (["--waiters", "5", "--rate", "5", "--machine", "nosuch"], "unknown machine 'nosuch'"),
])
def test_fit_bad_input_is_exit_2(capsys, argv, message):
    assert main(["fit", *argv, "--results", FIXTURES]) == 2
    assert message in capsys.readouterr().err


def test_fit_without_results_is_exit_2(tmp_path, capsys):
    assert main(["fit", "--waiters", "5", "--rate", "5", "--results", str(tmp_path)]) == 2
    assert "no results found" in capsys.readouterr().err
