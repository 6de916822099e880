"""The fit map checked against reality: a few (W, R) points around the predicted
one-machine edge of a workload's default model, measured.

The map says a model fits one machine while W is within its capacity and R within its
rate per machine (``sizing.machines_needed``). For each workload's default model
(``CHECKED``), a run with checks (``parkbench run --full`` or ``--only check``) takes
the machine's current figures *before* it measures anything, predicts that edge and
plans one job: W = half the predicted capacity idle, and ``SHARES`` of the predicted
rate per machine offered open loop (0.8x: the map says it fits; 1.25x: the map says it
does not), each for ``STEP_SECONDS``. Each offered rate is then held at the SLO or not,
exactly as the served rate's steps are judged (``served.sustains``: every request or
wake-up run, achieved at least 99% of offered, p99 within the run's SLO).

- connections (asyncio streams): a served job (``probes/served_load.py``): the load
  generator offers requests to the server while W connections sit idle; the predicted
  rate is the served rate per core times the cores the server uses.
- in-process (asyncio tasks parked in ``asyncio.Event.wait()``): a ``wakes`` job
  (``probes/wake_load.py``): W tasks parked as the memory probe parks them, and on the
  same loop a driver wakes a pool of active tasks at the offered rate, each latency
  from its intended time; the predicted rate is the hand-off rate (cores / one-way
  hand-off, one core for one loop). W is also capped by the run's memory budget at the
  current total per waiter (``bytes_per_waiter``, which the guard uses for the job),
  and the basis says so where it binds.

A point where measurement and prediction disagree is a disagreement of at least 25%
(the map's edge is off by more than 1 / 0.8 one way or 1.25 the other); the report and
docs state every one.
"""

from parkbench.analysis import current, served, sizing
from parkbench.core.errors import UserError
from parkbench.core.registry import workload as workload_of
from parkbench.core.units import format_bytes
from parkbench.measurement import guard
from parkbench.store import loadgen_output, results, run_plan
from parkbench.store.map_check_schema import CHECKED, MAX_RATE

SHARES = (0.8, 1.25)         # of the predicted rate per machine
WAITER_SHARE = 0.5           # of the predicted capacity


def points(profile, budget_bytes: int | None = None, margin: float = 1.0) -> dict | None:
    """The check of one ``sizing.Profile``: W and the offered rates around its
    predicted edge, and what the prediction was; ``None`` if it predicts no rate or
    fewer than two waiters (or, in-process, the budget holds none). An in-process W is
    at most what ``budget_bytes`` holds at the profile's total per waiter (x
    ``margin``, as the guard predicts it)."""
    rate, capacity = profile.rate_per_machine, profile.capacity
    # a rate the offered steps cannot reach (over 10^8/s at 1.25x: a stored hand-off of
    # 5e-324 s makes it infinite) is no prediction to check
    if not (0 < rate <= MAX_RATE / max(SHARES) and capacity >= 2):
        return None
    waiters = max(1, int(capacity * WAITER_SHARE))
    basis = f"capacity {capacity:,} ({profile.capacity_basis}, memory run {profile.memory_run})"
    if profile.serves_requests:
        basis += f"; {profile.served_per_core:,.0f} requests/s per core x {profile.cores} (served run {profile.served_run})"
    else:
        basis += (f"; hand-off {profile.switch_seconds * 1e6:.2f} µs ({profile.primitive}, "
                  f"{profile.placement}) x {profile.cores} core(s) (switch run {profile.switch_run})")
        room = waiters if budget_bytes is None else guard.waiters_within(
            budget_bytes, profile.total_per_waiter, margin)
        if room < 1:
            return None
        if room < waiters:
            basis += (f"; W capped at {room:,} (half the capacity is {waiters:,}) by the run's "
                      f"memory budget of {format_bytes(budget_bytes or 0)} at "
                      f"{format_bytes(profile.total_per_waiter)} per waiter x {margin:g}")
            waiters = room
    found = {"model": profile.model, "variant": profile.variant, "waiters": waiters,
             "rates": [max(1, round(rate * share)) for share in SHARES],
             "predicted_rate": float(rate), "predicted_capacity": int(capacity), "basis": basis}
    if not profile.serves_requests:
        found["bytes_per_waiter"] = float(profile.total_per_waiter)
    return found


def predict(folder, machine: str, interpreter: str, cores: int, selection,
            budget_bytes: int | None = None, margin: float = 1.0) -> tuple[list[dict], str]:
    """The checks of the machine's current figures under ``folder`` (its results
    folder) for ``interpreter`` and the selected default models (an in-process W within
    ``budget_bytes``: ``points``), and why there are none when there are none."""
    where = folder / machine
    if not where.is_dir():
        return [], f"no figures of {machine} yet (run the sweep first)"
    try:
        figures = current.load([where])
    except UserError as exc:
        return [], f"the figures of {machine} cannot be read ({exc})"
    profiles = [p for p in sizing.profiles(figures.frame, {machine: cores})
                if p.machine == machine and p.interpreter == interpreter]
    found = []
    for model, variant in CHECKED.values():
        if (model, variant) not in {tuple(item) for item in selection}:
            continue
        chosen = [p for p in profiles if (p.model, p.variant) == (model, variant)]
        check = points(chosen[0], budget_bytes, margin) if chosen else None
        if check is not None:
            found.append(check)
    if not found:
        return [], (f"no prediction to check: {machine} under {interpreter} has no rate (hand-off "
                    f"or served) and capacity for " + ", ".join(f"{m}/{v}" for m, v in CHECKED.values())
                    + " that the run selects")
    return found, ""


def steps(record: dict) -> tuple:
    """The offered steps of a check record (``loadgen_output.Step``): the load generator's
    open-loop steps of a served job, or the wake probe's of a wakes job (its steps are
    written in the same shape)."""
    if record["kind"] == "wakes":
        return loadgen_output.parse_steps(record["wakes"]["steps"], "wakes.steps")
    return loadgen_output.parse(record["served"]["open_run"]).steps


def verdicts(record: dict, prediction: dict, slo_seconds: float) -> list[dict]:
    """Per offered rate of one check record: measured (achieved, p99, held at the SLO)
    against predicted (fits one machine: W within capacity and R within the rate)."""
    found = []
    activity = record.get("interference")  # the machine, meanwhile (None: not recorded)
    busy = None if activity is None else bool(activity.get("disturbed"))
    for step in steps(record):
        predicted = (record["n"] <= prediction["predicted_capacity"]
                     and step.offered <= prediction["predicted_rate"])
        held = served.sustains(step, slo_seconds)
        found.append({"model": record["model"], "variant": record["variant"], "waiters": record["n"],
                      "offered": step.offered, "share": step.offered / prediction["predicted_rate"],
                      "achieved": step.achieved, "p99": step.p99, "held": held,
                      "predicted": predicted, "agrees": held == predicted, "disturbed": busy})
    return found


def disagreement(row: dict) -> str:
    """One sentence for a point where the map and the measurement disagree ('' if they
    agree)."""
    if row["agrees"]:
        return ""
    where = (f"{row['model']}/{row['variant']} at W={row['waiters']:,}, "
             f"R={row['offered']:,.0f}/s ({row['share']:.2f}x the predicted rate)")
    busy = (" (the rest of the machine was busy meanwhile: measure again on a quiet one)"
            if row.get("disturbed") else "")
    if row["predicted"]:
        return (f"{where}: the map says one machine, the measurement did not hold the SLO "
                f"(p99 {row['p99'] * 1e3:.1f} ms, {row['achieved']:,.0f}/s achieved): "
                f"the map overstates this edge by more than {1 / row['share'] - 1:.0%}{busy}")
    return (f"{where}: the map says more than one machine, the measurement held the SLO: "
            f"the map understates this edge by at least {row['share'] - 1:.0%}{busy}")


def of_run(document: dict) -> list[dict]:
    """The verdicts of every check record of a run (its plan holds the predictions)."""
    parameters = document["parameters"]
    predictions = {(c["model"], c["variant"], c["waiters"]): c for c in parameters.get("map_checks") or ()}
    slo = parameters.get("slo_seconds", run_plan.DEFAULT_SLO_SECONDS)
    found = []
    for record in document["measurements"]:
        if record["kind"] not in ("served", "wakes") or not record.get("rates"):
            continue
        prediction = predictions.get((record["model"], record["variant"], record["n"]))
        if prediction is not None:
            found += [{**row, "run_id": document["run_id"]}
                      for row in verdicts(record, prediction, slo)]
    return found


def of_workload(rows, workload: str) -> list[dict]:
    """The verdict rows of one workload's checked model (a map shows its own only)."""
    return [row for row in rows if workload_of(row["variant"]) == workload]


def newest(current, machine: str) -> list[dict]:
    """The verdicts of ``machine``'s checks, per workload those of the newest complete run
    that checked it (a newer run that checked only one workload hides no other; none: [])."""

    # an incomplete (interrupted) run speaks for nothing, its checks included
    runs = sorted((run for (name, _), run in current.runs.items() if name == machine and run.complete),
                  key=lambda run: results.run_order(run.run_id), reverse=True)
    read: dict = {}
    found: list[dict] = []
    for workload in CHECKED:
        for run in runs:
            if not (run.parameters or {}).get("map_checks"):
                continue
            if run.path not in read:
                read[run.path] = of_run(results.read_run(run.path))
            rows = of_workload(read[run.path], workload)
            if rows:
                found += rows
                break
    return found
