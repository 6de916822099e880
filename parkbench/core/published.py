"""Published figures of other runtimes, each stored as its source printed it: the
number, its unit, what it measures and where it was read. The conversion to bytes or
seconds happens here and nowhere else, so a figure's unit is never guessed from
its size.

The "1M tasks" figures: "How Much Memory Do You Need in 2024 to Run 1 Million Concurrent
Tasks? - Take 2" (hez2010, December 2024; RESULT.md of
github.com/hez2010/async-runtimes-benchmarks-2024, also hez2010.github.io/
async-runtimes-benchmarks-2024/take2.html), chart "1 Million Tasks": the whole
program's peak RSS with 1,000,000 tasks each sleeping 10 s. The chart's dataset is
labelled "Memory (MB)", but every value is a whole number of KiB divided by 1024
(Python 1,275.71875 = 1,306,336 KiB / 1024; Go 2,585.5859375 = 2,647,640 KiB / 1024),
and those KiB are whole 4 KiB pages: Linux's peak RSS in KiB, divided by 1024. The unit
is MiB. Take 1 of the article charted the KiB themselves ("Memory (KB)": Python
1,308,136, Go 2,641,592), which agrees.
"""

from dataclasses import dataclass

from parkbench.core.units import format_bytes

UNIT_BYTES = {"B": 1, "KB": 10**3, "KiB": 2**10, "MB": 10**6, "MiB": 2**20, "GB": 10**9,
              "GiB": 2**30}
UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}

ONE_MILLION = 1_000_000
TAKE2 = ("hez2010, \"How Much Memory Do You Need in 2024 to Run 1 Million Concurrent "
         "Tasks? - Take 2\", chart \"1 Million Tasks\" (labelled MB; the values are MiB)")


@dataclass(frozen=True)
class Figure:
    """One published number as printed: ``value`` in ``unit`` for ``waiters`` waiters."""

    label: str
    value: float
    unit: str
    what: str
    source: str
    waiters: int = 1

    def __post_init__(self):
        if self.unit not in UNIT_BYTES and self.unit not in UNIT_SECONDS:
            raise ValueError(f"{self.label}: unit must be one of "
                             f"{', '.join([*UNIT_BYTES, *UNIT_SECONDS])}, not {self.unit!r}")

    @property
    def base(self) -> float:
        """The value in bytes (a size) or seconds (a time)."""
        if self.unit in UNIT_BYTES:
            return self.value * UNIT_BYTES[self.unit]
        return self.value * UNIT_SECONDS[self.unit]

    @property
    def per_waiter(self) -> float:
        return self.base / self.waiters


def _peak(label: str, mib: float) -> Figure:
    return Figure(label, mib, "MiB", "peak RSS of the whole program", TAKE2, ONE_MILLION)


# peak RSS at 1M tasks (2024, take 2): Python 3.13.0, Go 1.23.3, OpenJDK 23.0.1, Node 23.2.0
ONE_MILLION_TASKS: tuple[Figure, ...] = (
    _peak("Python 3.13 asyncio", 1_275.71875),
    _peak("Go", 2_585.5859375),
    _peak("Java virtual threads", 1_095.1875),
    _peak("Node.js", 563.88671875),
)

# The other runtimes' figures the fit maps mark: a goroutine's memory is the chart's Go
# figure per task; its 200 ns hand-off and the OS thread switch (1-5 µs) are widely
# quoted, not read from one measurement; HotSpot's default thread stack on Linux x64 is
# ThreadStackSize 1024 (in KiB: -Xss1m).
GOROUTINE_MEMORY = ONE_MILLION_TASKS[1]
GOROUTINE_SWITCH = Figure("Go goroutine switch", 200, "ns", "one goroutine hand-off",
                          "widely quoted")
JVM_THREAD_STACK = Figure("JVM platform thread stack", 1024, "KiB",
                          "stack reserved per thread", "HotSpot default ThreadStackSize, Linux x64")
OS_SWITCH = Figure("OS context switch", 3, "µs", "middle of the quoted 1-5 µs", "widely quoted")


def one_million_tasks() -> dict[str, float]:
    """Runtime -> bytes of peak RSS at 1M tasks."""
    return {figure.label: figure.base for figure in ONE_MILLION_TASKS}


def table() -> list[dict]:
    """The 1M-tasks figures for a reader: as published, in bytes, and per task."""
    return [{"runtime": figure.label,
             "published peak RSS at 1M tasks": f"{figure.value:,.1f} {figure.unit}",
             "bytes": f"{figure.base / 1e6:,.0f} MB",
             "per task": f"{figure.per_waiter:,.0f} B"
             + (f" ({format_bytes(figure.per_waiter)})" if figure.per_waiter >= 1024 else "")}
            for figure in ONE_MILLION_TASKS]
