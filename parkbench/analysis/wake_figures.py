"""The wake rate's figures, from a run's ``wakes`` records that searched for it
(``probes/wake_load.py``: wake-ups offered open loop to active tasks on the loop while W
waiters stay parked; a map check's ``wakes`` records offer fixed rates instead, and are
``map_checks.py``'s).

Per record, at its W parked waiters (tidy rows with ``n`` = W): ``wake_saturation``
(the highest offered rate the loop kept up with), ``wake_slo`` (the highest it woke
within the SLO), ``wake_sustainable`` (the SLO rate; a loop has no floor to judge
against, so the SLO is always judged), ``wake_knee_spread``, ``wake_cpu_per_wake``
(the probe's CPU time per wake-up at the rate held) and ``wake_disturbed`` (the rest of
the machine was busy meanwhile); and per (model, variant, W)
``wake_rate_per_core``: one loop's rate, the median over the run's records at that W,
its basis in ``limit``. The search is replayed by the rule it ran by (``knee.py``).
"""

import statistics

from parkbench.analysis import stored_search
from parkbench.core.registry import in_registry_order
from parkbench.measurement import knee
from parkbench.store import run_plan

UNITS = {"wake_saturation": "wakes/s", "wake_slo": "wakes/s", "wake_sustainable": "wakes/s",
         "wake_knee_spread": "ratio", "wake_cpu_per_wake": "seconds", "wake_disturbed": "flag",
         "wake_rate_per_core": "wakes/s"}
WAKE_RAW = ("wake_saturation", "wake_slo", "wake_sustainable", "wake_knee_spread", "wake_cpu_per_wake",
            "wake_disturbed")
WAKE_FIGURES = ("wake_rate_per_core",)
BASIS = "SLO: woken within the SLO beside W parked (one loop: no floor to judge against)"


def record_values(record: dict, slo_seconds: float) -> dict:
    """The figures of one searching wakes record."""
    held = record["wakes"]["search"]
    listed = stored_search.trials(held)  # parsed once: replayed, then CPU read off
    search = stored_search.replay(held, slo_seconds, floor=False, trial_list=listed)
    values = {}
    for name, rate in (("wake_saturation", search.knee("saturation")), ("wake_slo", search.knee("slo"))):
        if rate is not None:
            values[name] = rate
    rate = search.knee("slo")
    if rate is not None:
        values["wake_sustainable"] = rate
        values["wake_knee_spread"] = search.spread("slo") or 0.0
        cpu = knee.cpu_per_request(listed, rate)
        if cpu:
            values["wake_cpu_per_wake"] = cpu
    activity = record.get("interference")
    if activity is not None:  # the rest of the machine while the loop was timed
        values["wake_disturbed"] = float(bool(activity.get("disturbed")))
    return values


def rows(document: dict, base: dict) -> list[dict]:
    """Tidy rows of a run's searching wakes records, then the rate per core per W."""
    slo = document["parameters"].get("slo_seconds", run_plan.DEFAULT_SLO_SECONDS)
    found: list[dict] = []
    by_w: dict[tuple, list] = {}
    for record in document["measurements"]:
        if record["kind"] != "wakes" or record.get("rates") or "search" not in record["wakes"]:
            continue
        values = record_values(record, slo)
        common = {**base, "model": record["model"], "variant": record["variant"], "primitive": None,
                  "placement": None, "n": record["n"]}
        found += [{**common, "repeat": record.get("repeat"), "metric": metric, "value": value,
                   "unit": UNITS[metric], "limit": BASIS if metric == "wake_sustainable" else None}
                  for metric, value in values.items()]
        by_w.setdefault((record["model"], record["variant"], record["n"]), []).append(values)
    for (model, variant, w), records in by_w.items():
        rates = [values["wake_sustainable"] for values in records if "wake_sustainable" in values]
        if rates:
            found.append({**base, "model": model, "variant": variant, "primitive": None, "placement": None,
                          "n": w, "repeat": None, "metric": "wake_rate_per_core",
                          "value": statistics.median(rates), "unit": UNITS["wake_rate_per_core"],
                          "limit": BASIS})
    return found


def table(frame):
    """One row per (machine, interpreter, model, variant, W) of the current wake
    figures: the saturation and SLO rates, the knee's spread, the CPU per wake, the rate
    the sizing uses with its basis, and the run (a DataFrame)."""
    import pandas as pd

    nan = float("nan")
    found = [{**key, "saturation": medians.get("wake_saturation", nan), "slo": medians.get("wake_slo", nan),
              "knee_spread": medians.get("wake_knee_spread", nan),
              "cpu_per_wake": medians.get("wake_cpu_per_wake", nan),
              "disturbed": bool(medians.get("wake_disturbed", 0) > 0),
              "rate_per_core": rate, "basis": basis, "run": run}
             for key, medians, rate, basis, run, _ in stored_search.per_w(frame, WAKE_RAW, "wake_rate_per_core")]
    if not found:
        return pd.DataFrame()
    return in_registry_order(pd.DataFrame(found))


def steps(current, machine: str, interpreter: str | None = None):
    """The steps behind the machine's current wake figures, one row per step
    (``stored_search.step_rows``; the target is always the loop: a DataFrame)."""
    import pandas as pd

    found = []
    for run_id, record in stored_search.current_records(current, machine, "wakes", "wakes", interpreter):
        if "search" in record["wakes"]:
            found += stored_search.step_rows(record, stored_search.trials(record["wakes"]["search"]), run_id)
    return pd.DataFrame(found)


def knees(table_) -> dict:
    """(model, variant, W) -> (the sustainable rate, its basis label) of a ``table``."""
    if table_.empty:
        return {}
    return {(r.model, r.variant, int(r.n)): (r.slo if r.slo == r.slo else None, "SLO")
            for r in table_.itertuples()}
