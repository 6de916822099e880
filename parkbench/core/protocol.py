"""The probe protocol: what a probe child sends its runner, and how.

A probe child (``python -m parkbench.measurement.probe_child``) parks N waiters, proves they are
blocked while it measures, and sends **one JSON record** on a channel of its own: the
write end of a pipe the runner opened, whose descriptor number it finds in
``PARKBENCH_RECORD_FD`` (pyperf's workers report the same way). Its stdout and stderr
stay free for whatever a probe or a library prints; the last line of stderr is the
reason of a failure. Run by hand, without that variable, the record goes to stdout.

Exit status: ``EXIT_OK`` with a ``ProbeRecord``; ``EXIT_LIMIT_REACHED`` with a
``LimitRecord`` (the OS refused a waiter: how many it had started); ``EXIT_PROBE_FAILED``
with no record (the reason on stderr); ``EXIT_ORPHANED`` when its runner was gone before
it could start. A memory reading must see the threads its waiters run on
(``threads_short``): the runner and the results reader hold a record to that rule too.
``Job`` is what a child measures, and what names a record's job in a run file. This
module imports nothing heavy: a probe child imports it.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import NotRequired, TypedDict

from parkbench.core import registry

RECORD_FD_ENV = "PARKBENCH_RECORD_FD"
MAX_RECORD_BYTES = 4 * 2**20
MAX_N = 10**9                # no probe child parks more than a billion waiters

EXIT_OK = 0
EXIT_PROBE_FAILED = 3
EXIT_LIMIT_REACHED = 4
EXIT_ORPHANED = 5


class JobKind(StrEnum):
    MEMORY = "memory"    # park N, prove them blocked, read memory
    TAIL = "tail"        # park N, time hand-offs one by one while they stay blocked
    SWITCH = "switch"    # the pyperf hand-off benchmark (its own script, no record)
    SERVED = "served"    # hold N idle connections, drive more with the load generator
    WAKES = "wakes"      # park N, offer open-loop wake-ups to other tasks beside them




class FailureKind(StrEnum):
    EXIT = "exit"                  # the child failed and said why (last stderr line)
    LIMIT = "limit"                # the OS refused a waiter
    SIGNAL = "signal"              # killed by a signal (abort, OOM killer ...)
    TIMEOUT = "timeout"            # outlived --timeout
    MEMORY_FLOOR = "memory-floor"  # the watchdog ended it: memory ran low
    BAD_OUTPUT = "bad-output"      # exited 0 without a usable record


@dataclass(frozen=True)
class Job:
    """One child of a sweep.

    ``kind`` is ``memory`` (park N, read memory), ``tail`` (park N, time hand-offs of
    ``primitive`` one by one), ``switch`` (the pyperf hand-off benchmark of
    ``primitive`` at ``placement``; ``variant`` and ``n`` do not apply), ``served`` (N
    idle connections and the load generator) or ``wakes`` (N parked and open-loop
    wake-ups at ``rates``: an in-process map check).
    """

    kind: JobKind
    model: str
    variant: str | None
    n: int
    repeat: int = 0
    primitive: str | None = None
    placement: str | None = None
    # a served or wakes job that checks the fit map (``map_checks.py``): the offered rates
    rates: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.rates is not None:  # a stored job's list, hashable like every other field
            object.__setattr__(self, "rates", tuple(self.rates))

    @property
    def series(self) -> tuple:
        """Jobs of one series share a fate: the first failure stops the rest (a switch
        benchmark's rounds are one series; a map check is a series of its own)."""
        return (self.kind, self.model, self.variant, self.primitive, self.placement, self.rates)

    def label(self) -> str:
        if self.kind == JobKind.SWITCH:
            return f"switch {self.model}/{self.primitive} {self.placement} round {self.repeat + 1}"
        text = f"{self.kind} {self.model}/{self.variant} n={self.n:,}"
        if self.primitive:
            text += f" ({self.primitive})"
        if self.repeat:
            text += f" repeat {self.repeat + 1}"
        if self.rates:
            text += f" map check at {', '.join(f'{r:,}' for r in self.rates)}/s"
        return text

    def as_record(self) -> dict:
        """The fields that name this job in a stored record, each once: ``kind``,
        ``model``, ``variant``, ``n``, ``repeat``, and ``primitive``, ``placement`` and
        ``rates`` where they apply (results format 3)."""
        record = asdict(self)
        for key in OPTIONAL_FIELDS:
            if record[key] is None:
                del record[key]
        if self.rates is not None:
            record["rates"] = list(self.rates)
        return record

    @classmethod
    def from_record(cls, record: dict) -> "Job":
        """The job a stored record (measurement, failure or skip) names."""
        return cls(kind=JobKind(record["kind"]), model=record["model"], variant=record.get("variant"),
                   n=record["n"], repeat=record.get("repeat", 0),
                   **{key: record.get(key) for key in OPTIONAL_FIELDS})


OPTIONAL_FIELDS = ("primitive", "placement", "rates")  # stored only where a job has them
# What names a job in a stored record: its fields, in its order, once each at the
# record's top level (results format 3)
JOB_FIELDS = tuple(item.name for item in fields(Job))


class MemoryViews(TypedDict):
    rss: int
    uss: int
    pss: int
    vms: int
    maps: int
    threads: int                   # OS threads of the measured tree at the reading
    processes: int
    kernel: int                    # growth of kernel memory since the baseline
    kernel_meminfo: dict


class TailPercentiles(TypedDict):
    switch_p50: float
    switch_p99: float
    switch_p999: float
    switch_max: float
    samples: int


class Proof(TypedDict):
    method: str
    blocked_before: int
    blocked_after: int
    settle_polls: int
    before: dict
    after: dict


class ProbeRecord(TypedDict):
    kind: str                      # JobKind.MEMORY, TAIL, SERVED or WAKES
    model: str
    variant: str
    n: int
    parked: int                    # waiters that arrived
    spawn_seconds: float
    wake_seconds: float | None     # None where the child exits without waking
    parks_on: str                  # what the waiters block on
    proof: Proof                   # N blocked, checked right before and after measuring
    baseline: dict                 # memory views before any waiter
    settle_seconds: float
    python: str
    gil_enabled: bool                      # False only on a free-threaded build without it
    memory: NotRequired[MemoryViews]       # kind memory
    tail: NotRequired[TailPercentiles]     # kind tail
    served: NotRequired[dict]              # kind served: the load generator's phases
    wakes: NotRequired[dict]               # kind wakes: its open-loop steps (wake_load.py)
    tail_loops: NotRequired[int]
    sockets: NotRequired[dict]
    wake_timed: NotRequired[bool]          # False where the child exits without waking
    connections: NotRequired[dict]         # a connections probe's servers and requests
    kernel_client: NotRequired[int]        # the clients' share of kernel memory (bytes)
    runtime: NotRequired[dict]             # a reference runtime's version and settings
    interference: NotRequired[dict]        # kind memory: the rest of the machine meanwhile


class LimitRecord(TypedDict):
    kind: str                      # "limit"
    reached: int
    error: str


def threads_short(record: dict) -> str | None:
    """Why a memory reading cannot have seen its waiters, or None. A model whose waiters
    run on OS threads (``threads_per_waiter``: a thread, a worker process) must show at
    the reading at least N times that many threads more in the measured tree than at the
    baseline: memory read before the threads started (or of the wrong processes) does
    not. Records without thread counts (before 2026-12) are not judged."""
    model = registry.MODELS.get(str(record.get("model")))
    per = model.threads_per_waiter if model is not None else 0
    now = (record.get("memory") or {}).get("threads")
    before = (record.get("baseline") or {}).get("threads")
    if not per or now is None or before is None:
        return None
    need = per * record["n"]
    if now - before >= need:
        return None
    return (f"must show the {need:,} threads the {record['n']:,} waiters run on when memory "
            f"is read: the measured processes held {now - before:,} more than at the baseline "
            f"(memory read before the waiters started?)")


def send(record: Mapping) -> None:
    """Send the one record of this child on its channel (or stdout, run by hand)."""
    data = (json.dumps(record) + "\n").encode()
    given = os.environ.get(RECORD_FD_ENV)
    fd = 1 if given is None else int(given)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    if given is not None:
        os.close(fd)


def decode(data: bytes) -> dict:
    """The record a child sent; ``ValueError`` if it is not one JSON object."""
    if len(data) > MAX_RECORD_BYTES:
        raise ValueError(f"a record of {len(data):,} bytes, more than {MAX_RECORD_BYTES:,}")
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        raise ValueError("no record")
    try:
        record = json.loads(text)
    except RecursionError:  # nested past the parser's depth: no record of ours is
        raise ValueError("the record is nested too deeply") from None
    if not isinstance(record, dict) or "kind" not in record:
        raise ValueError("the record is not an object with a kind")
    return record
