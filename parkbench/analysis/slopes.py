"""Fitting memory and time against N: the per-waiter figures are slopes.

A single total divided by N mixes the interpreter's fixed cost into the per-waiter
figure; the slope of a straight line through several N, each measured in a fresh
process, is the marginal cost of one more waiter, and the intercept is the fixed cost.
R² says how well a straight line explains the points.

Everything here returns data; nothing prints.
"""

import math
import statistics
from dataclasses import dataclass

from parkbench.core.stats import MIN_DISTINCT_N, LineFit, fit_line, t975
from parkbench.measurement.interference import brief

# (raw measurement key, figure stem, unit) for every view that is fitted against N.
FITTED = (
    ("rss", "rss", "bytes"),
    ("uss", "uss", "bytes"),
    ("pss", "pss", "bytes"),
    ("vms", "vms", "bytes"),
    ("kernel", "kernel", "bytes"),
    ("kernel_client", "kernel_client", "bytes"),   # connections: the clients' share
    ("total", "total", "bytes"),
    ("maps", "maps", "mappings"),
    ("spawn_seconds", "spawn", "seconds"),
    ("wake_seconds", "wake", "seconds"),
)


# --- curves: where cost does not grow linearly -------------------------------------------

# A per-waiter slope is shown only while it does not mislead: the figure is a curve when,
# even at the favourable end of the 95% interval of its scaling exponent b, the cost per
# waiter changes by more than CURVE_CHANGE across the N measured (span^|b - 1|), or when
# a straight line explains too little of it (R² below CURVE_MIN_R2). A 10% change is
# within what a reader can plan with; memory, whose exponent is 1.00 within a few
# hundredths on every committed run, stays a slope.
CURVE_CHANGE = 1.10
CURVE_MIN_R2 = 0.9
@dataclass(frozen=True)
class Curve:
    exponent: float      # b in cost ~ N^b (1: linear)
    low: float           # its 95% interval
    high: float
    nonlinear: bool
    reason: str


def scaling(ns, costs, r2_linear: float) -> Curve | None:
    """The scaling exponent of ``costs`` against ``ns`` (slope of log cost against log N,
    with its 95% interval), and whether the figure is a curve rather than a slope.
    ``None`` where a cost is not positive (noise around a fixed cost): no exponent."""
    ns, costs = [float(n) for n in ns], [float(c) for c in costs]
    if len(set(ns)) < MIN_DISTINCT_N or min(costs) <= 0:
        return None
    xs, ys = [math.log(n) for n in ns], [math.log(c) for c in costs]
    exponent, intercept = statistics.linear_regression(xs, ys)
    mean_x = sum(xs) / len(xs)
    spread = sum((x - mean_x) ** 2 for x in xs)
    residual = sum((y - intercept - exponent * x) ** 2 for x, y in zip(xs, ys))
    half = t975(len(xs) - 2) * math.sqrt(residual / (len(xs) - 2) / spread)
    low, high = exponent - half, exponent + half
    span = max(ns) / min(ns)
    change = max(span ** (low - 1), span ** (1 - high))
    if change > CURVE_CHANGE:
        return Curve(exponent, low, high, True,
                     f"per-waiter cost changes {change:.2f}x across N {min(ns):,.0f}-{max(ns):,.0f} "
                     f"even at the edge of the exponent's 95% interval")
    if r2_linear == r2_linear and r2_linear < CURVE_MIN_R2:
        return Curve(exponent, low, high, True, f"a straight line explains too little (R² {r2_linear:.2f})")
    return Curve(exponent, low, high, False, "")


def measurement_value(record: dict, key: str) -> float | None:
    """One raw value of a measurement record, memory views included (``None`` where it
    was not measured: mappings before they were counted, wake where it was not timed).

    ``total`` is PSS plus kernel growth: the memory the machine gave up.
    """
    memory = record.get("memory", {})
    if key == "total":
        return memory["pss"] + memory["kernel"]
    if key in memory:
        return memory[key]
    return record.get(key)


SWITCH_STATS = (
    ("median", "switch_latency", "seconds"),
    ("mean", "switch_latency_mean", "seconds"),
    ("stdev", "switch_latency_stdev", "seconds"),
    ("values", "switch_latency_values", "values"),
)


def kind(record: dict) -> str:
    """The kind of a stored record (records of schema 1 before latency were memory)."""
    return record.get("kind", "memory")


def derive(measurements: list[dict]) -> list[dict]:
    """The figures of a run's records, derived whenever the run is read: memory fits
    (``derive_memory``) and switch latency (``derive_switch``). The figures that depend
    on the machine's limits when the run ended are stored with it (``capacity.at_finish``)."""
    memory = derive_memory([r for r in measurements if kind(r) == "memory"])
    return memory + derive_switch([r for r in measurements if kind(r) == "switch"])


def derive_switch(records: list[dict]) -> list[dict]:
    """Per (model, primitive, placement): ``switch_latency`` (the median of the one-way
    hand-off's pyperf values, pooled over the benchmark's interleaved rounds), its mean,
    standard deviation and number of values; ``switch_disturbed``, how many rounds the
    rest of the machine disturbed (where rounds recorded it); with two rounds or more,
    ``switch_latency_round_cv``, how much the rounds' medians differ (standard deviation
    over mean): the run-to-run stability a single pyperf spread cannot show."""
    groups: dict = {}
    for record in records:
        groups.setdefault((record["model"], record["primitive"], record["placement"]), []).append(record)
    figures = []
    for (model, primitive, where), rounds in groups.items():
        stats = _pooled(rounds)
        figures += [{"model": model, "variant": None, "primitive": primitive, "placement": where,
                     "metric": metric, "value": stats[stat], "unit": unit}
                    for stat, metric, unit in SWITCH_STATS]
        timed = [r["interference"] for r in rounds if r.get("interference") is not None]
        if timed:  # rounds the rest of the machine disturbed (runs before 2026-12-07: none)
            figures.append({"model": model, "variant": None, "primitive": primitive, "placement": where,
                            "metric": "switch_disturbed", "unit": "rounds",
                            "value": float(sum(bool(activity.get("disturbed")) for activity in timed)),
                            "limit": next((brief(a.get("why", "")) for a in timed if a.get("disturbed")), None)})
        medians = [r["median"] for r in rounds]
        if len(medians) >= 2:
            figures.append({"model": model, "variant": None, "primitive": primitive, "placement": where,
                            "metric": "switch_latency_round_cv", "unit": "ratio",
                            "value": statistics.pstdev(medians) / statistics.mean(medians)})
    return figures


def _pooled(rounds: list[dict]) -> dict:
    """Median, mean, stdev and count of the values of every round (a record without its
    values, from before rounds, stands alone: the newest such record)."""
    if not all(r.get("value_list") for r in rounds):
        return rounds[-1]
    values = [value for r in rounds for value in r["value_list"]]
    return {"median": statistics.median(values), "mean": statistics.mean(values),
            "stdev": statistics.stdev(values) if len(values) > 1 else 0.0, "values": len(values)}


def derive_memory(measurements: list[dict]) -> list[dict]:
    """Figures per (model, variant) from raw memory measurement records.

    For each fitted view: ``<stem>_per_waiter`` (slope), ``<stem>_fixed`` (intercept)
    and ``<stem>_fit_r2``; plus ``max_n``, the largest N measured, and
    ``disturbed_points``, how many of its measurements the rest of the machine disturbed
    (``interference.py``), where any did. A (model, variant) with fewer than
    ``MIN_DISTINCT_N`` distinct N gets only ``max_n`` (and ``disturbed_points``).
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in measurements:
        groups.setdefault((record["model"], record["variant"]), []).append(record)
    figures = []
    for (model, variant), records in groups.items():
        ns = [record["n"] for record in records]

        def figure(metric, value, unit, model=model, variant=variant, **detail):
            figures.append(
                {"model": model, "variant": variant, "metric": metric,
                 "value": value, "unit": unit, **detail}
            )

        figure("max_n", max(ns), "waiters")
        disturbed = [r["interference"] for r in records if (r.get("interference") or {}).get("disturbed")]
        if disturbed:  # the system-wide views (kernel, total) of this series are not sound
            figure("disturbed_points", len(disturbed), "points", limit=brief(str(disturbed[0].get("why", ""))))
        if len(set(ns)) < MIN_DISTINCT_N:
            continue
        figure("min_n", min(ns), "waiters")
        for key, stem, unit in FITTED:
            if key == "maps" and any(record["memory"].get("maps") is None for record in records):
                continue
            measured = [(record["n"], measurement_value(record, key)) for record in records]
            timed = [(n, value) for n, value in measured if value is not None]
            if len({n for n, _ in timed}) < MIN_DISTINCT_N:
                continue  # e.g. wake, not timed at the largest N
            view_ns, values = [n for n, _ in timed], [value for _, value in timed]
            fit = fit_line(view_ns, values)
            figure(f"{stem}_per_waiter", fit.slope, unit, r2=fit.r2, points=fit.points)
            figure(f"{stem}_fixed", fit.intercept, unit)
            figure(f"{stem}_fit_r2", fit.r2, "1")
            figures.extend(curve_figures(model, variant, stem, unit, view_ns, values, fit))
    return figures


def curve_figures(model, variant, stem, unit, ns, values, fit: LineFit) -> list[dict]:
    """``<stem>_exponent`` (with ``_exponent_low``/``_high``), ``<stem>_nonlinear`` (1 or
    0, with the reason) and the cost per waiter at the smallest and largest N. Memory's
    cost is what lies above the fitted fixed cost; a time is its own cost."""
    costs = list(values) if unit == "seconds" else [value - fit.intercept for value in values]
    curve = scaling(ns, costs, fit.r2)
    found = []

    def figure(metric, value, figure_unit, **detail):
        found.append({"model": model, "variant": variant, "metric": f"{stem}_{metric}",
                      "value": value, "unit": figure_unit, **detail})

    for where, n in (("min_n", min(ns)), ("max_n", max(ns))):
        at = [cost / n for n_i, cost in zip(ns, costs) if n_i == n]
        figure(f"at_{where}", statistics.fmean(at), unit)
    if curve is None:
        return found
    figure("exponent", curve.exponent, "1")
    figure("exponent_low", curve.low, "1")
    figure("exponent_high", curve.high, "1")
    figure("nonlinear", 1.0 if curve.nonlinear else 0.0, "1", reason=curve.reason)
    return found
