"""Benchmark of the suite itself (not a test): how long the quick sweep takes, phase by
phase, and how well its headline figures repeat.

    .venv/bin/python scripts/bench_suite.py [--runs 3] [--keep DIR]

Runs the default quick sweep ``--runs`` times in a row, each into a fresh temporary
results folder, and prints the wall time per phase (memory children, pyperf switch
benchmarks, tail children) and the spread between the runs of every headline figure:
the coefficient of variation (stdev / mean) of ``rss_per_waiter`` per model and variant,
and of each ``switch_latency`` median, also divided by its run's calibration pipe
hand-off (``vs pipe``). The targets it reports against (issue 18: the quick sweep in at
most 90 s with every default workload, 1% for bytes per waiter, 10% for latency medians)
are goals printed beside the numbers, never asserted.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"rss_per_waiter": 0.01, "switch_latency": 0.10}
WALL_TARGET_SECONDS = 90.0


def run_once(output: Path) -> tuple[dict, float]:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "parkbench", "run", "--output", str(output),
                    "--machine", "suite-bench"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    (path,) = (output / "suite-bench").glob("2*.json")
    return json.loads(path.read_text()), wall


def phases(document: dict) -> dict:
    totals = {"memory": 0.0, "switch": 0.0, "tail": 0.0}
    for record in document["measurements"]:
        totals[record.get("kind", "memory")] += record["wall_seconds"]
    return totals


def pipe(document: dict) -> float | None:
    from parkbench.analysis import calibration

    return calibration.pipe_seconds(document.get("calibration"))


def headline(document: dict) -> dict:
    figures = {}
    for figure in document["figures"]:
        if figure["metric"] == "rss_per_waiter":
            figures[("rss_per_waiter", figure["model"], figure["variant"], "")] = figure["value"]
        elif figure["metric"] == "switch_latency":
            figures[("switch_latency", figure["model"], figure["variant"], figure["placement"])] = figure["value"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="keep the runs' results in this folder")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="parkbench-suite-"))
    documents, walls = [], []
    for index in range(args.runs):
        document, wall = run_once(base / f"run{index + 1}")
        documents.append(document)
        walls.append(wall)
        print(f"run {index + 1}: {wall:.1f} s wall; phases (sum of child wall times): "
              + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases(document).items()),
              flush=True)
    median_wall = statistics.median(walls)
    print(f"\nquick sweep wall time: median {median_wall:.1f} s over {args.runs} runs "
          f"(min {min(walls):.1f}, max {max(walls):.1f}); target {WALL_TARGET_SECONDS:.0f} s "
          f"{'met' if median_wall <= WALL_TARGET_SECONDS else 'missed'}\n")
    series: dict = {}
    relative: dict = {}
    for document in documents:
        for key, value in headline(document).items():
            series.setdefault(key, []).append(value)
            if key[0] == "switch_latency" and pipe(document):
                relative.setdefault(key, []).append(value / pipe(document))
    print(f"{'figure':<16} {'model/variant':<22} {'placement':<11} {'median':>12} {'CV':>7}  "
          f"{'target':<11} {'CV vs pipe':>10}")
    for key in sorted(series):
        values = series[key]
        metric, model, variant, placement = key
        cv = _cv(values)
        unit = f"{statistics.median(values):,.0f} B" if metric == "rss_per_waiter" else \
            f"{statistics.median(values) * 1e6:.2f} µs"
        verdict = "met" if cv <= TARGETS[metric] else "missed"
        ratio_cv = f"{_cv(relative[key]) * 100:9.2f}%" if len(relative.get(key, ())) > 1 else ""
        print(f"{metric:<16} {model + '/' + variant:<22} {placement or '-':<11} {unit:>12} "
              f"{cv * 100:6.2f}%  {TARGETS[metric] * 100:.0f}% {verdict:<7} {ratio_cv:>10}")
    return 0


def _cv(values) -> float:
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else float("nan")


if __name__ == "__main__":
    raise SystemExit(main())
