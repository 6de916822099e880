"""The report's tables of measured rates, formatted for a reader: the fit map's checked
points (``checks_table``, and ``checks`` formatted).
"""


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
