"""How far one run's memory fit of a model and variant can be trusted (``current.py``'s
memory rule: the newest complete run whose fit is sound speaks): N spans at least
``MIN_SPAN``, R² of RSS at least ``MIN_R2``, no point disturbed by the rest of the
machine and a kernel cost not below zero beyond its noise. Returns data; nothing prints.
"""

from dataclasses import dataclass, field

from parkbench.core.stats import slope_noise

MIN_SPAN = 10.0  # a fit over less than a decade of N extrapolates more than it measures
# Memory grows linearly in N: every committed fit has R² >= 0.9999. Below 0.99, a point
# is off the line by more than the noise of a fresh interpreter: something went wrong.
MIN_R2 = 0.99


def _span_text(low, high) -> str:
    if low != low or high != high:
        return "no raw points"
    return f"N {int(low):,}-{int(high):,}"


@dataclass(frozen=True)
class FitQuality:
    """How far one run's memory fit of a model and variant can be trusted."""

    span: float          # largest N over smallest
    r2: float            # R² of RSS against N
    low: float           # smallest and largest N measured
    high: float
    wrong: str           # what is wrong ('' when sound)

    @property
    def sound(self) -> bool:
        return not self.wrong

    @property
    def points(self) -> str:
        return _span_text(self.low, self.high)


@dataclass
class _RunRows:
    """The rows of one run that judge its memory fit, as plain values (first of each
    figure in table order): RSS's N, the figures R² of RSS, disturbed points (value,
    limit) and kernel per waiter, and the kernel's raw points (N, value)."""

    rss_ns: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    kernel_points: list = field(default_factory=list)


QUALITY_FIGURES = ("rss_fit_r2", "disturbed_points", "kernel_per_waiter")


def _run_quality(rows: _RunRows) -> FitQuality:
    """The quality of one run's fit. Sound: N spans ``MIN_SPAN`` with R² of RSS at least
    ``MIN_R2``, and the system-wide views are sound too: no measurement disturbed by the
    rest of the machine (``interference.py``) and a kernel cost not below zero beyond
    its noise."""
    ns = [float(n) for n in rows.rss_ns]
    low, high = (min(ns), max(ns)) if ns else (float("nan"), float("nan"))
    span = high / low if ns and low > 0 else 0.0
    r2 = float(rows.figures["rss_fit_r2"][0]) if "rss_fit_r2" in rows.figures else float("nan")
    wrong = []
    if not (span >= MIN_SPAN and r2 >= MIN_R2):
        wrong.append(f"{span:.1f}x span, R² {r2:.4f}: short of the {MIN_SPAN:g}x span and "
                     f"R² {MIN_R2} a figure needs")
    disturbed = rows.figures.get("disturbed_points")
    if disturbed is not None and disturbed[0] > 0:
        wrong.append(f"{int(disturbed[0])} point(s) disturbed by the rest of the "
                     f"machine ({disturbed[1]})")
    kernel = rows.figures.get("kernel_per_waiter", (None,))[0]
    if kernel is not None and kernel < 0:
        points = rows.kernel_points
        noise = slope_noise([n for n, _ in points], [v for _, v in points]) if points else float("nan")
        if not -kernel < noise:
            wrong.append(f"kernel {kernel:,.0f} B per waiter, below zero beyond its noise")
    return FitQuality(span, r2, low, high, "; ".join(wrong))


def memory_quality(mine) -> dict:
    """run id -> ``_run_quality`` of each run's fit in ``mine`` (the rows of one machine,
    interpreter, model and variant): one filter of ``mine`` for the rows that judge a fit,
    then one pass over those in plain Python. Filtering the rows once per run made a
    folder of k runs cost k²; pandas work per run (a groupby's group, its masks) cost
    9 ms a run: 10,000 run files took show 54 s, most of it here."""
    raw = mine.n.notna()
    wanted = mine[(raw & mine.metric.isin(("rss", "kernel"))) | (~raw & mine.metric.isin(QUALITY_FIGURES))]
    found = {run_id: _RunRows() for run_id in mine.run_id.unique()}
    for run_id, metric, has_n, n, value, limit in zip(
            wanted.run_id.tolist(), wanted.metric.tolist(), wanted.n.notna().tolist(),
            wanted.n.tolist(), wanted.value.tolist(), wanted["limit"].tolist()):
        rows = found[run_id]
        if not has_n:
            rows.figures.setdefault(metric, (value, limit))
        elif metric == "rss":
            rows.rss_ns.append(n)
        else:
            rows.kernel_points.append((n, value))
    return {run_id: _run_quality(rows) for run_id, rows in found.items()}
