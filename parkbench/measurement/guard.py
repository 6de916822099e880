"""The memory guard: a sweep never asks the machine for more memory than it has.

Before each probe child, the guard predicts the child's peak memory and skips an N
whose prediction exceeds the budget, recording why. The prediction is a straight line
through what this sweep already measured for the same model and variant (PSS plus
kernel memory, the memory the machine really gave up) times ``GUARD_MARGIN``, its slope
never below the model's floor per waiter (noise cannot make a large N look free);
before two distinct N are measured it is the registry's deliberately high prior per
waiter plus ``PRIOR_FIXED_BYTES``.

While a child runs, the runner's watchdog ends it if the machine's available memory
falls below the floor, before the kernel's out-of-memory killer has to choose a victim.
"""

import statistics
from dataclasses import dataclass

import psutil

from parkbench.core import registry
from parkbench.core.errors import UserError
from parkbench.core.units import format_bytes, parse_size

DEFAULT_BUDGET = "50%"          # of the memory available when the sweep starts
GUARD_MARGIN = 1.5              # predicted peak = fitted line x margin
FULL_GUARD_MARGIN = 1.15        # the full sweep's margin: its fits span five decades
PRIOR_FIXED_BYTES = 128 * 2**20  # interpreter plus libraries, before any waiter
FLOOR_FRACTION = 0.05           # watchdog floor: this share of total memory ...
FLOOR_MIN_BYTES = 512 * 2**20   # ... but never less than this


def available_bytes() -> int:
    return psutil.virtual_memory().available


def default_floor() -> int:
    return max(FLOOR_MIN_BYTES, int(psutil.virtual_memory().total * FLOOR_FRACTION))


def parse_budget(text: str, available: int) -> int:
    """``"50%"`` of ``available``, or an absolute size such as ``"8GiB"``."""
    text = str(text).strip()
    if text.endswith("%"):
        try:
            percent = float(text[:-1])
        except ValueError:
            percent = -1.0
        if not 0 < percent <= 100:
            raise UserError(f"a memory budget in percent must be in (0, 100], not {text!r}")
        return int(available * percent / 100)
    return parse_size(text)


def measured_cost(record: dict) -> int:
    """The memory a measurement took from the machine: PSS plus kernel growth."""
    memory = record["memory"]
    return memory["pss"] + max(memory["kernel"], 0)


def predict_peak(model: str, n: int, measured: list[dict], margin: float = GUARD_MARGIN,
                 per_waiter: float | None = None) -> tuple[int, str]:
    """Predicted peak bytes of a child parking ``n``, and the basis of the prediction;
    before two N are measured, ``per_waiter`` (a machine's current total per waiter, as
    an in-process map check is planned with) stands for the prior, times the margin."""
    points = [(record["n"], measured_cost(record)) for record in measured]
    if len({x for x, _ in points}) >= 2:
        slope, intercept = statistics.linear_regression(
            [float(x) for x, _ in points], [float(y) for _, y in points]
        )
        # Noise can make a slope tiny or negative; never below the model's floor.
        floor = registry.get(model).floor_bytes_per_waiter
        line = max(intercept, 0) + max(slope, floor) * n
        basis = f"fit over {len(points)} measurements x {margin}"
        if slope < floor:
            basis += f", slope raised to the floor of {format_bytes(floor)} per waiter"
        return int(line * margin), basis
    if per_waiter is not None:  # from a run file, untrusted: never below the model's floor
        floor = registry.get(model).floor_bytes_per_waiter
        basis = f"the current total of {format_bytes(per_waiter)} per waiter x {margin}"
        if per_waiter < floor:
            per_waiter, basis = floor, f"{basis}, raised to the floor of {format_bytes(floor)} per waiter"
        return int((PRIOR_FIXED_BYTES + per_waiter * n) * margin), basis
    prior = registry.get(model).prior_bytes_per_waiter
    return PRIOR_FIXED_BYTES + prior * n, f"prior of {format_bytes(prior)} per waiter"


def waiters_within(budget_bytes: int, per_waiter: float, margin: float = GUARD_MARGIN) -> int:
    """The most waiters whose predicted peak at ``per_waiter`` (``predict_peak``) fits
    ``budget_bytes``."""
    if not per_waiter > 0:
        raise ValueError(f"a total per waiter must be positive, not {per_waiter!r}")
    return max(0, int((budget_bytes / margin - PRIOR_FIXED_BYTES) / per_waiter))


@dataclass(frozen=True)
class Guard:
    budget_bytes: int
    floor_bytes: int
    margin: float = GUARD_MARGIN

    def refuse(self, model: str, n: int, measured: list[dict],
               per_waiter: float | None = None) -> str | None:
        """Why ``n`` must be skipped, or ``None`` if it fits the budget."""
        peak, basis = predict_peak(model, n, measured, self.margin, per_waiter)
        if peak <= self.budget_bytes:
            return None
        return (f"predicted peak {format_bytes(peak)} ({basis}) exceeds the memory "
                f"budget of {format_bytes(self.budget_bytes)}")
