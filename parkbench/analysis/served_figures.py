"""The served rate's figures, from a run's ``served`` records (``probes/served_load.py``)
and its generator ceiling.

Per record, at its W idle connections (tidy rows with ``n`` = W, ``repeat`` = round):

- ``served_peak``: the closed-loop peak (requests/s, K connections back to back), the
  server's ceiling, and ``served_peak_spread``, how much it moved within the phase;
- ``served_saturation``: the highest offered rate it kept up with, and ``served_slo``
  the highest it served within the SLO where the machine's floor lets the SLO be judged
  (``served_slo_judged`` 0: the floor itself missed the SLO at this W), both found by the
  knee search (``measurement/knee.py``), replayed here from the record's trials;
  ``served_knee_spread``: how much the knee moved between the search's rounds;
- ``served_sustainable``: the rate the sizing uses, its basis in ``limit``: the SLO rate
  where it can be judged, else the saturation rate; a record from before the search (its
  open loop at fixed shares of the peak) has only the rate held at the SLO there;
- ``served_cpu_per_request``: the server tree's CPU time per request in the open-loop
  steps at the highest rate held at or below the sustainable one (a paced request costs
  more than a batched one), and ``served_cpu_per_request_closed`` in the closed loop;
- ``served_cores``: the server CPUs the model serves with (``registry.cores_used``);
- ``served_generator_bound``: 1 where the search stopped short of the generator's own
  ceiling (or, before the search, the rate was within ``GENERATOR_BOUND_SHARE`` of it);
- ``served_rate_per_core``: what one core serves at that W, the median over the run's
  rounds: the sustainable rate over its cores; where that is generator-bound, 1 / the
  open-loop CPU per request at the highest rate held (what a core would serve were it
  busy only with this; never the closed loop's); its basis in ``limit``; none where no
  rate can be sized by.
"""

import statistics

from parkbench.analysis import served, stored_search
from parkbench.core import registry
from parkbench.core.registry import in_registry_order
from parkbench.measurement import knee
from parkbench.store import loadgen_output, run_plan, served_schema

SERVED_RAW = ("served_peak", "served_peak_spread", "served_saturation", "served_slo", "served_slo_judged",
              "served_knee_spread", "served_sustainable", "served_cpu_per_request",
              "served_cpu_per_request_closed", "served_cores", "served_generator_bound", "served_disturbed")
SERVED_FIGURES = ("served_rate_per_core",)
UNITS = {"served_peak": "requests/s", "served_peak_spread": "ratio", "served_saturation": "requests/s",
         "served_slo": "requests/s", "served_slo_judged": "flag", "served_knee_spread": "ratio",
         "served_sustainable": "requests/s", "served_cpu_per_request": "seconds",
         "served_cpu_per_request_closed": "seconds", "served_cores": "cores",
         "served_generator_bound": "flag", "served_disturbed": "flag", "served_rate_per_core": "requests/s"}
# the basis of a sustainable rate, first word its label (``basis_label``): what ``fit``,
# ``show`` and the maps say of each rate
BASES = {"slo": "SLO: p99 within the SLO, judged against the machine's floor",
         "saturation": "saturation: kept up; steps too short to judge a p99 (--full judges it)",
         "floor-bound": "floor-bound: kept up (saturation); the machine's own floor missed the SLO at this W",
         "floor-run": "floor-bound: kept up (saturation); the machine's own floor missed the SLO in more "
                      "than 1 step in 20 of this run",
         "generator-bound": "generator-bound: 1 / CPU per request at the highest rate held",
         "before-search": "SLO: held at fixed shares of the peak (before the knee search)"}


# The share of the machine's floor steps (every served search of a run pooled) over the SLO
# above which no SLO verdict of the run is the server's: a server round fails by the
# machine alone about as often as the floor does, and is voided only where the floor's
# adjacent step failed too; at 1 in 20, a candidate's majority of three falls to the
# machine under 1% of the time. This VM: 31% and 43% in two --full runs (0.5-s steps).
FLOOR_MISS_LIMIT = 0.05


def basis_label(basis: str) -> str:
    """The one-word label of a basis (``BASES``): SLO, saturation, floor-bound..."""
    return basis.split(":", 1)[0].strip() if basis else ""


def ceiling_peak(document: dict) -> float | None:
    """The generator's own closed-loop peak (requests/s) of a run, or ``None``."""
    # a ceiling cut short, or measured on a busy machine, is no ceiling (the store's one rule)
    return served_schema.usable_ceiling(document.get("generator_ceiling"))


def floor_misses(document: dict, slo_seconds: float) -> tuple[int, int]:
    """(steps over the SLO, steps) of the machine's floor over every served search of a run."""
    over = steps = 0
    for record in document["measurements"]:
        search = (record.get("served") or {}).get("search") if record["kind"] == "served" else None
        for trial in (search or {}).get("trials", ()):
            if trial["target"] == knee.FLOOR:
                steps += 1
                over += trial["step"]["p99"] > slo_seconds
    return over, steps


def run_judges_slo(document: dict, slo_seconds: float) -> bool:
    """Whether a run's floor held the SLO in all but ``FLOOR_MISS_LIMIT`` of its steps."""
    over, steps = floor_misses(document, slo_seconds)
    return over <= FLOOR_MISS_LIMIT * steps


def knee_values(search: knee.Search, trial_list, run_judges: bool = True) -> tuple[dict, str]:
    """The figures of a replayed search, and the basis of the rate the sizing uses;
    ``run_judges`` False: the run's floor missed the SLO too often for any verdict."""
    saturation, floor_held = search.knee("saturation"), search.slo_judgeable()
    judged = floor_held and run_judges
    slo_rate = search.knee("slo") if judged else None
    values = {"served_slo_judged": float(judged), "served_generator_bound": float(search.generator_bound)}
    if saturation is not None:
        values["served_saturation"] = saturation
    if slo_rate is not None:
        values["served_slo"] = slo_rate
    if judged:
        rate, criterion, basis = slo_rate, "slo", BASES["slo"]
    else:
        rate, criterion = saturation, "saturation"
        basis = BASES["saturation" if not search.judge_slo
                      else "floor-bound" if not floor_held else "floor-run"]
    if rate is not None:
        values["served_sustainable"] = rate
        values["served_knee_spread"] = search.spread(criterion) or 0.0
        cpu = knee.cpu_per_request(trial_list, rate)
        if cpu:
            values["served_cpu_per_request"] = cpu
    if search.generator_bound:
        basis += "; the search stopped short of the generator's own ceiling"
    return values, basis


def record_values(record: dict, slo_seconds: float, ceiling: float | None,
                  run_judges: bool = True, free_threaded: bool = False) -> tuple[dict, str]:
    """The figures of one served record (see the module docstring), and the basis of its
    sustainable rate (``run_judges``: ``run_judges_slo`` of its run; ``free_threaded``: its
    interpreter has no GIL, so its threads serve on every server CPU)."""
    held = record["served"]
    closed = loadgen_output.parse(held["closed_run"])
    peak = closed.closed.achieved if closed.closed is not None else 0.0
    values = {"served_peak": peak,
              "served_cores": registry.cores_used(record["model"], record["variant"],
                                                  len(held["placement"]["server_cpus"]), free_threaded),
              "served_cpu_per_request_closed": served.cpu_per_request(held["server_cpu_seconds"],
                                                                      max(held["server_cpu_requests"], 1))}
    intervals = closed.closed.interval_rates if closed.closed is not None else ()
    if len(intervals) >= 2 and statistics.median(intervals) > 0:
        values["served_peak_spread"] = (max(intervals) - min(intervals)) / statistics.median(intervals)
    if "search" in held:
        listed = stored_search.trials(held["search"])  # parsed once: replayed, then CPU read off
        found, basis = knee_values(stored_search.replay(held["search"], slo_seconds, trial_list=listed),
                                   listed, run_judges)
        values.update(found)
    else:  # before the search: fixed shares of the peak, judged at the SLO alone
        basis = BASES["before-search"]
        sustainable = served.sustainable_rate(loadgen_output.parse(held["open_run"]).steps, slo_seconds)
        if sustainable is not None:
            values["served_sustainable"] = sustainable
        if ceiling:
            values["served_generator_bound"] = float(served.generator_bound(
                sustainable if sustainable is not None else peak, ceiling))
    activity = record.get("interference")
    if activity is not None:  # the rest of the machine while it was timed (interference.py)
        values["served_disturbed"] = float(bool(activity.get("disturbed")))
    return values, basis


def rows(document: dict, base: dict) -> list[dict]:
    """Tidy rows of a run's served records (``base``: machine, run id, interpreter): each
    record's figures, then per (model, variant, W) the rate per core."""
    slo = document["parameters"].get("slo_seconds", run_plan.DEFAULT_SLO_SECONDS)
    ceiling, run_judges = ceiling_peak(document), run_judges_slo(document, slo)
    free_threaded = bool((document.get("interpreter") or {}).get("gil_disabled"))
    found: list[dict] = []
    by_w: dict[tuple, list] = {}
    for record in document["measurements"]:
        if record["kind"] != "served" or record.get("rates"):
            continue  # a map check offers fixed rates: no search for a rate (map_checks.py)
        values, basis = record_values(record, slo, ceiling, run_judges, free_threaded)
        common = {**base, "model": record["model"], "variant": record["variant"], "primitive": None,
                  "placement": None, "n": record["n"]}
        for metric, value in values.items():
            found.append({**common, "repeat": record.get("repeat"), "metric": metric, "value": value,
                          "unit": UNITS[metric], "limit": basis if metric == "served_sustainable" else None})
        by_w.setdefault((record["model"], record["variant"], record["n"]), []).append((values, basis))
    for (model, variant, w), records in by_w.items():
        figure = rate_per_core(records)
        if figure is not None:
            found.append({**base, "model": model, "variant": variant, "primitive": None, "placement": None,
                          "n": w, "repeat": None, "metric": "served_rate_per_core", "value": figure[0],
                          "unit": UNITS["served_rate_per_core"], "limit": figure[1]})
    return found


def rate_per_core(records) -> tuple[float, str] | None:
    """(requests/s one core serves, basis) of one W's records (values, basis), or None."""
    medians = {metric: statistics.median(values[metric] for values, _ in records if metric in values)
               for metric in {m for values, _ in records for m in values}}
    basis = records[0][1]
    if medians.get("served_generator_bound", 0) >= 0.5:
        cpu = medians.get("served_cpu_per_request")
        if cpu and "served_saturation" in medians:  # measured open loop, at the rate served
            return 1 / cpu, f"{BASES['generator-bound']}; {basis}"
        return None  # a closed loop's CPU per request overstates a paced request's rate
    if "served_sustainable" in medians:
        return medians["served_sustainable"] / medians["served_cores"], basis
    return None


def choose(rows, newest_first, family: str = "served") -> tuple[str, list[str]]:
    """The run whose served (or wake) figures speak for one (machine, interpreter,
    model, variant): one the rest of the machine did not disturb (``served_disturbed``,
    ``wake_disturbed``) if any, then the one that held the largest idle crowd W, the
    newest among those; and a note per newer run it keeps out. ``rows``: that key's rows
    of complete runs; ``newest_first``: run ids ordered newest first. A default sweep's
    small W must not replace a ``--full`` run's large one: the maps size a model at large
    W, where an idle crowd may tax it; and a disturbed run's rates may be the machine's."""
    order = newest_first(rows.run_id)
    with_w = rows[rows.n.notna()]
    # one pass each (grouped), not a filter of the rows per run: a folder of k runs
    # measured once a night cost k² (issue 37: 1,000 files 30 s, 4,000 files 226 s)
    found = with_w.groupby("run_id").n.max()
    largest = {run_id: int(found.get(run_id, 0)) for run_id in order}
    flags = with_w[with_w.metric.isin(("served_disturbed", "wake_disturbed"))]
    disturbed = set(flags.run_id[flags.value > 0])
    rank = {run_id: i for i, run_id in enumerate(order)}
    chosen = max(order, key=lambda run_id: (run_id not in disturbed, largest[run_id], -rank[run_id]))
    notes = []
    word = "served" if family == "served" else "wake-rate"
    for newer in order[:rank[chosen]]:
        why = ("was disturbed by the rest of the machine" if newer in disturbed and chosen not in disturbed
               else f"measured W up to {largest[newer]:,} only")
        notes.append(f"{word} figures from run {chosen} (W up to {largest[chosen]:,}); the newer run "
                     f"{newer} {why} and does not replace them")
    if chosen in disturbed:
        notes.append(f"{word} figures from run {chosen}, which the rest of the machine disturbed: "
                     f"its rates may be the machine's, not the {'server' if family == 'served' else 'loop'}'s "
                     f"(measure again on a quiet machine)")
    return chosen, notes


def table(frame):
    """One row per (machine, interpreter, model, variant, W) of the current served
    figures: the closed-loop peak, the saturation and SLO rates (NaN where none, or where
    the SLO could not be judged), the knee's spread over rounds, the CPU time per request
    open loop (at the rate served) and closed loop, whether the generator may have been
    the limit, the rate per core the sizing uses with its basis, and the run."""
    import pandas as pd

    nan = float("nan")
    found = [{**key, "rounds": rounds,
              "peak": medians.get("served_peak", nan), "peak_spread": medians.get("served_peak_spread", nan),
              "saturation": medians.get("served_saturation", nan), "slo": medians.get("served_slo", nan),
              "slo_judged": bool(medians.get("served_slo_judged", 1) >= 0.5),
              "knee_spread": medians.get("served_knee_spread", nan),
              "sustainable": medians.get("served_sustainable", nan),
              "cpu_per_request": medians.get("served_cpu_per_request", nan),
              "cpu_per_request_closed": medians.get("served_cpu_per_request_closed", nan),
              "generator_bound": bool(medians.get("served_generator_bound", 0) >= 0.5),
              "disturbed": bool(medians.get("served_disturbed", 0) > 0),
              "rate_per_core": rate, "basis": basis, "run": run}
             for key, medians, rate, basis, run, rounds
             in stored_search.per_w(frame, SERVED_RAW, "served_rate_per_core")]
    if not found:
        return pd.DataFrame()
    return in_registry_order(pd.DataFrame(found))


def steps(current, machine: str, interpreter: str | None = None):
    """The open-loop steps behind the machine's current served figures, one row per step
    (``stored_search.step_rows``): latency against the offered rate, the server's beside
    the floor's; a record from before the search gives its fixed steps as round 0."""
    import pandas as pd

    found = []
    for run_id, record in stored_search.current_records(current, machine, "served", "served", interpreter):
        held = record["served"]
        listed = (stored_search.trials(held["search"]) if "search" in held
                  else [knee.Trial(step.offered, record.get("repeat", 0), knee.SERVER, step)
                        for step in loadgen_output.parse(held["open_run"]).steps])
        found += stored_search.step_rows(record, listed, run_id)
    return pd.DataFrame(found)


def knees(table_) -> dict:
    """(model, variant, W) -> (the sustainable rate, its basis label) of a ``table``."""
    if table_.empty:
        return {}
    return {(r.model, r.variant, int(r.n)): (r.sustainable if r.sustainable == r.sustainable else None,
                                             basis_label(r.basis))
            for r in table_.itertuples()}
