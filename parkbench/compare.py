"""Comparing two runs (or the newest runs of two machines), side by side.

``compare(a, b)`` returns a DataFrame, one row per (model, variant, placement, metric)
with both values, their ratio B/A and, for switch latency, whether the difference is
significant: a two-sided Mann-Whitney U test on the stored pyperf values (no
assumption of normality; latency distributions are skewed and often bimodal) together
with a ratio threshold. Rows present on one side only, or from files of different
schema versions, are flagged in ``status`` and never merged into one figure.
"""

import math
import statistics
from pathlib import Path

from parkbench import results
from parkbench.errors import UserError

COMPARED = ("rss_per_waiter", "uss_per_waiter", "pss_per_waiter", "vms_per_waiter",
            "kernel_per_waiter", "total_per_waiter", "spawn_per_waiter", "wake_per_waiter",
            "capacity", "switch_latency")
ALPHA = 0.05            # significance level of the Mann-Whitney U test
RATIO_THRESHOLD = 0.05  # and a difference below 5% is never called significant
KEY = ["model", "variant", "placement", "metric"]


def mann_whitney_p(x, y) -> float:
    """Two-sided p-value of the Mann-Whitney U test, normal approximation with tie
    correction (fine from about 8 values a side; pyperf files hold tens)."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return math.nan
    pooled = sorted([(value, 0) for value in x] + [(value, 1) for value in y])
    ranks, ties, i = [0.0] * len(pooled), 0.0, 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        size = j - i + 1
        ties += size**3 - size
        i = j + 1
    rank_sum = sum(rank for rank, (_, side) in zip(ranks, pooled) if side == 0)
    u = rank_sum - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2) - 0.5) / math.sqrt(variance)
    return min(1.0, 2 * (1 - statistics.NormalDist().cdf(max(z, 0.0))))


def resolve(target: str, results_folder: Path) -> Path:
    """A run file: ``target`` itself, the newest complete run in a machine folder, or
    the newest complete run of the machine named ``target`` under ``results_folder``."""
    path = Path(target)
    if not path.exists():
        path = Path(results_folder) / target
        if not path.is_dir():
            raise UserError(f"{target!r} is neither a run file nor a machine under "
                            f"{str(results_folder)!r}")
    if path.is_file():
        return path
    for run in reversed(results.find_run_files(path)):
        if results.read_run(run)["complete"]:
            return run
    raise UserError(f"no complete run under {str(path)!r}")


def _switch_values(document: dict, path: Path) -> dict:
    """(model, primitive, placement) -> the pyperf values of a run's switch benchmarks."""
    import pyperf

    values = {}
    for record in document["measurements"]:
        if record.get("kind") == "switch":
            pyperf_file = path.parent / record["file"]
            if pyperf_file.is_file():
                benchmark = pyperf.Benchmark.load(str(pyperf_file))
                values[(record["model"], record["primitive"], record["placement"])] = benchmark.get_values()
    return values


def compare(path_a: Path, path_b: Path):
    """The comparison table of two run files (see the module docstring)."""
    import pandas as pd

    doc_a, doc_b = results.read_run(path_a), results.read_run(path_b)
    side = {}
    for label, path, document in (("a", path_a, doc_a), ("b", path_b, doc_b)):
        frame = results.load(path)
        frame = frame[frame.metric.isin(COMPARED) & frame.n.isna()].copy()
        frame["placement"] = frame["placement"].fillna("")
        side[label] = frame.set_index(KEY)["value"]
    values_a, values_b = _switch_values(doc_a, Path(path_a)), _switch_values(doc_b, Path(path_b))
    schema_differs = doc_a["schema_version"] != doc_b["schema_version"]
    rows = []
    for key in sorted(set(side["a"].index) | set(side["b"].index)):
        a, b = side["a"].get(key), side["b"].get(key)
        row = dict(zip(KEY, key), a=a, b=b, ratio=math.nan, p_value=math.nan,
                   significant=None, status="compared")
        if schema_differs:
            row["status"] = f"schema {doc_a['schema_version']} vs {doc_b['schema_version']}: not compared"
        elif a is None or b is None:
            row["status"] = "only in A" if b is None else "only in B"
        else:
            row["ratio"] = b / a if a else math.nan
            if key[3] == "switch_latency":
                switch_key = (key[0], key[1], key[2])
                p = mann_whitney_p(values_a.get(switch_key, []), values_b.get(switch_key, []))
                row["p_value"] = p
                row["significant"] = bool(p < ALPHA and abs(row["ratio"] - 1) >= RATIO_THRESHOLD)
        rows.append(row)
    table = pd.DataFrame(rows, columns=KEY + ["a", "b", "ratio", "p_value", "significant", "status"])
    table.attrs.update(a=f"{doc_a['machine']} {doc_a['run_id']}", b=f"{doc_b['machine']} {doc_b['run_id']}")
    return table
