"""The load generator's output (``benchmarks/loadgen``), as a run file stores it: the
closed-loop phases and open-loop steps of one run, checked field by field.

The generator's JSON is untrusted input: ``parse`` checks every field (known, present,
finite non-negative numbers, whole counts, consistent sums) and raises ``ValueError``
with a one-line reason. The served rate judged from it is ``analysis/served.py``'s.
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import NoReturn, TypeVar

from parkbench.core.units import is_finite_number

FORMAT = 1                      # the generator's output format this module reads
STOP_REASONS = ("signal", "time bound")


@dataclass(frozen=True)
class Phase:
    """A closed-loop phase (latency from the actual send); times in seconds."""
    seconds: float
    count: int
    achieved: float
    errors: int
    timeouts: int
    p50: float
    p90: float
    p99: float
    p999: float
    max: float
    interval_seconds: float
    interval_rates: tuple[float, ...]
    cpu_seconds: float


@dataclass(frozen=True)
class Step(Phase):
    """An open-loop step at an offered rate (latency from the intended send)."""
    offered: float
    scheduled: int
    unsent: int
    send_lag_p50: float
    send_lag_p99: float


@dataclass(frozen=True)
class Run:
    address: str
    connections: int
    timeout_seconds: float
    go_version: str
    gomaxprocs: int
    warmup: dict | None
    steps: tuple[Step, ...]
    closed: Phase | None
    cpu_user_seconds: float
    cpu_system_seconds: float
    wall_seconds: float
    complete: bool
    stopped: str | None


P = TypeVar("P", bound="Phase")
_COUNTS = {"count", "errors", "timeouts", "scheduled", "unsent", "connections", "gomaxprocs"}
_WARMUP = ("seconds", "offered", "count", "errors", "timeouts")


def _fail(where: str, rule: str) -> NoReturn:
    raise ValueError(f"loadgen output: {where} {rule}")


def _keys(value, names, where: str) -> dict:
    if not isinstance(value, dict):
        _fail(where, f"must be an object, not {type(value).__name__}")
    for name in names:
        if name not in value:
            _fail(where, f"lacks {name!r}")
    unknown = sorted(set(value) - set(names), key=str)
    if unknown:
        _fail(where, f"has an unknown field {str(unknown[0])[:40]!r}")
    return value


MAX_VALUE = 1e15   # no time, rate or count of a generator's output comes near it
# A reply over loopback TCP costs each side at least a read and a write system call: no
# side here came within 4x of a microsecond a reply (the fastest: the generator at 4.0 µs,
# the Go server at 4.2 µs, over every committed run). More replies than one a CPU
# microsecond (beyond a few, for a clock's grain) were not measured; they were written.
MAX_REPLIES_PER_CPU_SECOND = 1_000_000
CPU_GRAIN_REPLIES = 1_000


def cpu_bound(replies: float, cpu_seconds: float) -> str:
    """Why ``replies`` cannot have cost ``cpu_seconds`` of CPU ('' if they can)."""
    if replies > MAX_REPLIES_PER_CPU_SECOND * cpu_seconds + CPU_GRAIN_REPLIES:
        return (f"{replies:,.0f} replies in {cpu_seconds:g} s of CPU: more than one a CPU microsecond, "
                f"which no loopback reply costs")
    return ""


def _number(value, where: str) -> float:
    # a whole number of any size is finite, but math.isfinite overflows on 10**400
    if not is_finite_number(value) or not 0 <= value <= MAX_VALUE:
        _fail(where, f"must be a finite number from 0 to {MAX_VALUE:g}, not {str(value)[:40]!r}")
    return float(value)


def _count(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALUE:
        _fail(where, f"must be a whole number from 0 to {MAX_VALUE:g}, not {str(value)[:40]!r}")
    return value


def _text(value, where: str) -> str:
    if not isinstance(value, str) or len(value) > 200:
        _fail(where, "must be a short string")
    return value


def _phase(value, kind: type[P], where: str, generator: bool = True) -> P:
    names = [field.name for field in fields(kind)]
    raw = _keys(value, names, where)
    found: dict = {}
    for name in names:
        if name == "interval_rates":
            rates = raw[name]
            if not isinstance(rates, list) or not 1 <= len(rates) <= 1000:
                _fail(f"{where}.{name}", "must be a list of 1 to 1000 rates")
            found[name] = tuple(_number(rate, f"{where}.{name}[{i}]") for i, rate in enumerate(rates))
        elif name in _COUNTS:
            found[name] = _count(raw[name], f"{where}.{name}")
        else:
            found[name] = _number(raw[name], f"{where}.{name}")
    phase = kind(**found)
    if not phase.seconds > 0 or not phase.interval_seconds > 0:
        _fail(where, "must last a positive time")
    if not phase.p50 <= phase.p90 <= phase.p99 <= phase.p999 <= phase.max:
        _fail(where, "has percentiles out of order (p50 <= p90 <= p99 <= p999 <= max)")
    if phase.achieved > phase.count / phase.seconds * (1 + 1e-9):
        _fail(where, f"achieved {phase.achieved:g}/s, more than its {phase.count} replies in {phase.seconds:g} s")
    if isinstance(phase, Step):
        if not phase.offered > 0:
            _fail(f"{where}.offered", "must be positive")
        if phase.count + phase.errors + phase.timeouts + phase.unsent != phase.scheduled:
            _fail(where, "count + errors + timeouts + unsent is not the requests scheduled")
        if phase.scheduled > phase.offered * phase.seconds + 1:  # a rate over a time: no more
            _fail(where, f"scheduled {phase.scheduled} requests, more than {phase.offered:g}/s "
                         f"for {phase.seconds:g} s")
    if generator:
        _generator_rules(phase, where)
    return phase


def _generator_rules(phase: Phase, where: str) -> None:
    """What the load generator's own phases obey (its JSON: ``benchmarks/loadgen``), checked
    against each other: rates against the phase's length, replies against CPU time. A
    loop's steps in its shape (``probes/wake_load.py``) count differently."""
    # each reply is counted in one of equal parts of the phase's planned length (its
    # seconds: that length, or until its last reply, where later)
    intervals = len(phase.interval_rates)
    if intervals * phase.interval_seconds > phase.seconds * (1 + 1e-6) + 1e-6:
        _fail(where, f"has {intervals} intervals of {phase.interval_seconds:g} s, more than its {phase.seconds:g} s")
    counted = sum(phase.interval_rates) * phase.interval_seconds
    if abs(counted - phase.count) > max(1.0, 1e-6 * phase.count):
        _fail(where, f"counts {counted:,.0f} replies in its intervals, not its {phase.count:,}")
    too_cheap = cpu_bound(phase.count, phase.cpu_seconds)
    if too_cheap:
        _fail(where, f"claims {too_cheap} (the generator's own CPU)")


# a closed-loop phase whose rate over its whole length is under this share of its best
# interval's stopped (or stalled for most of it); one short stall (quick mode's intervals
# are 40 ms) costs a fifth at most and is no reason to refuse it
STEADY_SHARE = 0.5


def unsteady(phase: Phase) -> str:
    """Why a closed-loop phase cannot stand for a steady rate ('' if it can): errors or
    timeouts (its server stopped answering), or a rate over the phase under half its
    best interval's (the generator stopped or was stopped midway). The generator's
    ceiling is one such phase."""
    if phase.errors or phase.timeouts:
        return f"{phase.errors:,} errors and {phase.timeouts:,} timeouts"
    if phase.achieved <= 0:
        return "no request answered"
    best = max(phase.interval_rates, default=0.0)
    if phase.achieved < STEADY_SHARE * best:
        return (f"its rate over the phase, {phase.achieved:,.0f}/s, is under half its best "
                f"interval's {best:,.0f}/s (stopped or stalled midway)")
    return ""


def parse(document: object) -> Run:
    """The generator's output, checked; ``ValueError`` naming the first broken rule."""
    names = [field.name for field in fields(Run)]
    raw = _keys(document, ["format", *names], "the document")
    if isinstance(raw["format"], bool) or raw["format"] != FORMAT:  # true == 1 in Python
        _fail("format", f"is {str(raw['format'])[:20]!r}, this parkbench reads {FORMAT}")
    parsed = parse_steps(raw["steps"])
    warmup = raw["warmup"]
    if warmup is not None:
        warmup = dict(_keys(warmup, _WARMUP, "warmup"))
        _number(warmup["seconds"], "warmup.seconds")
        if warmup["offered"] is not None:
            _number(warmup["offered"], "warmup.offered")
        for name in ("count", "errors", "timeouts"):
            _count(warmup[name], f"warmup.{name}")
    stopped = raw["stopped"]
    if stopped not in (None, *STOP_REASONS) or not isinstance(raw["complete"], bool) \
            or raw["complete"] != (stopped is None):
        _fail("complete, stopped", "must be true and null, or false and one of " + ", ".join(STOP_REASONS))
    run = Run(address=_text(raw["address"], "address"),
              connections=_count(raw["connections"], "connections"),
              timeout_seconds=_number(raw["timeout_seconds"], "timeout_seconds"),
              go_version=_text(raw["go_version"], "go_version"),
              gomaxprocs=_count(raw["gomaxprocs"], "gomaxprocs"),
              warmup=warmup, steps=parsed,
              closed=None if raw["closed"] is None else _phase(raw["closed"], Phase, "closed"),
              cpu_user_seconds=_number(raw["cpu_user_seconds"], "cpu_user_seconds"),
              cpu_system_seconds=_number(raw["cpu_system_seconds"], "cpu_system_seconds"),
              wall_seconds=_number(raw["wall_seconds"], "wall_seconds"),
              complete=raw["complete"], stopped=stopped)
    if run.connections < 1 or run.gomaxprocs < 1:
        _fail("connections, gomaxprocs", "must be at least 1")
    for where, phase in ([("closed", run.closed)] if run.closed else []) + [
            (f"steps[{i}]", step) for i, step in enumerate(run.steps)]:
        beyond = beyond_wall(phase.cpu_seconds, phase.seconds, run.gomaxprocs)
        if beyond:
            _fail(where, f"claims {beyond} (the generator's own CPU, on {run.gomaxprocs} of its threads)")
    return run


# CPU time a process tree spends in a phase, over the phase's length times the CPUs it
# may use: at most 1.97 for the generator (its runtime's threads beside GOMAXPROCS) and
# 2.74 for a server (a short step's CPU is read over its warm-up and drain too), over
# every committed run; more was not spent, it was written
CPU_WALL_FACTOR = 4.0
CPU_WALL_SLACK_SECONDS = 0.5


def beyond_wall(cpu_seconds: float, seconds: float, cpus: int) -> str:
    """Why ``cpu_seconds`` cannot have been spent in ``seconds`` on ``cpus`` CPUs ('' if it can)."""
    if cpu_seconds > CPU_WALL_FACTOR * seconds * max(cpus, 1) + CPU_WALL_SLACK_SECONDS:
        return (f"{cpu_seconds:g} s of CPU in a {seconds:g} s phase on {cpus} CPU(s): more than "
                f"{CPU_WALL_FACTOR:g}x the time the CPUs had")
    return ""


def parse_steps(steps: object, where: str = "steps", generator: bool = True) -> tuple[Step, ...]:
    """Open-loop steps in the generator's shape (its ``steps``, or, not ``generator``,
    another open loop's that writes the same shape: ``probes/wake_load.py``), each
    checked as ``parse`` checks a step, in increasing offered rate; ``ValueError`` naming
    the first broken rule."""
    if not isinstance(steps, list) or len(steps) > 1000:
        _fail(where, "must be a list of at most 1000 steps")
    parsed = tuple(_phase(step, Step, f"{where}[{i}]", generator) for i, step in enumerate(steps))
    check_increasing(parsed)
    return parsed


def check_increasing(steps: Sequence[Step]) -> None:
    for before, after in zip(steps, steps[1:]):
        if not after.offered > before.offered:
            _fail("steps", f"must be in increasing offered rate ({after.offered:g}/s after {before.offered:g}/s)")
