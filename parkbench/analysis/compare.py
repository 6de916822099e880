"""Comparing two sides: two machines (their current figures), two machine folders, or
two run files (two runs of one machine too), one interpreter a side.

``compare(a, b)`` returns a DataFrame, one row per (model, variant or hand-off
primitive, placement, metric)
with both values, their unit, their ratio B/A, the run each came from and, for switch
latency, whether the difference is significant: a two-sided Mann-Whitney U test on the
stored pyperf values (no assumption of normality; latency distributions are skewed and
often bimodal) together with a ratio threshold. Rows present on one side only, or whose
interpreters, grids, latency settings or capacity basis differ, are flagged in
``status`` ("only in A", "differ: grid, interpreter") and never compared silently.
"""

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parkbench.analysis import calibration, current, switch_figures
from parkbench.analysis.served_figures import basis_label
from parkbench.core.errors import UserError
from parkbench.store import checker, results

COMPARED = ("rss_per_waiter", "uss_per_waiter", "pss_per_waiter", "vms_per_waiter",
            "kernel_per_waiter", "total_per_waiter", "spawn_per_waiter", "wake_per_waiter",
            "capacity", "switch_latency")
ALPHA = 0.05            # significance level of the Mann-Whitney U test
RATIO_THRESHOLD = 0.05  # and a difference below 5% is never called significant


def verdict(p: float, ratio: float) -> tuple[bool, str]:
    """(significant, the words for it) of a difference with Mann-Whitney ``p`` and B/A
    ``ratio``: 'significant (p=0.003)', 'not significant (p=0.29)', or, for a difference
    the test sees but smaller than ``RATIO_THRESHOLD``, 'under 5% apart (p<1e-6)'. The
    one wording of compare and the report."""
    shown = f"p={p:.2g}" if p >= 1e-6 else "p<1e-6"
    if p >= ALPHA:
        return False, f"not significant ({shown})"
    if abs(ratio - 1) < RATIO_THRESHOLD:
        return False, f"under {RATIO_THRESHOLD:.0%} apart ({shown})"
    return True, f"significant ({shown})"
KEY = ["model", "variant", "primitive", "placement", "metric"]


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


@dataclass
class Side:
    """One side of a comparison: its label and current figures."""

    label: str
    current: Any


def matching(labels, wanted: str) -> set:
    """The interpreter labels ``wanted`` names: the one it names exactly (a whole label,
    or its version), else every label that contains it."""
    exact = {label for label in labels if wanted in (label, label.rsplit(" ", 1)[-1])}
    return exact or {label for label in labels if wanted in label}


def resolve(target: str, results_folder: Path, interpreter: str | None = None) -> Side:
    """One side: ``target`` a run file (that run alone), a machine folder, or the name of
    a machine under ``results_folder`` (its current figures). ``interpreter`` keeps only
    figures of the interpreter it names exactly (``3.13.1`` or ``CPython 3.13.1``, never
    the free-threaded ``3.13.1t``), else of those whose label contains it (``3.12``)."""
    path = Path(target)
    if not path.exists():
        if not checker.is_plain_name(target):
            raise UserError(f"{target!r} is neither a run file nor a machine name")
        path = Path(results_folder) / target
        if not path.is_dir():
            raise UserError(f"{target!r} is neither a run file nor a machine under "
                            f"{str(results_folder)!r}")
    elif path.is_dir() and not ((path / "machine.json").is_file() or results.has_runs(path)):
        raise UserError(f"{str(path)!r} is not a machine folder (no machine.json, no run files)")
    figures = current.load([path])
    label = str(path) if path.is_file() else path.name
    if interpreter is not None:
        frame = figures.frame
        figures.frame = frame[frame.interpreter.isin(matching(set(frame.interpreter), interpreter))]
        label += f", interpreter {interpreter}"
    interpreters = sorted(set(figures.frame.interpreter))
    if not interpreters:
        raise UserError(f"{label}: no figures" + (f" of an interpreter matching {interpreter!r}"
                                                  if interpreter else ""))
    if len(interpreters) > 1:
        raise UserError(f"{label} holds figures of several interpreters ({', '.join(interpreters)}); "
                        f"choose one with --interpreter-a/--interpreter-b")
    return Side(f"{label} ({interpreters[0]})", figures)


def _switch_values(side: Side) -> dict:
    """(model, primitive, placement) -> the pyperf values behind a side's switch medians."""
    return {key[2:]: values for key, values in switch_figures.switch_values(side.current).items()}


def _context(side: Side, row) -> dict:
    """What makes a figure comparable: its interpreter, grid and latency settings."""
    run = side.current.runs.get((row.machine, row.run_id))
    parameters = run.parameters if run else {}
    if row.metric == "switch_latency":
        return {"interpreter": row.interpreter, "latency mode": parameters.get("latency_mode"),
                "pyperf options": tuple(parameters.get("pyperf_options") or ())}
    grid = (parameters.get("grids") or {}).get(f"{row.model}:{row.variant}")
    if row.metric == "capacity":
        return {"interpreter": row.interpreter, "basis": row.basis}
    if row.metric in PER_W:  # a rate's basis (SLO, saturation, floor-bound...) says what it is
        return {"interpreter": row.interpreter, "basis": basis_label(str(row.basis))}
    return {"interpreter": row.interpreter, "grid": tuple(grid) if grid else None}


def _shapes(side: Side) -> dict:
    """(model, variant, stem) -> "N^1.75" for each per-waiter figure that is a curve."""
    frame = side.current.frame
    curves = frame[frame.metric.str.endswith("_nonlinear") & (frame.value == 1)]
    shapes = {}
    for row in curves.itertuples():
        stem = row.metric[: -len("_nonlinear")]
        exponent = frame[(frame.model == row.model) & (frame.variant == row.variant)
                         & (frame.metric == f"{stem}_exponent")].value
        shapes[(row.model, row.variant, stem)] = f"N^{exponent.iloc[0]:.2f}" if len(exponent) else "curve"
    return shapes


def _noises(side: Side) -> dict:
    """(model, variant, stem) -> half the 95% interval of that per-waiter slope
    (``current``'s ``<stem>_noise``)."""
    frame = side.current.frame
    rows = frame[frame.metric.str.endswith("_noise")]
    return {(row.model, row.variant, row.metric[: -len("_noise")]): float(row.value)
            for row in rows.itertuples()}


def _spreads(side: Side) -> dict:
    """(model, primitive, placement) -> standard deviation / mean of the pyperf values
    (one interpreter a side: ``resolve`` sees to it)."""
    return {key[2:]: cv for key, cv in switch_figures.spreads(side.current.frame).items()}


def _disturbed(side: Side) -> set:
    """(model, primitive, placement) of the side's hand-offs the rest of the machine
    disturbed while they were timed (``current``: kept only for want of a quiet one)."""
    frame = side.current.frame
    rows = frame[(frame.metric == "switch_latency") & (frame.basis == "disturbed")]
    return {(row.model, row.primitive, row.placement) for row in rows.itertuples()}


# a rate per W (served: requests per core while W sit idle; wakes: per loop beside W
# parked), compared W by W: the W takes the placement column ("W=10,000")
PER_W = ("served_rate_per_core", "wake_rate_per_core")
RATE_FLAGS = {"served_rate_per_core": "served_disturbed", "wake_rate_per_core": "wake_disturbed"}


def _disturbed_rates(side: Side) -> set:
    """(model, variant, "W=...", metric) of the side's rates per W that the rest of the
    machine disturbed while they were measured (kept only for want of a quiet run)."""
    frame = side.current.frame
    flags = frame[frame.metric.isin(list(RATE_FLAGS.values())) & frame.n.notna() & (frame.value > 0)]
    metric_of = {flag: metric for metric, flag in RATE_FLAGS.items()}
    return {(row.model, row.variant, f"W={int(row.n):,}", metric_of[row.metric]) for row in flags.itertuples()}


def _side_table(side: Side) -> dict:
    frame = side.current.frame
    frame = frame[(frame.metric.isin(COMPARED) & frame.n.isna()) | (frame.metric.isin(PER_W) & frame.n.notna())]
    table = {}
    for row in frame.itertuples():
        placement = row.placement if isinstance(row.placement, str) else ""
        if row.metric in PER_W:
            placement = f"W={int(row.n):,}"
        name = row.primitive if row.metric.startswith("switch") else row.variant  # a hand-off's primitive
        table[(row.model, name, placement, row.metric)] = (
            float(row.value), row.unit, row.run_id, _context(side, row))
    return table


def _order(key: tuple):
    """Rows by model, variant, then placement, a W by its number (W=100 before W=1,000)."""
    placement = key[2]
    w = int(placement[2:].replace(",", "")) if placement.startswith("W=") else -1
    return key[0], key[1], w, placement, key[3]


def _not_judged(row: dict, busy: list, how: str) -> dict:
    """``row`` marked as taken on a busy machine by the sides ``busy``: no verdict, no B/A."""
    row["status"] = (f"disturbed: {' and '.join(busy)}" if row["status"] == "compared"
                     else row["status"] + f"; disturbed: {' and '.join(busy)}")
    row["verdict"] = f"not judged: {' and '.join(busy)} {how} on a busy machine"
    row["ratio"] = math.nan if how == "measured" else row["ratio"]
    return row


def compare(side_a: Side, side_b: Side):
    """The comparison table of two sides (see the module docstring)."""
    import pandas as pd

    table_a, table_b = _side_table(side_a), _side_table(side_b)
    shapes_a, shapes_b = _shapes(side_a), _shapes(side_b)
    spreads_a, spreads_b = _spreads(side_a), _spreads(side_b)
    noises_a, noises_b = _noises(side_a), _noises(side_b)
    values_a, values_b = _switch_values(side_a), _switch_values(side_b)
    busy_a, busy_b = _disturbed(side_a), _disturbed(side_b)
    rates_a, rates_b = _disturbed_rates(side_a), _disturbed_rates(side_b)
    rows = []
    for key in sorted(set(table_a) | set(table_b), key=_order):
        a, b = table_a.get(key), table_b.get(key)
        either = a if a is not None else b
        assert either is not None
        stem = key[3][: -len("_per_waiter")] if key[3].endswith("_per_waiter") else None
        hand_off = key[3].startswith("switch")
        row = dict(model=key[0], variant=None if hand_off else key[1], primitive=key[1] if hand_off else None,
                   placement=key[2], metric=key[3], unit=either[1], a=a[0] if a else math.nan,
                   b=b[0] if b else math.nan, ratio=math.nan, p_value=math.nan,
                   significant=None, verdict=None, status="compared",
                   run_a=a[2] if a else None, run_b=b[2] if b else None,
                   noise_a=noises_a.get(key[:2] + (stem,), math.nan) if stem else math.nan,
                   noise_b=noises_b.get(key[:2] + (stem,), math.nan) if stem else math.nan)
        if a is None or b is None:
            row["status"] = "only in A" if b is None else "only in B"
            rows.append(row)
            continue
        curve_a, curve_b = shapes_a.get((key[0], key[1], stem)), shapes_b.get((key[0], key[1], stem))
        if curve_a or curve_b:
            row["status"] = (f"curve (A {curve_a or 'linear'}, B {curve_b or 'linear'}): "
                             f"per-waiter slopes not compared")
            rows.append(row)
            continue
        noisy = [side for side, value, noise in (("A", a[0], row["noise_a"]), ("B", b[0], row["noise_b"]))
                 if value < 0 or abs(value) < noise]
        if noisy:
            row["status"] = f"noise in {' and '.join(noisy)}: not compared"
            rows.append(row)
            continue
        differs = [name for name in a[3] if a[3][name] != b[3].get(name)]
        if differs:
            row["status"] = "differ: " + ", ".join(differs)
        busy_rate = [side for side, found in (("A", rates_a), ("B", rates_b)) if key in found]
        if busy_rate:  # a busy machine's rate would pass for a slower server or loop
            rows.append(_not_judged(row, busy_rate, "measured"))
            continue
        row["ratio"] = b[0] / a[0] if a[0] else math.nan
        if key[3] == "switch_latency":
            unstable = [f"{side} ±{cv * 100:.0f}%" for side, cv in
                        (("A", spreads_a.get(key[:3])), ("B", spreads_b.get(key[:3])))
                        if cv is not None and cv > switch_figures.UNSTABLE_CV]
            if unstable:
                row["status"] = ("unstable: " + ", ".join(unstable) if row["status"] == "compared"
                                 else row["status"] + "; unstable: " + ", ".join(unstable))
            switch_key = (key[0], key[1], key[2])
            busy = [side for side, found in (("A", busy_a), ("B", busy_b)) if switch_key in found]
            if busy:  # the machine's load would pass for the model's, or the interpreter's
                rows.append(_not_judged(row, busy, "timed"))
                continue
            p = mann_whitney_p(values_a.get(switch_key, []), values_b.get(switch_key, []))
            row["p_value"] = p
            if not math.isnan(p):
                row["significant"], row["verdict"] = verdict(p, row["ratio"])
        rows.append(row)
    columns = KEY + ["unit", "a", "b", "ratio", "p_value", "significant", "verdict", "status", "run_a",
                     "run_b", "noise_a", "noise_b"]
    table = pd.DataFrame(rows, columns=columns)
    for name, side in (("a", side_a), ("b", side_b)):  # a quiet calibration, else a disturbed one, marked
        quiet = calibration_pipe(side)
        table.attrs[f"calibration_{name}"] = quiet if quiet is not None else calibration_pipe(side, disturbed=True)
        table.attrs[f"calibration_{name}_disturbed"] = quiet is None and table.attrs[f"calibration_{name}"] is not None
    table.attrs.update(a=side_a.label, b=side_b.label)
    return table


def calibration_pipe(side: Side, disturbed: bool = False) -> float | None:
    """The side's calibration pipe hand-off (seconds): the median over the runs its
    switch figures came from (``calibration.py``) of their quiet calibrations (with
    ``disturbed``, of those the rest of the machine disturbed), or ``None`` if none has one."""
    import statistics

    frame = side.current.frame
    used = set(zip(frame.machine[frame.metric == "switch_latency"],
                   frame.run_id[frame.metric == "switch_latency"]))
    values = [seconds for key, seconds in calibration.pipes(side.current, disturbed).items() if key in used]
    return statistics.median(values) if values else None
