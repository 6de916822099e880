"""The capacity of a machine's current figures (``current.py``'s rule for capacity):
how many waiters it holds per interpreter, model and variant, and the limit that binds.

- A measured ceiling (``limit_reached``, newest) beats a prediction; with a planned
  memory size, only a ceiling that memory set moves.
- A prediction is the smallest bound of ``limits.capacity`` from the memory run's total
  per waiter and the OS limits in force. For threads, vm.max_map_count less the
  mappings the process held before any thread, over the mappings per thread: counted at
  the largest N any run measured, or, where the machine met a max_map_count ceiling of
  threads (under any interpreter) and it implies more, those at that ceiling (a thread's
  mappings grow past the N a memory sweep reaches: malloc arenas, guard pages).
- Each prediction that a measured ceiling can check is checked: what the counted figures
  predict under the limits in force at the ceiling, against the ceiling (``checks``).

Plain functions over tidy rows; they return data.
"""

from dataclasses import dataclass
from typing import Any

from parkbench.core import registry
from parkbench.measurement import limits as limits_module

MEMORY_BOUND = "memory"  # the bound a planned memory size (fit --memory) moves
MAP_BOUND = "max_map_count"


@dataclass(frozen=True)
class Mappings:
    """Mappings one thread adds, those the process held before any thread (``None``
    where not counted), and where the figure comes from (``basis``, in words)."""

    per_thread: float
    fixed: float | None
    basis: str


@dataclass(frozen=True)
class MapCeiling:
    """A measured max_map_count ceiling of threads, and the max_map_count in force then."""

    interpreter: str
    variant: str
    run_id: str
    reached: int
    max_map_count: int
    fixed: float | None  # mappings the ceiling run's processes held before any thread

    @property
    def per_thread(self) -> float:
        """Mappings per thread at the ceiling: what the threads got, over how many."""
        return (self.max_map_count - (self.fixed or 0)) / self.reached

    def name(self, variant: str) -> str:
        other = "" if variant == self.variant else f" threads/{self.variant}"
        return f"the {self.interpreter}{other} ceiling of {self.reached:,}"


@dataclass
class _Figures:
    done: Any          # the tidy rows of complete runs
    mapped: Any        # their raw maps and maps_added rows
    runs: dict         # (machine, run_id) -> tidy.Run
    ceilings: dict     # (machine, interpreter, model, variant) -> its limit_reached row
    at_ceilings: dict  # machine -> [MapCeiling]


def _pairs(mapped, machine, interpreter, model, variant, run_id=None):
    """Mappings added (``value_added``) and held (``value_held``) per measurement."""
    rows = mapped[(mapped.machine == machine) & (mapped.interpreter == interpreter)
                  & (mapped.model == model) & (mapped.variant == variant)]
    if run_id is not None:
        rows = rows[rows.run_id == run_id]
    keys = ["run_id", "n", "repeat"]
    return rows[rows.metric == "maps_added"][keys + ["value"]].merge(
        rows[rows.metric == "maps"][keys + ["value"]], on=keys, suffixes=("_added", "_held"))


def counted_mappings(mapped, machine, interpreter, model, variant) -> Mappings | None:
    """Mappings per thread counted at the largest N any complete run measured (median
    over the runs and repeats there) and those held before any thread, or None."""
    pairs = _pairs(mapped, machine, interpreter, model, variant)
    if pairs.empty:
        return None
    largest = pairs[pairs.n == pairs.n.max()]
    return Mappings(float((largest.value_added / largest.n.astype(float)).median()),
                    float((largest.value_held - largest.value_added).median()),
                    f"counted at N {int(largest.n.max()):,}")


def map_ceilings(mapped, runs: dict, ceilings: dict) -> dict:
    """machine -> its measured max_map_count ceilings of threads (``MapCeiling``), each
    with the max_map_count in force in its run; a run that did not record its limits
    says nothing about mappings."""
    found: dict[str, list[MapCeiling]] = {}
    for (machine, interpreter, model, variant), row in sorted(ceilings.items()):
        run = runs.get((machine, row.run_id))
        in_force = ((run.limits if run else None) or {}).get("max_map_count")
        if model != "threads" or row["limit"] != MAP_BOUND or not in_force or row.value < 1:
            continue
        pairs = _pairs(mapped, machine, interpreter, model, variant, row.run_id)
        fixed = float((pairs.value_held - pairs.value_added).median()) if len(pairs) else None
        found.setdefault(machine, []).append(
            MapCeiling(interpreter, variant, row.run_id, int(row.value), int(in_force), fixed))
    return found


def ceiling_for(variant: str, candidates: list) -> MapCeiling | None:
    """The ceiling that speaks for threads/``variant``: one of that variant if any, else
    of any variant; of those, the most mappings per thread (the tighter bound)."""
    pool = [c for c in candidates if c.variant == variant] or candidates
    return max(pool, key=lambda c: c.per_thread) if pool else None


def _mappings(figures: _Figures, mine, key, ceiling: MapCeiling | None) -> Mappings | None:
    """The mappings a prediction of threads uses: those at ``ceiling`` where they are
    more than those counted (or fitted, where no baseline was counted), else those."""
    if key[2] != "threads":
        return None
    counted = counted_mappings(figures.mapped, *key)
    if counted is None:
        fitted = mine[mine.metric == "maps_per_waiter"].value
        counted = Mappings(float(fitted.iloc[0]), None, "") if len(fitted) else None
    if ceiling is None or (counted is not None and ceiling.per_thread <= counted.per_thread):
        return counted
    basis = f"at {ceiling.name(key[3])}"
    if counted is not None and counted.basis:
        basis += f"; {counted.basis}: {counted.per_thread:.2f}"
    fixed = counted.fixed if counted is not None and counted.fixed is not None else ceiling.fixed
    return Mappings(ceiling.per_thread, fixed, basis)


def _total(mine, model: str) -> tuple[float | None, str]:
    """The memory run's total per waiter, and what a reader of the bound must know."""
    values = mine[mine.metric == "total_per_waiter"].value
    total = float(values.iloc[0]) if len(values) else None
    note = ""
    if total is not None and total <= 0:  # a noisy fit; memory is never free

        floor = registry.MODELS[model].floor_bytes_per_waiter if model in registry.MODELS else 256
        note = f" (total per waiter: noise, not above zero; the floor of {floor:,} B used)"
        total = float(floor)
    curve = mine[mine.metric == "total_nonlinear"].value
    if len(curve) and curve.iloc[0] == 1:
        exponent = mine[mine.metric == "total_exponent"].value
        note += (f" (total per waiter grows as N^{exponent.iloc[0]:.2f}: this straight-line "
                 f"bound holds near the N measured)")
    return total, note


def _predict(model, variant, in_force, total, maps: Mappings | None, note=""):
    """(binding bound, its detail) of a prediction, or None where no bound is known."""
    bound = limits_module.capacity(model, variant, in_force, total,
                                   maps.per_thread if maps else None, maps.fixed if maps else None)
    if bound is None:
        return None
    detail = bound.detail + note
    if maps is not None and maps.basis and bound.limit == MAP_BOUND:
        detail += f" ({maps.basis})"
    return bound, detail


def _memory_figures(done, key, run_id):
    machine, _, model, variant = key
    return done[(done.machine == machine) & (done.run_id == run_id) & (done.model == model)
                & (done.variant == variant) & done.n.isna()]


def _capacity(figures: _Figures, key, run_id, limits, memory_bytes) -> dict | None:
    machine, interpreter, model, variant = key
    base = {"machine": machine, "interpreter": interpreter, "model": model, "variant": variant,
            "placement": None, "metric": "capacity", "n": None, "unit": "waiters",
            "repeat": None}
    ceiling = figures.ceilings.get(key)
    measured = None
    if ceiling is not None:
        measured = {**base, "run_id": ceiling.run_id, "value": float(ceiling.value),
                    "limit": ceiling["limit"], "basis": "measured",
                    "detail": f"the OS refused one more waiter at {int(ceiling.value):,}"}
        if memory_bytes is None:
            return measured
        if ceiling["limit"] == MEMORY_BOUND:  # memory set it: another size moves it
            measured = None
    run = figures.runs.get((machine, run_id))
    in_force = dict(limits if limits is not None else (run.limits if run else None) or {})
    if memory_bytes is not None:
        in_force.update(memory_available=memory_bytes, cgroup_memory_max=None)
    mine = _memory_figures(figures.done, key, run_id)
    total, note = _total(mine, model)
    if measured is not None:  # a ceiling that memory did not set holds at any memory size
        memory = next((b for b in limits_module.bounds(model, variant, in_force, total)
                       if b.limit == MEMORY_BOUND), None)
        if memory is None or memory.waiters >= measured["value"]:
            return measured
        return {**base, "run_id": run_id, "value": float(memory.waiters), "limit": memory.limit,
                "basis": "predicted", "detail": memory.detail + note}
    maps = _mappings(figures, mine, key, ceiling_for(variant, figures.at_ceilings.get(machine, [])))
    predicted = _predict(model, variant, in_force, total, maps, note)
    if predicted is None:
        return None
    bound, detail = predicted
    return {**base, "run_id": run_id, "value": float(bound.waiters), "limit": bound.limit,
            "basis": "predicted", "detail": detail}


def _check(figures: _Figures, key, run_id) -> dict | None:
    """What the counted figures of ``key`` predict under the limits in force when a
    ceiling was measured, against that ceiling: its own (whatever the limit), or, for
    threads whose mappings bind, the machine's max_map_count ceiling that speaks for them."""
    machine, interpreter, model, variant = key
    own = figures.ceilings.get(key)
    chosen = ceiling_for(variant, figures.at_ceilings.get(machine, [])) if model == "threads" else None
    if own is not None:
        where, measured, limit = (interpreter, variant, own.run_id), int(own.value), own["limit"]
    elif chosen is not None:
        where, measured, limit = ((chosen.interpreter, chosen.variant, chosen.run_id),
                                  chosen.reached, MAP_BOUND)
    else:
        return None
    run = figures.runs.get((machine, where[2]))
    if not (run and run.limits) or measured < 1:
        return None
    mine = _memory_figures(figures.done, key, run_id)
    maps = _mappings(figures, mine, key, None)
    predicted = _predict(model, variant, run.limits, _total(mine, model)[0], maps)
    if predicted is None or (own is None and predicted[0].limit != MAP_BOUND):
        return None
    bound = predicted[0]
    basis = (f"{maps.per_thread:.2f} mappings per thread {maps.basis}"
             if maps is not None and maps.basis and bound.limit == MAP_BOUND
             else f"{bound.limit} ({bound.detail})")
    return {"machine": machine, "interpreter": interpreter, "model": model, "variant": variant,
            "predicted": bound.waiters, "predicted_limit": bound.limit, "predicted_from": basis,
            "measured": measured, "measured_limit": limit, "ceiling_interpreter": where[0],
            "ceiling_variant": where[1], "ceiling_run": where[2],
            "ratio": bound.waiters / measured,
            "capacity_uses_ceiling": own is None and chosen is not None
            and (maps is None or chosen.per_thread > maps.per_thread)}


def describe_check(check: dict) -> str:
    """One check of ``current_rows`` in words: predicted, measured, how far apart."""
    over = check["ratio"] - 1
    verdict = ("the prediction matches" if abs(over) < 0.0005
               else f"the prediction is {abs(over):.1%} {'over' if over > 0 else 'under'}")
    where = check["ceiling_interpreter"]
    if check["ceiling_variant"] != check["variant"]:
        where += f" {check['model']}/{check['ceiling_variant']}"
    text = (f"predicted {check['predicted']:,} from {check['predicted_from']} under the limits in force at "
            f"the ceiling; measured "
            f"{check['measured']:,} ({where}, run {check['ceiling_run']}): {verdict}")
    if check["capacity_uses_ceiling"]:
        text += "; the capacity takes the mappings per thread at that ceiling"
    return text


def current_rows(memory_runs: dict, done, runs: dict, ceilings: dict, limits: dict | None,
                 memory_bytes: int | None) -> tuple[list[dict], list[dict]]:
    """(capacity rows, checks) of the current figures. ``memory_runs`` maps (machine,
    interpreter, model, variant) to the run its memory figures come from, ``ceilings`` to
    its current ``limit_reached`` row; ``limits`` and ``memory_bytes`` as
    ``current.select`` takes them. A check is a dict: the key; ``predicted``, the waiters
    the counted figures allow under the limits in force at the ceiling, with
    ``predicted_limit`` and ``predicted_from`` (words); ``measured`` (the ceiling),
    ``measured_limit``, ``ceiling_interpreter``, ``ceiling_variant``, ``ceiling_run``;
    ``ratio`` (predicted / measured); ``capacity_uses_ceiling`` (the capacity takes its
    mappings per thread from that ceiling)."""
    mapped = done[done.n.notna() & done.metric.isin(("maps", "maps_added"))]
    figures = _Figures(done, mapped, runs, ceilings, map_ceilings(mapped, runs, ceilings))
    rows, checks = [], []
    for key, run_id in memory_runs.items():
        row = _capacity(figures, key, run_id, limits, memory_bytes)
        if row is not None:
            rows.append(row)
        check = _check(figures, key, run_id)
        if check is not None:
            checks.append(check)
    return rows, checks
