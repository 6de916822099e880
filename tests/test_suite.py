"""The suite definition and its planner: selections, grids, jobs in order."""

import pytest

from parkbench import suite
from parkbench.errors import UserError
from parkbench.suite import plan


def test_plan_orders_n_ascending_with_repeats():
    jobs, refused = plan([("threads", "condition")], {"threads:condition": (100, 10, 1000)}, repeat=2)
    assert [(j.n, j.repeat) for j in jobs] == [(10, 0), (10, 1), (100, 0), (100, 1), (1000, 0), (1000, 1)]
    assert refused == []


def test_plan_with_latency_adds_switch_per_placement_and_tail_over_the_grid(monkeypatch):
    import parkbench.placement as placement

    monkeypatch.setattr(placement, "usable_cpus", lambda: [0, 1])
    jobs, refused = plan([("gevent", "event")], {"gevent:event": (10, 100, 1000, 10000)}, latency=True,
                         primitives={"gevent": ("event", "greenlet")})
    switch = [(j.primitive, j.placement) for j in jobs if j.kind == "switch"]
    assert switch == [("event", "same-core"), ("event", "cross-core"),
                      ("greenlet", "same-core"), ("greenlet", "cross-core")]
    assert [(j.n, j.primitive) for j in jobs if j.kind == "tail"] == [
        (10, "event"), (1000, "event"), (10000, "event")]
    monkeypatch.setattr(placement, "usable_cpus", lambda: [3])
    jobs, refused = plan([("gevent", "event")], {"gevent:event": (10, 100, 1000)}, memory=False,
                         latency=True, primitives={"gevent": ("event",)})
    assert [(j.kind, j.placement) for j in jobs if j.kind == "switch"] == [("switch", "same-core")]
    assert [(job.placement, reason) for job, reason in refused] == [
        ("cross-core", "cross-core needs two CPUs; this process may use only one")]


def test_a_bare_model_selects_all_its_variants_or_its_default():
    assert suite.parse_selection("subprocess") == [("subprocess", v) for v in
                                                  ("fork", "exec", "forkserver", "spawn", "sleep", "connections")]
    assert suite.parse_selection("subprocess", bare_model_default=True) == [("subprocess", "fork")]
    assert suite.parse_selection(None) == [(m, v) for chosen in (suite.QUICK_VARIANTS,
                                                                 suite.QUICK_CONNECTIONS)
                                           for m, vs in chosen.items() for v in vs]
    assert suite.parse_selection("threads:stack-128k,threads:stack-128k") == [("threads", "stack-128k")]


def test_grids_need_three_distinct_n_within_bounds():
    assert suite.check_grid([30, 10, 20, 10]) == (10, 20, 30)
    with pytest.raises(UserError, match="at least 3 distinct N"):
        suite.check_grid([10, 10, 20])
    with pytest.raises(UserError, match="N of at most 1,000,000,000"):
        suite.check_grid([10, 20, 10**9 + 1])
    assert suite.grids_for([("asyncio", "socket")]) == {"asyncio:socket": suite.VARIANT_GRIDS["socket"]}


def test_tail_grid_takes_smallest_middle_and_largest():
    assert suite.tail_grid((1, 2, 3, 4, 5)) == (1, 3, 5)
    assert suite.tail_grid((10, 2_000_000)) == (10,)  # past TAIL_MAX_N is dropped


def test_to_limit_doubles_then_closes_in():
    assert suite.to_limit_grid(100, 1000) == (100, 200, 400, 700, 850, 1000, 1150)
