"""The fit map: for W concurrent idle waiters and R wake-ups per second, which model fits
on one machine (scale up) and how many machines each needs (scale out).

Per model and machine the inputs are the machine's current figures (``current.py``):
total bytes per idle waiter (PSS plus kernel), capacity (a measured ceiling, else the
binding memory or OS limit), and the model's **measured edge** (``edges.py``): the
rate one machine sustains at each W measured, interpolated in log W between them and
held flat beyond: requests a connections server served while W others sat idle
(``served_figures.py``), wake-ups a loop took while W waiters stayed parked
(``wake_figures.py``), each per core times the cores the model serves with
(``registry.cores_used``). Then

    machines = max(ceil(W / capacity), ceil(R / the edge's rate at W))

A model without a measured edge is not sized for any wake-up: the one-way hand-off of
two waiters (cores / hand-off) is shown beside, as the upper bound it is. Reference
models (go) are measured beside the Python models for comparison: ``fit`` and the fit
maps show them, labelled; the decision map chooses among the Python models only
(``candidates``) and marks the reference's one-machine corner. Everything here returns
data; plotting lives in ``sizing_plots.py``.
"""

import math
from dataclasses import dataclass

from parkbench.analysis import edges, tidy
from parkbench.analysis.served_figures import basis_label
from parkbench.core import published, registry
from parkbench.core.registry import in_registry_order, is_connections

# Published figures of other runtimes (``published.py``: each with its unit and
# source): reference markers, never measurements of this machine; shown only for a
# runtime that is not measured here (``runtime`` names the model that measures it).
PUBLISHED: tuple[dict, ...] = (
    {"label": "Go goroutine (published)", "runtime": "go",
     "bytes_per_waiter": published.GOROUTINE_MEMORY.per_waiter,
     "switch_seconds": published.GOROUTINE_SWITCH.base},
    {"label": "JVM platform thread (published: 1 MiB stack reserved, 1-5 µs OS switch)",
     "runtime": "jvm", "bytes_per_waiter": published.JVM_THREAD_STACK.base,
     "switch_seconds": published.OS_SWITCH.base},
)


@dataclass(frozen=True)
class Profile:
    machine: str
    model: str
    variant: str
    total_per_waiter: float     # bytes
    capacity: int               # waiters one machine holds
    capacity_limit: str         # the binding limit
    switch_seconds: float       # one-way hand-off, pyperf median
    cores: int                  # cores the model's hand-offs can use
    interpreter: str = ""
    capacity_basis: str = "predicted"   # measured (a sweep met the ceiling) or predicted
    primitive: str = ""                 # the hand-off primitive timed
    placement: str = ""                 # and the placement whose median is used
    memory_run: str = ""                # run ids the figures came from
    switch_run: str = ""
    switch_disturbed: bool = False   # timed on a busy machine, for want of a quiet run
    # the measured edge: what one machine sustains at each W measured (requests served by a
    # connections server, wake-ups on a loop beside W parked), ``edges.py``; empty where
    # none was measured: then no rate can be sized by
    edge: tuple = ()

    @property
    def serves_requests(self) -> bool:
        """A connections server: its wake-ups are requests, sized by the served rate."""
        return is_connections(self.variant)

    @property
    def handoffs_per_second(self) -> float:
        """cores / one-way hand-off: an upper bound on wake-ups (two waiters, nothing
        else on the loop), shown beside the measured rate, never sized by."""
        return self.cores / self.switch_seconds if self.switch_seconds > 0 else 0.0

    def rate_at(self, waiters: float) -> edges.EdgeRate | None:
        """The measured edge at ``waiters`` (interpolated, or held flat beyond), or None."""
        return edges.at(self.edge, waiters)

    @property
    def rate_per_machine(self) -> float:
        """The measured rate at the largest W measured (0 where none was measured)."""
        return self.edge[-1].rate if self.edge else 0.0

    @property
    def rate_name(self) -> str:
        return "request rate" if self.serves_requests else "wake rate"

    @property
    def rate_basis(self) -> str:
        """The one-word bases of the edge's rates over its W (SLO, saturation, floor-bound...),
        each once, in W order: ``floor-bound/generator-bound`` where they differ."""
        words = [basis_label(p.basis) for p in sorted(self.edge, key=lambda p: p.waiters)]
        return "/".join(dict.fromkeys(word for word in words if word))

    def rate_basis_at(self, waiters: float) -> str:
        """The one-word basis of the rate at ``waiters``: that of the measured point(s) the
        rate there comes from (``floor-bound to generator-bound`` between two that differ)."""
        edge = self.rate_at(waiters)
        if edge is None:
            return ""
        return " to ".join(dict.fromkeys(basis_label(basis) for basis in edge.bases))

    def edge_basis_at(self, waiters: float) -> str:
        """The basis of the rate at ``waiters``, and the W and runs of the measured edge (one line)."""
        edge = self.rate_at(waiters)
        if edge is None:
            return ""
        runs = ", ".join(sorted({p.run for p in self.edge if p.run}))
        ws = ", ".join(f"{p.waiters:,}" for p in self.edge)
        return f"{edge.basis}; measured at W={ws}; run {runs}"

    @property
    def edge_basis(self) -> str:
        """The basis of the edge at its largest W, its W and runs (one line)."""
        return self.edge_basis_at(max(p.waiters for p in self.edge)) if self.edge else ""


def _machines(share: float) -> int:
    """Whole machines for ``share`` machines' worth of load; 5.0000000001 is 5, not 6
    (1 / 5e-6 is 199999.99999999997 in floating point)."""
    return math.ceil(round(share, 9))


def machines_needed(profile: Profile, waiters: float, rate: float) -> tuple[float, str]:
    """Machines ``profile``'s model needs for ``waiters`` idle waiters and ``rate``
    wake-ups per second (``math.inf`` where one waiter needs more than a machine), and
    what binds: its capacity limit, ``wake rate`` or ``request rate`` (its measured edge
    at that W). A model without a measured edge cannot be sized for any wake-up at all
    (``math.inf``, ``no served rate`` or ``no wake rate``): the hand-off of two waiters
    alone is an upper bound, not a rate a loop sustains beside W parked."""
    by_waiters = _machines(waiters / profile.capacity) if profile.capacity > 0 else math.inf
    edge = profile.rate_at(waiters)
    if edge is None or edge.rate <= 0:
        by_rate = math.inf if rate > 0 else 0
        if by_rate > by_waiters:
            return math.inf, "no served rate" if profile.serves_requests else "no wake rate"
    else:
        by_rate = _machines(rate / edge.rate)
    machines = max(by_waiters, by_rate, 1)
    if by_rate > by_waiters:
        return machines, profile.rate_name
    return machines, profile.capacity_limit


def handoff(frame, machine: str, interpreter: str, model: str):
    """(seconds, primitive, placement, run id, disturbed) of the hand-off that wakes ``model``'s
    parked waiter: its default primitive (the registry's first; another measured one
    only when that was not timed), at the slower of its placements (a wake-up can land
    on either), or ``None``."""
    rows = frame[(frame.machine == machine) & (frame.interpreter == interpreter)
                 & (frame.model == model) & (frame.metric == "switch_latency")
                 & (frame.value > 0)]
    if rows.empty:
        return None
    registered = registry.MODELS.get(model)
    known = registered.primitives if registered else ()
    order = [p for p in known if p in set(rows.primitive)] or sorted(set(rows.primitive))
    chosen = rows[rows.primitive == order[0]]
    if registered and registered.handoff_placement in set(chosen.placement):
        chosen = chosen[chosen.placement == registered.handoff_placement]
    slowest = chosen.loc[chosen.value.idxmax()]
    return (float(slowest.value), order[0], str(slowest.placement), str(slowest.run_id),
            slowest.get("basis") == "disturbed")


def unsized(current_frame, sized) -> dict[str, list[str]]:
    """The variants with a total per waiter that ``profiles`` could not size (``sized``
    its profiles), by why: no capacity (a memory run that recorded no OS limits), or
    neither a hand-off nor a measured rate; each ``machine interpreter model/variant``."""
    frame = current_frame
    totals = frame[(frame.metric == "total_per_waiter") & frame.n.isna()]
    capacity = frame[frame.metric == "capacity"]
    bounded = set(zip(capacity.machine, capacity.interpreter, capacity.model, capacity.variant))
    done = {(p.machine, p.interpreter, p.model, p.variant) for p in sized}
    found: dict[str, list[str]] = {}
    for row in in_registry_order(totals.reset_index(drop=True)).itertuples():
        key = (row.machine, row.interpreter, row.model, row.variant)
        if key in done:
            continue
        why = "no capacity" if key not in bounded else "no hand-off or measured rate"
        found.setdefault(why, []).append(f"{row.machine} {row.interpreter} {row.model}/{row.variant}")
    return found


def profiles(current_frame, cores: dict | None = None) -> list[Profile]:
    """A ``Profile`` per (machine, interpreter, model, variant) of a machine's current
    figures (``current.select``) that has a total per waiter, a capacity and a
    hand-off. ``cores`` maps a machine to its logical CPUs (subprocess workers use them
    all; one interpreter uses one core)."""
    frame = current_frame
    found = []
    totals = frame[(frame.metric == "total_per_waiter") & frame.n.isna()]
    capacity = frame[frame.metric == "capacity"]

    for row in in_registry_order(totals.reset_index(drop=True)).itertuples():
        bound = capacity[(capacity.machine == row.machine) & (capacity.interpreter == row.interpreter)
                         & (capacity.model == row.model) & (capacity.variant == row.variant)]
        switch = handoff(frame, row.machine, row.interpreter, row.model)
        machine_cores = registry.cores_used(row.model, row.variant, (cores or {}).get(row.machine) or 1,
                                            tidy.is_free_threaded(row.interpreter))
        edge = edge_points(frame, row, machine_cores)
        if bound.empty or (switch is None and not edge and not is_connections(row.variant)):
            continue
        switch = switch or (0.0, "", "", "", False)  # a server is sized by what it serves
        bound = bound.iloc[0]
        found.append(Profile(
            row.machine, row.model, row.variant, float(row.value), int(bound.value),
            str(bound["limit"]), switch[0], machine_cores,
            interpreter=row.interpreter, capacity_basis=str(bound.basis), primitive=switch[1],
            placement=switch[2], memory_run=row.run_id, switch_run=switch[3], switch_disturbed=switch[4],
            edge=edge))
    return found


# per workload: the metric of the rate per core at each W, and of the knee's spread
EDGE_METRICS = {True: ("served_rate_per_core", "served_knee_spread"),
                False: ("wake_rate_per_core", "wake_knee_spread")}


def edge_points(frame, row, cores: int) -> tuple:
    """The measured edge of ``row``'s (machine, interpreter, model, variant): per W, the
    rate per core times ``cores``, its band from the knee's spread (``edges.point``)."""
    rate_metric, spread_metric = EDGE_METRICS[is_connections(row.variant)]
    mine = frame[(frame.machine == row.machine) & (frame.interpreter == row.interpreter)
                 & (frame.model == row.model) & (frame.variant == row.variant) & frame.n.notna()]
    rates = mine[mine.metric == rate_metric]
    spreads = mine[mine.metric == spread_metric].groupby("n").value.median()
    return tuple(edges.point(int(r.n), float(r.value) * cores, spreads.get(r.n), str(r.limit or ""), str(r.run_id))
                 for r in rates.sort_values("n").itertuples())


WORKLOADS = (("in-process", "waiters woken in-process (a future, an event, a pipe byte; R: wake-ups/s "
                            "one loop sustains beside W parked)"),
             ("connections", "idle connections and requests served (R: requests/s served beside W idle)"))


def by_workload(profiles_) -> list[tuple[str, str, list[Profile]]]:
    """(key, title, profiles) per workload: the profiles with a measured edge (a model
    without one cannot be placed on a map of wake-ups or requests: ``without_edge``), and
    the references (go), which the maps mark at their one-machine corner."""
    return [(key, title, [p for p in profiles_ if p.serves_requests == (key == "connections")
                          and (p.edge or is_reference(p))])
            for key, title in WORKLOADS]


def with_free_threaded(profiles_, primary: str) -> list[Profile]:
    """The profiles of the ``primary`` interpreter and, beside them, those of a
    free-threaded interpreter's models that use every core only without the GIL (OS
    threads): the rows a decision map adds, where a bigger machine helps threads too."""
    return [p for p in profiles_ if p.interpreter == primary
            or (tidy.is_free_threaded(p.interpreter)
                and registry.serves_every_core(p.model, p.variant, free_threaded=True)
                and not registry.serves_every_core(p.model, p.variant))]


def without_edge(profiles_, workload: str) -> list[Profile]:
    """The Python profiles of ``workload`` left off its maps: no measured edge to size by."""
    return [p for p in profiles_ if p.serves_requests == (workload == "connections") and not p.edge
            and not is_reference(p)]


def answer(profiles_, waiters: float, rate: float) -> list[dict]:
    """One workload point for every profile: machines needed and what binds, fewest first."""
    rows = []
    for profile in profiles_:
        machines, binding = machines_needed(profile, waiters, rate)
        edge = profile.rate_at(waiters)
        rows.append({"machine": profile.machine, "interpreter": profile.interpreter,
                     "model": profile.model, "variant": profile.variant, "cores": profile.cores,
                     "reference": is_reference(profile), "machines": machines, "bound_by": binding,
                     "capacity": profile.capacity, "capacity_limit": profile.capacity_limit,
                     "capacity_basis": profile.capacity_basis,
                     "handoffs_per_second": profile.handoffs_per_second,
                     "rate_per_machine": profile.rate_per_machine, "rate_name": profile.rate_name,
                     "rate_at": edge.rate if edge else None, "extrapolated": bool(edge and edge.extrapolated),
                     "edge_basis": profile.edge_basis_at(waiters), "rate_basis": profile.rate_basis_at(waiters),
                     "primitive": profile.primitive, "placement": profile.placement,
                     "total_per_waiter": profile.total_per_waiter,
                     "memory_run": profile.memory_run, "switch_run": profile.switch_run,
                     "switch_disturbed": profile.switch_disturbed})
    return sorted(rows, key=lambda r: (r["machines"], r["total_per_waiter"]))


def grid(profile: Profile, waiters_axis, rate_axis) -> list[list[float]]:
    """Machines needed over a (rate x waiters) grid, rows by rate: the map of one model."""
    return [[machines_needed(profile, w, r)[0] for w in waiters_axis] for r in rate_axis]


def published_markers(memory_bytes: float, cores: int = 1, measured=()) -> list[dict]:
    """Where the published runtimes' one-machine corners would sit on a machine of
    ``memory_bytes``: memory / bytes per waiter, and cores / switch time; none for a
    runtime in ``measured`` (its own measurement is shown instead)."""
    return [{"label": ref["label"], "waiters": memory_bytes / ref["bytes_per_waiter"],
             "rate": cores / ref["switch_seconds"]} for ref in PUBLISHED
            if ref["runtime"] not in set(measured)]


def is_reference(profile: Profile) -> bool:
    """A reference model (go): measured beside the Python models, not a choice among them."""
    model = registry.MODELS.get(profile.model)
    return bool(model and model.reference)


def candidates(profiles_) -> list[Profile]:
    """The profiles a Python service chooses among: every one but the references."""
    return [p for p in profiles_ if not is_reference(p)]


def reference_markers(profiles_) -> list[dict]:
    """The one-machine corner of each measured reference profile of its default variant
    (capacity, and its measured rate, or where none was measured cores / hand-off, the
    upper bound it is, said in the label), labelled as measured here."""
    return [{"label": f"{p.model}/{p.variant}: measured here"
                      + ("" if p.edge else " (rate: cores / hand-off, an upper bound)"),
             "model": p.model, "waiters": p.capacity, "rate": p.rate_per_machine or p.handoffs_per_second}
            for p in profiles_ if is_reference(p)
            and p.variant == registry.MODELS[p.model].variants[0]]


def best(profiles_, waiters: float, rate: float) -> tuple[Profile, float]:
    """The profile needing the fewest machines for one workload point, and how many it
    needs. Ties go to the higher measured rate per machine (more room for wake-ups),
    then to the smaller total per waiter (more room for waiters)."""
    scored = [(machines_needed(p, waiters, rate)[0], -p.rate_per_machine, p.total_per_waiter, i, p)
              for i, p in enumerate(profiles_)]
    machines, _, _, _, profile = min(scored, key=lambda item: item[:4])
    return profile, machines


def decision_grid(profiles_, waiters_axis, rate_axis) -> list[list[tuple[Profile, float]]]:
    """The decision map: rows by rate, columns by waiters, each cell the best profile
    and the machines it needs."""
    return [[best(profiles_, w, r) for w in waiters_axis] for r in rate_axis]
