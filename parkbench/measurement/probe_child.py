"""The probe child: one fresh interpreter parks N waiters of one model and reports.

Run by the runner as ``python -m parkbench.measurement.probe_child --model M --variant V --n N``. It
imports only the one probe module it needs, parks N waiters, and when the probe has
proved all N parked, collects garbage, lets the allocator settle for
``SETTLE_SECONDS``, and reads the memory views of its process tree, with what the rest
of the machine did meanwhile (``interference.py``: a busy machine disturbs the
system-wide kernel view). It then wakes all
N, waits for them to finish, and sends one record (``protocol.ProbeRecord``) on the
record channel the runner gave it (``protocol.py``).

With ``--tail-loops K --primitive P`` it measures tail latency instead of memory: while
the N waiters stay parked, two more waiters of the model hand off K round trips, each
timed on its own; the record holds p50, p99, p99.9 and max of the one-way time. Memory
is not read in this mode (reading smaps takes kernel locks that disturb latency).
With ``--wakes JSON`` (asyncio/event; an in-process map check) it offers open-loop
wake-ups to active tasks on the same loop instead (``probes/wake_load.py``).

A failure exits with status ``protocol.EXIT_PROBE_FAILED`` and a one-line reason as the
last line of stderr; the runner records that reason. Where the OS refuses a waiter, the
child sends a ``protocol.LimitRecord`` and exits with ``protocol.EXIT_LIMIT_REACHED``.
"""

import argparse
import gc
import inspect
import json
import os
import platform
import sys
import time
import traceback
from typing import cast

from parkbench.core import protocol, registry
from parkbench.core.protocol import EXIT_LIMIT_REACHED, EXIT_PROBE_FAILED
from parkbench.measurement import interference, lifeline, memory, probes, rlimits
from parkbench.measurement.handoff import one_way_percentiles

SETTLE_SECONDS = 0.1
# where offered wake-ups run (``probes/wake_load.py``): tasks parked on an asyncio loop
WAKE_MODELS = (("asyncio", "event"), ("uvloop", "event"))


def _measurer(kernel_baseline: dict, activity_baseline: dict, activity: dict):
    """A ``measure`` that reads the memory views, and puts in ``activity`` what the rest
    of the machine did since the baseline (``interference.between``)."""
    def measure(exclude=(), **_context) -> dict:
        gc.collect()
        time.sleep(SETTLE_SECONDS)
        kernel_now = memory.kernel_meminfo()
        activity.update(interference.between(activity_baseline, interference.snapshot()))
        views = memory.tree_views(exclude=exclude)
        views["kernel"] = memory.kernel_growth(kernel_baseline, kernel_now)
        views["kernel_meminfo"] = kernel_now
        return views

    return measure


def _tail_measurer(module, primitive: str, loops: int):
    """A ``measure`` that times ``loops`` hand-offs while the probe's waiters are parked."""
    def measure():
        gc.collect()  # start from a clean heap; collections during the loop are part of it
        samples = []
        timing = module.pingpong_here(primitive, loops, samples)
        if inspect.isawaitable(timing):  # asyncio: finish on the running loop
            async def finish():
                await timing
                return one_way_percentiles(samples)
            return finish()
        return one_way_percentiles(samples)

    return measure


def run(model: str, variant: str, n: int, primitive: str | None = None,
        tail_loops: int | None = None, wake: bool = True, served: str | None = None,
        wakes: str | None = None) -> protocol.ProbeRecord:
    spec = registry.get(model)
    registry.check_variant(spec, variant)
    if tail_loops is not None:
        primitive = registry.check_primitive(spec, str(primitive))
    if served is not None and not registry.is_connections(variant):
        raise ValueError(f"a served job needs a connections variant, not {variant!r}")
    if wakes is not None and (model, variant) not in WAKE_MODELS:
        raise ValueError(f"offered wake-ups need one of {WAKE_MODELS}, not {(model, variant)}")
    module = probes.load(model)
    gc.collect()
    baseline = memory.tree_views()
    kernel_baseline = memory.kernel_meminfo()
    activity_baseline = interference.snapshot()  # what the rest of the machine does from here
    activity: dict = {}
    baseline["kernel_meminfo"] = kernel_baseline
    # a probe child imports only what its job measures: its baseline is part of the figure
    if served is not None:
        from parkbench.measurement.probes import served_load, served_search  # only a served child drives load

        chosen = served_load.settings(served)
        served_search.ports_fit(n, chosen)  # a job the port range cannot hold is refused before it starts
        measure, kind = served_load.measurer(chosen, activity), "served"
    elif wakes is not None:
        from parkbench.measurement.probes import wake_load  # only a wakes child offers wake-ups

        measure, kind = wake_load.measurer(json.loads(wakes), activity), "wakes"
    elif tail_loops is None:
        measure, kind = _measurer(kernel_baseline, activity_baseline, activity), "memory"
    else:
        measure, kind = _tail_measurer(module, str(primitive), tail_loops), "tail"
    # A tail probe exits right after its record: waking N waiters would only cost time.
    result = module.park(n, variant, measure, wake=(kind == "memory" and wake))
    if kind == "memory" and not wake:
        result["wake_timed"] = False  # the child exits without waking: no wake figure at this N
    if result["parked"] != n:
        raise RuntimeError(f"proved {result['parked']} of {n} waiters parked")
    checked = result.get("proof") or {}
    if checked.get("blocked_before") != n or checked.get("blocked_after") != n:
        raise RuntimeError(f"no proof that {n} waiters were blocked while measured: {checked}")
    short = protocol.threads_short({"model": model, "n": n, "baseline": baseline,
                                         "memory": result.get("memory")})
    if kind == "memory" and short:
        raise RuntimeError(f"the memory reading {short}")
    if model == "threads" and _gil_disabled_build() and gil_enabled():
        raise RuntimeError("a free-threaded build is running with the GIL enabled (set "
                           "PYTHON_GIL=0, or an extension module re-enabled it)")
    if activity:
        result["interference"] = activity
    if kind in ("served", "wakes"):
        result[kind] = result.pop("memory")
    if kind == "tail":
        result["tail"] = result.pop("memory")
        result["tail_loops"] = tail_loops
    # park() gives parked ... proof and the optional fields; the runner checks the whole
    record = cast(protocol.ProbeRecord, {
        "kind": kind,
        "model": model,
        "variant": variant,
        "n": n,
        **result,
        "baseline": baseline,
        "settle_seconds": SETTLE_SECONDS,
        "python": platform.python_version(),
        "gil_enabled": gil_enabled(),
    })
    return record


def gil_enabled() -> bool:
    """Whether the GIL is on in this process (always, before free-threaded builds)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def _gil_disabled_build() -> bool:
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parkbench.measurement.probe_child")
    parser.add_argument("--model", required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--n", required=True, type=int)
    parser.add_argument("--primitive", help="hand-off primitive (tail mode)")
    parser.add_argument("--tail-loops", type=int, help="time this many hand-offs (tail mode)")
    parser.add_argument("--no-wake", action="store_true",
                        help="exit without waking the N waiters (wake is not timed)")
    parser.add_argument("--served", metavar="JSON",
                        help="a connections variant: time the requests served while N stay idle")
    parser.add_argument("--wakes", metavar="JSON",
                        help="asyncio/event: offer open-loop wake-ups while N stay parked")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= protocol.MAX_N:
        parser.error(f"--n must be from 1 to {protocol.MAX_N:,}, not {args.n}")
    lifeline.die_with_parent(os.environ.get("PARKBENCH_RUNNER_PID"))
    try:
        rlimits.apply(os.environ.get("PARKBENCH_CHILD_RLIMITS", ""))
        record = run(args.model, args.variant, args.n, args.primitive, args.tail_loops,
                     wake=not args.no_wake, served=args.served, wakes=args.wakes)
    except probes.LimitReached as exc:
        # The record says how far it got.
        protocol.send({"kind": "limit", "reached": exc.reached, "error": str(exc)})
        print(f"{exc} after {exc.reached:,} of {args.n:,} waiters", file=sys.stderr, flush=True)
        os._exit(EXIT_LIMIT_REACHED)
    except BaseException as exc:  # noqa: BLE001 - any failure is this probe's reason: report it, die
        traceback.print_exc(file=sys.stderr)
        reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        print(reason, file=sys.stderr, flush=True)
        # _exit: parked waiters (threads, workers) must not hold the process open.
        os._exit(EXIT_PROBE_FAILED)
    protocol.send(record)
    return protocol.EXIT_OK


if __name__ == "__main__":
    # _exit skips interpreter teardown of a process that held N waiters: the record is
    # already flushed, and teardown time is not part of any measurement.
    os._exit(main())
