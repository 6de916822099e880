"""The command line: parsing and dispatch only.

Each command lives in ``parkbench/commands/<name>.py`` as ``run(args) -> exit status``
(tests call them directly). A ``UserError`` becomes a one-line message and exit status
2; any other exception is a bug and keeps its traceback. Output that cannot be written
(a closed pipe, a full device) ends the command quietly or with one line. Heavy
imports (pandas) happen inside the commands that need them, to keep ``list`` fast.
"""

import argparse
import errno
import importlib
import math
import os
import re
import sys

from parkbench.core.errors import EXIT_USER_ERROR, UserError
from parkbench.core.units import format_seconds, parse_seconds
from parkbench.measurement.suite import DEFAULT_TIMEOUT_SECONDS, FULL_TIMEOUT_SECONDS
from parkbench.store.run_plan import DEFAULT_SLO_SECONDS

# ASCII digits only: int() and float() take every script's digits (and 1_0, 1e1, nan)
_WHOLE, _DECIMAL = re.compile(r"\s*[0-9]+\s*"), re.compile(r"\s*[0-9]+(\.[0-9]+)?\s*")


def _positive_int(text: str) -> int:
    value = int(text) if _WHOLE.fullmatch(text) else 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 100, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = float(text) if _DECIMAL.fullmatch(text) else math.nan
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"must be a number of seconds in (0, 86400], not {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        return parse_seconds(text, "the SLO")  # argparse names the option itself
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block): ``prog: error: rule``."""

    def error(self, message):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message}\n")


COMMANDS = {"run": "run", "show": "show", "limits": "limits", "fit": "fit",
            "compare": "compare", "report": "report", "check": "check", "list": "listing"}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="parkbench", description="What one more idle waiter costs in Python."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_run(commands)
    _add_readers(commands)
    return parser


def _add_run(commands) -> None:
    """``parkbench run`` and its options: the sweep's plan, and where its results go."""
    run = commands.add_parser("run", help="run a sweep, store results, print a summary")
    # the options of a run's plan: a resumed run keeps its stored plan and refuses them
    sweep = run.add_argument_group("the sweep's plan (refused with --resume)")
    sweep.add_argument("--models", help="comma list of MODEL (the variants the default sweep runs "
                                        "for it), MODEL:all (every variant), MODEL:VARIANT, or 'all' "
                                        "(default: the quick sweep's variants)")
    sweep.add_argument("--n", metavar="N,N,...", help="comma list of N for every selected model, e.g. 1k,10k,100k "
                                   "(default: each model's quick grid); with --only served, the W "
                                   "of the served and wake jobs")
    sweep.add_argument("--repeat", type=_positive_int,
                       help="fresh children per N, 1 to 100 (default 1)")
    run.add_argument("--output", default="results", help="results folder (default results/)")
    run.add_argument("--machine", help="machine name (default: stored, or derived once)")

    sweep.add_argument("--timeout", type=_positive_float,
                       help=f"seconds per probe child (default {DEFAULT_TIMEOUT_SECONDS:g}; "
                            f"--full and --only check: {FULL_TIMEOUT_SECONDS:g})")
    sweep.add_argument("--only", choices=("memory", "latency", "served", "check"),
                       help="measure only memory, only hand-off latency, only the served "
                            "rate of the connections servers (default: all three), or only "
                            "the fit map's checked points, in-process and connections "
                            "(--full checks them too)")
    sweep.add_argument("--slo", type=_seconds,
                       help="the latency objective of the served rate (the highest offered "
                            "rate whose p99 stays under it) and of the fit map's checked "
                            f"points (default {format_seconds(DEFAULT_SLO_SECONDS)})")
    sweep.add_argument("--latency-mode", choices=("quick", "rigorous"),
                       help="pyperf settings for switch latency: quick (default: 6 processes x "
                            "5 values, each model's first primitive) or rigorous (pyperf "
                            "--rigorous, every primitive)")
    sweep.add_argument("--primitives",
                       help="comma list of hand-off primitives to time (default: each model's "
                            "first in quick mode, all in rigorous mode); see parkbench list")
    sweep.add_argument("--full", action="store_true",
                       help="the full sweep: each model toward this machine's ceiling (10M asyncio "
                            "and uvloop tasks, 2M greenlets, threads to the OS limit, 2,000 workers, "
                            "200k connections), rigorous latency, a 90%% memory budget; with "
                            "--models, only those at their full grids")
    sweep.add_argument("--to-limit", metavar="MODEL[:VARIANT]",
                       help="raise N geometrically toward the predicted capacity until the "
                            "machine says no, and record where and why (memory only)")
    sweep.add_argument("--child-rlimit", action="append", metavar="NAME=VALUE",
                       help="lower a resource limit in every probe child (nofile, nproc, as, "
                            "stack), to meet a ceiling on purpose; repeatable")
    sweep.add_argument("--memory-budget",
                       help="largest predicted peak memory of one probe child: a share of the "
                            "memory available at the start (default 50%%) or a size such as 8GiB")
    sweep.add_argument("--python", action="append", metavar="SPEC",
                       help="run the probe children under another interpreter: a path, or a "
                            "version found on PATH, in pyenv or among the builds of "
                            "scripts/build_python.py (3.13, 3.12.1, 3.13t); "
                            "repeatable, one run per interpreter (default: this one)")
    run.add_argument("--resume", metavar="RUN",
                     help="finish an interrupted run (its file, or its run id) with its stored "
                          "parameters, without repeating what it stored; refuses every other "
                          "sweep option")
    run.set_defaults(plan_options=tuple(action.dest for action in sweep._group_actions))


def _add_readers(commands) -> None:
    """The commands that read stored results (and ``list``, which reads the registry)."""
    show = commands.add_parser("show", help="the current figures of stored results, per machine and interpreter")
    show.add_argument("results", nargs="?", default="results",
                      help="results folder, machine folder or run file (default results/)")
    show.add_argument("--format", choices=("table", "json"), default="table",
                      help="table (default) or json: JSON Lines, one object per current "
                           "figure, then one per checked map point (\"kind\": \"map_check\")")

    limits_cmd = commands.add_parser("limits", help="OS limits, the binding limit per model, and "
                                                    "each prediction checked against a measured ceiling")
    limits_cmd.add_argument("--results", default="results",
                            help="results folder whose current figures of this machine give "
                                 "the per-waiter costs and measured ceilings (default results/)")
    limits_cmd.add_argument("--machine", help="machine name (default: stored, or derived once)")
    limits_cmd.add_argument("--live", action="store_true",
                            help="predict capacity from this machine's limits now (memory available "
                                 "now included) instead of the limits in force when each run ran, "
                                 "which show, fit and the report use")

    fit = commands.add_parser("fit", help="machines each model needs for W idle waiters and R wake-ups per second")
    fit.add_argument("--waiters", required=True, help="concurrent idle waiters, e.g. 200k")
    fit.add_argument("--rate", required=True, help="wake-ups per second, e.g. 50k (0 allowed)")
    fit.add_argument("--memory", help="size of the machine to plan for, e.g. 16GiB "
                                      "(default: the measured machine's available memory); "
                                      "it moves only memory bounds: a measured ceiling of "
                                      "another limit stays")
    fit.add_argument("--machine", help="only this machine's results")
    fit.add_argument("--results", default="results", help="results folder (default results/)")

    comparison = commands.add_parser("compare", help="two machines, machine folders or run files side by side")
    comparison.add_argument("a", help="a run file, a machine folder, or a machine name")
    comparison.add_argument("b", help="the same, for the other side")
    comparison.add_argument("--results", default="results", help="where machine names live")
    comparison.add_argument("--format", choices=("table", "json"), default="table",
                            help="table (default) or json: JSON Lines, one object per compared figure")
    comparison.add_argument("--interpreter-a", help="only A's figures of the interpreter this "
                                                    "names exactly (3.13.1, not 3.13.1t), else of "
                                                    "those whose label holds it, e.g. 3.12")
    comparison.add_argument("--interpreter-b", help="the same for B")

    rendering = commands.add_parser("report", help="execute the report notebook, write HTML")
    rendering.add_argument("--results", default="results", help="results folder (default results/)")
    rendering.add_argument("--machines", help="comma list of machines (default: all)")
    rendering.add_argument("--output", help="where report.html and report.ipynb go "
                                            "(default: the results folder)")

    checking = commands.add_parser("check", help="check every results file; exit 2 if any is bad "
                                                 "(the other readers set a bad one aside)")
    checking.add_argument("results", nargs="?", default="results",
                          help="results folder, machine folder or run file (default results/)")

    commands.add_parser("list", help="models and variants")


def _glue_negative_values(argv: list[str]) -> list[str]:
    """``--n -5,100`` -> ``--n=-5,100``, so that a negative value reaches the option's
    own check ("N must be a positive whole number") instead of argparse's "expected one
    argument"."""
    glued, i = [], 0
    while i < len(argv):
        item = argv[i]
        if (item.startswith("--") and "=" not in item and i + 1 < len(argv)
                and len(argv[i + 1]) > 1 and argv[i + 1][0] == "-"
                and (argv[i + 1][1].isdigit() or argv[i + 1][1] == ".")):
            glued.append(f"{item}={argv[i + 1]}")
            i += 2
            continue
        glued.append(item)
        i += 1
    return glued


def main(argv=None) -> int:
    if sys.stdout is None:
        print("parkbench: error: standard output is closed", file=sys.stderr)
        return EXIT_USER_ERROR
    parser = build_parser()
    args = parser.parse_args(_glue_negative_values(list(sys.argv[1:] if argv is None else argv)))
    try:
        command = importlib.import_module(f"parkbench.commands.{COMMANDS[args.command]}")
        status = command.run(args)
        sys.stdout.flush()
        return status
    except UserError as exc:
        print(f"parkbench: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("parkbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (| head -1): not an error; keep Python from complaining
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EIO, errno.EBADF):
            # writing the output failed (/dev/full, a closed descriptor)
            print(f"parkbench: error: cannot write the output: {exc.strerror}", file=sys.stderr)
            return EXIT_USER_ERROR
        raise
