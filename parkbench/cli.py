"""The command line: ``parkbench run | show | list``.

Each command is a plain function taking parsed arguments and returning an exit status,
so tests call them directly. A ``UserError`` becomes a one-line message and exit
status 2; any other exception is a bug and keeps its traceback. Heavy imports (pandas)
happen inside the commands that need them, to keep ``parkbench list`` fast.
"""

import argparse
import json
import math
import sys
from pathlib import Path

from parkbench import probes
from parkbench.errors import EXIT_USER_ERROR, UserError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


# --- run -------------------------------------------------------------------------------


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
        print(f"{label}  {status}  {seconds:.1f} s", file=stream, flush=True)

    return report


def _new_run(args):
    """Validate every option, then create the run file: nothing is written on bad input."""
    from parkbench import guard, latency, limits, machine, placement, results, suite
    from parkbench.sizes import parse_count_list

    if args.full:
        if args.models or args.n or args.to_limit:
            raise UserError("--full chooses its own models and grids; do not pass --models, --n or --to-limit")
        selection = suite.parse_selection(None)
        grids = suite.full_grids(selection, limits.read())
        args.latency_mode = "rigorous"
        args.memory_budget = args.memory_budget or suite.FULL_BUDGET
        if args.timeout == suite.DEFAULT_TIMEOUT_SECONDS:
            args.timeout = suite.FULL_TIMEOUT_SECONDS
    elif args.to_limit:
        if args.models or args.n:
            raise UserError("--to-limit chooses its own model and grid; do not pass --models or --n")
        selection = suite.parse_selection(args.to_limit)
        if len(selection) != 1:
            raise UserError(f"--to-limit takes one model or model:variant, not {args.to_limit!r}")
        (model, variant), = selection
        start = min(suite.QUICK_GRIDS[model])
        predicted = suite.predicted_capacity(model, variant, limits.read())
        grids = {suite.grid_key(model, variant): suite.to_limit_grid(start, predicted)}
        args.only = "memory"
    else:
        grids = None
        selection = suite.parse_selection(args.models)
    grids = grids or suite.grids_for(selection, parse_count_list(args.n) if args.n is not None else None)
    primitives = suite.parse_primitives(args.primitives, selection,
                                        every=args.latency_mode == "rigorous")
    child_rlimits = _parse_child_rlimits(args.child_rlimit)
    budget = guard.parse_budget(args.memory_budget or guard.DEFAULT_BUDGET, guard.available_bytes())
    name = machine.resolve_name(args.machine)
    output = results.check_output_folder(Path(args.output))

    description = machine.describe(name)
    results.write_machine(output, description)
    margin = guard.FULL_GUARD_MARGIN if args.full else guard.GUARD_MARGIN
    memory_guard = guard.Guard(budget, guard.default_floor(), margin)
    parameters = {
        "full": args.full,
        "selection": [list(item) for item in selection],
        "grids": {key: list(grid) for key, grid in grids.items()},
        "repeat": args.repeat,
        "timeout_seconds": args.timeout,
        "memory": args.only in (None, "memory"),
        "latency": args.only in (None, "latency"),
        "latency_mode": args.latency_mode,
        "pyperf_options": list(latency.PYPERF_MODES[args.latency_mode]),
        "primitives": {model: list(names) for model, names in primitives.items()},
        "placements": list(placement.PLACEMENTS),
        "tail_loops": latency.TAIL_LOOPS,
        "tail_placement": latency.TAIL_PLACEMENT,
        "to_limit": args.to_limit,
        "child_rlimits": child_rlimits,
        **memory_guard.as_parameters(),
    }
    environment = {"python": description["python"], "packages": description["packages"]}
    run_file = results.RunFile(output, name, results.new_run_id(), parameters, environment)
    run_file.save()
    return run_file


def _parse_child_rlimits(items) -> str:
    """``["nofile=64", "as=2GiB"]`` -> ``"nofile=64,as=2147483648"``, checked."""
    from parkbench.probe import RLIMITS
    from parkbench.sizes import parse_size

    parsed = []
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or name not in RLIMITS:
            raise UserError(f"--child-rlimit takes NAME=VALUE with NAME one of "
                            f"{', '.join(RLIMITS)}, not {item!r}")
        parsed.append(f"{name}={parse_size(value)}")
    return ",".join(parsed)


def _reopen_run(args):
    """The run file named by ``--resume`` (a path, or a run id under the machine's folder)."""
    from parkbench import machine, results

    for option in ("models", "n", "memory_budget", "only", "primitives", "to_limit", "child_rlimit"):
        if getattr(args, option) is not None:
            raise UserError(f"--resume continues a run with its stored parameters; "
                            f"do not pass --{option.replace('_', '-')}")
    path = Path(args.resume)
    if not path.is_file():
        name = machine.resolve_name(args.machine)
        path = Path(args.output) / machine.check_name(name) / f"{machine.check_name(args.resume)}.json"
        if not path.is_file():
            raise UserError(f"no run {args.resume!r} to resume: {path} does not exist")
    run_file = results.RunFile.reopen(path)
    if run_file.document["complete"]:
        raise UserError(f"run {run_file.document['run_id']} is already complete; nothing to resume")
    return run_file


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def cmd_run(args) -> int:
    import signal

    from parkbench import guard, runner, suite
    from parkbench.fitting import derive

    run_file = _reopen_run(args) if args.resume else _new_run(args)
    document, parameters = run_file.document, run_file.document["parameters"]
    selection = [tuple(item) for item in parameters["selection"]]
    jobs, refused = suite.plan(
        selection, parameters["grids"], parameters["repeat"],
        memory=parameters["memory"], latency=parameters["latency"],
        primitives={model: tuple(names) for model, names in parameters["primitives"].items()},
        placements=tuple(parameters["placements"]),
    )
    memory_guard = guard.Guard(parameters["memory_budget_bytes"], parameters["memory_floor_bytes"],
                               parameters["guard_margin"])
    sweep = runner.Sweep(jobs, parameters["timeout_seconds"], run_file, memory_guard,
                         progress=_progress(sys.stderr), previous=document,
                         switch_folder=run_file.path.with_suffix(""),
                         latency_mode=parameters["latency_mode"],
                         tail_loops=parameters["tail_loops"],
                         child_rlimits=parameters.get("child_rlimits", ""))
    for job, reason in refused:
        if job.series not in sweep.stopped:
            sweep.skip(job, reason)
    print(f"parkbench: {len(jobs)} probe children for {len(selection)} model variants "
          f"({len(sweep.done)} already stored); results in {run_file.path}",
          file=sys.stderr, flush=True)

    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        sweep.run()
    except KeyboardInterrupt:
        print(f"parkbench: interrupted; {len(document['measurements'])} measurements are "
              f"stored in {run_file.path}; finish with: parkbench run --resume "
              f"{run_file.path}", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    from parkbench import limits

    seen = limits.with_child_rlimits(limits.read(), parameters.get("child_rlimits", ""))
    run_file.finish(derive(document["measurements"], seen, document["failures"]))
    _print_summary([run_file.path])
    return 0


# --- show ------------------------------------------------------------------------------


def _failure_notes(paths) -> list[str]:
    from parkbench import results

    notes = []
    for target in paths:
        for path in results.find_run_files(target):
            document = results.read_run(path)
            for failure in document["failures"]:
                notes.append(f"{document['machine']} {document['run_id']}: "
                             f"{_job_label(failure)} failed: {failure['reason']}")
            for skip in document.get("skipped", []):
                notes.append(f"{document['machine']} {document['run_id']}: "
                             f"{_job_label(skip)} skipped: {skip['reason']}")
            if not document["complete"]:
                notes.append(f"{document['machine']} {document['run_id']}: incomplete run "
                             "(interrupted); figures are missing")
    return ["", "failures and skips:", *notes] if notes else []


def _job_label(record: dict) -> str:
    from parkbench.runner import Job

    return Job(**record["job"]).label()


def _print_summary(paths) -> None:
    from parkbench import results, summary

    frame = results.load(paths)
    notes = _failure_notes(paths) + summary.limit_notes(frame)
    print(summary.render(summary.table(frame), notes=notes, latency=summary.latency_table(frame)))


def cmd_show(args) -> int:
    from parkbench import results

    if args.format == "json":
        frame = results.load([args.results])
        _write_json_lines(frame)
        return 0
    _print_summary([args.results])
    return 0


def _write_json_lines(frame) -> None:
    """One JSON object per row on stdout; missing values (NaN, NA, None) as null."""
    for row in frame.to_dict(orient="records"):
        clean = {key: (None if _is_missing(value) else _plain(value)) for key, value in row.items()}
        sys.stdout.write(json.dumps(clean) + "\n")


def _is_missing(value) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def _plain(value):
    """numpy and pandas scalars -> plain Python for json."""
    return value.item() if hasattr(value, "item") else value


# --- limits ----------------------------------------------------------------------------


def _latest_figures(folder: Path, name: str):
    """Per-waiter figures of the newest complete run of machine ``name``, if any."""
    from parkbench import results

    runs = sorted((folder / name).glob("2*.json")) if (folder / name).is_dir() else []
    for path in reversed(runs):
        document = results.read_run(path)
        if document["complete"]:
            return path, document["figures"]
    return None, []


def _limit_lines(values: dict) -> list[str]:
    from parkbench.sizes import format_bytes

    def count(value):
        return "unlimited" if value is None else f"{value:,}"

    def size(value):
        return "unlimited" if value is None else format_bytes(value)

    nproc, nofile, stack = values["rlimit_nproc"], values["rlimit_nofile"], values["rlimit_stack"]
    root_note = "  (not enforced for root)" if values["is_root"] else ""
    rows = [
        ("kernel.pid_max", count(values["pid_max"])),
        ("kernel.threads-max", count(values["threads_max"])),
        ("vm.max_map_count", count(values["max_map_count"])),
        ("ulimit -u (processes+threads)", f"{count(nproc['soft'])} soft, {count(nproc['hard'])} hard{root_note}"),
        ("ulimit -n (open files)", f"{count(nofile['soft'])} soft, {count(nofile['hard'])} hard"),
        ("ulimit -s (stack)", f"{size(stack['soft'])} soft, {size(stack['hard'])} hard"),
        ("cgroup pids.max", count(values["cgroup_pids_max"])),
        ("cgroup memory limit", size(values["cgroup_memory_max"])),
        ("memory available", size(values["memory_available"])),
        ("tasks (threads) in use", count(values["tasks_in_use"])),
    ]
    width = max(len(name) for name, _ in rows)
    return [f"  {name.ljust(width)}  {value}" for name, value in rows]


def cmd_limits(args) -> int:
    from parkbench import limits, machine, probes

    values = limits.read()
    name = machine.resolve_name(args.machine)
    path, figures = _latest_figures(Path(args.results), name)
    per = {(f["model"], f["variant"], f["metric"]): f["value"] for f in figures}
    print(f"limits that bound waiters on this machine ({name}):")
    print("\n".join(_limit_lines(values)))
    source = f"per-waiter costs from {path}" if path else (
        "no stored run of this machine: memory bounds need 'parkbench run' first")
    print(f"\nbinding limit per model ({source}):")
    rows = []
    for model in probes.MODELS.values():
        for variant in model.variants:
            bound = limits.capacity(model.name, variant, values,
                                    per.get((model.name, variant, "total_per_waiter")),
                                    per.get((model.name, variant, "maps_per_waiter")))
            if bound is None:
                rows.append((f"{model.name}/{variant}", "-", "none known", "", ""))
            else:
                rows.append((f"{model.name}/{variant}", f"{bound.waiters:,}", bound.limit,
                             bound.detail, bound.how_to_raise))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for label, waiters, limit, detail, how in rows:
        print(f"  {label.ljust(widths[0])}  {waiters.rjust(widths[1])}  {limit.ljust(widths[2])}"
              + (f"  {detail}; raise: {how}" if how else ""))
    return 0


# --- fit, compare, report ----------------------------------------------------------------


def cmd_fit(args) -> int:
    from parkbench import fitmap, results
    from parkbench.sizes import format_bytes, format_count, parse_count, parse_size

    waiters, rate = parse_count(args.waiters), parse_count(args.rate)
    memory = parse_size(args.memory) if args.memory is not None else None
    frame = results.load(args.results)
    if args.machine is not None:
        if args.machine not in set(frame.machine):
            raise UserError(f"unknown machine {args.machine!r}; results hold: "
                            f"{', '.join(sorted(set(frame.machine)))}")
        frame = frame[frame.machine == args.machine]
    rows = fitmap.answer(fitmap.profiles(frame, results.load_machines(args.results), memory),
                         waiters, rate)
    if not rows:
        raise UserError("no run holds both memory and latency figures; run 'parkbench run' first")
    memory_note = f", a machine of {format_bytes(memory)}" if memory else ""
    print(f"workload: {waiters:,} idle waiters, {rate:,} wake-ups/s{memory_note}")
    print(f"{'machine':<20} {'model/variant':<24} {'machines':>8}  bound by        "
          f"{'capacity':>12} {'hand-offs/s':>12}")
    for row in rows:
        print(f"{row['machine']:<20} {row['model'] + '/' + row['variant']:<24} "
              f"{row['machines']:>8,}  {row['bound_by']:<14} {format_count(row['capacity']):>12} "
              f"{row['handoffs_per_second']:>12,.0f}")
    return 0


def cmd_compare(args) -> int:
    from parkbench import compare

    table = compare.compare(compare.resolve(args.a, args.results), compare.resolve(args.b, args.results))
    if args.format == "json":
        _write_json_lines(table)
        return 0
    print(f"A: {table.attrs['a']}\nB: {table.attrs['b']}")
    print(f"{'model/variant':<26} {'placement':<11} {'metric':<18} {'A':>12} {'B':>12} "
          f"{'B/A':>7}  significant")
    for row in table.itertuples():
        def value(v):
            return "-" if _is_missing(v) else f"{v:.4g}"
        verdict = row.status if row.status != "compared" else (
            "-" if row.significant is None else ("yes" if row.significant else "no")
            + (f" (p={row.p_value:.3g})" if not _is_missing(row.p_value) else ""))
        print(f"{row.model + '/' + row.variant:<26} {row.placement or '-':<11} {row.metric:<18} "
              f"{value(row.a):>12} {value(row.b):>12} {value(row.ratio):>7}  {verdict}")
    return 0


def cmd_report(args) -> int:
    from parkbench import report

    machines = [m for m in args.machines.split(",") if m] if args.machines else None
    executed, html = report.render(Path(args.results), Path(args.output or args.results), machines)
    print(f"wrote {html} and {executed}")
    return 0


# --- list ------------------------------------------------------------------------------


def cmd_list(args) -> int:
    from parkbench.suite import QUICK_GRIDS

    from parkbench.suite import QUICK_VARIANTS, VARIANT_GRIDS

    for model in probes.MODELS.values():
        grid = ", ".join(f"{n:,}" for n in QUICK_GRIDS[model.name])
        print(f"{model.name}: {model.description}")
        print(f"  variants: {', '.join(model.variants)} "
              f"(default sweep: {', '.join(QUICK_VARIANTS[model.name])})")
        print(f"  hand-off primitives: {', '.join(model.primitives)}")
        print(f"  quick grid: {grid}")
    for variant, grid in VARIANT_GRIDS.items():
        print(f"grid of every {variant} variant: {', '.join(f'{n:,}' for n in grid)}")
    return 0


# --- entry point -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parkbench", description="What one more idle waiter costs in Python."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a sweep, store results, print a summary")
    run.add_argument("--models", help="comma list of MODEL (all its variants) or MODEL:VARIANT, "
                                      "or 'all' (default: the quick sweep's variants)")
    run.add_argument("--n", help="comma list of N for every selected model, e.g. 1k,10k,100k "
                                 "(default: each model's quick grid)")
    run.add_argument("--repeat", type=_positive_int, default=1,
                     help="fresh children per N (default 1)")
    run.add_argument("--output", default="results", help="results folder (default results/)")
    run.add_argument("--machine", help="machine name (default: stored, or derived once)")
    from parkbench.suite import DEFAULT_TIMEOUT_SECONDS

    run.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT_SECONDS,
                     help=f"seconds per probe child (default {DEFAULT_TIMEOUT_SECONDS:g})")
    run.add_argument("--only", choices=("memory", "latency"),
                     help="measure only memory, or only hand-off latency (default: both)")
    run.add_argument("--latency-mode", choices=("quick", "rigorous"), default="quick",
                     help="pyperf settings for switch latency: quick (default: 6 processes x "
                          "5 values, each model's first primitive) or rigorous (pyperf "
                          "--rigorous, every primitive)")
    run.add_argument("--primitives",
                     help="comma list of hand-off primitives to time (default: each model's "
                          "first in quick mode, all in rigorous mode); see parkbench list")
    run.add_argument("--full", action="store_true",
                     help="the full sweep: each model toward this machine's ceiling (10M asyncio "
                          "and uvloop tasks, 2M greenlets, threads to the OS limit, 2,000 workers), "
                          "rigorous latency, a 90%% memory budget")
    run.add_argument("--to-limit", metavar="MODEL[:VARIANT]",
                     help="raise N geometrically toward the predicted capacity until the "
                          "machine says no, and record where and why (memory only)")
    run.add_argument("--child-rlimit", action="append", metavar="NAME=VALUE",
                     help="lower a resource limit in every probe child (nofile, nproc, as, "
                          "stack), to meet a ceiling on purpose; repeatable")
    run.add_argument("--memory-budget",
                     help="largest predicted peak memory of one probe child: a share of the "
                          "memory available at the start (default 50%%) or a size such as 8GiB")
    run.add_argument("--resume", metavar="RUN",
                     help="finish an interrupted run (its file, or its run id), "
                          "without repeating what it stored")
    run.set_defaults(func=cmd_run)

    show = commands.add_parser("show", help="summarise stored results")
    show.add_argument("results", nargs="?", default="results",
                      help="results folder, machine folder or run file (default results/)")
    show.add_argument("--format", choices=("table", "json"), default="table",
                      help="table (default) or json: tidy records, one JSON object per line")
    show.set_defaults(func=cmd_show)

    limits_cmd = commands.add_parser("limits", help="OS limits and the binding limit per model")
    limits_cmd.add_argument("--results", default="results",
                            help="results folder whose newest run of this machine gives "
                                 "the per-waiter costs (default results/)")
    limits_cmd.add_argument("--machine", help="machine name (default: stored, or derived once)")
    limits_cmd.set_defaults(func=cmd_limits)

    fit = commands.add_parser("fit", help="machines each model needs for a workload")
    fit.add_argument("--waiters", required=True, help="concurrent idle waiters, e.g. 200k")
    fit.add_argument("--rate", required=True, help="wake-ups per second, e.g. 50k")
    fit.add_argument("--memory", help="size of the machine to plan for, e.g. 16GiB "
                                      "(default: the measured machine's available memory)")
    fit.add_argument("--machine", help="only this machine's results")
    fit.add_argument("--results", default="results", help="results folder (default results/)")
    fit.set_defaults(func=cmd_fit)

    comparison = commands.add_parser("compare", help="two machines or two run files side by side")
    comparison.add_argument("a", help="a run file, a machine folder, or a machine name")
    comparison.add_argument("b", help="the same, for the other side")
    comparison.add_argument("--results", default="results", help="where machine names live")
    comparison.add_argument("--format", choices=("table", "json"), default="table")
    comparison.set_defaults(func=cmd_compare)

    rendering = commands.add_parser("report", help="execute the report notebook, write HTML")
    rendering.add_argument("--results", default="results", help="results folder (default results/)")
    rendering.add_argument("--machines", help="comma list of machines (default: all)")
    rendering.add_argument("--output", help="where report.html and report.ipynb go "
                                            "(default: the results folder)")
    rendering.set_defaults(func=cmd_report)

    listing = commands.add_parser("list", help="models and variants")
    listing.set_defaults(func=cmd_list)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"parkbench: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("parkbench: interrupted", file=sys.stderr)
        return 130
