"""A knee search as a record stores it (``served.search`` of a served record,
``wakes.search`` of a wakes record; ``served_schema.check_search`` checked it on
reading), replayed by the rule it ran by (``measurement/knee.py``): the served rate's,
the wake rate's and the map checks' figures are read off the replay, never off what the
probe concluded.
"""

from parkbench.measurement import knee
from parkbench.store import loadgen_output, results


def trials(search: dict) -> list:
    """A stored search's trials as ``knee.Trial``\\s (each holds its step)."""
    found = []
    for trial in search["trials"]:
        step = loadgen_output.parse_steps([trial["step"]], generator=False)[0]  # checked as read
        found.append(knee.Trial(float(trial["rate"]), int(trial["round"]), trial["target"], step,
                                trial.get("cpu_seconds"), int(trial.get("requests") or 0)))
    return found


def replay(search: dict, slo_seconds: float, floor: bool = True, trial_list=None) -> knee.Search:
    """The knee search (or a map check's rounds at fixed rates) of a stored record;
    ``trial_list``: its ``trials`` where the caller has them already (parsing a search's
    steps is most of reading a served run file)."""
    ceiling = search.get("generator_ceiling")
    return knee.replay(trials(search) if trial_list is None else trial_list, search["start"], slo_seconds,
                       ceiling * knee.GENERATOR_SHARE if ceiling else None, floor,
                       search.get("judge_slo", True), search.get("floor_every_round", False),
                       search.get("rates") or ())


def current_records(current, machine: str, family: str, kind: str, interpreter: str | None = None):
    """(run id, record) of each ``kind`` record without rates (no map check) behind
    ``machine``'s current ``family`` figures (``current.sources``); ``interpreter``: only
    those of that interpreter's runs."""
    chosen = {(s["run_id"], s["what"]) for s in current.sources
              if s["family"] == family and s["machine"] == machine}
    for run_id in sorted({run_id for run_id, _ in chosen}):
        run = current.runs.get((machine, run_id))
        if run is None or interpreter not in (None, run.interpreter):
            continue
        for record in results.read_run(run.path)["measurements"]:
            if (record["kind"] == kind and not record.get("rates")
                    and (run_id, f"{record['model']}/{record['variant']}") in chosen):
                yield run_id, record


def step_rows(record: dict, trial_list, run_id: str) -> list[dict]:
    """One row per trial of a record: model, variant, W, target, round, offered,
    achieved, p50, p99, p999 (seconds), run."""
    return [{"model": record["model"], "variant": record["variant"], "n": record["n"],
             "target": trial.target, "round": trial.round, "offered": trial.step.offered,
             "achieved": trial.step.achieved, "p50": trial.step.p50, "p99": trial.step.p99,
             "p999": trial.step.p999, "run_id": run_id} for trial in trial_list]


def per_w(frame, raw: tuple, figure: str):
    """The current figures of a searched rate per (machine, interpreter, model, variant,
    W): yields that key as a dict (``n`` a whole number), the medians of the ``raw``
    metrics over rounds (a Series by metric), the ``figure`` row's value and basis (NaN
    and "" where none), its run, and how many rounds. Nothing where no row."""
    rows = frame[frame.metric.isin(raw + (figure,)) & frame.n.notna()]
    names = ["machine", "interpreter", "model", "variant", "n"]
    for key, group in rows.groupby(names, sort=False):
        measured = group[group.metric != figure]
        rate = group[group.metric == figure]
        yield ({**dict(zip(names, key)), "n": int(key[-1])}, measured.groupby("metric").value.median(),
               float(rate.value.iloc[0]) if len(rate) else float("nan"),
               str(rate["limit"].iloc[0]) if len(rate) else "", str(group.run_id.iloc[0]),
               int(measured.repeat.nunique()))

