"""Finding a server's knee (or a loop's): the highest offered rate it keeps up with, and
the highest it serves within the SLO, each judged against the machine's own floor.

A **step** is one open-loop run at an offered rate (``loadgen_output.Step``: the load
generator's, or the wake driver's in the same shape). Two verdicts per step:

- **kept up** (the saturation criterion): every request answered (no error, timeout or
  unsent request), achieved (``throughput``) at least ``ACHIEVED_SHARE`` of offered, and p50 not grown
  past the base p50 (the first step that kept up) by more than ``P50_GROWTH`` times and
  ``P50_SLACK_SECONDS``: a server that falls behind queues, and its median climbs by
  milliseconds over a step, whatever stalls the machine has;
- **within the SLO**: kept up, and p99 at most the SLO.

**The floor.** On a shared VM, stalls of tens of milliseconds hit every process every
few seconds; a 5 ms p99 over a short step then judges the machine, not the server. A
step the server fails is followed at once by the same step against the floor (the load
generator's own null echo server holding the same W idle connections; a loop's wake
search has none); where the floor failed the same criterion, that round is the
machine's: it counts for neither side and is run again (at most ``MAX_VOIDED`` times a
candidate). Where the floor missed the SLO in most of the steps it ran, the SLO cannot be
judged on this machine at this W: the SLO rate is then ``None`` and the saturation rate
speaks, marked so.

**The search.** Rates rise geometrically by ``FACTOR`` from ``start`` until the server
fails to keep up (or fall when the first fails; and never past ``ceiling``, the share of
the generator's own ceiling it speaks for: held there, the search stops and says the
rate is generator-bound), then bisection (geometric midpoints)
between the highest rate held and the lowest failed until they are within
``PRECISION``; the same for the SLO below the saturation knee. Each candidate is judged
over up to ``ROUNDS`` rounds and held in the majority (two rounds that agree decide);
the knee is never above a rate that failed. Everything is a function of the trials made,
in order: the analysis derives the knees of a stored record by replaying its trials
(``replay``), so what the search decided and what a reader shows are one rule. Pure: no
clock, no I/O.

A candidate is decided once two of its rounds agree (a third cannot change the majority
of three); with ``floor_always`` (``--full``) the floor runs in every round, not only
after a failure, so that its latency curve stands beside the server's at every rate. A
**map check** (``rates``) runs the same rounds at fixed rates instead of searching, its
rates' rounds interleaved (``map_checks.py`` judges them).
"""

import math
import statistics
from dataclasses import dataclass, field

from parkbench.store.loadgen_output import Step

ACHIEVED_SHARE = 0.99          # achieved / offered a step must reach
P50_GROWTH = 4.0               # p50 over the base p50 by more than this factor ...
P50_SLACK_SECONDS = 0.002      # ... and by more than this: the server has fallen behind
FACTOR = 2.0                   # the geometric rise of the first phase
PRECISION = 1.10               # bisection ends when the failed rate / held rate is within this
ROUNDS = 3                     # rounds per candidate, held in the majority
MAX_VOIDED = 2                 # rounds the machine's floor may void, per candidate
MIN_RATE = 10.0                # below this no rate is held
MAX_CANDIDATES = 24            # a search never runs more candidates than this
# a rate at or above this share of the load generator's own ceiling (its closed-loop peak
# against its null echo server) is the generator's figure as much as the server's
GENERATOR_SHARE = 0.8
SERVER, FLOOR = "server", "floor"
CRITERIA = ("saturation", "slo")


@dataclass(frozen=True)
class Trial:
    """One step of the search: its rate, its round (within its rate), what it was run
    against, the step (a ``loadgen_output.Step``), and the server's CPU time over the run
    with the requests it answered (None for the floor)."""

    rate: float
    round: int
    target: str
    step: Step                  # or anything with its fields (a test's fake step)
    cpu_seconds: float | None = None
    requests: int = 0


def throughput(step) -> float:
    """The rate ``step`` shows the server sustained: its achieved rate (every reply over
    the step, its drain included), or where higher the median of its interval rates (at
    least three equal parts of the step): one stall at a step's end, which lengthens the
    drain and hits the floor as often as the server, does not pass for a server falling
    behind, which shows in every part."""
    parts = getattr(step, "interval_rates", None) or ()
    return max(step.achieved, statistics.median(parts)) if len(parts) >= 3 else step.achieved


def kept_up(step, base_p50: float | None) -> bool:
    """Whether ``step`` kept up with its offered rate (the saturation criterion)."""
    if step.errors or step.timeouts or step.unsent or not throughput(step) >= ACHIEVED_SHARE * step.offered:
        return False
    return base_p50 is None or not (step.p50 > P50_GROWTH * base_p50
                                    and step.p50 > base_p50 + P50_SLACK_SECONDS)


@dataclass
class Round:
    """One round at a rate: the server's step, and the floor's where it was run."""

    server: dict | None = None      # criterion -> held
    floor: dict | None = None


@dataclass
class Candidate:
    """The rounds of one offered rate."""

    rate: float
    rounds: list = field(default_factory=list)
    floor_always: bool = False      # the floor runs every round, not only after a failure

    def _complete(self, round_: Round) -> bool:
        return round_.server is not None and (round_.floor is not None
                                              or (not self.floor_always and all(round_.server.values())))

    def counts(self, criterion: str) -> tuple[int, int, int]:
        """(held, failed, voided) rounds of ``criterion``, complete rounds only: a round
        the server failed where the floor failed too is the machine's (voided)."""
        held = failed = voided = 0
        for round_ in self.rounds:
            if round_.server is None or not self._complete(round_):
                continue
            if round_.server[criterion]:
                held += 1
            elif round_.floor is not None and not round_.floor[criterion]:
                voided += 1
            else:
                failed += 1
        return held, failed, voided

    def verdict(self, criterion: str) -> bool | None:
        """Held (True) or failed (False) in the majority of counted rounds; None while
        undecided. Rounds all voided by the floor: failed (nothing was shown to hold)."""
        held, failed, voided = self.counts(criterion)
        need = ROUNDS // 2 + 1
        if held >= need or failed >= need:
            return held >= need
        if held + failed >= ROUNDS or voided >= MAX_VOIDED + (ROUNDS - held - failed):
            return held > failed
        return None

    def pending(self, criteria=CRITERIA) -> str | None:
        """What this candidate needs next: the floor (its round is incomplete), a new
        round of the server (one of ``criteria`` undecided), or nothing."""
        if self.rounds and self.rounds[-1].server is not None and not self._complete(self.rounds[-1]):
            return FLOOR
        if not self.rounds or any(self.verdict(c) is None for c in criteria):
            return SERVER
        return None


class Search:
    """The knee search as a state machine: ``next()`` says what to run (a rate, a round
    and a target), ``record(trial)`` takes its step; ``next()`` is None once done."""

    def __init__(self, start: float, slo_seconds: float, ceiling: float | None = None,
                 floor: bool = True, judge_slo: bool = True, floor_always: bool = False, rates=()):
        self.start, self.slo = float(start), slo_seconds
        self.ceiling = ceiling          # rates at or above it may be the generator's limit
        self.floor = floor              # a loop's wake search has no floor to run
        self.judge_slo = judge_slo      # steps too short to judge a p99: saturation alone
        self.floor_always = floor and floor_always  # the floor's curve at every rate run
        self.fixed = tuple(float(rate) for rate in rates)  # a map check: these rates, no search
        self.candidates: dict[float, Candidate] = {}
        self.base_p50: float | None = None
        self.generator_bound = False
        self.trials: list[Trial] = []   # every step recorded, in order (a record stores them)

    # --- what is known -----------------------------------------------------------------

    def bounds(self, criterion: str) -> tuple[float | None, float | None]:
        """(highest rate held below every failure, lowest rate failed)."""
        failed = [c.rate for c in self.candidates.values() if c.verdict(criterion) is False]
        low_fail = min(failed) if failed else None
        held = [c.rate for c in self.candidates.values() if c.verdict(criterion) is True
                and (low_fail is None or c.rate < low_fail)]
        return (max(held) if held else None), low_fail

    def slo_judgeable(self) -> bool:
        """Whether the SLO is judged here: the search judges it (its steps are long
        enough) and the floor met it in most of its steps (without a floor: yes)."""
        if not self.judge_slo:
            return False
        verdicts = [r.floor["slo"] for c in self.candidates.values() for r in c.rounds
                    if r.floor and r.server is not None and not r.server["slo"]]
        return not verdicts or 2 * sum(verdicts) > len(verdicts)

    def knee(self, criterion: str) -> float | None:
        """The saturation rate, or the SLO rate (None where the SLO cannot be judged)."""
        held, _ = self.bounds(criterion)
        if criterion == "slo":
            if not self.slo_judgeable():
                return None
            saturation = self.bounds("saturation")[0]
            if held is not None and saturation is not None:
                held = min(held, saturation)
        return held

    def spread(self, criterion: str) -> float | None:
        """How much the knee moves between rounds: (highest - lowest) over the knee, of
        each round's own knee (the highest rate it held below any it failed); a round
        the floor failed too is the machine's, and no verdict of the server's."""
        knee = self.knee(criterion)
        if not knee:
            return None
        per_round = []
        for index in range(ROUNDS):
            held: list[float] = []
            failed: list[float] = []
            for candidate in self.candidates.values():
                if index >= len(candidate.rounds) or candidate.rounds[index].server is None:
                    continue
                round_ = candidate.rounds[index]
                if round_.server[criterion]:
                    held.append(candidate.rate)
                elif not (round_.floor is not None and not round_.floor[criterion]):
                    failed.append(candidate.rate)
            below = [rate for rate in held if not failed or rate < min(failed)]
            if below:
                per_round.append(max(below))
        return (max(per_round) - min(per_round)) / knee if len(per_round) >= 2 else 0.0

    # --- what to run next --------------------------------------------------------------

    def _rate_for(self, criterion: str) -> float | None:
        held, failed = self.bounds(criterion)
        if criterion == "slo" and failed is None:
            return None  # within the SLO wherever it kept up: the SLO knee is saturation's
        if held is None and failed is None:
            return self.start
        if held is None:
            assert failed is not None
            rate = failed / FACTOR
            return rate if rate >= MIN_RATE else None
        if failed is None:
            rate = held * FACTOR
            if self.ceiling and rate >= self.ceiling:
                if held * PRECISION < self.ceiling:
                    return self.ceiling      # the highest rate the generator speaks for
                self.generator_bound = True  # held there: past it the generator would be judged
                return None
            return rate
        return math.sqrt(held * failed) if failed / held > PRECISION else None

    def criteria(self) -> tuple[str, ...]:
        """What the search still judges: the SLO only where the floor lets it be judged."""
        return CRITERIA if self.slo_judgeable() else ("saturation",)

    def _candidate(self, rate: float) -> Candidate:
        return self.candidates.setdefault(rate, Candidate(rate, floor_always=self.floor_always))

    def next(self) -> tuple[float, int, str] | None:
        """(rate, round, target) of the next step, or None when the search is done."""
        criteria = self.criteria()
        for candidate in self.candidates.values():
            if candidate.pending(criteria) == FLOOR:
                return candidate.rate, len(candidate.rounds) - 1, FLOOR
        if self.fixed:  # a map check: its rates' rounds interleaved, the fewest run first
            waiting = [self._candidate(rate) for rate in self.fixed]
            waiting = [c for c in waiting if c.pending(criteria) == SERVER]
            if not waiting:
                return None
            chosen = min(waiting, key=lambda c: (len(c.rounds), c.rate))
            return chosen.rate, len(chosen.rounds), SERVER
        for criterion in criteria:
            if len(self.candidates) > MAX_CANDIDATES:
                break
            rate = self._rate_for(criterion)
            if rate is None:
                continue
            rate = float(max(round(rate), 1))
            candidate = self._candidate(rate)
            if candidate.pending(criteria) == SERVER:
                return rate, len(candidate.rounds), SERVER
            # a rounded midpoint fell on a decided rate: the bisection is as fine as whole
            # rates go, and the next criterion (or nothing) is what is left
        return None

    def record(self, trial: Trial) -> None:
        """Take one step's result (of what ``next()`` asked, or a stored trial)."""
        self.trials.append(trial)
        candidate = self._candidate(trial.rate)
        while len(candidate.rounds) <= trial.round:
            candidate.rounds.append(Round())
        if trial.target == FLOOR:
            candidate.rounds[trial.round].floor = {
                "saturation": kept_up(trial.step, None),
                "slo": kept_up(trial.step, None) and trial.step.p99 <= self.slo}
            return
        up = kept_up(trial.step, self.base_p50)
        if up and self.base_p50 is None:
            self.base_p50 = trial.step.p50
        held = {"saturation": up, "slo": up and (trial.step.p99 <= self.slo or not self.judge_slo)}
        candidate.rounds[trial.round].server = held
        if not self.floor:  # a loop's search: no floor to blame, the round is complete
            candidate.rounds[trial.round].floor = {"saturation": True, "slo": True}


def replay(trials, start: float, slo_seconds: float, ceiling: float | None = None,
           floor: bool = True, judge_slo: bool = True, floor_always: bool = False, rates=()) -> Search:
    """The search of a stored record, from its trials (the rule it ran by)."""
    search = Search(start, slo_seconds, ceiling, floor, judge_slo, floor_always, rates)
    for trial in trials:
        search.record(trial)
    search.next()  # sets generator_bound where the search stopped below the ceiling
    return search


def cpu_per_request(trials, rate: float | None) -> float | None:
    """The server's CPU time per request in the open-loop steps at the highest rate held
    at or below ``rate`` (their CPU time over their requests, every round of that rate:
    CPU time is read in clock ticks, and a sum over rounds blurs that less than a
    median of ratios): a paced request costs more than a batched one, so the rate
    served is where it is read."""
    if rate is None:
        return None
    steps = [t for t in trials if t.target == SERVER and t.rate <= rate and t.requests > 0
             and t.cpu_seconds is not None]
    if not steps:
        return None
    top = [t for t in steps if t.rate == max(t.rate for t in steps)]
    return sum(t.cpu_seconds for t in top) / sum(t.requests for t in top)
