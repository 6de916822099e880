"""The fit map checked against reality: two (W, R) points around the measured edge of
a workload's default model, at a W the edge was not drawn from, measured.

The map says a model fits one machine while W is within its capacity and R within its
measured edge at W (``sizing.machines_needed``, ``edges.py``). For each workload's
default model (``CHECKED``), a run with checks (``parkbench run --full`` or ``--only
check``) takes the machine's current figures *before* it measures anything and plans
one job at a **held-out W**: the largest geometric midpoint of two neighbouring W the
edge was measured at that is at most half the capacity (``edges.held_out``; twice the
only one where one was measured, capped there), and ``SHARES`` of the edge's rate there
offered open loop (0.8x: the map says it fits; 1.25x: it says it does not). Each rate is run in rounds
and judged exactly as the knee search judges a candidate (``measurement/knee.py``: held
in the majority of rounds; a connections round the machine's floor failed too is the
machine's, run again), by the **criterion of the edge**: within the SLO where the edge
is SLO-based, kept up (saturation) where the edge was judged by saturation (or where the
floor misses the SLO at this W, and the verdict says so).

- connections (asyncio streams): a served job (``probes/served_load.py``): the load
  generator offers requests to the server while W connections sit idle; the edge is
  the served rate per core times the cores the server uses.
- in-process (asyncio tasks parked in ``asyncio.Event.wait()``): a ``wakes`` job
  (``probes/wake_load.py``): W tasks parked as the memory probe parks them, and on the
  same loop a driver wakes a pool of active tasks at the offered rate; the edge is the
  wake rate one loop sustains. W is also capped by the run's memory budget at the
  current total per waiter (``bytes_per_waiter``, which the guard uses for the job),
  and the basis says so where it binds.

A point **agrees** with the map where it was held and the map says one machine, or not
held and the map says more; a disagreement means the edge is off by more than 1 / 0.8
one way or 1.25 the other, and the report, ``show`` and ``fit`` state every one.
"""

from parkbench.analysis import current, edges, served, sizing, stored_search
from parkbench.analysis.served_figures import basis_label
from parkbench.core.errors import UserError
from parkbench.core.registry import workload as workload_of
from parkbench.core.units import format_bytes
from parkbench.measurement import guard, knee
from parkbench.store import loadgen_output, results, run_plan
from parkbench.store.map_check_schema import CHECKED, MAX_RATE

SHARES = (0.8, 1.25)         # of the edge's rate at the held-out W
WAITER_SHARE = 0.5           # of the capacity: the most a check parks


def held_out_waiters(profile) -> int | None:
    """The W a check of ``profile`` parks: the largest midpoint of two neighbouring
    measured W (never one the edge was drawn from) within ``WAITER_SHARE`` of the
    capacity, else twice its only (or largest) one, capped there; None without an edge."""
    if not profile.edge:
        return None
    cap = max(1, int(profile.capacity * WAITER_SHARE))
    # the largest midpoint under the cap: one above it, cut down to the cap, landed next
    # to a measured W (9,968 beside 10,000 for asyncio streams here)
    between = [w for w in edges.held_out(profile.edge) if w <= cap]
    return between[-1] if between else min(2 * profile.edge[-1].waiters, cap)


def criterion(profile, waiters: int) -> str:
    """What held means at ``waiters``: the SLO where every measured point around it was
    judged at the SLO, else saturation (a check is judged as its edge was)."""
    edge = profile.rate_at(waiters)  # the measured point(s) around W
    labels = {basis_label(basis) for basis in (edge.bases if edge else ())}
    return "slo" if labels == {"SLO"} else "saturation"


def points(profile, budget_bytes: int | None = None, margin: float = 1.0) -> dict | None:
    """The check of one ``sizing.Profile``: a held-out W and the offered rates around
    its edge there, the criterion, and what the prediction was; ``None`` if it has no
    measured edge, fewer than two waiters of capacity, or (in-process) the budget holds
    none. An in-process W is at most what ``budget_bytes`` holds at the profile's total
    per waiter (x ``margin``, as the guard predicts it)."""
    capacity = profile.capacity
    waiters = held_out_waiters(profile)
    if waiters is None or capacity < 2:
        return None
    basis = f"capacity {capacity:,} ({profile.capacity_basis}, memory run {profile.memory_run})"
    if not profile.serves_requests:
        room = waiters if budget_bytes is None else guard.waiters_within(
            budget_bytes, profile.total_per_waiter, margin)
        if room < 1:
            return None
        if room < waiters:
            basis += (f"; W capped at {room:,} (the held-out W is {waiters:,}) by the run's "
                      f"memory budget of {format_bytes(budget_bytes or 0)} at "
                      f"{format_bytes(profile.total_per_waiter)} per waiter x {margin:g}")
            waiters = room
    edge = profile.rate_at(waiters)
    # a rate the offered steps cannot reach is no prediction to check
    if edge is None or not 0 < edge.rate <= MAX_RATE / max(SHARES):
        return None
    basis += (f"; {profile.rate_name} {edge.rate:,.0f}/s at W={waiters:,}"
              f"{' (held flat beyond the measured)' if edge.extrapolated else ''} from the edge "
              f"{profile.edge_basis}")
    found = {"model": profile.model, "variant": profile.variant, "waiters": int(waiters),
             "rates": sorted({max(1, round(edge.rate * share)) for share in SHARES}),
             "predicted_rate": float(edge.rate), "predicted_capacity": int(capacity),
             "criterion": criterion(profile, waiters), "basis": basis[:500]}
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
        return [], (f"no prediction to check: {machine} under {interpreter} has no measured edge "
                    f"(parkbench run --only served) and capacity for "
                    + ", ".join(f"{m}/{v}" for m, v in CHECKED.values()) + " that the run selects")
    return found, ""


def _legacy_steps(record: dict) -> tuple:
    """The offered steps of a check record from before the rounds (format 4): the load
    generator's open-loop steps of a served job, or the wake probe's of a wakes job."""
    if record["kind"] == "wakes":
        return loadgen_output.parse_steps(record["wakes"]["steps"], "wakes.steps", generator=False)
    return loadgen_output.parse(record["served"]["open_run"]).steps


def _search(record: dict) -> dict | None:
    held = record["served"] if record["kind"] == "served" else record["wakes"]
    return held.get("search")


def _judged(record: dict, prediction: dict, slo_seconds: float) -> list[dict]:
    """Per checked rate of a record run in rounds: the median step of the server's
    rounds, held or not by the prediction's criterion (saturation where the floor missed
    the SLO at this W), and the rounds that decided it."""
    stored = _search(record)
    assert stored is not None
    search = stored_search.replay(stored, slo_seconds, floor=record["kind"] == "served")
    wanted = prediction.get("criterion", "slo")
    judged_by = wanted if wanted != "slo" or search.slo_judgeable() else "saturation"
    note = "" if judged_by == wanted else "the machine's floor missed the SLO at this W: judged by saturation"
    found = []
    for rate in sorted(search.candidates):
        candidate = search.candidates[rate]
        mine = sorted((t.step for t in search.trials if t.rate == rate and t.target == knee.SERVER),
                      key=lambda step: step.p99)
        if not mine:
            continue
        middle = mine[len(mine) // 2]
        held_n, failed_n, voided = candidate.counts(judged_by)
        found.append({"step": middle, "held": bool(candidate.verdict(judged_by)), "criterion": judged_by,
                      "rounds": f"{held_n} held, {failed_n} failed, {voided} the machine's",
                      "note": note})
    return found


def verdicts(record: dict, prediction: dict, slo_seconds: float) -> list[dict]:
    """Per offered rate of one check record: measured (achieved, p99, held by the
    criterion) against predicted (fits one machine: W within capacity and R within the
    edge at W)."""
    if _search(record) is not None:
        judged = _judged(record, prediction, slo_seconds)
    else:  # format 4: one step per rate, held at the SLO
        judged = [{"step": step, "held": served.sustains(step, slo_seconds), "criterion": "slo",
                   "rounds": "1 step", "note": ""} for step in _legacy_steps(record)]
    found = []
    activity = record.get("interference")  # the machine, meanwhile (None: not recorded)
    busy = None if activity is None else bool(activity.get("disturbed"))
    for item in judged:
        step = item["step"]
        predicted = (record["n"] <= prediction["predicted_capacity"]
                     and step.offered <= prediction["predicted_rate"])
        found.append({"model": record["model"], "variant": record["variant"], "waiters": record["n"],
                      "offered": step.offered, "share": step.offered / prediction["predicted_rate"],
                      "achieved": step.achieved, "p99": step.p99, "held": item["held"],
                      "criterion": item["criterion"], "rounds": item["rounds"], "note": item["note"],
                      "predicted": predicted, "agrees": item["held"] == predicted, "disturbed": busy})
    return found


def _held_words(row: dict) -> tuple[str, str]:
    """(held, not held) in words of the row's criterion."""
    if row.get("criterion", "slo") == "slo":
        return "held the SLO", "did not hold the SLO"
    return "kept up (saturation)", "did not keep up (saturation)"


def verdict_word(row: dict) -> str:
    """'agrees' or 'disagrees': a checked point against the map."""
    return "agrees" if row["agrees"] else "disagrees"


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
        return (f"{where}: the map says one machine, the measurement "
                f"{_held_words(row)[1]} (p99 {row['p99'] * 1e3:.1f} ms, {row['achieved']:,.0f}/s achieved): "
                f"the map overstates this edge by more than {1 / row['share'] - 1:.0%}{busy}")
    return (f"{where}: the map says more than one machine, the measurement {_held_words(row)[0]}: "
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


def newest(current, machine: str, interpreter: str | None = None) -> list[dict]:
    """The verdicts of ``machine``'s checks, per workload those of the newest complete run
    that checked it (a newer run that checked only one workload hides no other; none: []);
    ``interpreter``: only that interpreter's runs (the maps of its profiles)."""

    # an incomplete (interrupted) run speaks for nothing, its checks included
    runs = sorted((run for (name, _), run in current.runs.items() if name == machine and run.complete
                   and interpreter in (None, run.interpreter)),
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
                found += [dict(row, interpreter=run.interpreter) for row in rows]
                break
    return found
