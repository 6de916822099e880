"""The suite definition: which models, variants, primitives and placements run by
default, over which N, and the list of jobs that makes a sweep (``jobs``). What a run
asks for is checked by its plan (``plan.py``), not here.

Each default grid spans at least two decades in at least three points, sized so the
quick sweep finishes in well under two minutes on a 2-core machine while the memory a
grid's largest N takes dwarfs the noise of a fresh interpreter's baseline.
"""

from parkbench.core import registry
from parkbench.core.errors import UserError
from parkbench.core.protocol import Job, JobKind
from parkbench.core.registry import is_connections
from parkbench.measurement import gotoolchain, placement
from parkbench.measurement.limits import capacity

QUICK_GRIDS = {
    "threads": (100, 300, 1_000, 3_000),
    "asyncio": (1_000, 3_000, 10_000, 30_000, 100_000),
    "uvloop": (1_000, 3_000, 10_000, 30_000, 100_000),
    "gevent": (1_000, 3_000, 10_000, 30_000, 100_000),
    "subprocess": (4, 12, 40, 120, 400),
    "go": (3_000, 10_000, 30_000, 100_000, 300_000),
}

# The full sweep (--full): toward each model's ceiling on a 24 GiB, 2-core machine.
# threads go to the OS ceiling through a to-the-limit grid instead.
FULL_GRIDS = {
    "asyncio": (10_000, 100_000, 1_000_000, 3_000_000, 10_000_000),
    "uvloop": (10_000, 100_000, 1_000_000, 3_000_000, 10_000_000),
    "gevent": (10_000, 100_000, 300_000, 500_000, 1_000_000, 2_000_000),
    "subprocess": (20, 200, 700, 2_000),
    # a goroutine takes about 2.7 KB: 3M is 8 GB (10M would not fit in 24 GiB)
    "go": (10_000, 100_000, 1_000_000, 3_000_000),
}
FULL_BUDGET = "90%"               # of available memory; the watchdog floor still holds
FULL_TIMEOUT_SECONDS = 1200.0
TAIL_MAX_N = 1_000_000            # tail probes park at most this many (spawning costs time)
# Waking all N is timed up to this N; beyond it the child exits without waking, and the
# record says so. gevent wakes N greenlets parked on one Event in O(N^2) (its link
# notification): 733 s at 2M; up to 500k (33 s) the points already show the curve (a cap
# of 300k did not: 15 to 21 µs per greenlet is within the noise of three points).
WAKE_MAX_N = {"gevent": 500_000}

# Socket waiters hold two descriptors each: their grid stays under a 20,000 ulimit -n.
VARIANT_GRIDS = {"socket": (100, 300, 1_000, 3_000, 9_000)}

# The connections workload (probes/connections.py): two decades per model, small enough
# that the default sweep grows by seconds (a client child and a server process per N).
CONNECTION_GRIDS = {"threads": (30, 300, 3_000), "subprocess": (4, 40, 400)}
CONNECTION_GRID = (100, 1_000, 10_000)
# The full sweep: one server process up to its descriptor limit (20,000 here, where it
# cannot be raised: the last point meets it), and P processes sharing a port beyond.
FULL_CONNECTION_GRIDS = {
    "threads": (300, 3_000, 10_000, 19_000, 21_000),
    "subprocess": (20, 200, 2_000),
    "reuseport": (10_000, 30_000, 100_000, 200_000),
    "gevent:reuseport": (10_000, 30_000, 100_000),
}
FULL_CONNECTION_GRID = (1_000, 3_000, 10_000, 19_000)

# What the full sweep adds to the default sweep's variants: the servers that use every
# core (and pass one process's descriptor limit), and asyncio's bare Protocol.
FULL_EXTRA = [("asyncio", "protocol"), ("asyncio", "reuseport"), ("uvloop", "reuseport"),
              ("gevent", "reuseport")]

# The variants of the default sweep (a bare model name in --models selects them all).
QUICK_VARIANTS = {"threads": ("condition",), "asyncio": ("event",), "uvloop": ("event",),
                  "gevent": ("event",), "subprocess": ("fork", "exec"), "go": ("chan",)}
# and its connections workload: one server per model holding N idle TCP connections
QUICK_CONNECTIONS = {"threads": ("connections",), "asyncio": ("connections",),
                     "uvloop": ("connections",), "gevent": ("connections",),
                     "subprocess": ("connections",), "go": ("connections",)}

DEFAULT_TIMEOUT_SECONDS = 120.0

# The served rate (probes/served_load.py): every connections server at two W a decade
# apart in the default sweep (the map's edge is drawn between measured W); toward one
# process's descriptor ceiling (and past it with reuseport) in the full sweep. Each job
# judges its candidates over rounds of its own (measurement/knee.py).
SERVED_GRID = (100, 1_000)
SERVED_GRIDS = {"subprocess": (10, 100)}
FULL_SERVED_GRIDS = {"subprocess": (10, 100, 1_000), "reuseport": (1_000, 10_000, 100_000)}
FULL_SERVED_GRID = (100, 1_000, 10_000, 19_000)
FULL_SERVED_ROUNDS = 1


def served_grids(selection, full: bool) -> dict[str, tuple[int, ...]]:
    """W per selected connections variant: the default sweep's or the full sweep's."""
    grids: dict[str, tuple[int, ...]] = {}
    for model, variant in selection:
        if not is_connections(variant):
            continue
        grid: tuple[int, ...]
        if full:
            grid = FULL_SERVED_GRIDS.get(variant if variant == "reuseport" else model, FULL_SERVED_GRID)
        else:
            grid = SERVED_GRIDS.get(model, SERVED_GRID)
        grids[grid_key(model, variant)] = grid
    return grids


# The load generator's settings (probes/served_load.py and served_search.py say what each
# does): K active connections; a closed-loop warm-up (rounds of 0.25 s until two agree, at
# most warmup_seconds) so that a fresh asyncio server is past its slow start; the
# closed-loop peak; then the knee search from start_share of that peak, in open-loop
# steps of step_seconds each judged against the machine's floor. The default sweep's
# short steps are judged by saturation where stalls decide their p99 (the floor says
# where); the full sweep's steps are long enough for the SLO to speak where it can, and
# its floor runs in every round, so that the floor's curve stands beside each server's.
SERVED_SETTINGS = {"connections": 16, "warmup_seconds": 0.5, "closed_seconds": 0.2,
                   "step_seconds": 0.08, "start_share": 0.75, "reply_timeout_seconds": 1.0,
                   "judge_slo": False, "floor_every_round": False}
FULL_SERVED_SETTINGS = {**SERVED_SETTINGS, "warmup_seconds": 2.0, "closed_seconds": 1.0,
                        "step_seconds": 0.5, "judge_slo": True, "floor_every_round": True}


# The wake rate (probes/wake_load.py): the loops that have a wake driver (asyncio and
# uvloop parked on an Event), searched at two W a decade apart by default, toward millions
# in the full sweep.
WAKE_VARIANTS = (("asyncio", "event"), ("uvloop", "event"))
WAKE_GRID = (1_000, 10_000)
FULL_WAKE_GRID = (10_000, 300_000, 3_000_000)
WAKE_SETTINGS = {"start": 256_000, "step_seconds": 0.08, "warmup_seconds": 0.02}
FULL_WAKE_SETTINGS = {**WAKE_SETTINGS, "step_seconds": 0.5, "warmup_seconds": 0.1}


def wake_grids(selection, full: bool) -> dict[str, tuple[int, ...]]:
    """W per selected loop with a wake driver: the default sweep's or the full sweep's."""
    return {grid_key(model, variant): FULL_WAKE_GRID if full else WAKE_GRID
            for model, variant in selection if (model, variant) in WAKE_VARIANTS}


def wake_settings(full: bool) -> dict:
    return dict(FULL_WAKE_SETTINGS if full else WAKE_SETTINGS)


def served_settings(full: bool) -> dict:
    """The load generator's settings of the default or the full sweep."""
    return dict(FULL_SERVED_SETTINGS if full else SERVED_SETTINGS)


def grid_key(model: str, variant: str) -> str:
    return f"{model}:{variant}"


def grids_for(selection, override=None) -> dict[str, tuple[int, ...]]:
    """The N grid per selected ``model:variant``: ``override`` for all of them (checked
    by the plan), or each default (the variant's, else the model's)."""
    if override is not None:
        return {grid_key(model, variant): tuple(override) for model, variant in selection}
    return {grid_key(model, variant): default_grid(model, variant) for model, variant in selection}


def default_grid(model: str, variant: str) -> tuple[int, ...]:
    """The default sweep's grid of ``model:variant``."""
    if is_connections(variant):
        return CONNECTION_GRIDS.get(model, CONNECTION_GRID)
    return VARIANT_GRIDS.get(variant, QUICK_GRIDS[model])


def tail_grid(grid) -> tuple[int, ...]:
    """Smallest, middle and largest N of a grid: tail latency over two decades of idle
    waiters without repeating every memory point."""
    grid = sorted(n for n in set(grid) if n <= TAIL_MAX_N) or [min(grid)]
    return tuple(dict.fromkeys((grid[0], grid[len(grid) // 2], grid[-1])))


def jobs(selection, grids, repeat: int = 1, *, memory: bool = True, latency: bool = False,
         primitives=None, placements=placement.PLACEMENTS, unavailable=None, switch_rounds: int = 1,
         served_grids=None, served_rounds: int = 1, served_unavailable: str | None = None,
         map_checks=(), wake_grids=None):
    """Every job of a sweep in run order, and the jobs this machine cannot honour
    (with why): memory jobs per (model, variant), N ascending; then one switch job per
    (model, primitive, placement); then tail jobs over each model's tail grid, parking
    the model's first selected variant and handing off its first selected primitive.
    ``unavailable`` maps a model that cannot run here to why: its jobs are refused.
    Switch benchmarks run in ``switch_rounds`` interleaved rounds (A B C ... A B C, the
    round in ``Job.repeat``), so a slow phase of the machine hits every model alike."""
    jobs, refused = _plan(selection, grids, repeat, memory, latency, primitives, placements,
                          switch_rounds)
    # served jobs last, in interleaved rounds (every server at every W, then again)
    served = [Job(JobKind.SERVED, model, variant, w, round_)
              for round_ in range(served_rounds) for model, variant in selection
              for w in (served_grids or {}).get(grid_key(model, variant), ())]
    # the fit map checked, after the figures it is checked by: a connections check is a
    # served job, an in-process one offers wake-ups on the probe's loop (map_checks.py)
    checks = [Job(JobKind.SERVED if is_connections(c["variant"]) else JobKind.WAKES, c["model"],
                  c["variant"], c["waiters"], rates=tuple(c["rates"])) for c in map_checks]
    served += [job for job in checks if job.kind == JobKind.SERVED]
    if served_unavailable:  # no load generator here: every served job says why
        refused += [(job, served_unavailable) for job in served]
    else:
        jobs += served
    # the wake rate searched on each loop with a driver, then the in-process map checks
    jobs += [Job(JobKind.WAKES, model, variant, w) for model, variant in selection
             for w in (wake_grids or {}).get(grid_key(model, variant), ())]
    jobs += [job for job in checks if job.kind == JobKind.WAKES]  # no load generator needed
    unavailable = unavailable or {}
    refused += [(job, unavailable[job.model]) for job in jobs if job.model in unavailable]
    return [job for job in jobs if job.model not in unavailable], refused


def unavailable(model: registry.Model) -> str | None:
    """Why ``model`` cannot run on this machine (the toolchain it needs is missing; this
    builds the Go reference if it is not built yet), or ``None``."""
    if model.toolchain == "go":
        return gotoolchain.unavailable_reason()
    return None


def unavailable_models(selection) -> dict[str, str]:
    """Models of ``selection`` that cannot run on this machine, with why (this builds
    the Go reference if it is selected and not built yet)."""
    found = {}
    for name in dict.fromkeys(model for model, _ in selection):
        reason = unavailable(registry.get(name))
        if reason:
            found[name] = reason
    return found


def _plan(selection, grids, repeat, memory, latency, primitives, placements, switch_rounds=1):
    jobs, refused = [], []
    if memory:
        jobs += [Job(JobKind.MEMORY, model, variant, n, r)
                 for model, variant in selection
                 for n in sorted(grids[grid_key(model, variant)])
                 for r in range(repeat)]
    if latency:
        primitives = primitives or {model: registry.get(model).primitives[:1]
                                    for model, _ in selection}
        first_variant: dict[str, str] = {}
        for model, variant in selection:
            if not is_connections(variant):  # a connections probe times its requests itself
                first_variant.setdefault(model, variant)
        for round_ in range(switch_rounds):
            for model in dict.fromkeys(model for model, _ in selection):
                for primitive in primitives[model]:
                    for where in placements:
                        job = Job(JobKind.SWITCH, model, None, 0, round_, primitive, where)
                        reason = placement.refuse(where)
                        if not reason:
                            jobs.append(job)
                        elif round_ == 0:  # refused once, not once per round
                            refused.append((job, reason))
        for model, variant in first_variant.items():
            if primitives[model]:
                jobs += [Job(JobKind.TAIL, model, variant, n, 0, primitives[model][0], "os")
                         for n in tail_grid(grids[grid_key(model, variant)])]
    return jobs, refused


TO_LIMIT_STEPS = (0.7, 0.85, 1.0, 1.15)  # shares of the predicted capacity, after doubling


def to_limit_grid(start: int, predicted: int) -> tuple[int, ...]:
    """N doubling from ``start`` to half the predicted capacity, then closing in on it and
    stepping 15% past it, so that the sweep meets the real ceiling wherever it is."""
    grid, n = [], max(start, 1)
    while n < predicted * 0.5:
        grid.append(n)
        n *= 2
    grid += [max(int(predicted * share), 1) for share in TO_LIMIT_STEPS]
    return tuple(sorted(set(grid)))


def predicted_capacity(model: str, variant: str, limits: dict) -> int:
    """Capacity before anything is measured: OS bounds, and memory at the registry's
    (deliberately high) prior per waiter."""
    bound = capacity(model, variant, limits, registry.get(model).prior_bytes_per_waiter)
    if bound is None:  # no limit known at all: the prior's memory bound is always known
        raise UserError(f"no capacity can be predicted for {model}/{variant} on this machine")
    return bound.waiters


def full_grids(selection, limits: dict) -> dict[str, tuple[int, ...]]:
    """The full sweep's grid per ``model:variant``: ``FULL_GRIDS``, and for threads a
    to-the-limit grid toward the predicted OS ceiling."""
    grids = {}
    for model, variant in selection:
        if is_connections(variant):
            grid = FULL_CONNECTION_GRIDS.get(
                grid_key(model, variant), FULL_CONNECTION_GRIDS.get(
                    variant if variant == "reuseport" else model, FULL_CONNECTION_GRID))
        elif model == "threads":
            grid = to_limit_grid(min(QUICK_GRIDS[model]), predicted_capacity(model, variant, limits))
        else:
            grid = FULL_GRIDS[model]
        grids[grid_key(model, variant)] = grid
    return grids
