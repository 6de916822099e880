"""How the readers scale with the number of run files: ``show``, ``fit`` (and
``compare``) over N copies of one small valid run file, each timed in a fresh process.

Not a test and not a pass/fail check: it prints seconds, milliseconds per file and peak memory for each N,
so that linear growth (a flat seconds-per-file column) is visible. The copies are made
from one memory model of a committed run file (its raw points, figures and hand-off
figures; no pyperf files), each under its own run id, in a temporary folder that is
removed afterwards: never in results/.

    .venv/bin/python benchmarks/checks/many_runs.py                  # 1k, 3k, 10k files
    .venv/bin/python benchmarks/checks/many_runs.py --sizes 1000 --commands show --profile

``--profile`` runs each command under cProfile and prints its 15 most expensive
functions (cumulative time), to find the hot spots. ``--tree DIR`` times the package in
DIR instead (an older commit's, for a before-and-after).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "results" / "x86_64-2cpu-24gib" / "20261126T122209Z.json"
MACHINE = "many-runs"
COMMANDS = {
    "show": lambda folder: ["show", str(folder)],
    "fit": lambda folder: ["fit", "--waiters", "100k", "--rate", "10k", "--results", str(folder)],
    "compare": lambda folder: ["compare", str(folder / MACHINE), str(folder / MACHINE)],
}


def small_run(source: Path, kind: str = "memory") -> dict:
    """One model/variant of ``source``: its memory points and figures, and its model's
    hand-off figures (or with ``kind`` "served", its served records: the knee search's
    steps); no switch or tail records (they name pyperf files)."""
    document = json.loads(source.read_text())
    first = next(r for r in document["measurements"] if r["kind"] == kind)
    model, variant = first["model"], first["variant"]
    document["measurements"] = [r for r in document["measurements"] if r["kind"] == kind
                                and (r["model"], r["variant"]) == (model, variant)]
    document["figures"] = [f for f in document["figures"] if f["model"] == model
                           and (f["variant"] == variant or f["metric"].startswith("switch_latency"))]
    document.update(machine=MACHINE, failures=[], skipped=[], complete=True)
    document.pop("calibration", None)
    return document


def write_runs(folder: Path, document: dict, count: int) -> None:
    """``count`` copies of ``document`` under ``folder/MACHINE/``, one run id a second."""
    machine = folder / MACHINE
    machine.mkdir(parents=True)
    start = datetime(2027, 1, 1, tzinfo=UTC)
    for index in range(count):
        run_id = (start + timedelta(seconds=index)).strftime("%Y%m%dT%H%M%SZ")
        (machine / f"{run_id}.json").write_text(json.dumps({**document, "run_id": run_id}))


def timed(command: str, folder: Path, profile: bool, tree: Path) -> tuple[float, int, float]:
    """Wall seconds, exit status and peak resident MiB of one command in a fresh
    interpreter, running the ``parkbench`` package found in ``tree``."""
    argv = [sys.executable]
    if profile:
        argv += ["-c", "import cProfile, pstats, sys; from parkbench.cli import main; "
                       "sys.argv[0] = 'parkbench'; p = cProfile.Profile(); "
                       "status = p.runcall(main, sys.argv[1:]); "
                       "pstats.Stats(p, stream=sys.stderr).sort_stats('cumulative').print_stats(15); "
                       "sys.exit(status)"]
    else:
        argv += ["-m", "parkbench"]
    argv += COMMANDS[command](folder)
    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=tree, stdout=subprocess.DEVNULL,
                             stderr=None if profile else subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, child.returncode, usage.ru_maxrss / 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,3000,10000", help="comma list of file counts")
    parser.add_argument("--commands", default="show,fit", help="comma list of: show, fit, compare")
    parser.add_argument("--source", type=Path, default=SOURCE, help="the run file to copy from")
    parser.add_argument("--kind", choices=("memory", "served"), default="memory",
                        help="the records copied: a memory series (default) or a served one")
    parser.add_argument("--profile", action="store_true", help="print cProfile's hot spots")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="a folder holding the parkbench package to time, e.g. an older "
                             "commit's (git archive COMMIT parkbench | tar -x -C DIR); "
                             "default: this checkout")
    args = parser.parse_args(argv)
    document = small_run(args.source, args.kind)
    commands = args.commands.split(",")
    print(f"copies of {args.source.name} ({len(document['measurements'])} points, "
          f"{len(document['figures'])} figures) per run file")
    print(f"{'files':>7} {'command':<8} {'seconds':>9} {'ms/file':>8} {'peak MiB':>9}  exit")
    for size in (int(text) for text in args.sizes.split(",")):
        folder = Path(tempfile.mkdtemp(prefix="parkbench-many-runs-"))
        try:
            write_runs(folder, document, size)
            machine = json.loads((args.source.parent / "machine.json").read_text())
            (folder / MACHINE / "machine.json").write_text(json.dumps({**machine, "name": MACHINE}))
            for command in commands:
                seconds, status, peak = timed(command, folder, args.profile, args.tree)
                print(f"{size:>7,} {command:<8} {seconds:>9.2f} {1000 * seconds / size:>8.2f} "
                      f"{peak:>9.0f}  {status}", flush=True)
        finally:
            shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
