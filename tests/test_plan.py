"""A run's plan (``plan.py``): selections and grids as the command line gives them, the
one check that a new run and a resumed run both meet, the stored form, the options a
resume refuses, and the interpreter spec a run stores."""

import dataclasses

import pytest

from parkbench.cli import build_parser
from parkbench.core.errors import UserError
from parkbench.measurement import guard, plan, selection, suite
from parkbench.measurement.plan import RunPlan


def _args(*argv):
    return build_parser().parse_args(["run", *argv])


def _stored(**changes) -> dict:
    """A resumable plan as a run file stores it, with ``changes``."""
    parameters = RunPlan.from_args(_args("--models", "asyncio:event,threads", "--n", "1k,3k,10k")).as_parameters()
    parameters.update(changes)
    return parameters


# --- selections and grids ----------------------------------------------------------------


def test_a_bare_model_selects_the_default_sweep_s_variants_and_model_all_every_one():
    # 'asyncio' once meant all six variants, 100k reuseport connections among them (issue 37)
    assert selection.parse_selection("asyncio") == [("asyncio", "event"), ("asyncio", "connections")]
    assert selection.parse_selection("subprocess") == [("subprocess", v) for v in ("fork", "exec", "connections")]
    assert selection.parse_selection("subprocess:all") == [("subprocess", v) for v in
                                                     ("fork", "exec", "forkserver", "spawn", "sleep", "connections")]
    assert selection.parse_selection("subprocess", bare_model_default=True) == [("subprocess", "fork")]
    assert selection.parse_selection(None) == [(m, v) for chosen in (suite.QUICK_VARIANTS, suite.QUICK_CONNECTIONS)
                                          for m, vs in chosen.items() for v in vs]
    assert selection.parse_selection("threads:stack-128k,threads:stack-128k") == [("threads", "stack-128k")]


def test_grids_need_three_distinct_whole_n_within_bounds():
    assert plan.check_grid([30, 10, 20, 10]) == (10, 20, 30)
    with pytest.raises(UserError, match="at least 3 distinct N"):
        plan.check_grid([10, 10, 20])
    with pytest.raises(UserError, match="from 1 to 1,000,000,000 per child"):
        plan.check_grid([10, 20, 10**9 + 1])
    assert plan.check_grid([10, 20, 10**9])[-1] == 10**9  # the bound itself is allowed
    for bad in (0, 2.5, True, "10"):
        with pytest.raises(UserError, match=f"holds {bad!r}"):
            plan.check_grid([10, 20, bad])


# --- one check for a new run and a resumed one ---------------------------------------------


def test_a_new_plan_is_stored_and_reopened_unchanged():
    new = RunPlan.from_args(_args("--models", "asyncio:event,threads", "--n", "10k,1k,3k,1k",
                                  "--repeat", "2", "--child-rlimit", "nofile=2k"))
    assert new.grids == {"asyncio:event": (1000, 3000, 10000), "threads:condition": (1000, 3000, 10000),
                         **{f"threads:{v}": (1000, 3000, 10000) for _, v in new.selection[1:]}}
    assert new.child_rlimits == "nofile=2000" and new.repeat == 2
    stored = new.as_parameters()
    assert list(stored)[:4] == ["full", "selection", "grids", "repeat"] and "python_spec" not in stored
    assert RunPlan.from_document(stored, "run.json") == new
    assert RunPlan.from_document(stored, "run.json").as_parameters() == stored


def test_the_served_and_wake_rates_are_planned_at_two_w_for_every_server_and_loop():
    default = RunPlan.from_args(_args("--models", "asyncio:connections,uvloop:event,subprocess"))
    assert default.served and default.served_rounds == 1 and default.slo_seconds == 0.005
    assert default.served_grids == {"asyncio:connections": suite.SERVED_GRID,
                                    "subprocess:connections": suite.SERVED_GRIDS["subprocess"]}
    assert default.wake_grids == {"uvloop:event": suite.WAKE_GRID}
    assert default.wake_settings == suite.WAKE_SETTINGS and default.served_settings == suite.SERVED_SETTINGS
    searched = [(job.kind, job.model, job.n) for job in default.jobs()[0] if job.kind in ("served", "wakes")]
    assert searched == [("served", "asyncio", 100), ("served", "asyncio", 1_000), ("served", "subprocess", 10),
                        ("served", "subprocess", 100), ("wakes", "uvloop", 1_000), ("wakes", "uvloop", 10_000)]
    assert all(job.rates is None for job in default.jobs()[0])   # searches, not map checks
    full = RunPlan.from_args(_args("--full", "--models", "asyncio:reuseport,threads:connections", "--slo", "2ms"))
    assert full.served_grids == {"asyncio:reuseport": suite.FULL_SERVED_GRIDS["reuseport"],
                                 "threads:connections": suite.FULL_SERVED_GRID}
    assert full.slo_seconds == 0.002 and full.served_settings == suite.FULL_SERVED_SETTINGS
    assert full.served_settings["judge_slo"] and full.served_settings["floor_every_round"]
    jobs = [job for job in full.jobs()[0] if job.kind == "served"]
    assert [(job.model, job.n) for job in jobs] == [("asyncio", 1_000), ("asyncio", 10_000), ("asyncio", 100_000),
                                                    ("threads", 100), ("threads", 1_000), ("threads", 10_000),
                                                    ("threads", 19_000)]
    assert not RunPlan.from_args(_args("--models", "asyncio:event", "--only", "memory")).served  # nothing to serve
    assert RunPlan.from_args(_args("--models", "asyncio:event")).wake_grids == {"asyncio:event": suite.WAKE_GRID}
    assert not RunPlan.from_args(_args("--models", "asyncio:connections", "--only", "memory")).served


def test_the_full_sweep_plans_rigorous_latency_for_each_model_s_first_primitive():
    full = RunPlan.from_args(_args("--full", "--models", "gevent:event"))
    assert full.latency_mode == "rigorous" and full.primitives == {"gevent": ("event", "channel", "greenlet")}
    assert full.rigorous_primitives == {"gevent": ("event",)} and full.wake_max_n == suite.WAKE_MAX_N
    assert full.grids == {"gevent:event": suite.FULL_GRIDS["gevent"]}


def test_a_resumed_plan_is_de_duplicated_and_bounded_as_the_command_line_is():
    copies = _stored(selection=[["asyncio", "event"]] * 100_000, placements=["same-core"] * 1000,
                     primitives={"asyncio": ["future"] * 10_000}, served=False, served_grids={})
    reopened = RunPlan.from_document(copies, "run.json")
    assert reopened.selection == (("asyncio", "event"),) and reopened.placements == ("same-core",)
    assert reopened.primitives == {"asyncio": ("future",)}
    assert len(reopened.jobs()[0]) == 3 + 3 * 1 + 3  # memory x3, switch rounds x3, tail x3
    many = _stored(selection=[["threads", f"stack-{4 * k}k"] for k in range(8, 8 + 201)])
    many["grids"] = {f"threads:stack-{4 * k}k": [1, 2, 3] for k in range(8, 8 + 201)}
    many.update(served=False, served_grids={})
    with pytest.raises(UserError, match="from 1 to 200 model variants, not 201"):
        RunPlan.from_document(many, "run.json")


@pytest.mark.parametrize("changes, rule", [
    ({"grids": {"asyncio:event": [1, 2, 10**9 + 1]}}, "grid asyncio:event holds 1000000001"),
    ({"grids": {"asyncio:event": [1, 2, 3]}}, "no grid for threads:condition"),
    ({"primitives": {"asyncio": ["future"], "threads": ["lock"], "gevent": ["event"]}},
     "primitives of 'gevent', a model the run does not select"),
    ({"primitives": {"asyncio": ["future"]}}, "no hand-off primitives for threads"),
    ({"primitives": {"asyncio": ["lock"], "threads": ["lock"]}}, "unknown hand-off primitive 'lock'"),
    ({"placements": ["same-core", "next-door"]}, "unknown placement 'next-door'"),
    ({"repeat": 0}, "repeat must be a whole number from 1 to 100, not 0"),
    ({"repeat": True}, "repeat must be a whole number"),
    ({"timeout_seconds": float("inf")}, "parameters.timeout_seconds must be a finite number"),
    ({"timeout_seconds": 10**400}, "the timeout must be in"),
    ({"switch_rounds": 11}, "switch rounds must be a whole number from 1 to 10, not 11"),
    ({"latency_mode": "slow"}, "latency mode must be one of quick, rigorous"),
    ({"guard_margin": 0.5}, "the guard margin must be in"),
    ({"tail_loops": 10**8}, "tail loops must be a whole number"),
    ({"tail_placement": "same-core"}, "tail hand-offs are placed by the OS"),
    ({"memory_budget_bytes": 2**20}, "below what the smallest probe child needs"),
    ({"memory_budget_bytes": 2**62}, "at most the memory available now"),
    ({"wake_max_n": {"gevent": 0}}, "the wake cap of gevent must be a whole number"),
    ({"wake_max_n": {"nope": 5}}, "unknown model 'nope'"),
    ({"python_spec": "3.12 "}, "python_spec must be a version such as 3.12"),
    ({"child_rlimits": "nofile=x"}, "N must be a positive whole number"),
    ({"child_rlimits": "nofile=99999999999"}, "a child's limit can only be lowered"),
    ({"primitives": {"asyncio": ["future"] * 3, "threads": []}}, "no hand-off primitives for threads"),
    ({"placements": []}, "no placements: latency needs at least one"),
    ({"memory_floor_bytes": 1e300}, "the memory floor must be a number of bytes below"),
    ({"memory_floor_bytes": "x"}, "parameters.memory_floor_bytes must be a finite number"),
    ({"memory": "yes"}, "memory must be true or false"),
    ({"selection": [["asyncio", "nope"]]}, "unknown variant 'nope'"),
    ({"selection": "asyncio"}, "parameters.selection must be a list"),
    ({"grids": []}, "parameters.grids must be an object"),
    ({"served_grids": {"asyncio:event": [100]}}, "a served grid for asyncio:event, not a selected connections"),
    ({"served_grids": {"threads:connections": []}}, "the served grid of threads:connections must hold 1 to"),
    ({"served_grids": {"threads:connections": [10**10]}}, "the served grid of threads:connections"),
    ({"served_rounds": 0}, "served rounds must be a whole number from 1 to 10"),
    ({"slo_seconds": 0}, "parameters.slo_seconds must be in (0, 10] seconds"),
    ({"slo_seconds": float("nan")}, "parameters.slo_seconds must be in (0, 10] seconds"),
    ({"served_settings": {"connections": 16}}, "served settings must name"),
    ({"served_settings": {**suite.SERVED_SETTINGS, "connections": 0}}, "served connections must be 1 to"),
    ({"served_settings": {**suite.SERVED_SETTINGS, "step_seconds": 100}}, "served step_seconds must be in"),
    ({"served_settings": {**suite.SERVED_SETTINGS, "start_share": 0}}, "served start_share must be in (0, 1]"),
    ({"served_settings": {**suite.SERVED_SETTINGS, "floor_every_round": "yes"}}, "served floor_every_round must be"),
    ({"wake_settings": {**suite.WAKE_SETTINGS, "start": 1}}, "the wake search's start must be 10 to"),
    ({"wake_settings": {**suite.WAKE_SETTINGS, "step_seconds": 0}}, "the wake search's step_seconds must be"),
    ({"wake_grids": {"asyncio:event": [0]}}, "the wake grid of asyncio:event must hold"),
    ({"served": "yes"}, "served must be true or false"),
])
def test_a_resumed_plan_meets_every_rule_of_a_new_one(changes, rule):
    with pytest.raises(UserError, match="^run.json: ") as error:
        RunPlan.from_document(_stored(**changes), "run.json")
    assert rule in str(error.value)


def test_a_plan_stored_by_an_older_run_takes_the_settings_it_ran_with(monkeypatch):
    older = _stored(memory_floor_bytes=1)
    for key in ("switch_rounds", "wake_max_n", "rigorous_primitives", "child_rlimits", "full",
                "tail_placement", "to_limit"):
        del older[key]
    reopened = RunPlan.from_document(older, "old.json")
    assert reopened.switch_rounds == 1 and reopened.wake_max_n == {} and not reopened.full
    assert reopened.memory_floor_bytes == guard.default_floor()  # raised to today's floor


def test_a_plan_gives_the_guard_its_budget_floor_and_margin():
    reopened = RunPlan.from_document(_stored(guard_margin=1.25), "run.json")
    made = reopened.guard()
    assert (made.budget_bytes, made.floor_bytes, made.margin) == (
        reopened.memory_budget_bytes, reopened.memory_floor_bytes, 1.25)


# --- resume ------------------------------------------------------------------------------


def test_resume_refuses_every_option_of_the_plan_group(tmp_path):
    from parkbench.commands import run

    parser = build_parser()
    refused = parser.parse_args(["run"]).plan_options
    assert {"models", "n", "full", "python", "child_rlimit", "memory_budget"} <= set(refused)
    assert not {"output", "machine", "resume"} & set(refused)
    for dest, argv in (("n", ["--n", "1k,2k,3k"]), ("full", ["--full"]), ("repeat", ["--repeat", "2"])):
        args = parser.parse_args(["run", "--resume", "20260101T000000Z", "--output", str(tmp_path), *argv])
        with pytest.raises(UserError, match=f"do not pass --{dest.replace('_', '-')}$"):
            run._reopen_run(args)


@pytest.mark.parametrize("given", ["../m1", "m1", "20260101T000000Z/../x", "20260101T000000"])
def test_a_resumed_run_id_is_checked_as_a_run_id(tmp_path, given):
    from parkbench.commands import run

    args = build_parser().parse_args(["run", "--resume", given, "--output", str(tmp_path), "--machine", "m1"])
    with pytest.raises(UserError, match="takes a run file or a run id such as"):
        run._reopen_run(args)


def test_a_well_formed_run_id_that_is_not_there_is_named(tmp_path):
    from parkbench.commands import run

    args = build_parser().parse_args(["run", "--resume", "20260101T000000Z-2", "--output", str(tmp_path),
                                      "--machine", "m1"])
    with pytest.raises(UserError, match="no run '20260101T000000Z-2' to resume"):
        run._reopen_run(args)


# --- the interpreter a run stores ----------------------------------------------------------


@pytest.mark.parametrize("spec, identity, stored", [
    ("3.12", {"version": "3.12.7", "gil_disabled": False}, "3.12"),
    ("3.12 \n", {"version": "3.12.7", "gil_disabled": False}, "3.12"),
    ("/opt/py/bin/python3", {"version": "3.13.1", "gil_disabled": False}, "3.13.1"),
    ("/opt/py/bin/python3.13t", {"version": "3.13.1", "gil_disabled": True}, "3.13.1t"),
    ("3.13t", {"version": "3.13.1", "gil_disabled": True}, "3.13t"),
])
def test_an_interpreter_is_stored_as_a_version_the_reader_accepts(spec, identity, stored):
    from parkbench.measurement.interpreters import Child

    child = Child.__new__(Child)
    child.spec, child.identity = spec, identity
    assert child.version_spec == stored
    assert plan._version(child.version_spec)


def test_a_plan_built_by_hand_is_only_what_it_says():
    from tests.builders import plan_of

    made = plan_of(selection=(("asyncio", "event"),), grids={"asyncio:event": (1, 2, 3)}, timeout_seconds=7.0)
    assert dataclasses.replace(made, repeat=2).repeat == 2 and made.timeout_seconds == 7.0


def test_a_record_that_breaks_the_results_format_fails_its_job_alone(monkeypatch):
    from parkbench.core.protocol import Job, JobKind
    from parkbench.measurement import runner
    from tests.builders import ListStore, plan_of

    def good(job):
        return {"kind": "memory", "model": job.model, "variant": job.variant, "n": job.n,
                "memory": {"rss": 1, "uss": 1, "pss": 1, "vms": 1, "kernel": 0},
                "spawn_seconds": 0.1, "wake_seconds": 0.1, **job.as_record(),
                "wall_seconds": 0.5}

    def run_child(job, timeout, command=None, memory_floor=None, parse=None, env=None):
        record = good(job)
        if job.n == 20:
            record["memory"]["pss"] = "lots"
        if job.n == 40:
            record["parked"] = 39  # the child proved fewer parked than its job's N
        return record

    monkeypatch.setattr(runner, "run_child", run_child)
    jobs = [Job(JobKind.MEMORY, "asyncio", "event", 10), Job(JobKind.MEMORY, "asyncio", "event", 20),
            Job(JobKind.MEMORY, "gevent", "event", 40), Job(JobKind.MEMORY, "threads", "condition", 10)]
    store = ListStore()
    runner.Sweep(jobs, plan_of(), store).run()
    assert [(r["model"], r["n"]) for r in store.measurements] == [("asyncio", 10), ("threads", 10)]
    assert [(f["n"], f["failure"]) for f in store.failures] == [(20, "bad-output"), (40, "bad-output")]
    assert "the record.memory.pss must be a finite number" in store.failures[0]["reason"]
    assert "parked must be the N proved parked (40)" in store.failures[1]["reason"]
    assert store.failures[0]["wall_seconds"] == 0.5


@pytest.mark.parametrize("argv, rule", [
    (["--resume", ""], "--resume needs a run file or a run id"),
    (["--resume", "  "], "--resume needs a run file or a run id"),
    (["--models", "asyncio:"], "names no variant"),
    (["--models", "asyncio", "--primitives", ""], "no hand-off primitives for asyncio"),
    (["--models", "asyncio", "--primitives", ","], "no hand-off primitives for asyncio"),
    (["--child-rlimit", "nofile=99999999999"], "can only be lowered"),
])
def test_an_empty_or_raising_option_is_refused_before_anything_runs(tmp_path, argv, rule, monkeypatch):
    from parkbench.commands import run
    from parkbench.measurement import runner

    monkeypatch.setattr(runner, "run_child", lambda *a, **k: pytest.fail("a child ran"))
    args = build_parser().parse_args(["run", "--output", str(tmp_path), "--machine", "m", *argv])
    with pytest.raises(UserError, match=rule):
        run.run(args)
    assert list(tmp_path.iterdir()) == []


def test_a_run_file_copied_under_another_name_is_not_resumed(tmp_path):
    import shutil

    from parkbench.commands import run
    from tests import synthetic

    path = synthetic.write_run(tmp_path, "m1", "20260101T000000", [], complete=False)
    copy = path.with_name("20260101T000001Z.json")
    shutil.copy(path, copy)
    args = build_parser().parse_args(["run", "--resume", str(copy), "--output", str(tmp_path)])
    with pytest.raises(UserError, match="holds run 20260101T000000Z: a run file is named by its run id"):
        run._reopen_run(args)


def test_n_with_only_served_is_the_w_of_the_served_and_wake_jobs():
    from parkbench.cli import build_parser

    def planned(*argv):
        return plan.RunPlan.from_args(build_parser().parse_args(["run", *argv]))

    # one W is a served grid (a memory grid would need three N: that error named threads:condition)
    one = planned("--only", "served", "--n", "100")
    assert set(one.served_grids.values()) == {(100,)} and set(one.wake_grids.values()) == {(100,)}
    chosen = planned("--only", "served", "--n", "10000,100,1000,100", "--models", "asyncio:connections")
    assert chosen.served_grids == {"asyncio:connections": (100, 1_000, 10_000)}
    # without --only served, --n stays the memory grid, and the served W the default sweep's
    both = planned("--n", "100,1000,10000", "--models", "asyncio:connections")
    assert both.grids == {"asyncio:connections": (100, 1_000, 10_000)}
    assert both.served_grids == {"asyncio:connections": suite.SERVED_GRID}
