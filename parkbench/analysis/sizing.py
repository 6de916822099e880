"""The fit map: for W concurrent idle waiters and R wake-ups per second, which model fits
on one machine (scale up) and how many machines each needs (scale out).

Per model and machine the inputs are the machine's current figures (``current.py``):
total bytes per idle waiter (PSS plus kernel), capacity (a measured ceiling, else the
binding memory or OS limit), and the one-way hand-off time of the model's default
primitive (the one that wakes a parked waiter), at its slower placement. How a
model uses cores decides its hand-off rate: one interpreter runs Python on one core at a
time, so threads, asyncio, uvloop and gevent get ``1 / hand-off`` wake-ups per second per
machine; subprocess workers use every core, ``cores / hand-off``. Then

    machines = max(ceil(W / capacity), ceil(R / hand-offs per second per machine))

Reference models (go) are measured beside the Python models for comparison: ``fit`` and
the fit maps show them, labelled; the decision map chooses among the Python models only
(``candidates``) and marks the reference's one-machine corner. Everything here returns
data; plotting lives in ``sizing_plots.py``.
"""

import math
from dataclasses import dataclass

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
    # a connections server's requests one core serves at the SLO (served_figures.py);
    # None where no served rate was measured
    served_per_core: float | None = None
    served_basis: str = ""
    served_run: str = ""

    @property
    def serves_requests(self) -> bool:
        """A connections server: its wake-ups are requests, sized by the served rate."""
        return is_connections(self.variant)

    @property
    def handoffs_per_second(self) -> float:
        return self.cores / self.switch_seconds if self.switch_seconds > 0 else 0.0

    @property
    def rate_per_machine(self) -> float:
        """Wake-ups per second one machine handles: requests served (a connections
        server: the served rate per core times the cores it can use, 0 when none was
        measured) or in-process hand-offs (cores / hand-off)."""
        if self.serves_requests:
            return (self.served_per_core or 0.0) * self.cores
        return self.handoffs_per_second

    @property
    def rate_name(self) -> str:
        return "request rate" if self.serves_requests else "hand-off rate"


def _machines(share: float) -> int:
    """Whole machines for ``share`` machines' worth of load; 5.0000000001 is 5, not 6
    (1 / 5e-6 is 199999.99999999997 in floating point)."""
    return math.ceil(round(share, 9))


def machines_needed(profile: Profile, waiters: float, rate: float) -> tuple[float, str]:
    """Machines ``profile``'s model needs for ``waiters`` idle waiters and ``rate``
    wake-ups per second (``math.inf`` where one waiter needs more than a machine), and
    what binds: its capacity limit, ``hand-off rate`` or ``request rate``. A connections
    server without a served rate cannot be sized for any request at all (``math.inf``,
    ``no served rate``): the hand-off of two waiters in one process is not its rate."""
    by_waiters = _machines(waiters / profile.capacity) if profile.capacity > 0 else math.inf
    per_machine = profile.rate_per_machine
    if per_machine <= 0:
        by_rate = math.inf if rate > 0 else 0
        if by_rate > by_waiters:
            return math.inf, "no served rate"
    else:
        by_rate = _machines(rate / per_machine)
    machines = max(by_waiters, by_rate, 1)
    if by_rate > by_waiters:
        return machines, profile.rate_name
    return machines, profile.capacity_limit


def handoff(frame, machine: str, interpreter: str, model: str):
    """(seconds, primitive, placement, run id) of the hand-off that wakes ``model``'s
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
    return float(slowest.value), order[0], str(slowest.placement), str(slowest.run_id)


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
        is_server = is_connections(row.variant)
        if bound.empty or (switch is None and not is_server):
            continue
        switch = switch or (0.0, "", "", "")  # a server is sized by what it serves
        served = frame[(frame.machine == row.machine) & (frame.interpreter == row.interpreter)
                       & (frame.model == row.model) & (frame.variant == row.variant)
                       & (frame.metric == "served_rate_per_core") & frame.n.isna()]
        bound = bound.iloc[0]
        machine_cores = (cores or {}).get(row.machine) or 1
        found.append(Profile(
            row.machine, row.model, row.variant, float(row.value), int(bound.value),
            str(bound["limit"]), switch[0],
            registry.cores_used(row.model, row.variant, machine_cores),
            interpreter=row.interpreter, capacity_basis=str(bound.basis), primitive=switch[1],
            placement=switch[2], memory_run=row.run_id, switch_run=switch[3],
            served_per_core=float(served.value.iloc[0]) if is_server and len(served) else None,
            served_basis=str(served["limit"].iloc[0]) if is_server and len(served) else "",
            served_run=str(served.run_id.iloc[0]) if is_server and len(served) else ""))
    return found


WORKLOADS = (("in-process", "waiters woken in-process (a future, an event, a pipe byte; R: hand-offs/s)"),
             ("connections", "idle connections and requests served (R: requests/s at the SLO)"))


def by_workload(profiles_) -> list[tuple[str, str, list[Profile]]]:
    """(key, title, profiles) per workload: in-process waiters, sized by the hand-off, and
    connections servers with a served rate, sized by it (one without is left out: it cannot
    be placed on a map of requests)."""
    return [(key, title, [p for p in profiles_ if p.serves_requests == (key == "connections")
                          and (key != "connections" or p.served_per_core)])
            for key, title in WORKLOADS]


def answer(profiles_, waiters: float, rate: float) -> list[dict]:
    """One workload point for every profile: machines needed and what binds, fewest first."""
    rows = []
    for profile in profiles_:
        machines, binding = machines_needed(profile, waiters, rate)
        rows.append({"machine": profile.machine, "interpreter": profile.interpreter,
                     "model": profile.model, "variant": profile.variant,
                     "reference": is_reference(profile), "machines": machines, "bound_by": binding,
                     "capacity": profile.capacity, "capacity_limit": profile.capacity_limit,
                     "capacity_basis": profile.capacity_basis,
                     "handoffs_per_second": profile.handoffs_per_second,
                     "rate_per_machine": profile.rate_per_machine, "rate_name": profile.rate_name,
                     "served_basis": profile.served_basis, "served_run": profile.served_run,
                     "primitive": profile.primitive, "placement": profile.placement,
                     "total_per_waiter": profile.total_per_waiter,
                     "memory_run": profile.memory_run, "switch_run": profile.switch_run})
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
    """The one-machine corner (capacity, hand-offs per second) of each measured
    reference profile of its default variant, labelled as measured here."""
    return [{"label": f"{p.model}/{p.variant}: measured here", "model": p.model,
             "waiters": p.capacity, "rate": p.rate_per_machine}
            for p in profiles_ if is_reference(p)
            and p.variant == registry.MODELS[p.model].variants[0]]


def best(profiles_, waiters: float, rate: float) -> tuple[Profile, float]:
    """The profile needing the fewest machines for one workload point, and how many it
    needs. Ties go to the faster hand-off (more room for wake-ups), then to the smaller
    total per waiter (more room for waiters)."""
    scored = [(machines_needed(p, waiters, rate)[0], -p.rate_per_machine, p.total_per_waiter, i, p)
              for i, p in enumerate(profiles_)]
    machines, _, _, _, profile = min(scored, key=lambda item: item[:4])
    return profile, machines


def decision_grid(profiles_, waiters_axis, rate_axis) -> list[list[tuple[Profile, float]]]:
    """The decision map: rows by rate, columns by waiters, each cell the best profile
    and the machines it needs."""
    return [[best(profiles_, w, r) for w in waiters_axis] for r in rate_axis]
