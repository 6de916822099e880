"""The registry of concurrency models.

Each model is one module in this package with the same small interface::

    park(n, variant, measure, wake=True) -> dict
    pingpong(primitive, loops, cpus, samples=None, observed=None) -> seconds
    pingpong_here(primitive, loops, samples=None) -> seconds (or an awaitable)

``park`` starts ``n`` waiters, proves that all ``n`` are parked, calls ``measure()``
(which reads memory, or times hand-offs) while they are, then (unless ``wake`` is
false, when the caller is about to exit) wakes them all and waits for them to finish.
``pingpong`` times round trips between two fresh waiters of the model, pinned as
``cpus`` says; ``pingpong_here`` does the same beside the probe's parked waiters.
It returns ``parked`` (the count it proved), ``spawn_seconds``, ``wake_seconds``,
``primitive`` (what the waiters block on) and ``memory`` (what ``measure`` returned).

The registry holds only static facts, so the runner can validate a request without
importing gevent or uvloop: a probe module imports its own library, and only a probe
child ever imports a probe module. Adding a model is one module plus one entry here.
"""

import importlib
from dataclasses import dataclass

from parkbench.errors import UserError


class LimitReached(Exception):
    """A probe could not start all N waiters: the machine said no after ``reached``."""

    def __init__(self, reached: int, error: BaseException):
        super().__init__(f"{type(error).__name__}: {error}")
        self.reached = reached
        self.error = error


@dataclass(frozen=True)
class Model:
    name: str
    module: str
    variants: tuple[str, ...]
    description: str
    # A deliberately high guess of the memory (user plus kernel) one waiter takes, used
    # by the memory guard before a sweep has measured anything of this model.
    prior_bytes_per_waiter: int
    # Hand-off primitives of the model's ping-pong (the probe module's HANDOFF_PRIMITIVES).
    primitives: tuple[str, ...]
    # Whether the model's waiters are separate OS processes (memory is then a tree sum).
    multiprocess: bool = False


MODELS = {
    model.name: model
    for model in (
        Model(
            "threads",
            "parkbench.probes.threads",
            ("condition",),
            "threading.Thread, each parked in threading.Condition.wait()",
            64 * 1024,
            ("lock", "queue"),
        ),
        Model(
            "asyncio",
            "parkbench.probes.asyncio_tasks",
            ("event",),
            "asyncio tasks on the stdlib event loop, each parked in asyncio.Event.wait()",
            8 * 1024,
            ("future", "queue"),
        ),
        Model(
            "uvloop",
            "parkbench.probes.uvloop_tasks",
            ("event",),
            "asyncio tasks on uvloop's event loop, each parked in asyncio.Event.wait()",
            8 * 1024,
            ("future", "queue"),
        ),
        Model(
            "gevent",
            "parkbench.probes.gevent_greenlets",
            ("event",),
            "greenlets from gevent.spawn, each parked in gevent.event.Event.wait()",
            32 * 1024,
            ("event", "channel", "greenlet"),
        ),
        Model(
            "subprocess",
            "parkbench.probes.subprocess_workers",
            ("fork", "exec"),
            "worker processes, each blocked reading its own pipe; "
            "exec: a fresh interpreter per worker, fork: os.fork() of the probe",
            16 * 1024 * 1024,
            ("pipe",),
            multiprocess=True,
        ),
    )
}


def get(name: str) -> Model:
    try:
        return MODELS[name]
    except KeyError:
        raise UserError(
            f"unknown model {name!r}; accepted models: {', '.join(MODELS)}"
        ) from None


def _check_member(model: Model, value: str, accepted, what: str, plural: str) -> str:
    if value not in accepted:
        raise UserError(
            f"unknown {what} {value!r} for model {model.name!r}; "
            f"accepted {plural}: {', '.join(accepted)}"
        )
    return value


def check_variant(model: Model, variant: str) -> str:
    return _check_member(model, variant, model.variants, "variant", "variants")


def check_primitive(model: Model, primitive: str) -> str:
    return _check_member(model, primitive, model.primitives, "hand-off primitive", "primitives")


def load(name: str):
    """Import a probe module. Only a probe child calls this."""
    return importlib.import_module(get(name).module)
