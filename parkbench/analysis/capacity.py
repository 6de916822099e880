"""Capacity figures of a run: how many waiters the machine holds per model and variant
(the binding bound of ``limits.capacity``), and, where the OS stopped a sweep, which
limit it met (``limit_reached``). Plain functions over derived memory figures and the
OS limits in force; they return data. A run stores these as it ends (``at_finish``):
they depend on the limits in force then, which the run file holds nowhere else.
"""

from parkbench.analysis.slopes import derive_memory
from parkbench.core.registry import is_connections
from parkbench.measurement import limits as limits_module

LIMIT_MATCH = 0.05  # a ceiling is named when the waiters reached are within 5% of it
_TASK_LIMITS = ("pid_max", "threads_max", "cgroup_pids_max", "rlimit_nproc")
# Which limits an error can come from: the error narrows the suspects.
ERROR_LIMITS = (
    ("Too many open files", ("rlimit_nofile",)),
    ("can't start new thread", _TASK_LIMITS + ("max_map_count",)),
    ("Resource temporarily unavailable", _TASK_LIMITS),
)


def _suspects(reason: str, variant: str):
    for text, names in ERROR_LIMITS:
        if text in reason:
            if names == ("rlimit_nofile",) and is_connections(variant):
                return ("rlimit_nofile_hard",)  # a connections server raised its soft limit
            return names
    return None


def derive_limits_reached(failures, memory_figures: list[dict], limits: dict) -> list[dict]:
    """``limit_reached`` per (model, variant) whose sweep the OS stopped: the waiters it
    started before the refusal, and the limit whose bound is within ``LIMIT_MATCH`` of
    that count (or ``unidentified``)."""
    per = {(f["model"], f["variant"], f["metric"]): f["value"] for f in memory_figures}
    figures = []
    for failure in failures:
        if failure.get("failure") != "limit" or failure["kind"] != "memory":
            continue
        model, variant, reached = failure["model"], failure["variant"], failure["reached"]
        found = limits_module.bounds(model, variant, limits,
                                 per.get((model, variant, "total_per_waiter")),
                                 per.get((model, variant, "maps_per_waiter")))
        suspects = _suspects(failure["reason"], variant)
        if suspects is not None:
            found = [b for b in found if b.limit in suspects]
        close = [b for b in found if b.waiters and abs(reached - b.waiters) <= LIMIT_MATCH * b.waiters]
        if close:
            name = min(close, key=lambda b: abs(reached - b.waiters)).limit
        elif suspects is not None and len(suspects) == 1:
            name = suspects[0]  # the error names it, though other descriptors were open
        else:
            name = "unidentified"
        figures.append({"model": model, "variant": variant, "metric": "limit_reached",
                        "value": reached, "unit": "waiters", "limit": name,
                        "detail": failure["reason"]})
    return figures


def derive_capacity(memory_figures: list[dict], limits: dict) -> list[dict]:
    """``capacity`` per (model, variant): waiters one machine holds, and the limit that
    binds (``limit``), from ``total_per_waiter`` and ``maps_per_waiter``."""
    per = {(f["model"], f["variant"], f["metric"]): f["value"] for f in memory_figures}
    figures = []
    for model, variant in dict.fromkeys((f["model"], f["variant"]) for f in memory_figures):
        total = per.get((model, variant, "total_per_waiter"))
        if total is None:
            continue
        bound = limits_module.capacity(model, variant, limits, total,
                                   per.get((model, variant, "maps_per_waiter")))
        if bound is not None:
            figures.append({"model": model, "variant": variant, "metric": "capacity",
                            "value": bound.waiters, "unit": "waiters", "limit": bound.limit,
                            "detail": bound.detail})
    return figures





def at_finish(measurements: list[dict], limits: dict, failures=()) -> list[dict]:
    """The figures a run stores as it ends: each model and variant's capacity under the
    ``limits`` in force then, and the limits that stopped a sweep (``failures``)."""
    memory = derive_memory([r for r in measurements if r.get("kind", "memory") == "memory"])
    return derive_capacity(memory, limits) + derive_limits_reached(failures, memory, limits)
