"""How the readers scale with the number of run files: ``show``, ``fit`` (and
``compare``) over N copies of one small valid run file, each timed in a fresh process.

Not a test and not a pass/fail check: it prints seconds, milliseconds per file and peak memory for each N,
so that linear growth (a flat seconds-per-file column) is visible. The copies are made
from one memory model of a committed run file (its raw points, figures and hand-off
figures; no pyperf files), each under its own run id, in a temporary folder that is
removed afterwards: never in results/.

``--served-share 0.1`` builds the mix of issue 37's "done when" (show over 10,000 run
files, a tenth of them served runs): that share of the files, spread evenly among the
others, are served runs made from one committed served run (``--served-source``: one
model/variant's served records, the knee search's steps, and one model/variant's wakes
records), the rest memory runs as above.

    .venv/bin/python benchmarks/checks/many_runs.py                  # 1k, 3k, 10k files
    .venv/bin/python benchmarks/checks/many_runs.py --sizes 1000 --commands show --profile
    .venv/bin/python benchmarks/checks/many_runs.py --sizes 1000,10000 --served-share 0.1 \
        --source results/x86_64-2cpu-24gib/20261207T014410Z.json --model threads/connections

(The memory and the served runs of one model/variant give ``fit`` a model it can size:
a total per waiter and a measured rate; the default copies give it none, so it exits 2
after reading every file.)

``--repeat 3`` times each command three times over the same folder and prints the median,
each time, and the 1-minute load average before them (a shared machine is noisy).
``--profile`` runs each command under cProfile and prints its 15 most expensive
functions (cumulative time), to find the hot spots. ``--tree DIR`` times the package in
DIR instead (an older commit's, for a before-and-after).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "results" / "x86_64-2cpu-24gib" / "20261126T122209Z.json"
SERVED_SOURCE = ROOT / "results" / "x86_64-2cpu-24gib" / "20261207T000245Z.json"  # served and wakes
MACHINE = "many-runs"
COMMANDS = {
    "show": lambda folder: ["show", str(folder)],
    "fit": lambda folder: ["fit", "--waiters", "100k", "--rate", "10k", "--results", str(folder)],
    "compare": lambda folder: ["compare", str(folder / MACHINE), str(folder / MACHINE)],
}


def small_run(source: Path, kind: str = "memory", model: str | None = None) -> dict:
    """One model/variant of ``source`` (``model`` "threads/connections"; default: its
    first of ``kind``): its memory points and figures, and its model's hand-off figures
    (or with ``kind`` "served", its served records: the knee search's steps; "wakes", its
    wake-rate searches); no switch or tail records (they name pyperf files)."""
    document = json.loads(source.read_text())
    first = next(r for r in document["measurements"] if r["kind"] == kind
                 and (model is None or f"{r['model']}/{r['variant']}" == model))
    model, variant = first["model"], first["variant"]
    document["measurements"] = [r for r in document["measurements"] if r["kind"] == kind
                                and (r["model"], r["variant"]) == (model, variant)]
    document["figures"] = [f for f in document["figures"] if f["model"] == model
                           and (f["variant"] == variant or f["metric"].startswith("switch_latency"))]
    document.update(machine=MACHINE, failures=[], skipped=[], complete=True)
    document.pop("calibration", None)
    return document


def served_run(source: Path, model: str | None = None) -> dict:
    """A served run like ``parkbench run --served`` writes: ``small_run``'s served records
    of ``source`` (of ``model``, default its first) and, beside them, one model/variant's
    wakes records (the wake rate's search) where ``source`` has any."""
    document = small_run(source, "served", model)
    if any(r["kind"] == "wakes" for r in json.loads(source.read_text())["measurements"]):
        document["measurements"] += small_run(source, "wakes")["measurements"]
    return document


def is_served(index: int, share: float) -> bool:
    """Whether file ``index`` of a mix is a served one: ``share`` of the files, spread
    evenly (the count of served files among the first k rises by one each 1/share)."""
    return int((index + 1) * share) > int(index * share)


def write_runs(folder: Path, document: dict, count: int, served: dict | None = None,
               share: float = 0.0) -> int:
    """``count`` copies of ``document`` under ``folder/MACHINE/``, one run id a second;
    with ``served``, ``share`` of them (``is_served``) are copies of ``served`` instead.
    Returns how many served files it wrote."""
    machine = folder / MACHINE
    machine.mkdir(parents=True)
    start = datetime(2027, 1, 1, tzinfo=UTC)
    written = 0
    for index in range(count):
        run_id = (start + timedelta(seconds=index)).strftime("%Y%m%dT%H%M%SZ")
        one = document
        if served is not None and is_served(index, share):
            one, written = served, written + 1
        (machine / f"{run_id}.json").write_text(json.dumps({**one, "run_id": run_id}))
    return written


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
    parser.add_argument("--model", help="the model/variant copied, e.g. threads/connections "
                                             "(default: the source's first of --kind)")
    parser.add_argument("--served-share", type=float, default=0.0,
                        help="the share of the files that are served runs (issue 37: 0.1), "
                             "made from --served-source; the rest are --kind runs")
    parser.add_argument("--served-source", type=Path, default=SERVED_SOURCE,
                        help="the served run file the served runs are made from")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time each command this many times over one folder and print the "
                             "median (each time and the 1-minute load average beside it)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's hot spots")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="a folder holding the parkbench package to time, e.g. an older "
                             "commit's (git archive COMMIT parkbench | tar -x -C DIR); "
                             "default: this checkout")
    args = parser.parse_args(argv)
    if not 0 <= args.served_share <= 1:
        parser.error(f"--served-share must be between 0 and 1, not {args.served_share:g}")
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {args.repeat}")
    document = small_run(args.source, args.kind, args.model)
    served = served_run(args.served_source, args.model) if args.served_share else None
    commands = args.commands.split(",")
    first = document["measurements"][0]
    print(f"copies of {args.source.name}'s {first['model']}/{first['variant']} "
          f"({len(document['measurements'])} points, {len(document['figures'])} figures) per run file")
    if served is not None:
        print(f"{args.served_share:g} of them copies of {args.served_source.name}'s served run "
              f"({len(served['measurements'])} records: served and wakes) instead")
    print(f"{'files':>7} {'served':>7} {'command':<8} {'seconds':>9} {'ms/file':>8} {'peak MiB':>9} "
          f"{'exit':>4} {'load':>5}  {'each (s)' if args.repeat > 1 else ''}")
    for size in (int(text) for text in args.sizes.split(",")):
        folder = Path(tempfile.mkdtemp(prefix="parkbench-many-runs-"))
        try:
            count = write_runs(folder, document, size, served, args.served_share)
            machine = json.loads((args.source.parent / "machine.json").read_text())
            (folder / MACHINE / "machine.json").write_text(json.dumps({**machine, "name": MACHINE}))
            for command in commands:
                load = os.getloadavg()[0]  # the machine is shared: say how busy it was
                each = [timed(command, folder, args.profile, args.tree) for _ in range(args.repeat)]
                seconds = statistics.median(t for t, _, _ in each)
                status = max((s for _, s, _ in each), key=abs)
                peak = max(p for _, _, p in each)
                times = " ".join(f"{t:.2f}" for t, _, _ in each) if args.repeat > 1 else ""
                print(f"{size:>7,} {count:>7,} {command:<8} {seconds:>9.2f} {1000 * seconds / size:>8.2f} "
                      f"{peak:>9.0f} {status:>4} {load:>5.2f}  {times}", flush=True)
        finally:
            shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
