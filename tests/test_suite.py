"""The suite definition: default grids and the jobs of a sweep in order (a run's plan,
which checks what a run asks for, is ``test_plan.py``'s)."""


from parkbench.measurement import suite
from parkbench.measurement.suite import jobs as plan


def test_plan_orders_n_ascending_with_repeats():
    jobs, refused = plan([("threads", "condition")], {"threads:condition": (100, 10, 1000)}, repeat=2)
    assert [(j.n, j.repeat) for j in jobs] == [(10, 0), (10, 1), (100, 0), (100, 1), (1000, 0), (1000, 1)]
    assert refused == []


def test_plan_with_latency_adds_switch_per_placement_and_tail_over_the_grid(monkeypatch):
    import parkbench.measurement.placement as placement

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


def test_an_n_override_is_every_selected_variant_s_grid_and_defaults_are_per_variant():
    assert suite.grids_for([("asyncio", "event"), ("gevent", "event")], [5, 1, 3]) == {
        "asyncio:event": (5, 1, 3), "gevent:event": (5, 1, 3)}  # checked by the plan
    assert suite.grids_for([("asyncio", "socket")]) == {"asyncio:socket": suite.VARIANT_GRIDS["socket"]}


def test_tail_grid_takes_smallest_middle_and_largest():
    assert suite.tail_grid((1, 2, 3, 4, 5)) == (1, 3, 5)
    assert suite.tail_grid((10, 2_000_000)) == (10,)  # past TAIL_MAX_N is dropped


def test_to_limit_doubles_then_closes_in():
    assert suite.to_limit_grid(100, 1000) == (100, 200, 400, 700, 850, 1000, 1150)
