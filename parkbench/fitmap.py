"""The fit map: for W concurrent idle waiters and R wake-ups per second, which model fits
on one machine (scale up) and how many machines each needs (scale out).

Per model and machine the inputs are measured: total bytes per idle waiter (PSS plus
kernel), capacity (the binding memory or OS limit), and the one-way hand-off time. How a
model uses cores decides its hand-off rate: one interpreter runs Python on one core at a
time, so threads, asyncio, uvloop and gevent get ``1 / hand-off`` wake-ups per second per
machine; subprocess workers use every core, ``cores / hand-off``. Then

    machines = max(ceil(W / capacity), ceil(R / hand-offs per second per machine))

Everything here returns data; plotting lives in ``plots.py``.
"""

import math
from dataclasses import dataclass

from parkbench import limits as os_limits

# Published figures of other runtimes (from one widely read article): reference
# markers, never measurements of this machine.
PUBLISHED = (
    {"label": "Go goroutine (published)", "bytes_per_waiter": 2.6e3, "switch_seconds": 200e-9},
    {"label": "JVM platform thread (published: 1 MB stack reserved, 1-5 µs OS switch)",
     "bytes_per_waiter": 2.0**20, "switch_seconds": 3e-6},
)
MULTICORE_MODELS = ("subprocess",)


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

    @property
    def handoffs_per_second(self) -> float:
        return self.cores / self.switch_seconds


def _machines(share: float) -> int:
    """Whole machines for ``share`` machines' worth of load; 5.0000000001 is 5, not 6
    (1 / 5e-6 is 199999.99999999997 in floating point)."""
    return math.ceil(round(share, 9))


def machines_needed(profile: Profile, waiters: float, rate: float) -> tuple[int, str]:
    """Machines ``profile``'s model needs for ``waiters`` idle waiters and ``rate``
    wake-ups per second, and what binds: its capacity limit, or ``hand-off rate``."""
    by_waiters = _machines(waiters / profile.capacity) if profile.capacity else math.inf
    by_rate = _machines(rate / profile.handoffs_per_second)
    machines = max(by_waiters, by_rate, 1)
    if by_rate > by_waiters:
        return machines, "hand-off rate"
    return machines, profile.capacity_limit


def _figure(frame, machine, run_id, model, variant, metric, placement=None):
    rows = frame[(frame.machine == machine) & (frame.run_id == run_id) & (frame.model == model)
                 & (frame.variant == variant) & (frame.metric == metric) & frame.n.isna()]
    if placement is not None:
        rows = rows[rows.placement == placement]
    return rows


def profiles(frame, machines: dict, memory_bytes: int | None = None) -> list[Profile]:
    """A ``Profile`` per (machine, model, memory variant) of the newest run of each
    machine in ``frame`` that holds both memory and latency figures.

    ``machines`` maps a machine name to its machine.json (cores and limits); with
    ``memory_bytes`` the memory bound is recomputed for a machine of that much memory.
    The hand-off time is the model's fastest measured switch-latency median over its
    primitives and placements (the best a model can do on the machine).
    """
    found = []
    for machine, group in frame.groupby("machine", sort=True):
        info = machines.get(machine, {})
        for run_id in sorted(group.run_id.unique(), reverse=True):
            run = group[group.run_id == run_id]
            totals = run[(run.metric == "total_per_waiter") & run.n.isna()]
            switches = run[(run.metric == "switch_latency") & run.n.isna()]
            if totals.empty or switches.empty:
                continue
            for _, row in totals.iterrows():
                model_switch = switches[switches.model == row.model]
                if model_switch.empty:
                    continue
                bound = _capacity(run, row, info, memory_bytes)
                if bound is None:
                    continue
                cores = (info.get("logical_cpus") or 1) if row.model in MULTICORE_MODELS else 1
                found.append(Profile(machine, row.model, row.variant, float(row.value),
                                     bound[0], bound[1], float(model_switch.value.min()), cores))
            break  # the newest run with figures speaks for the machine
    return found


def _capacity(run, row, info, memory_bytes):
    if memory_bytes is None:
        stored = run[(run.metric == "capacity") & (run.model == row.model)
                     & (run.variant == row.variant) & run.n.isna()]
        if not stored.empty:
            return int(stored.value.iloc[0]), str(stored["limit"].iloc[0])
    limits = dict(info.get("limits") or {})
    if memory_bytes is not None:
        limits.update(memory_available=memory_bytes, cgroup_memory_max=None)
    maps = run[(run.metric == "maps_per_waiter") & (run.model == row.model)
               & (run.variant == row.variant)]
    bound = os_limits.capacity(row.model, row.variant, limits, float(row.value),
                               float(maps.value.iloc[0]) if not maps.empty else None)
    return (bound.waiters, bound.limit) if bound else None


def answer(profiles_, waiters: float, rate: float) -> list[dict]:
    """One workload point for every profile: machines needed and what binds, fewest first."""
    rows = []
    for profile in profiles_:
        machines, binding = machines_needed(profile, waiters, rate)
        rows.append({"machine": profile.machine, "model": profile.model,
                     "variant": profile.variant, "machines": machines, "bound_by": binding,
                     "capacity": profile.capacity, "capacity_limit": profile.capacity_limit,
                     "handoffs_per_second": profile.handoffs_per_second,
                     "total_per_waiter": profile.total_per_waiter})
    return sorted(rows, key=lambda r: (r["machines"], r["total_per_waiter"]))


def grid(profile: Profile, waiters_axis, rate_axis) -> list[list[int]]:
    """Machines needed over a (rate x waiters) grid, rows by rate: the map of one model."""
    return [[machines_needed(profile, w, r)[0] for w in waiters_axis] for r in rate_axis]


def published_markers(memory_bytes: float, cores: int = 1) -> list[dict]:
    """Where the published runtimes' one-machine corners would sit on a machine of
    ``memory_bytes``: memory / bytes per waiter, and cores / switch time."""
    return [{"label": ref["label"], "waiters": memory_bytes / ref["bytes_per_waiter"],
             "rate": cores / ref["switch_seconds"]} for ref in PUBLISHED]
