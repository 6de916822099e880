"""A model's measured edge: the rate one machine sustains (requests served, or wake-ups
on a loop) at each W it was measured at, with a band from how much the knee moved
between rounds, interpolated in log W between measured points and held flat beyond
them (marked extrapolated). The fit map draws it; ``sizing.machines_needed`` sizes by
it; the map's checked points go to W values between the measured ones (held out).
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EdgePoint:
    """What one machine sustains at ``waiters`` idle waiters (per second), its band,
    the basis of the rate and the run it came from."""

    waiters: int
    rate: float
    low: float
    high: float
    basis: str = ""
    run: str = ""


@dataclass(frozen=True)
class EdgeRate:
    """The edge at one W: the rate, its band, whether W lies beyond the measured, and the
    measured point(s) it comes from (``sources``: (basis, W) of one point, or of the two
    around W)."""

    rate: float
    low: float
    high: float
    extrapolated: bool
    sources: tuple[tuple[str, int], ...] = ()

    @property
    def bases(self) -> tuple[str, ...]:
        """The bases the rate comes from, each once (two where the points around W differ)."""
        return tuple(dict.fromkeys(basis for basis, _ in self.sources))

    @property
    def basis(self) -> str:
        """The basis of the rate in words: both, with their W, where two differ."""
        if len(self.bases) < 2:
            return self.bases[0] if self.bases else ""
        return " to ".join(f"{basis} (W={waiters:,})" for basis, waiters in self.sources)


def point(waiters: int, rate: float, spread: float | None, basis: str = "", run: str = "") -> EdgePoint:
    """A measured point with its band: the knee's spread over rounds, half either side."""
    half = 0.0 if spread is None or spread != spread else max(spread, 0.0) / 2
    return EdgePoint(int(waiters), float(rate), float(rate) * max(1 - half, 0.0), float(rate) * (1 + half),
                     basis, run)


def at(points, waiters: float) -> EdgeRate | None:
    """The edge at ``waiters``: linear in log W between the two measured points around
    it, the nearest point's beyond them (extrapolated); ``None`` without a point."""
    ordered = sorted(points, key=lambda p: p.waiters)
    if not ordered:
        return None
    if waiters <= ordered[0].waiters or len(ordered) == 1:
        first = ordered[0] if waiters <= ordered[0].waiters else ordered[-1]
        beyond = waiters < ordered[0].waiters or waiters > ordered[-1].waiters
        return EdgeRate(first.rate, first.low, first.high, beyond, ((first.basis, first.waiters),))
    if waiters >= ordered[-1].waiters:
        last = ordered[-1]
        return EdgeRate(last.rate, last.low, last.high, waiters > last.waiters, ((last.basis, last.waiters),))
    for left, right in zip(ordered, ordered[1:]):
        if left.waiters <= waiters <= right.waiters:
            share = (math.log(waiters) - math.log(left.waiters)) / (math.log(right.waiters) - math.log(left.waiters))

            def mix(a: float, b: float, share=share) -> float:
                return a + (b - a) * share

            # at a measured W, that point's basis; between two, both points'
            sources = tuple((p.basis, p.waiters) for p in (left, right) if waiters not in (left.waiters, right.waiters)
                            or waiters == p.waiters)
            return EdgeRate(mix(left.rate, right.rate), mix(left.low, right.low), mix(left.high, right.high),
                            False, sources)
    raise AssertionError("unreachable: waiters lies between the ends")


def held_out(points) -> list[int]:
    """W values between measured points (the geometric midpoint of each neighbouring
    pair): where a map check tests the edge at a W it was not drawn from."""
    ordered = sorted({p.waiters for p in points})
    return [round(math.sqrt(a * b)) for a, b in zip(ordered, ordered[1:]) if b > a + 1]
