"""The served rate's figures, from a run's ``served`` records (``probes/served_load.py``)
and its generator ceiling, read through ``served.py`` (which checks the generator's
output and finds the rate held at the SLO).

Per record, at its W idle connections (tidy rows with ``n`` = W, ``repeat`` = round):

- ``served_peak``: the closed-loop peak (requests/s, K connections back to back), and
  ``served_peak_spread``, how much it moved within the phase: (highest - lowest) over the
  median of its equal intervals' rates;
- ``served_sustainable``: the highest offered rate held at the SLO (requests/s), absent
  where even the lowest step was not;
- ``served_cpu_per_request``: the server tree's CPU time per request (seconds): the
  network wake-up cost one core pays, whatever the machine's core count;
- ``served_cores``: the server CPUs the model could use (1 for one interpreter);
- ``served_generator_bound``: 1 where the sustainable rate (or, without one, the peak)
  is within ``GENERATOR_BOUND_SHARE`` of the generator's own ceiling measured in the
  same run: the generator, not the server, may have been the limit.

Per (model, variant), the run's figure (``n`` none): ``served_rate_per_core``, what one
core of the server serves at the SLO, at the largest W measured (the median over rounds):
the sustainable rate over its cores; where that is generator-bound, 1 / CPU per request
(what a core would serve were it busy only with this), its basis in ``limit``; none where
no offered rate was held at the SLO.
"""

import statistics

from parkbench.analysis import served
from parkbench.core import registry
from parkbench.core.registry import in_registry_order
from parkbench.store import loadgen_output, results, run_plan

SERVED_RAW = ("served_peak", "served_peak_spread", "served_sustainable", "served_cpu_per_request",
              "served_cores", "served_generator_bound", "served_disturbed")
SERVED_FIGURES = ("served_rate_per_core",)
UNITS = {"served_peak": "requests/s", "served_peak_spread": "ratio", "served_sustainable": "requests/s",
         "served_cpu_per_request": "seconds", "served_cores": "cores",
         "served_generator_bound": "flag", "served_disturbed": "flag", "served_rate_per_core": "requests/s"}
def ceiling_peak(document: dict) -> float | None:
    """The generator's own closed-loop peak (requests/s) of a run, or ``None``."""
    found = document.get("generator_ceiling")
    if not found:
        return None
    run = loadgen_output.parse(found["closed_run"])
    return run.closed.achieved if run.closed is not None else None


def record_values(record: dict, slo_seconds: float, ceiling: float | None) -> dict:
    """The figures of one served record (see the module docstring)."""
    held = record["served"]
    closed, opened = loadgen_output.parse(held["closed_run"]), loadgen_output.parse(held["open_run"])
    peak = closed.closed.achieved if closed.closed is not None else 0.0
    sustainable = served.sustainable_rate(opened.steps, slo_seconds)
    cores = registry.cores_used(record["model"], record["variant"], len(held["placement"]["server_cpus"]))
    values = {"served_peak": peak, "served_cores": cores,
              "served_cpu_per_request": served.cpu_per_request(held["server_cpu_seconds"],
                                                               max(held["server_cpu_requests"], 1))}
    intervals = closed.closed.interval_rates if closed.closed is not None else ()
    if len(intervals) >= 2 and statistics.median(intervals) > 0:
        values["served_peak_spread"] = (max(intervals) - min(intervals)) / statistics.median(intervals)
    if sustainable is not None:
        values["served_sustainable"] = sustainable
    if ceiling:
        values["served_generator_bound"] = float(served.generator_bound(
            sustainable if sustainable is not None else peak, ceiling))
    activity = record.get("interference")
    if activity is not None:  # the rest of the machine while it was timed (interference.py)
        values["served_disturbed"] = float(bool(activity.get("disturbed")))
    return values


def rows(document: dict, base: dict) -> list[dict]:
    """Tidy rows of a run's served records (``base``: machine, run id, interpreter)."""
    slo = document["parameters"].get("slo_seconds", run_plan.DEFAULT_SLO_SECONDS)
    ceiling = ceiling_peak(document)
    found = []
    for record in document["measurements"]:
        if record["kind"] != "served" or record.get("rates"):
            continue  # a map check offers fixed rates: no search for the rate held (map_checks.py)
        for metric, value in record_values(record, slo, ceiling).items():
            found.append({**base, "model": record["model"], "variant": record["variant"],
                          "placement": None, "n": record["n"], "repeat": record.get("repeat"),
                          "metric": metric, "value": value, "unit": UNITS[metric]})
    return found


def derive(document: dict) -> list[dict]:
    """The run's ``served_rate_per_core`` figure per (model, variant)."""
    base = {"machine": "", "run_id": "", "interpreter": ""}
    by_key: dict = {}
    for row in rows(document, base):
        by_key.setdefault((row["model"], row["variant"]), {}).setdefault(
            row["n"], {}).setdefault(row["metric"], []).append(row["value"])
    figures = []
    for (model, variant), by_w in by_key.items():
        largest = by_w[max(by_w)]
        medians = {metric: statistics.median(values) for metric, values in largest.items()}
        bound = medians.get("served_generator_bound", 0) >= 0.5
        if bound and medians.get("served_cpu_per_request", 0) > 0:
            value, basis = 1 / medians["served_cpu_per_request"], "1 / CPU per request (generator-bound)"
        elif "served_sustainable" in medians:
            value, basis = medians["served_sustainable"] / medians["served_cores"], "held at the SLO"
        else:
            continue  # no rate held at the SLO: nothing to size by (the table says so)
        figures.append({"model": model, "variant": variant, "metric": "served_rate_per_core",
                        "value": value, "unit": UNITS["served_rate_per_core"],
                        "limit": f"{basis}, W={max(by_w):,}"})
    return figures


def choose(rows, newest_first) -> tuple[str, list[str]]:
    """The run whose served figures speak for one (machine, interpreter, model, variant):
    one the rest of the machine did not disturb (``served_disturbed``) if any, then the
    one that held the largest idle crowd W, the newest among those; and a note per newer
    run it keeps out. ``rows``: that key's served rows of complete runs; ``newest_first``:
    run ids ordered newest first. A default sweep's small W must not replace a ``--full``
    run's large one: the maps size a server at large W, where an idle crowd may tax it;
    and a disturbed run's rates may be the machine's, not the server's."""
    order = newest_first(rows.run_id)
    with_w = rows[rows.n.notna()]
    largest = {run_id: with_w[with_w.run_id == run_id].n.max() for run_id in order}
    largest = {run_id: (0 if w != w else int(w)) for run_id, w in largest.items()}
    flags = with_w[with_w.metric == "served_disturbed"]
    disturbed = {run_id: bool((flags[flags.run_id == run_id].value > 0).any()) for run_id in order}
    chosen = max(order, key=lambda run_id: (not disturbed[run_id], largest[run_id], -order.index(run_id)))
    notes = []
    for newer in order[:order.index(chosen)]:
        why = ("was disturbed by the rest of the machine" if disturbed[newer] and not disturbed[chosen]
               else f"served W up to {largest[newer]:,} only")
        notes.append(f"served figures from run {chosen} (W up to {largest[chosen]:,}); the newer run "
                     f"{newer} {why} and does not replace them")
    if disturbed[chosen]:
        notes.append(f"served figures from run {chosen}, which the rest of the machine disturbed: "
                     f"its rates may be the machine's, not the server's (measure again on a quiet machine)")
    return chosen, notes


def table(frame):
    """One row per (machine, interpreter, model, variant, W) of the current served
    figures: the closed-loop peak and its spread over the phase's intervals, the rate held at the SLO (NaN where none was), the CPU
    time per request, whether the generator may have been the limit, the rate per core
    the sizing uses, and the run."""
    import pandas as pd


    rows = frame[frame.metric.isin(SERVED_RAW) & frame.n.notna()]
    if rows.empty:
        return pd.DataFrame()
    per_core = frame[(frame.metric == "served_rate_per_core") & frame.n.isna()]
    found = []
    for (machine, interpreter, model, variant, n), group in rows.groupby(
            ["machine", "interpreter", "model", "variant", "n"], sort=False):
        medians = group.groupby("metric").value.median()
        sizing = per_core[(per_core.machine == machine) & (per_core.interpreter == interpreter)
                          & (per_core.model == model) & (per_core.variant == variant)]
        found.append({"machine": machine, "interpreter": interpreter, "model": model,
                      "variant": variant, "n": int(n), "rounds": int(group.repeat.nunique()),
                      "peak": medians.get("served_peak", float("nan")),
                      "peak_spread": medians.get("served_peak_spread", float("nan")),
                      "sustainable": medians.get("served_sustainable", float("nan")),
                      "cpu_per_request": medians.get("served_cpu_per_request", float("nan")),
                      "generator_bound": bool(medians.get("served_generator_bound", 0) >= 0.5),
                      "disturbed": bool(medians.get("served_disturbed", 0) > 0),
                      "rate_per_core": float(sizing.value.iloc[0]) if len(sizing) else float("nan"),
                      "basis": str(sizing["limit"].iloc[0]) if len(sizing) else "",
                      "run": str(group.run_id.iloc[0])})
    return in_registry_order(pd.DataFrame(found))


def steps(current, machine: str):
    """The open-loop steps behind the machine's current served figures, one row per step:
    model, variant, W, round, offered, achieved, p50, p99, p999 (seconds), run. The
    hockey stick: latency against the offered rate."""
    import pandas as pd


    chosen = {(s["run_id"], s["what"]) for s in current.sources
              if s["family"] == "served" and s["machine"] == machine}
    found = []
    for run_id in sorted({run_id for run_id, _ in chosen}):
        run = current.runs.get((machine, run_id))
        if run is None:
            continue
        for record in results.read_run(run.path)["measurements"]:
            if record["kind"] != "served" or record.get("rates") or (run_id, f"{record['model']}/{record['variant']}") not in chosen:
                continue
            for step in loadgen_output.parse(record["served"]["open_run"]).steps:
                found.append({"model": record["model"], "variant": record["variant"], "n": record["n"],
                              "round": record.get("repeat", 0), "offered": step.offered,
                              "achieved": step.achieved, "p50": step.p50, "p99": step.p99,
                              "p999": step.p999, "run_id": run_id})
    return pd.DataFrame(found)
