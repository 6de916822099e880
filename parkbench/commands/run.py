"""``parkbench run``: plan a sweep (or reopen an interrupted one), run it, store it,
print the summary.

The run's plan (``plan.RunPlan``) checks every option, for a new run and for a resumed
one alike, before anything is written: a run file is untrusted input.
"""

import dataclasses
import os
import signal
import sys
from pathlib import Path

from parkbench.analysis import capacity, map_checks
from parkbench.analysis.tidy import interpreter_key
from parkbench.commands import show
from parkbench.core import registry
from parkbench.core.errors import UserError
from parkbench.measurement import (
    calibration,
    estimate,
    gotoolchain,
    interference,
    limits,
    machine,
    runner,
    suite,
)
from parkbench.measurement.interpreters import Child, is_current
from parkbench.measurement.plan import RunPlan
from parkbench.measurement.runner import Failure
from parkbench.store import files, hosts, results, schema
from parkbench.store.run_file import RunFile


def _progress(stream):
    def report(index, total, job, outcome):
        label = f"[{index + 1:>{len(str(total))}}/{total}] {job.label()}"
        if isinstance(outcome, str):
            status, seconds = f"SKIPPED: {outcome}", 0.0
        elif isinstance(outcome, Failure):
            status = f"FAILED ({outcome.kind}): {outcome.reason}"
            seconds = outcome.wall_seconds
        else:
            status = "ok"
            seconds = outcome["wall_seconds"]
        try:
            print(f"{label}  {status}  {seconds:.1f} s", file=stream, flush=True)
        except (BrokenPipeError, ValueError, UnicodeEncodeError):
            pass  # progress is a courtesy: a closed stderr must not stop the sweep

    return report


def _new_run(args, child=None):
    """Check every option, then create the run file: nothing is written on bad input.
    ``child`` is an ``interpreters.Child`` (default: this interpreter)."""
    plan = RunPlan.from_args(args, child.version_spec if child is not None else None)
    _check_cache(plan, child)
    name = machine.resolve_name(args.machine)
    output = files.check_output_folder(Path(args.output))
    description = machine.describe(name)
    identity = child.identity if child is not None else machine.python_info()
    if args.only == "check" or (plan.full and args.only in (None, "served")):
        plan = _with_map_checks(plan, output, name, identity, description, args.only == "check")
    here, kind = machine.host(), results.machine_kind(description)
    run_file = RunFile.create(output, name, plan.as_parameters(), identity,
                              machine.without_name(description), host=here)
    try:
        folder = results.ensure_machine(output, kind, here)
    except OSError as exc:
        raise UserError(f"cannot write {output / name / 'machine.json'}: {exc.strerror or exc}") from None
    for line in machine.strangers(folder, kind, here):
        _say(line)
    return run_file, plan


def _with_map_checks(plan, output, name, identity, description, only: bool):
    """``plan`` with the fit map's checked points predicted from the machine's current
    figures (``map_checks.py``); ``--only check`` without any is a one-line error."""
    checks, why = map_checks.predict(output, name, interpreter_key(identity),
                                     description.get("logical_cpus") or 1, plan.selection,
                                     plan.memory_budget_bytes, plan.guard_margin)
    if not checks:
        if only:
            raise UserError(f"--only check: {why}")
        _say(f"map check skipped: {why}")
        return plan
    return dataclasses.replace(plan, map_checks=tuple(checks)).checked()


def _reopen_run(args):
    """The run file named by ``--resume`` (a path, or a run id under the machine's
    folder), its plan, checked like a new one's, and the interpreter of its children
    (None: this one), made ready; a refusal leaves the file as it was, unlocked."""
    given = [dest for dest in args.plan_options if getattr(args, dest, None) not in (None, False)]
    if given:
        raise UserError(f"--resume continues a run with its stored parameters; do not pass "
                        f"{', '.join('--' + dest.replace('_', '-') for dest in given)}")
    path = Path(args.resume)
    if not path.is_file():
        if not schema.RUN_ID.match(args.resume):
            raise UserError(f"--resume takes a run file or a run id such as 20261126T050824Z, "
                            f"not {args.resume!r}")
        path = Path(args.output) / machine.resolve_name(args.machine) / f"{args.resume}.json"
        if not path.is_file():
            raise UserError(f"no run {args.resume!r} to resume: {path} does not exist")
    run_file = RunFile.reopen(path)
    try:
        if run_file.run_id != path.stem:
            raise UserError(f"{path} holds run {run_file.run_id}: a run file is named by "
                            f"its run id (a copy under another name would store under the wrong one)")
        if run_file.complete:
            raise UserError(f"run {run_file.run_id} is already complete; nothing to resume")
        here = machine.host()
        if run_file.host and not hosts.same(run_file.host, here):
            raise UserError(f"run {run_file.run_id} started on host {hosts.label(run_file.host)}, "
                            f"not this one ({hosts.label(here)}): resume it there, "
                            f"or start a new run here")
        plan = RunPlan.from_document(run_file.parameters, str(path))
        child = None
        if plan.python_spec is not None:  # checked with the plan: a version such as 3.12
            child = Child(plan.python_spec)
        _check_cache(plan, child)
        if child is not None:
            child.prepare(_say)
    except BaseException:  # refused, or stopped before the sweep: the run is as it was
        run_file.let_go()
        raise
    run_file.set_parameters(plan.as_parameters())
    return run_file, plan, child


def _check_cache(plan, child=None) -> None:
    """Refuse an unusable cache folder (one line) before anything is written, when the
    run needs it: a Go program to build (the go reference, the served rate's load
    generator) or an environment for another interpreter."""
    go = plan.served or any(registry.get(model).toolchain for model, _ in plan.selection)
    if (go and gotoolchain.find_go() is not None) or (child is not None and not is_current(child.found)):
        gotoolchain.usable_cache()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _say(text: str) -> None:
    print(f"parkbench: {text}", file=sys.stderr, flush=True)


def run(args) -> int:
    """The command; SIGTERM is an interrupt like Ctrl-C from its first step (the set-up
    too: an interpreter's environment, the Go build, the calibration), and so is SIGINT
    even where it arrived ignored (a shell's background job starts with SIGINT ignored,
    and Python then installs no handler: 'kill -INT' did nothing, issue 37)."""
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        signal.signal(signal.SIGINT, previous_int)


def _run(args) -> int:
    if args.resume is not None and not args.resume.strip():
        raise UserError("--resume needs a run file or a run id such as 20261126T050824Z")
    if args.python and args.resume is None:
        children = [Child(spec) for spec in args.python]  # every spec checked first
        for each in children:                             # and every other option
            _check_cache(RunPlan.from_args(args, each.version_spec), each)
        status = 0
        for each in children:
            each.prepare(_say)
            _say(f"probe children under {interpreter_key(each.identity)} ({each.found})")
            run_file, plan = _new_run(args, each)
            status = _run_one(run_file, plan, each) or status
        return status
    if args.resume is None:
        run_file, plan = _new_run(args)
        return _run_one(run_file, plan)
    return _run_one(*_reopen_run(args))


def _run_one(run_file, plan, child=None) -> int:
    """Set up, sweep and finish one run; interrupted at any step, it says what is stored
    and how to go on."""
    try:
        return _sweep(run_file, plan, child)
    except KeyboardInterrupt:
        print(f"parkbench: interrupted; {run_file.stored('measurements')} measurements "
              f"are stored in {run_file.path}; finish with: parkbench run --resume "
              f"{run_file.path}", file=sys.stderr)
        return 130


def _sweep(run_file, plan, child=None) -> int:
    selection = list(plan.selection)
    if any(registry.get(model).toolchain for model, _ in selection):
        _say("looking for a Go toolchain for the go reference (its first use builds the program)")
    unavailable = suite.unavailable_models(selection)
    go = gotoolchain.find_go()
    if go is not None:  # children under another interpreter find the same toolchain
        os.environ[gotoolchain.GO_ENV] = go
    if child is not None:
        unavailable.update({model: reason for model, reason in child.unavailable.items()
                            if model in {m for m, _ in selection}})
    for model, reason in unavailable.items():
        _say(f"{model} skipped: {reason}")
    served_unavailable = None
    if any(job.kind == "served" for job in plan.jobs(unavailable)[0]):  # not for wakes alone
        missing = gotoolchain.unavailable_reason("loadgen")
        served_unavailable = f"no load generator: {missing}" if missing else None
        if served_unavailable:
            _say(f"served rate skipped: {served_unavailable}")
    jobs, refused = plan.jobs(unavailable, served_unavailable)
    python = child.python if child is not None else None
    sweep = runner.Sweep(jobs, plan, run_file, plan.guard(), progress=_progress(sys.stderr),
                         previous=run_file.records(), switch_folder=run_file.pyperf_folder,
                         python=python)
    for job, reason in refused:
        if job not in sweep.accounted:
            sweep.skip(job, reason)
    _say(f"{len(jobs)} probe children for {len(selection)} model variants "
         f"({len(sweep.done)} already stored); results in {run_file.path}")
    if plan.full:
        todo = [job for job in jobs if job not in sweep.done]
        _say(estimate.describe(estimate.plan_seconds(
            todo, run_file.path.parent, plan.wake_max_n, plan.rigorous_primitives,
            plan.latency_mode, plan.switch_rounds, dict(plan.served_settings), dict(plan.wake_settings))))

    if plan.latency and not run_file.calibration("start"):
        run_file.set_calibration("start", calibration.measure(python))
    if any(job.kind == "served" for job in jobs) and not run_file.has_generator_ceiling:
        _say("measuring the load generator's own ceiling (against its echo server)")
        run_file.set_generator_ceiling(*calibration.generator_ceiling(python, dict(plan.served_settings),
                                                                      plan.timeout_seconds))
    ceiling = calibration.ceiling_rate(run_file.generator_ceiling())
    if any(job.kind == "served" for job in jobs) and not ceiling:
        why = calibration.ceiling_problem(run_file.generator_ceiling(), run_file.generator_ceiling_failure())
        _say(f"the load generator's own ceiling could not be measured ({why}): no served rate will "
             f"be marked generator-bound in this run")
    if ceiling:  # a served job's search stops short of what the generator itself can do
        sweep.served_context["generator_ceiling"] = ceiling
    try:
        sweep.run()
    except OSError as exc:
        print(f"parkbench: error: cannot store results ({exc.strerror or exc}); "
              f"{run_file.stored('measurements')} measurements are in {run_file.path}; "
              f"free space, then: parkbench run --resume {run_file.path}", file=sys.stderr)
        return 2
    if plan.latency:
        run_file.set_calibration("end", calibration.measure(python))
    seen = limits.with_child_rlimits(limits.read(), plan.child_rlimits)
    records = run_file.records()
    run_file.finish(capacity.at_finish(records["measurements"], seen, records["failures"]))
    _say(estimate.describe(estimate.phase_seconds(run_file.snapshot()), "took"))
    show.print_summary([run_file.path.parent], selection=selection, run_id=run_file.run_id,
                       interpreter=interpreter_key(run_file.interpreter))
    for line in interference.warning(interference.disturbed_series(records["measurements"]), plan.grids,
                                     _again(run_file, child)):
        _say(line)
    return 0


def _again(run_file, child) -> str:
    """The options a command that measures this run's series again keeps: its
    interpreter, results folder and machine (a bare command would measure under
    another interpreter, into another folder)."""
    kept = f" --python {child.version_spec}" if child is not None else ""
    if run_file.path.parent.parent.resolve() != Path("results").resolve():  # the default --output
        kept += f" --output {run_file.path.parent.parent}"
    return kept + f" --machine {run_file.path.parent.name}"
