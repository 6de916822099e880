"""Which OS limit a sweep met: the error narrows the suspects, the waiters reached
name the one whose bound is within 5%."""

import pytest

from parkbench.analysis.capacity import derive_capacity, derive_limits_reached

LIMITS = {"pid_max": 32768, "threads_max": 192729, "max_map_count": 65530,
          "rlimit_nproc": {"soft": 96364, "hard": 96364}, "rlimit_nofile": {"soft": 20000, "hard": 20000},
          "cgroup_pids_max": None, "cgroup_memory_max": None, "memory_available": 24 * 2**30,
          "tasks_in_use": 100, "is_root": True}
MEMORY = [{"model": "threads", "variant": "condition", "metric": "total_per_waiter", "value": 43_000.0},
          {"model": "threads", "variant": "condition", "metric": "maps_per_waiter", "value": 2.93}]


def _failure(reached, reason, kind="memory", failure="limit"):
    return {"kind": kind, "repeat": 0,
            "model": "threads", "variant": "condition", "n": 30_000, "failure": failure, "reached": reached,
            "reason": reason}


def _named(failure):
    (figure,) = derive_limits_reached([failure], MEMORY, LIMITS)
    return figure


def test_the_waiters_reached_name_the_limit_within_five_percent():
    # max_map_count allows 65,530 / 2.93 = 22,365; pid_max 32,668
    figure = _named(_failure(22_139, "RuntimeError: can't start new thread"))
    assert (figure["metric"], figure["value"], figure["limit"]) == ("limit_reached", 22_139, "max_map_count")
    assert _named(_failure(32_500, "RuntimeError: can't start new thread"))["limit"] == "pid_max"
    assert _named(_failure(15_000, "RuntimeError: can't start new thread"))["limit"] == "unidentified"


def test_the_edge_of_the_five_percent_band():
    bound = int(65530 / 2.93)
    assert _named(_failure(int(bound * 0.95) + 1, "can't start new thread"))["limit"] == "max_map_count"
    assert _named(_failure(int(bound * 0.94), "can't start new thread"))["limit"] == "unidentified"


def test_the_error_narrows_the_suspects():
    # 20,000 descriptors: near nothing of the thread limits, but the error names it
    assert _named(_failure(19_000, "OSError: [Errno 24] Too many open files"))["limit"] == "rlimit_nofile"
    # an error that only task limits explain cannot be max_map_count, even at its bound
    assert _named(_failure(22_300, "BlockingIOError: Resource temporarily unavailable"))["limit"] == "unidentified"


def test_only_limit_failures_of_memory_jobs_count():
    assert derive_limits_reached([_failure(22_139, "can't start new thread", kind="tail")], MEMORY, LIMITS) == []
    assert derive_limits_reached([_failure(22_139, "x", failure="timeout")], MEMORY, LIMITS) == []


def test_capacity_names_the_binding_bound_per_variant():
    memory = MEMORY + [{"model": "asyncio", "variant": "event", "metric": "total_per_waiter", "value": 1208.0}]
    figures = {(f["model"], f["variant"]): f for f in derive_capacity(memory, LIMITS)}
    assert figures[("threads", "condition")]["limit"] == "max_map_count"
    assert figures[("threads", "condition")]["value"] == int(65530 / 2.93)
    assert figures[("asyncio", "event")]["value"] == int(24 * 2**30 / 1208.0)
    assert figures[("asyncio", "event")]["limit"] == "memory"
    assert figures[("asyncio", "event")]["unit"] == "waiters"


@pytest.mark.parametrize("figures", [[], [{"model": "a", "variant": "b", "metric": "rss_per_waiter", "value": 1.0}]])
def test_no_total_means_no_capacity(figures):
    assert derive_capacity(figures, LIMITS) == []


def test_every_failure_is_looked_at_and_every_figure_is_whole():
    failures = [_failure(5, "x", failure="timeout"), _failure(22_139, "can't start new thread")]
    figure, = derive_limits_reached(failures, MEMORY, LIMITS)  # past the timeout, not stopped by it
    assert figure == {"model": "threads", "variant": "condition", "metric": "limit_reached",
                      "value": 22_139, "unit": "waiters", "limit": "max_map_count",
                      "detail": "can't start new thread"}
    memory = [{"model": "gevent", "variant": "event", "metric": "rss_per_waiter", "value": 1.0}] + MEMORY
    capacity, = derive_capacity(memory, LIMITS)  # past a model with no total
    assert capacity == {"model": "threads", "variant": "condition", "metric": "capacity",
                        "value": int(65530 / 2.93), "unit": "waiters", "limit": "max_map_count",
                        "detail": "65,530 mappings / 2.93 per thread"}


def test_the_nearest_of_two_close_bounds_is_named():
    limits = dict(LIMITS, pid_max=22_500 + 100, tasks_in_use=100)  # pid_max allows 22,500

    def named(reached):
        figure, = derive_limits_reached([_failure(reached, "can't start new thread")], MEMORY, limits)
        return figure["limit"]

    assert named(22_480) == "pid_max"         # 20 from pid_max, 115 from max_map_count's 22,365
    assert named(22_370) == "max_map_count"   # 5 from it, 130 from pid_max
