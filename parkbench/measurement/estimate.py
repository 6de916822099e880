"""How long a sweep will take, and how long it took, by phase (memory, switch, tail,
served, wakes).

The estimate of each planned child is its wall time in the newest earlier run of the
machine that ran the same job (same kind, model, variant, N, primitive, placement), else
a rough default per kind scaled by N. It is printed before a full sweep starts; the
time per phase is printed when any sweep ends.
"""

from pathlib import Path

from parkbench.core.errors import UserError
from parkbench.measurement import knee, map_check_jobs
from parkbench.store import results

# (seconds fixed, seconds per waiter) by job kind, for jobs no earlier run measured; a
# served job adds the load generator's phases (``served_seconds``), a wakes job its
# steps (``wakes_seconds``)
DEFAULT_SECONDS = {"memory": (0.5, 25e-6), "tail": (1.0, 25e-6), "switch": (30.0, 0.0),
                   "served": (4.0, 100e-6), "wakes": (1.0, 25e-6)}


# steps of a knee search, typically (``knee.py``; the estimate of a job no earlier run
# timed), and what each step costs beyond its length (the generator's start and warm-up)
SEARCH_STEPS = 16
STEP_OVERHEAD_SECONDS = 0.15


def _steps(rates) -> int:
    """Steps of a search (no ``rates``) or of a map check's rounds at its ``rates``."""
    return len(rates) * knee.ROUNDS if rates else SEARCH_STEPS


def wakes_seconds(settings: dict, rates=None) -> float:
    """A wakes job's steps (``probes/wake_load.py``): each a warm-up at its rate and the
    step, the search's or a map check's rounds (a step that falls behind may run up to
    twice as long; not counted)."""
    chosen = map_check_jobs.wake_settings(settings, rates) if rates else settings
    return _steps(rates) * (float(chosen.get("warmup_seconds") or 0) + float(chosen.get("step_seconds") or 0))


def served_seconds(settings: dict, rates=None) -> float:
    """The load generator's phases in a served job: the whole warm-up (its longest),
    the closed loop and the steps of its search or of a map check's rounds at ``rates``."""
    chosen = map_check_jobs.served_settings(settings, rates)
    return (float(chosen.get("warmup_seconds") or 0) + float(chosen.get("closed_seconds") or 0)
            + _steps(rates) * (float(chosen.get("step_seconds") or 0) + STEP_OVERHEAD_SECONDS))


def _key(job: dict) -> tuple:  # a job's stored fields (Job.as_record) or a record
    return (job["kind"], job["model"], job.get("variant"), job["n"], job.get("primitive"),
            job.get("placement"))


def _measured(machine_folder: Path) -> dict:
    """Job key -> wall seconds from the machine's earlier runs (newest wins)."""
    seconds: dict = {}
    if not results.has_runs(machine_folder):
        return seconds
    for path in results.find_run_files(machine_folder):  # oldest first: newest overwrites
        try:
            document = results.read_run(path)
        except UserError:
            continue  # an unreadable earlier run only means no estimate from it
        for record in document["measurements"] + document["failures"]:
            if record.get("wall_seconds") is not None:  # a switch benchmark by its pyperf mode
                # a switch record marked whole timed every round in one go (format 2)
                whole = record.get("kind") == "switch" and bool(record.get("whole"))
                seconds[(_key(record), record.get("mode"))] = (
                    float(record["wall_seconds"]), float(record.get("wake_seconds") or 0.0), whole)
    return seconds


QUICK_SWITCH_SECONDS = 2.5  # a quick pyperf switch benchmark here


def plan_seconds(jobs, machine_folder: Path, wake_max_n: dict | None = None,
                 rigorous_primitives: dict | None = None, latency_mode: str = "quick",
                 switch_rounds: int = 1, served_settings: dict | None = None,
                 wake_settings: dict | None = None) -> dict:
    """Estimated seconds per phase for ``jobs``, and how many were measured before (an
    earlier wake is taken off where this sweep will not wake; an earlier rigorous
    benchmark counts as quick where this sweep runs it quick; an earlier benchmark run
    whole counts as one ``switch_rounds``-th per round). ``_models`` holds each
    workload's share."""
    measured = _measured(Path(machine_folder))
    phases: dict = {}
    models: dict = {}
    known = 0
    for job in jobs:
        record = job.as_record()
        mode = None
        if str(job.kind) == "switch":
            quick = rigorous_primitives is not None and job.primitive not in rigorous_primitives.get(job.model, ())
            mode = "quick" if quick else latency_mode
        if (_key(record), mode) in measured:
            seconds, wake, whole = measured[(_key(record), mode)]
            if job.n > (wake_max_n or {}).get(job.model, job.n):
                seconds -= wake
            if whole:
                seconds /= switch_rounds
            known += 1
        elif mode == "quick":
            seconds = QUICK_SWITCH_SECONDS
        else:
            fixed, per = DEFAULT_SECONDS.get(str(job.kind), (1.0, 0.0))
            seconds = fixed + per * job.n
            if str(job.kind) == "served":
                seconds += served_seconds(served_settings or {}, job.rates)
            elif str(job.kind) == "wakes":
                seconds += wakes_seconds(wake_settings or {}, job.rates)
        phases[str(job.kind)] = phases.get(str(job.kind), 0.0) + seconds
        models[job.model] = models.get(job.model, 0.0) + seconds
    phases["_models"] = models
    phases["_known"] = known
    phases["_jobs"] = len(list(jobs))
    return phases


def phase_seconds(document: dict) -> dict:
    """Seconds each phase of a finished run took (the children's wall times)."""
    phases: dict = {}
    models: dict = {}
    for record in document["measurements"] + document["failures"]:
        kind, model = record["kind"], record["model"]
        seconds = float(record.get("wall_seconds") or 0.0)
        phases[kind] = phases.get(kind, 0.0) + seconds
        models[model] = models.get(model, 0.0) + seconds
    phases["_models"] = models
    return phases


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def describe(phases: dict, verb: str = "estimate") -> str:
    parts = {kind: seconds for kind, seconds in phases.items() if not kind.startswith("_")}
    total = sum(parts.values())
    text = f"{verb}: {_minutes(total)}"
    if parts:  # nothing ran (every job skipped): no empty "()"
        text += " (" + ", ".join(f"{kind} {_minutes(seconds)}" for kind, seconds in sorted(parts.items())) + ")"
    if "_models" in phases:
        text += "; by workload: " + ", ".join(
            f"{model} {_minutes(seconds)} ({seconds / total:.0%})"
            for model, seconds in phases["_models"].items()) if total else ""
    if "_jobs" in phases:
        text += (f"; {phases['_known']} of {phases['_jobs']} children timed by an earlier run "
                 f"of this machine, the rest guessed")
    return text
