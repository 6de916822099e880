"""``parkbench run``: plan a sweep (or reopen an interrupted one), run it, store it,
print the summary.

``plan_parameters(args)`` validates every option and returns the run's parameters; it
never mutates ``args`` and writes nothing. A resumed run's stored parameters are checked
by the same rules (``check_parameters``): a run file is untrusted input.
"""

import math
import os
import signal
import sys
from pathlib import Path

from parkbench.errors import UserError

MAX_REPEAT = 100
MAX_TIMEOUT_SECONDS = 24 * 3600.0
MAX_TAIL_LOOPS = 10_000_000
RESUME_REFUSES = ("models", "n", "memory_budget", "only", "primitives", "to_limit",
                  "child_rlimit", "timeout", "repeat", "latency_mode", "full", "python")


def _progress(stream):
    def report(index, total, job, outcome):
        from parkbench.runner import Failure

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


def _selection_and_grids(args, limits_now):
    from parkbench import suite
    from parkbench.units import parse_count_list

    if args.full:
        if args.n or args.to_limit:
            raise UserError("--full chooses its own grids; do not pass --n or --to-limit")
        selection = (suite.parse_selection(args.models) if args.models
                     else suite.parse_selection(None) + suite.FULL_EXTRA)
        return selection, suite.full_grids(selection, limits_now), args.only
    if args.to_limit:
        if args.models or args.n:
            raise UserError("--to-limit chooses its own model and grid; do not pass --models or --n")
        selection = suite.parse_selection(args.to_limit, bare_model_default=True)
        if len(selection) != 1:
            raise UserError(f"--to-limit takes one model or model:variant, not {args.to_limit!r}")
        (model, variant), = selection
        start = min(suite.QUICK_GRIDS[model])
        predicted = suite.predicted_capacity(model, variant, limits_now)
        return selection, {suite.grid_key(model, variant): suite.to_limit_grid(start, predicted)}, "memory"
    selection = suite.parse_selection(args.models)
    override = parse_count_list(args.n) if args.n is not None else None
    return selection, suite.grids_for(selection, override), args.only


def plan_parameters(args) -> dict:
    """Every option checked, as the run's parameters (nothing is written)."""
    from parkbench import guard, limits, placement, suite, switchbench

    limits_now = limits.read()
    selection, grids, only = _selection_and_grids(args, limits_now)
    mode = "rigorous" if args.full else (args.latency_mode or "quick")
    timeout = args.timeout if args.timeout is not None else (
        suite.FULL_TIMEOUT_SECONDS if args.full else suite.DEFAULT_TIMEOUT_SECONDS)
    budget_text = args.memory_budget or (suite.FULL_BUDGET if args.full else guard.DEFAULT_BUDGET)
    margin = guard.FULL_GUARD_MARGIN if args.full else guard.GUARD_MARGIN
    primitives = suite.parse_primitives(args.primitives, selection, every=mode == "rigorous")
    parameters = {
        "full": bool(args.full),
        "selection": [list(item) for item in selection],
        "grids": {key: list(grid) for key, grid in grids.items()},
        "repeat": args.repeat if args.repeat is not None else 1,
        "timeout_seconds": timeout,
        "memory": only in (None, "memory"),
        "latency": only in (None, "latency"),
        "latency_mode": mode,
        "pyperf_options": list(switchbench.PYPERF_MODES[mode]),  # per round
        "switch_rounds": switchbench.SWITCH_ROUNDS,
        "primitives": {model: list(names) for model, names in primitives.items()},
        "placements": list(placement.PLACEMENTS),
        "tail_loops": switchbench.TAIL_LOOPS,
        "tail_placement": switchbench.TAIL_PLACEMENT,
        "to_limit": args.to_limit,
        "child_rlimits": parse_child_rlimits(args.child_rlimit),
        "wake_max_n": dict(suite.WAKE_MAX_N) if args.full else {},
        # rigorous pyperf for the primitive that wakes a parked waiter (the fit map's);
        # the others quick: pyperf's time goes where the figures are used
        "rigorous_primitives": ({model: names[:1] for model, names in primitives.items()}
                                if args.full else None),
        "memory_budget_bytes": guard.parse_budget(budget_text, guard.available_bytes()),
        "memory_floor_bytes": guard.default_floor(),
        "guard_margin": margin,
    }
    check_parameters(parameters, "the command line")
    return parameters


def parse_child_rlimits(items) -> str:
    """``["nofile=64", "as=2GiB"]`` -> ``"nofile=64,as=2147483648"``, checked."""
    from parkbench import rlimits

    return rlimits.normalise(",".join(items or ()), "--child-rlimit")


def check_parameters(parameters, source: str) -> dict:
    """A run's parameters, checked like the command line's: known models, variants and
    primitives, grids of at least three distinct N within bounds, a timeout, a repeat
    count and a memory budget within reason, and a floor no lower than the default."""
    from parkbench import guard, probes, rlimits, suite, switchbench

    def fail(rule):
        raise UserError(f"{source}: {rule}")

    if not isinstance(parameters, dict):
        fail("parameters must be an object")
    try:
        selection = [tuple(item) for item in parameters["selection"]]
        for model, variant in selection:
            probes.check_variant(probes.get(model), variant)
        for key, grid in parameters["grids"].items():
            suite.check_grid(grid)
            for n in grid:
                if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= suite.MAX_N:
                    fail(f"grid {key} holds {n!r}; N must be a whole number from 1 to {suite.MAX_N:,}")
        missing = {suite.grid_key(m, v) for m, v in selection} - set(parameters["grids"])
        if missing:
            fail(f"no grid for {', '.join(sorted(missing))}")
        for model, names in parameters["primitives"].items():
            for name in names:
                probes.check_primitive(probes.get(model), name)
        repeat, timeout = parameters["repeat"], parameters["timeout_seconds"]
        budget, floor = parameters["memory_budget_bytes"], parameters["memory_floor_bytes"]
        margin, tail_loops = parameters["guard_margin"], parameters["tail_loops"]
        mode = parameters["latency_mode"]
    except (KeyError, TypeError, ValueError) as exc:
        fail(f"parameters are malformed ({type(exc).__name__}: {exc})")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        fail(f"repeat must be a whole number from 1 to {MAX_REPEAT}, not {repeat!r}")
    if not _number(timeout) or not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        fail(f"the timeout must be in (0, {MAX_TIMEOUT_SECONDS:g}] seconds, not {timeout!r}")
    rounds = parameters.get("switch_rounds", 1)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 10:
        fail(f"switch rounds must be a whole number from 1 to 10, not {rounds!r}")
    if mode not in switchbench.PYPERF_MODES:
        fail(f"latency mode must be one of {', '.join(switchbench.PYPERF_MODES)}, not {mode!r}")
    if not _number(margin) or not 1 <= margin <= 10:
        fail(f"the guard margin must be in [1, 10], not {margin!r}")
    if isinstance(tail_loops, bool) or not isinstance(tail_loops, int) \
            or not 1 <= tail_loops <= MAX_TAIL_LOOPS:
        fail(f"tail loops must be a whole number from 1 to {MAX_TAIL_LOOPS:,}, not {tail_loops!r}")
    available = guard.available_bytes()
    if not _number(budget) or not 0 < budget <= available:
        fail(f"the memory budget must be positive and at most the memory available now "
             f"({available:,} B), not {budget!r}")
    least = guard.PRIOR_FIXED_BYTES
    if budget < least:
        fail(f"the memory budget of {int(budget):,} B is below what the smallest probe child "
             f"needs ({least:,} B: an interpreter and its libraries)")
    if not _number(floor) or floor < guard.default_floor():
        parameters["memory_floor_bytes"] = guard.default_floor()
    spec = parameters.get("child_rlimits", "") or ""
    if not isinstance(spec, str):
        fail(f"child_rlimits must be text, not {spec!r}")
    rlimits_spec = rlimits.normalise(spec, "child_rlimits")
    parameters["child_rlimits"] = rlimits_spec
    return parameters


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _new_run(args, interpreter=None):
    """Validate every option, then create the run file: nothing is written on bad input.
    ``interpreter`` is a ``Child`` (default: this interpreter)."""
    from parkbench import machine, results

    parameters = plan_parameters(args)
    if interpreter is not None:  # a version, never a path (results go into git)
        parameters["python_spec"] = interpreter.spec if "/" not in interpreter.spec \
            else interpreter.identity["version"] + ("t" if interpreter.identity["gil_disabled"] else "")
    name = machine.resolve_name(args.machine)
    output = results.check_output_folder(Path(args.output))
    description = machine.describe(name)
    identity = interpreter.identity if interpreter is not None else machine.interpreter()
    run_file = results.RunFile.create(output, name, parameters, identity,
                                      machine.without_paths(description))
    try:
        results.write_machine(output, description)
    except OSError as exc:
        raise UserError(f"cannot write {output / name / 'machine.json'}: {exc.strerror or exc}") from None
    return run_file


def _reopen_run(args):
    """The run file named by ``--resume`` (a path, or a run id under the machine's folder)."""
    from parkbench import machine, results

    given = [option for option in RESUME_REFUSES if getattr(args, option, None) not in (None, False)]
    if given:
        raise UserError(f"--resume continues a run with its stored parameters; do not pass "
                        f"{', '.join('--' + option.replace('_', '-') for option in given)}")
    path = Path(args.resume)
    if not path.is_file():
        name = machine.resolve_name(args.machine)
        path = Path(args.output) / machine.check_name(name) / f"{machine.check_name(args.resume)}.json"
        if not path.is_file():
            raise UserError(f"no run {args.resume!r} to resume: {path} does not exist")
    run_file = results.RunFile.reopen(path)
    if run_file.document["complete"]:
        raise UserError(f"run {run_file.document['run_id']} is already complete; nothing to resume")
    check_parameters(run_file.document["parameters"], str(path))
    return run_file


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


class Child:
    """An interpreter for the probe children (``--python``): the spec as given, the
    environment's interpreter, its identity, and the models it cannot run (with why)."""

    def __init__(self, spec: str):
        from parkbench import interpreters

        self.spec = spec
        self.found = interpreters.resolve(spec)
        self.identity = interpreters.identify(self.found)
        self.python: str | None = None
        self.unavailable: dict = {}

    def prepare(self) -> None:
        """Create (or reuse) its environment; prints what it installs."""
        from parkbench import interpreters

        if interpreters.is_current(self.found):
            return  # this interpreter: its own environment already has everything
        python, self.unavailable = interpreters.environment(
            self.found, self.identity, lambda text: print(f"parkbench: {text}", file=sys.stderr, flush=True))
        self.python = str(python)


def run(args) -> int:
    if args.python and not args.resume:
        children = [Child(spec) for spec in args.python]  # every spec checked first
        plan_parameters(args)                            # and every other option
        status = 0
        for each in children:
            each.prepare()
            print(f"parkbench: probe children under CPython {each.identity['version']} "
                  f"({each.found})", file=sys.stderr, flush=True)
            status = _run_one(args, _new_run(args, each), each) or status
        return status
    if not args.resume:
        return _run_one(args, _new_run(args), None)
    run_file = _reopen_run(args)
    spec = run_file.document["parameters"].get("python_spec")
    child = None
    if spec is not None:  # checked with the run file: a version such as 3.12
        child = Child(spec)
        child.prepare()
    return _run_one(args, run_file, child)


def _run_one(args, run_file, child=None) -> int:
    from parkbench import calibration, gotoolchain, guard, limits, probes, runner, suite
    from parkbench.commands import show
    from parkbench.fitting import derive

    document, parameters = run_file.document, run_file.document["parameters"]
    selection = [tuple(item) for item in parameters["selection"]]
    if any(probes.get(model).unavailable for model, _ in selection):
        print("parkbench: looking for a Go toolchain for the go reference (its first use "
              "builds the program)", file=sys.stderr, flush=True)
    unavailable = suite.unavailable_models(selection)
    go = gotoolchain.find_go()
    if go is not None:  # children under another interpreter find the same toolchain
        os.environ[gotoolchain.GO_ENV] = go
    if child is not None:
        unavailable.update({model: reason for model, reason in child.unavailable.items()
                            if model in {m for m, _ in selection}})
    for model, reason in unavailable.items():
        print(f"parkbench: {model} skipped: {reason}", file=sys.stderr, flush=True)
    jobs, refused = suite.plan(
        selection, parameters["grids"], parameters["repeat"],
        memory=parameters["memory"], latency=parameters["latency"],
        primitives={model: tuple(names) for model, names in parameters["primitives"].items()},
        placements=tuple(parameters["placements"]),
        unavailable=unavailable,
        switch_rounds=parameters.get("switch_rounds", 1),
    )
    memory_guard = guard.Guard(parameters["memory_budget_bytes"], parameters["memory_floor_bytes"],
                               parameters["guard_margin"])
    sweep = runner.Sweep(jobs, parameters["timeout_seconds"], run_file, memory_guard,
                         progress=_progress(sys.stderr), previous=document,
                         switch_folder=run_file.path.with_suffix(""),
                         latency_mode=parameters["latency_mode"],
                         tail_loops=parameters["tail_loops"],
                         wake_max_n=parameters.get("wake_max_n") or {},
                         rigorous_primitives=parameters.get("rigorous_primitives"),
                         child_rlimits=parameters.get("child_rlimits", ""),
                         python=child.python if child is not None else None)
    for job, reason in refused:
        if job.series not in sweep.stopped:
            sweep.skip(job, reason)
    print(f"parkbench: {len(jobs)} probe children for {len(selection)} model variants "
          f"({len(sweep.done)} already stored); results in {run_file.path}",
          file=sys.stderr, flush=True)
    if parameters.get("full"):
        from parkbench import estimate

        todo = [job for job in jobs if job not in sweep.done]
        print("parkbench: " + estimate.describe(estimate.plan_seconds(
            todo, run_file.path.parent, parameters.get("wake_max_n"),
            parameters.get("rigorous_primitives"), parameters["latency_mode"],
            parameters.get("switch_rounds", 1))),
            file=sys.stderr, flush=True)

    python = child.python if child is not None else None
    if parameters["latency"] and not (document.get("calibration") or {}).get("start"):
        document["calibration"] = {"start": calibration.measure(python)}
        run_file.save()
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        sweep.run()
    except KeyboardInterrupt:
        print(f"parkbench: interrupted; {len(document['measurements'])} measurements are "
              f"stored in {run_file.path}; finish with: parkbench run --resume "
              f"{run_file.path}", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"parkbench: error: cannot store results ({exc.strerror or exc}); "
              f"{len(document['measurements'])} measurements are in {run_file.path}; "
              f"free space, then: parkbench run --resume {run_file.path}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    if parameters["latency"]:
        document.setdefault("calibration", {})["end"] = calibration.measure(python)
    seen = limits.with_child_rlimits(limits.read(), parameters.get("child_rlimits", ""))
    run_file.finish(derive(document["measurements"], seen, document["failures"]))
    from parkbench import estimate

    print("parkbench: " + estimate.describe(estimate.phase_seconds(document), "took"),
          file=sys.stderr, flush=True)
    from parkbench.schema import interpreter_key

    show.print_summary([run_file.path.parent], selection=selection, run_id=document["run_id"],
                       interpreter=interpreter_key(document.get("interpreter")))
    return 0
