"""Check each interpreter's per-waiter memory against an independent probe run under
the same interpreter (``benchmarks/checks/independent_probe.py``, which shares no code with
parkbench), beside the machine's current figures for that interpreter:

    python benchmarks/checks/interpreter_check.py [--python 3.12 --python 3.13] [--results results]
        [--save results/MACHINE/interpreter-check.json]

Without ``--python``, the interpreter running this script. Target (issue 17): within 5%.
Printed, never asserted; ``--save`` writes the rows as JSON (the committed file is read
by tests/test_prose_figures.py, which holds the docs' figures to it).
"""

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from parkbench.analysis import current
from parkbench.analysis.tidy import interpreter_key
from parkbench.core.errors import UserError
from parkbench.core.units import format_bytes
from parkbench.measurement import interpreters, machine

PROBE = Path(__file__).parent / "independent_probe.py"
DEFAULT_VARIANT = {"asyncio": "event", "uvloop": "event", "gevent": "event", "threads": "condition"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/checks/interpreter_check.py")
    parser.add_argument("--python", action="append", metavar="SPEC")
    parser.add_argument("--results", default="results")
    parser.add_argument("--machine")
    parser.add_argument("--save", help="write the rows as JSON to this file")
    args = parser.parse_args(argv)
    try:
        name = machine.check_name(machine.resolve_name(args.machine))
        frame = current.load(Path(args.results) / name).frame
        targets = []
        for spec in args.python or [sys.executable]:
            found = interpreters.resolve(spec)
            identity = interpreters.identify(found)
            python, unavailable = ((Path(sys.executable), {}) if interpreters.is_current(found)
                                   else interpreters.environment(found, identity,
                                                                 lambda text: print(text, file=sys.stderr)))
            for model, why in unavailable.items():
                print(f"interpreter_check: {model} skipped: {why}", file=sys.stderr)
            targets.append((interpreter_key(identity), python,
                            [model for model in DEFAULT_VARIANT if model not in unavailable]))
    except UserError as exc:
        print(f"interpreter_check: error: {exc}", file=sys.stderr)
        return 2
    print(f"{'interpreter':<16} {'model':<8} {'parkbench RSS/waiter':>21} {'independent':>12} {'difference':>11}")
    saved = []
    for label, python, models in targets:
        done = subprocess.run([str(python), str(PROBE), *models], capture_output=True, text=True, timeout=1800)
        if done.returncode:
            print(f"{label}: the independent probe failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
            return 1
        independent = json.loads(done.stdout)["models"]
        for model, variant in ((model, DEFAULT_VARIANT[model]) for model in models):
            rows = frame[(frame.interpreter == label) & (frame.model == model) & (frame.variant == variant)
                         & (frame.metric == "rss_per_waiter") & frame.n.isna()]
            ours = float(rows.value.iloc[0]) if len(rows) else float("nan")
            theirs = independent[model]["rss_per_waiter"]
            print(f"{label:<16} {model:<8} {format_bytes(ours):>21} {format_bytes(theirs):>12} "
                  f"{ours / theirs - 1:>+10.1%}")
            saved.append({"interpreter": label, "model": model, "variant": variant,
                          "parkbench_rss_per_waiter": ours if len(rows) else None,
                          "parkbench_run": str(rows.run_id.iloc[0]) if len(rows) else None,
                          "independent_rss_per_waiter": theirs, "independent_grid": independent[model]["grid"]})
    if args.save:
        with open(args.save, "w") as out:
            json.dump({"machine": name, "when": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
                       "rows": saved}, out, indent=1)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
