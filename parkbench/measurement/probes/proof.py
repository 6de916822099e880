"""Proof of parking at the moment of measurement.

Arrival (each waiter counting itself before it blocks) proves that N waiters *got
there*; it does not prove they are still blocked when memory is read. Each probe
therefore gives a ``prove()`` that looks at its waiters from the outside and counts
those that are blocked now (tasks not done and waiting on the event's futures,
greenlets alive and not running and linked to the event, threads alive and asleep in
the kernel with the condition holding their waiter locks, worker processes alive and
asleep in a pipe read). ``measured`` calls it right before and right after
``measure()``; fewer than N either time is a ``NotParked`` failure, and what was
checked is stored in the record (``proof``).

Looking from outside costs O(N) reads and is not timed: it runs outside the spawn and
wake timings, and before the memory views are read (the counts it builds are freed).
"""

import inspect

from parkbench.measurement import procstat

# wchan names of a task asleep reading a pipe (kernel versions differ in the name)
PIPE_WAITS = ("pipe_read", "pipe_wait", "anon_pipe_read", "pipe_read_wait")
# and of a task asleep in time.sleep (clock_nanosleep)
NANOSLEEP_WAITS = ("hrtimer_nanosleep", "do_nanosleep", "clock_nanosleep")

# How long a timer-parked waiter sleeps: far beyond any probe (1,000 hours). Nothing but
# its timer wakes it, so a probe of a sleep variant never times a wake.
SLEEP_SECONDS = 3.6e6


class NotParked(RuntimeError):
    """Fewer than N waiters were blocked when they had to be."""


def _checks(counts: dict) -> dict:
    """The counts that are checks: not the method, the polls, or ``info_`` figures
    (recorded for the reader, e.g. a count documented as approximate)."""
    return {key: value for key, value in counts.items()
            if key not in ("method", "settle_polls") and not key.startswith("info_")}


def blocked_count(counts: dict) -> int:
    """The waiters every check agrees are blocked: the smallest of the counts."""
    return min(_checks(counts).values())


def check(n: int, counts: dict, when: str) -> dict:
    blocked = blocked_count(counts)
    if blocked != n:
        detail = ", ".join(f"{key} {value:,}" for key, value in _checks(counts).items())
        raise NotParked(f"{when} measuring, {blocked:,} of {n:,} waiters were blocked ({detail})")
    return counts


SETTLE_SECONDS = 2.0  # the longest a waiter may take from "arrived" to "blocked"
SETTLE_POLL_SECONDS = 0.005
STILL_SECONDS = 0.5   # a count unchanged this long will not reach N: fail then


def settled(n: int, prove) -> dict:
    """The first proof that all N are blocked, polled for up to ``SETTLE_SECONDS``: a
    waiter signals arrival just before it blocks, and the kernel may not have put it to
    sleep yet (there is no later signal to wait on). After that, or once the count has
    not moved for ``STILL_SECONDS`` (waiters that ended will not come back), not N is a
    failure."""
    import time

    now = time.monotonic()
    deadline, still_since, last = now + SETTLE_SECONDS, now, None
    polls = 0
    while True:
        counts = prove()
        blocked, now = blocked_count(counts), time.monotonic()
        if blocked != last:
            still_since, last = now, blocked
        if blocked == n or now > deadline or now - still_since > STILL_SECONDS:
            counts = check(n, counts, "before")
            counts["settle_polls"] = polls
            return counts
        polls += 1
        time.sleep(SETTLE_POLL_SECONDS)


def measured(n: int, prove, measure):
    """``measure()`` between two proofs that N waiters are blocked: (its result, proof)."""
    before = settled(n, prove)
    result = measure()
    if inspect.isawaitable(result):
        raise TypeError("use measured_async for a measurement that runs on an event loop")
    after = check(n, prove(), "after")
    return result, record(before, after)


async def measured_async(n: int, prove, measure):
    """The same, for an event loop whose measurement may itself be awaitable (tasks on
    one loop are blocked as soon as they arrive: no settling)."""
    before = check(n, prove(), "before")
    result = measure()
    if inspect.isawaitable(result):
        result = await result
    after = check(n, prove(), "after")
    return result, record(before, after)


def record(before: dict, after: dict) -> dict:
    views = [key for key in before if key not in ("method", "settle_polls")]
    return {"method": before["method"], "blocked_before": blocked_count(before),
            "blocked_after": blocked_count(after), "settle_polls": before.get("settle_polls", 0),
            "before": {key: before[key] for key in views},
            "after": {key: after[key] for key in views}}


def _stat(path: str):
    """(state letter, wchan) of a task from /proc, or (None, None) if it is gone."""
    try:
        with open(f"{path}/stat") as handle:
            state = procstat.fields(handle.read())[0]
        with open(f"{path}/wchan") as handle:
            wchan = handle.read().strip()
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None, None
    return state, wchan


def _asleep_in(path: str, waits) -> bool:
    """Asleep (state S) and, given ``waits``, in one of those kernel functions; where
    the kernel hides wchan ("0"), asleep is what can be seen."""
    state, wchan = _stat(path)
    if state != "S":
        return False
    return waits is None or wchan in ("", "0") or any(name in wchan for name in waits)


def sleeping_threads(native_ids, waits=None) -> int:
    """Threads of this process asleep in the kernel (state S), in ``waits`` if given."""
    return sum(1 for tid in native_ids if _asleep_in(f"/proc/self/task/{tid}", waits))


def processes_in_pipe_read(pids) -> int:
    """Processes asleep (state S) in a pipe read."""
    return processes_in(pids, PIPE_WAITS)


def processes_alive(pids) -> int:
    """Processes that exist and are not zombies."""
    return sum(1 for pid in pids if _stat(f"/proc/{pid}")[0] not in (None, "Z", "X"))


def processes_in(pids, waits) -> int:
    """Processes asleep (state S) in one of the kernel functions ``waits``."""
    return sum(1 for pid in pids if _asleep_in(f"/proc/{pid}", waits))


def processes_in_nanosleep(pids) -> int:
    """Processes asleep (state S) in ``time.sleep``."""
    return sum(1 for pid in pids if _asleep_in(f"/proc/{pid}", NANOSLEEP_WAITS))
