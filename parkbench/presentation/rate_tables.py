"""The report's tables of measured rates, formatted for a reader: the served rate per
server and W (``served``), the wake rate per loop and W (``wakes``), and the fit map's
checked points (``checks_table``, and ``checks`` formatted). Every number with its unit
and thousands separators, every yes/no said in words, never a raw ``True``/``False``.
"""

from parkbench.analysis import served_figures
from parkbench.presentation.headline import run_key


def _rate(value) -> str:
    return f"{value:,.0f}/s" if value == value else "-"


def _share(value) -> str:
    return f"{value:.0%}" if value == value else "-"


def _micro(digits: int):
    return lambda value: f"{value * 1e6:.{digits}f} µs" if value == value else "-"


def _quiet(busy) -> str:
    return "busy" if busy else "quiet"


def served(rows):
    """A machine's rows of ``served_figures.table`` as the page shows them, and the run
    key (``headline.run_key``): W with separators, rates per second, the SLO rate or
    "floor missed it" where the floor missed the SLO, "generator-bound" said in the
    basis, CPU per request in µs, the rest of the machine busy or quiet."""
    shown = rows.drop(columns=["machine", "slo_judged", "generator_bound", "peak_spread"]).assign(
        n=rows.n.map(lambda v: f"{int(v):,}"), rounds=rows["rounds"].map(lambda v: f"{int(v):,}"),
        peak=rows.peak.map(_rate), saturation=rows.saturation.map(_rate),
        slo=[_rate(v) if judged else "floor missed it" for v, judged in zip(rows.slo, rows.slo_judged)],
        knee_spread=rows.knee_spread.map(_share), sustainable=rows.sustainable.map(_rate),
        cpu_per_request=rows.cpu_per_request.map(_micro(1)),
        cpu_per_request_closed=rows.cpu_per_request_closed.map(_micro(1)),
        rate_per_core=rows.rate_per_core.map(_rate), disturbed=rows.disturbed.map(_quiet),
        basis=rows.basis.map(served_figures.basis_label))
    shown = shown.rename(columns={"n": "W idle", "peak": "closed-loop peak", "slo": "SLO rate",
                                  "knee_spread": "knee spread", "sustainable": "sized by",
                                  "cpu_per_request": "CPU/request at the rate",
                                  "cpu_per_request_closed": "CPU/request closed loop",
                                  "rate_per_core": "per core (sizing)", "disturbed": "rest of the machine"})
    return run_key(shown, "run")


def wakes(rows):
    """A machine's rows of ``wake_figures.table`` as the page shows them, and the run key."""
    shown = rows.drop(columns=["machine"]).assign(
        n=rows.n.map(lambda v: f"{int(v):,}"),
        saturation=rows.saturation.map(_rate), slo=rows.slo.map(_rate),
        knee_spread=rows.knee_spread.map(_share), cpu_per_wake=rows.cpu_per_wake.map(_micro(2)),
        rate_per_core=rows.rate_per_core.map(_rate), disturbed=rows.disturbed.map(_quiet),
        basis=rows.basis.map(served_figures.basis_label))
    shown = shown.rename(columns={"n": "W parked", "slo": "SLO rate", "knee_spread": "knee spread",
                                  "cpu_per_wake": "CPU per wake", "rate_per_core": "per loop (sizing)",
                                  "disturbed": "rest of the machine"})
    return run_key(shown, "run")


def checks(rows):
    """The checked points (``map_checks.verdicts`` rows) as the page shows them."""
    shown = checks_table(rows)
    return shown.assign(**{
        "W idle": shown["W idle"].map(lambda v: f"{v:,}"),
        "offered/s": shown["offered/s"].map(lambda v: f"{v:,.0f}"),
        "x predicted rate": shown["x predicted rate"].map(lambda v: f"{v:.2f}x"),
        "achieved/s": shown["achieved/s"].map(lambda v: f"{v:,.0f}"),
        "p99 (s)": shown["p99 (s)"].map(lambda v: f"{v * 1e3:.2f} ms")}).rename(
        columns={"p99 (s)": "p99 (median round)"})


def checks_table(rows):
    """The fit map's checked points (``map_checks.verdicts``) as the report shows them (a
    DataFrame, numbers left as numbers): W, offered rate and its share of the edge there,
    achieved and p99 (the median round), the criterion it was judged by and its rounds,
    held, what the map says, the verdict (agrees or disagrees), whether the rest of the
    machine was quiet, run."""
    import pandas as pd

    return pd.DataFrame([{"model/variant": f"{r['model']}/{r['variant']}", "W idle": r["waiters"],
                          "offered/s": r["offered"], "x predicted rate": r["share"],
                          "achieved/s": r["achieved"], "p99 (s)": r["p99"],
                          "judged by": r.get("criterion", "slo") + (" (floor-bound)" if r.get("note") else ""),
                          "rounds": r.get("rounds", "1 step"), "held": "yes" if r["held"] else "no",
                          "map says": "one machine" if r["predicted"] else "more than one",
                          "verdict": "agrees" if r["agrees"] else "disagrees",
                          "rest of the machine": {True: "busy", False: "quiet"}.get(r.get("disturbed"), "-"),
                          "run": r["run_id"]}
                         for r in rows])
