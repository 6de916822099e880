"""The probe modules: one per concurrency model, each with the same small interface::

    park(n, variant, measure, wake=True) -> dict
    pingpong(primitive, loops, cpus, samples=None, observed=None) -> seconds
    pingpong_here(primitive, loops, samples=None) -> seconds (or an awaitable)

``park`` starts ``n`` waiters, waits until all ``n`` arrived, calls ``measure()``
(which reads memory, or times hand-offs) between two proofs that all ``n`` are blocked
(``proof.py``), then (unless ``wake`` is false, when the caller is about to exit) wakes
them all and waits for them to finish. It returns ``parked_result(...)``: ``parked``
(the count that arrived), ``spawn_seconds``, ``wake_seconds``, ``parks_on`` (what the
waiters block on), ``memory`` (what ``measure`` returned) and ``proof`` (what was
checked). ``pingpong`` times round trips between two fresh waiters of the model, pinned
as ``cpus`` says; ``pingpong_here`` does the same beside the probe's parked waiters.

The facts about each model (variants, primitives, priors) are the registry's
(``parkbench.core.registry``). A probe module imports its own library, and only a probe
child imports a probe module (``load``): the import-linter contract in pyproject.toml
keeps every other layer out of this package.
"""

import importlib

from parkbench.core import registry


class LimitReached(Exception):
    """A probe could not start all N waiters: the machine said no after ``reached``."""

    def __init__(self, reached: int, error: BaseException):
        super().__init__(f"{type(error).__name__}: {error}")
        self.reached = reached


def parked_result(parked: int, spawn_seconds: float, primitive: str, memory, proof: dict,
                  sockets: dict | None = None) -> dict:
    """What ``park`` returns (``wake_seconds`` is filled in if the probe wakes them)."""
    result = {"parked": parked, "spawn_seconds": spawn_seconds, "wake_seconds": None,
              "parks_on": primitive, "memory": memory, "proof": proof}
    if sockets is not None:
        result["sockets"] = sockets
    return result


def load(name: str):
    """Import a probe module. Only a probe child calls this."""
    return importlib.import_module(registry.get(name).module)
