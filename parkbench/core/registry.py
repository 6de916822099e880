"""The registry of concurrency models: static facts only, so that every layer can ask
them without importing a model's library (gevent, uvloop) or a probe module.

Each model's probe is one module of ``parkbench.measurement.probes`` (``Model.module``);
only a probe child imports it (``measurement.probes.load``). Adding a model is one
module there plus one entry here. What a model's waiters are, what they block on, which
variants and hand-off primitives it has, how many OS threads a waiter runs on, and how
it uses the machine's cores are decided here and read everywhere else.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from parkbench.core.errors import UserError


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
    # The least memory one waiter can take (a deliberately low bound, below every
    # measurement): no prediction from noisy points may fall under it.
    floor_bytes_per_waiter: int = 256
    # Whether the model's waiters are separate OS processes (memory is then a tree sum,
    # and each worker holds its own descriptors).
    multiprocess: bool = False
    # How the model serves on the machine's cores (``serves_every_core``): one
    # interpreter runs Python on one core at a time; worker processes, or goroutines on
    # GOMAXPROCS threads, use every core; OS threads use every core only on an
    # interpreter without the GIL (free-threaded CPython).
    every_core: bool = False
    every_core_without_gil: bool = False
    # Whether the two waiters of a hand-off share one OS thread (an event loop, a hub of
    # greenlets): then no hand-off crosses cores (``placement.py``).
    one_thread: bool = False
    # Variants named by a pattern rather than listed: a function that returns True for
    # a valid one, False for one it does not know, and raises UserError for a bad one.
    open_variants: Callable[[str], bool] | None = None
    # The toolchain the model needs beyond this package ("go": its probe is a Go program
    # built here), or None. Whether it is found is the measurement layer's question
    # (``measurement.probes.unavailable``).
    toolchain: str | None = None
    # A reference model: measured beside the Python models, for comparison.
    reference: bool = False
    # The placement whose hand-off the fit map uses; None: the slower of the two.
    handoff_placement: str | None = None
    # OS threads each waiter runs on (a thread, or a worker process's main thread): the
    # measured tree must hold at least N times this many more threads when memory is
    # read than at the baseline (``protocol.threads_short``). 0: no such bound.
    threads_per_waiter: int = 0


THREAD_STACK_MIN = 32 * 1024  # threading.stack_size() refuses less
_STACK_VARIANT = re.compile(r"^stack-([0-9]+)([km]?)$")


def stack_variant_bytes(variant: str) -> int | None:
    """``stack-256k`` -> 262144; ``None`` for a variant that is not a stack size."""
    match = _STACK_VARIANT.match(variant)
    if not match:
        return None
    number, unit = match.groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit]


def _check_stack_variant(variant: str) -> bool:
    size = stack_variant_bytes(variant)
    if size is None:
        return False
    if size < THREAD_STACK_MIN or size % 4096:
        raise UserError(
            f"thread stack size {variant!r} is not allowed: the platform minimum is "
            f"{THREAD_STACK_MIN // 1024}k and the size must be a multiple of 4k "
            f"(e.g. stack-64k, stack-256k, stack-1m)"
        )
    return True


# The two workloads a variant belongs to: waiters woken in-process (a future, an event,
# a pipe byte; sized by the hand-off) and idle TCP connections held by a server
# (``probes/connections.py``; sized by the requests a server serves).
IN_PROCESS = "in-process"
CONNECTIONS = "connections"
CONNECTIONS_VARIANTS = ("connections", "protocol", "reuseport")


def workload(variant: str | None) -> str:
    """The workload of a variant: ``CONNECTIONS`` or ``IN_PROCESS``."""
    return CONNECTIONS if variant in CONNECTIONS_VARIANTS else IN_PROCESS


def is_connections(variant: str | None) -> bool:
    """Whether a variant is one of the connections workload's."""
    return workload(variant) == CONNECTIONS


def in_registry_order(wide, column: str = "variant"):
    """Rows of a table (a DataFrame with machine, interpreter, model and ``column``
    columns: a variant, or a hand-off primitive) in the order models and their variants
    or primitives are registered here (threads first)."""
    def key(row):
        model = MODELS.get(row["model"])
        order = list(MODELS).index(row["model"]) if model else len(MODELS)
        variants = (model.variants + model.primitives) if model else ()
        position = variants.index(row[column]) if row[column] in variants else len(variants)
        return (row["machine"], row["interpreter"], order, position, str(row[column]))

    if wide.empty:
        return wide
    order = sorted(range(len(wide)), key=lambda i: key(wide.iloc[i]))
    return wide.iloc[order].reset_index(drop=True)


_CONNECTIONS_TEXT = (
    "connections: an asyncio.start_server streams handler per TCP connection, in "
    "StreamReader.read(); protocol: a bare asyncio.Protocol per connection; reuseport: "
    "streams in P server processes sharing one port (SO_REUSEPORT)")

MODELS = {
    model.name: model
    for model in (
        Model(
            "threads",
            "parkbench.measurement.probes.threads",
            ("condition", "stack-256k", "stack-64k", "socket", "sleep", "connections"),
            "threading.Thread, each parked in threading.Condition.wait(); stack-SIZE: "
            "the same with threading.stack_size(SIZE) (any multiple of 4k from 32k); "
            "socket: each blocked in recv() on its own socketpair; sleep: each in "
            "time.sleep() far in the future; connections: a thread per TCP connection, "
            "blocked in recv()",
            64 * 1024,
            ("lock", "queue"),
            16 * 1024,  # a thread's kernel stack alone
            open_variants=_check_stack_variant,
            threads_per_waiter=1,
            every_core_without_gil=True,
        ),
        Model(
            "asyncio",
            "parkbench.measurement.probes.asyncio_tasks",
            ("event", "socket", "sleep", "connections", "protocol", "reuseport"),
            "asyncio tasks on the stdlib event loop, each parked in asyncio.Event.wait(); "
            "socket: each awaiting loop.sock_recv() on its own socketpair; sleep: each in "
            "asyncio.sleep() far in the future; " + _CONNECTIONS_TEXT,
            8 * 1024,
            ("future", "queue"),
            512,  # a task object and its coroutine frame
            one_thread=True,
        ),
        Model(
            "uvloop",
            "parkbench.measurement.probes.uvloop_tasks",
            ("event", "socket", "sleep", "connections", "protocol", "reuseport"),
            "asyncio tasks on uvloop's event loop, each parked in asyncio.Event.wait(); "
            "socket: each awaiting loop.sock_recv() on its own socketpair; sleep: each in "
            "asyncio.sleep() far in the future; " + _CONNECTIONS_TEXT,
            8 * 1024,
            ("future", "queue"),
            512,
            one_thread=True,
        ),
        Model(
            "gevent",
            "parkbench.measurement.probes.gevent_greenlets",
            ("event", "socket", "sleep", "connections", "reuseport"),
            "greenlets from gevent.spawn, each parked in gevent.event.Event.wait(); "
            "socket: each blocked in recv() on its own gevent socketpair; sleep: each in "
            "gevent.sleep() far in the future; connections: a gevent.server.StreamServer "
            "handler greenlet per TCP connection, in recv(); reuseport: the same in P "
            "processes",
            32 * 1024,
            ("event", "channel", "greenlet"),
            4 * 1024,  # a greenlet's saved stack slice
            one_thread=True,
        ),
        Model(
            "subprocess",
            "parkbench.measurement.probes.subprocess_workers",
            ("fork", "exec", "forkserver", "spawn", "sleep", "connections"),
            "worker processes, each blocked reading its own pipe; fork: os.fork() of the "
            "probe, exec: a fresh interpreter per worker (python -I -c), forkserver and "
            "spawn: multiprocessing's start methods; sleep: forked, each in time.sleep() "
            "far in the future; connections: a forked worker per TCP connection, blocked "
            "in recv()",
            16 * 1024 * 1024,
            ("pipe",),
            256 * 1024,  # a forked process's private pages and kernel structures
            multiprocess=True,
            every_core=True,
            threads_per_waiter=1,
        ),
        Model(
            "go",
            "parkbench.measurement.probes.go_goroutines",
            ("chan", "cond", "sleep", "connections"),
            "the reference: goroutines of a Go program (benchmarks/goprobe), each "
            "receiving on one shared unbuffered channel; cond: sync.Cond.Wait; sleep: "
            "time.Sleep (woken by its timer only); connections: a goroutine per TCP "
            "connection (net.Conn) in Read. Needs a Go toolchain",
            8 * 1024,
            ("chan",),
            2 * 1024,  # a goroutine's smallest stack
            toolchain="go",
            reference=True,
            every_core=True,
            # Go's scheduler runs a woken goroutine on the waker's P (runnext): a server's
            # wake-ups are same-core switches on each of GOMAXPROCS threads. cross-core
            # pins two locked OS threads, a worst case no Go server runs by default.
            handoff_placement="same-core",
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
    if model.open_variants is not None and model.open_variants(variant):
        return variant
    return _check_member(model, variant, model.variants, "variant", "variants")


def check_primitive(model: Model, primitive: str) -> str:
    return _check_member(model, primitive, model.primitives, "hand-off primitive", "primitives")


# --- how a model uses the machine: the one place each fact is decided -------------------

MULTI_PROCESS_VARIANTS = ("reuseport",)   # P server processes sharing one port


def serves_every_core(model: str, variant: str | None, free_threaded: bool = False) -> bool:
    """Whether ``model``'s ``variant`` serves on every core of the machine: worker
    processes, goroutines, the reuseport variant's P server processes (one event loop per
    core), and OS threads on an interpreter without the GIL (``free_threaded``); one
    interpreter with the GIL runs Python on one core at a time."""
    if variant in MULTI_PROCESS_VARIANTS:
        return True
    spec = MODELS.get(model)
    if spec is None:
        return False
    return spec.every_core or (free_threaded and spec.every_core_without_gil)


def cores_used(model: str, variant: str | None, logical_cpus: int, free_threaded: bool = False) -> int:
    """The cores ``model``'s ``variant`` serves with on a machine of ``logical_cpus``."""
    return max(int(logical_cpus), 1) if serves_every_core(model, variant, free_threaded) else 1


def one_process_holds_every_waiter(model: str, variant: str | None) -> bool:
    """Whether one process holds all N waiters (and their descriptors): not worker
    processes, nor the reuseport variant's P server processes."""
    spec = MODELS.get(model)
    return not (spec is not None and spec.multiprocess) and variant not in MULTI_PROCESS_VARIANTS


def shares_one_thread(model: str) -> bool:
    """Whether the two waiters of ``model``'s hand-off run on one OS thread (an event
    loop, a hub of greenlets), so that no hand-off crosses cores."""
    spec = MODELS.get(model)
    return bool(spec and spec.one_thread)
