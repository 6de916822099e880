"""A machine's current figures: the one rule every reader (show, limits, fit, compare,
the report) uses to decide which measurement speaks for the machine.

For each (machine, interpreter, model, variant, placement) and family of figures, the
figures come from **the newest complete run that measured them**, and carry its run id:

- memory (every ``*_per_waiter``, ``*_fixed``, ``*_fit_r2``, ``max_n`` and the raw
  points behind them): the newest complete run with a fit of that model/variant whose
  fit is *sound* (``fit_quality``: N spans at least ``MIN_SPAN`` and R² of RSS at least ``MIN_R2``).
  A newer fit that is not sound does not replace a sound older one; a note says so.
  Raw points of different runs are never fitted or plotted together.
- switch latency per (model, primitive, placement), and tail latency per (model,
  primitive): the newest complete run that timed it undisturbed (``switch_disturbed``,
  ``tail_disturbed``: the rest of the machine busy while it was timed); a disturbed
  run never replaces a quiet one, and where only disturbed runs timed it, the newest
  speaks, marked (``basis`` "disturbed") and noted.
- the served rate per (model, variant) (``served_figures.choose``): the complete run that
  served requests under load with the largest idle crowd W, the newest among those.
- capacity (``current_capacity.py``): a measured ceiling (``limit_reached`` from
  ``--to-limit`` or the full sweep, newest) beats a prediction; otherwise the predicted
  bound from the memory run's total per waiter, the OS limits in force when that run
  ran (or the limits given, e.g. this machine's live limits), and mappings per thread
  counted at the largest N measured in any run, or those at a max_map_count ceiling of
  threads measured on the machine where they are more. Each prediction a measured
  ceiling can check is checked (``Current.checks``, and a note).

Incomplete (interrupted) runs speak for nothing; a note names them. Everything here
returns data; nothing prints.
"""

from dataclasses import dataclass, field
from typing import Any

from parkbench.analysis import current_capacity, host_mix, tidy
from parkbench.analysis.fit_quality import memory_quality
from parkbench.analysis.served_figures import SERVED_FIGURES, SERVED_RAW
from parkbench.analysis.served_figures import choose as choose_served
from parkbench.analysis.slopes import FITTED
from parkbench.analysis.tidy import TAIL_METRICS, frame_of
from parkbench.analysis.wake_figures import WAKE_FIGURES, WAKE_RAW
from parkbench.core.stats import slope_noise
from parkbench.store.record_schema import REQUEST_METRICS
from parkbench.store.results import run_order

MEMORY_RAW = tuple(key for key, _, _ in FITTED) + ("maps_added",) + REQUEST_METRICS
MEMORY_FIGURES = tuple(
    f"{stem}_{suffix}" for _, stem, _ in FITTED
    for suffix in ("per_waiter", "fixed", "fit_r2", "exponent", "exponent_low", "exponent_high",
                   "nonlinear", "at_min_n", "at_max_n")
) + ("max_n", "min_n", "disturbed_points")
SWITCH_FIGURES = ("switch_latency", "switch_latency_mean", "switch_latency_stdev",
                  "switch_latency_values", "switch_latency_round_cv", "switch_disturbed")
TAIL_FLAG = "tail_disturbed"
SERVED_METRICS = SERVED_RAW + SERVED_FIGURES
WAKE_METRICS = WAKE_RAW + WAKE_FIGURES
EXTRA_COLUMNS = ("basis", "detail")


@dataclass
class Current:
    """The current figures (``frame``: tidy rows plus ``basis`` and ``detail``), where
    each family came from (``sources``: dicts), notes for the reader, the run files set
    aside as bad (``set_aside``: ``run_reader.SetAside``, for the command to name), and
    each capacity prediction checked against a measured ceiling (``checks``: dicts, see
    ``current_capacity.current_rows``)."""

    frame: Any
    sources: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    runs: dict = field(default_factory=dict)
    set_aside: list = field(default_factory=list)
    checks: list = field(default_factory=list)

    def used_runs(self) -> list:
        """The runs that speak for something, and each machine's newest run, oldest
        first."""
        keys = {(s["machine"], s["run_id"]) for s in self.sources}
        newest: dict[str, str] = {}
        for machine, run_id in self.runs:
            if machine not in newest or run_order(run_id) > run_order(newest[machine]):
                newest[machine] = run_id
        keys |= set(newest.items())
        return sorted((self.runs[key] for key in keys if key in self.runs),
                      key=lambda run: (run.machine, run_order(run.run_id)))


def _newest_first(run_ids):
    return sorted(set(run_ids), key=run_order, reverse=True)


SYSTEM_WIDE = ("kernel", "kernel_client", "total")  # views read system-wide: noisy, or disturbed


def _noise_rows(rows):
    """``<stem>_noise`` per system-wide view in one run's memory rows: half the 95%
    interval of its slope (``stats.slope_noise``); a per-waiter cost within it is noise
    (the per-process views are never near zero)."""
    raw = rows[rows.n.notna()]
    found = []
    for key, stem, _ in FITTED:
        points = raw[raw.metric == key]
        if stem not in SYSTEM_WIDE or len(points) < 3:
            continue
        noise = slope_noise(points.n, points.value)
        if noise == noise:
            found.append({**points.iloc[0].to_dict(), "n": None, "repeat": None,
                          "metric": f"{stem}_noise", "value": noise})
    return frame_of(found) if found else rows.iloc[0:0]


def select(frame, runs: dict, limits: dict | None = None, memory_bytes: int | None = None) -> Current:
    """The current figures of every machine in ``frame`` (see the module docstring).

    ``runs`` is ``tidy.load_runs``'s second value. ``limits`` replaces the stored OS
    limits for predicted capacity (``parkbench limits`` passes this machine's live
    ones); ``memory_bytes`` plans for a machine of that much memory instead.
    """
    import pandas as pd

    current = Current(frame=None, runs=runs)
    complete = {key for key, run in runs.items() if run.complete}
    current.notes += [f"{machine} {run_id}: incomplete run (interrupted), not used; finish it with "
                      f"'parkbench run --resume {run.path}'"
                      for (machine, run_id), run in sorted(runs.items()) if not run.complete]
    # plain lists: iterating two Series cost 0.3 ms a run file (10,000 files: 3 s)
    done = (frame[[(m, r) in complete for m, r in zip(frame.machine.tolist(), frame.run_id.tolist())]]
            if len(frame) else frame)
    pieces: list = []
    memory_runs = _choose_memory(done, current, pieces)
    figures = done[done.n.isna()]
    _choose_quiet(figures[figures.metric.isin(SWITCH_FIGURES)], "switch", "switch_disturbed",
                  ("model", "primitive", "placement"), current, pieces, "{0}/{1} {2}")
    raw = done[done.n.notna()]
    _choose_quiet(raw[raw.metric.isin((*TAIL_METRICS, TAIL_FLAG))], "tail", TAIL_FLAG,
                  ("model", "primitive"), current, pieces, "{0}/{1}")
    for family, metrics in (("served", SERVED_METRICS), ("wakes", WAKE_METRICS)):
        measured = done[done.metric.isin(metrics)]
        for key, rows in measured.groupby(["machine", "interpreter", "model", "variant"], sort=True):
            chosen, notes = choose_served(rows, _newest_first, family)
            current.notes.extend(f"{key[0]} {key[1]} {key[2]}/{key[3]}: {note}" for note in notes)
            _take(current, pieces, rows[rows.run_id == chosen], key[0], chosen, family, f"{key[2]}/{key[3]}")
    reached = _choose_newest(figures[figures.metric == "limit_reached"], "limit_reached",
                             ("model", "variant"), current, pieces, "{0}/{1}")
    ceilings = {key: rows.iloc[0] for key, rows in reached.items()}
    capacity_rows, current.checks = current_capacity.current_rows(
        memory_runs, done, runs, ceilings, limits, memory_bytes)
    _note_capacity(current, capacity_rows)
    parts = [piece for piece in pieces if len(piece)]
    if capacity_rows:
        parts.append(frame_of(capacity_rows).assign(
            basis=[row["basis"] for row in capacity_rows],
            detail=[row["detail"] for row in capacity_rows]))
    result = pd.concat(parts, ignore_index=True) if parts else frame_of([])
    for column in EXTRA_COLUMNS:
        if column not in result:
            result[column] = None
    current.frame = result.reset_index(drop=True)
    current.notes += host_mix.notes(current)
    return current


def _take(current: Current, pieces: list, rows, machine, run_id, family, what, reason="") -> None:
    """``rows`` speak for ``what`` of ``machine``: kept, and their source said."""
    pieces.append(rows)
    current.sources.append({"machine": machine, "run_id": run_id, "family": family,
                            "what": what, "reason": reason})


def _choose_newest(rows, family: str, keys: tuple, current: Current, pieces: list, label: str) -> dict:
    """Per (machine, interpreter, ``keys``) of ``rows``: the newest complete run's rows
    speak (the one rule of switch, tail and measured-ceiling figures), their source named
    by ``label`` (formatted with the key's ``keys``); returns them by key."""
    chosen = {}
    for key, mine in rows.groupby(["machine", "interpreter", *keys], sort=True, dropna=False):
        newest = _newest_first(mine.run_id)[0]
        _take(current, pieces, mine[mine.run_id == newest], key[0], newest, family, label.format(*key[2:]))
        chosen[(key[0], key[1], *key[2:])] = mine[mine.run_id == newest]
    return chosen


def _choose_quiet(rows, family: str, flag: str, keys: tuple, current: Current, pieces: list,
                  label: str) -> None:
    """Per (machine, interpreter, ``keys``) of ``rows``: the newest complete run whose
    ``flag`` rows say the rest of the machine did not disturb it speaks, else the newest
    (its rows' ``basis`` "disturbed", and a note); a disturbed newer run is noted as set
    aside. The rule of hand-off (switch) and tail figures."""
    for key, mine in rows.groupby(["machine", "interpreter", *keys], sort=True, dropna=False):
        order = _newest_first(mine.run_id)
        flags = mine[mine.metric == flag]
        busy = set(flags.run_id[flags.value > 0])
        chosen = next((run_id for run_id in order if run_id not in busy), order[0])
        what = label.format(*key[2:])
        current.notes += [f"{key[0]} {key[1]} {what}: {family} figures from run {chosen}; the newer run "
                          f"{newer} was disturbed by the rest of the machine and does not replace them"
                          for newer in order[:order.index(chosen)]]
        kept = mine[mine.run_id == chosen]
        if chosen in busy:
            current.notes.append(f"{key[0]} {key[1]} {what}: {family} figures from run {chosen}, which the "
                                 f"rest of the machine disturbed: the hand-off may be the machine's "
                                 f"(parkbench run --only latency times it again)")
            kept = kept.assign(basis="disturbed")
        _take(current, pieces, kept, key[0], chosen, family, what, "disturbed" if chosen in busy else "")


def _choose_memory(done, current: Current, pieces: list) -> dict:
    """Per (machine, interpreter, model, variant) with a memory fit: the newest complete
    run whose fit is sound (else the newest, said to be weak), its raw points, figures and
    the noise of its system-wide views; returns each key's chosen run id."""
    import pandas as pd

    figures = done[done.n.isna()]
    keys = figures[figures.metric == "rss_per_waiter"][["machine", "interpreter", "model", "variant"]]
    wanted = set(map(tuple, keys.values.tolist()))
    # one pass over the table, then each run's own rows: filtering the whole table once
    # per run made a folder of k runs cost k² (a year of nightly runs took minutes)
    unplaced = done[done.placement.isna()]
    by_key = {key: rows for key, rows in
              unplaced.groupby(["machine", "interpreter", "model", "variant"], sort=False)
              if key in wanted}
    memory_runs = {}
    for machine, interpreter, model, variant in sorted(wanted):
        mine = by_key[(machine, interpreter, model, variant)]
        candidates = _newest_first(mine[mine.metric == "rss_per_waiter"].run_id)
        quality = memory_quality(mine)
        sound = [run_id for run_id in candidates if quality[run_id].sound]
        chosen = sound[0] if sound else candidates[0]
        what, fit = f"{model}/{variant}", quality[chosen]
        reason = f"{fit.points}, R² {fit.r2:.4f}"
        current.notes += [f"{machine} {interpreter} {what}: memory figures from run {chosen} ({reason}); "
                          f"the newer run {newer} fitted {quality[newer].points} ({quality[newer].wrong}) "
                          f"and does not replace them" for newer in candidates[:candidates.index(chosen)]]
        if not sound:
            current.notes.append(f"{machine} {interpreter} {what}: no run's memory figures are sound; "
                                 f"those of run {chosen} ({reason}) are shown but weak: {fit.wrong}")
        one = mine[(mine.run_id == chosen) & (mine.metric.isin(MEMORY_FIGURES) | mine.metric.isin(MEMORY_RAW))]
        _take(current, pieces, pd.concat([one, _noise_rows(one)], ignore_index=True),
              machine, chosen, "memory", what, reason)
        memory_runs[(machine, interpreter, model, variant)] = chosen
    return memory_runs


def _note_capacity(current: Current, capacity_rows: list) -> None:
    """Where each capacity came from, and each prediction checked against a ceiling."""
    for row in capacity_rows:
        current.sources.append({"machine": row["machine"], "run_id": row["run_id"],
                                "family": "capacity", "what": f"{row['model']}/{row['variant']}",
                                "reason": f"{row['basis']}: {row['detail']}"})
    current.notes += [f"{c['machine']} {c['interpreter']} {c['model']}/{c['variant']}: capacity "
                      f"checked against a measured ceiling: {current_capacity.describe_check(c)}"
                      for c in current.checks]


def load(paths, limits: dict | None = None, memory_bytes: int | None = None) -> Current:
    """The current figures of whatever results ``paths`` hold; a bad run file in a folder
    is set aside (``Current.set_aside``), a bad run file named in ``paths`` is an error."""
    set_aside: list = []
    frame, runs = tidy.load_runs(paths, set_aside)
    figures = select(frame, runs, limits, memory_bytes)
    figures.set_aside = set_aside
    return figures
