"""pyperf benchmark: one-way hand-off time between two waiters of one model.

Waiter A wakes waiter B and blocks; B wakes A and blocks. pyperf times ``loops``
round trips in each value and divides by ``2 * loops`` (``inner_loops=2``), so every
value is one one-way hand-off, in seconds. Calibration, warm-ups and worker processes
are pyperf's; the output is a pyperf JSON file that ``python -m pyperf stats``, ``hist``
and ``compare_to`` read.

    python benchmarks/bench_switch.py --model threads --primitive lock \\
        --placement cross-core -o switch.json [pyperf options: --fast, --rigorous, -p N ...]

``parkbench run`` drives this script once per (model, primitive, placement) and round;
run so, it also sends the round's record on the probe protocol's channel.
"""

import os
import sys

import pyperf

from parkbench.core import protocol, registry
from parkbench.core.errors import UserError
from parkbench.measurement import lifeline, placement, probes
from parkbench.store import pyperf_files

INNER_LOOPS = 2  # one round trip = two one-way hand-offs


def _add_worker_args(cmd, args):
    cmd.extend(("--model", args.model, "--primitive", args.primitive,
                "--placement", args.placement))


def _time_round_trips(loops, module, primitive, cpus):
    return module.pingpong(primitive, loops, cpus)


def main():
    # The benchmark dies with the runner, and each pyperf worker with the benchmark: a
    # runner killed with SIGKILL leaves no process behind.
    worker = "--worker" in sys.argv
    lifeline.die_with_parent(None if worker else os.environ.get("PARKBENCH_RUNNER_PID"))
    runner = pyperf.Runner(add_cmdline_args=_add_worker_args)
    runner.argparser.add_argument("--model", required=True, choices=list(registry.MODELS))
    runner.argparser.add_argument("--primitive", required=True)
    runner.argparser.add_argument("--placement", required=True, choices=placement.PLACEMENTS)
    args = runner.parse_args()
    model = registry.get(args.model)
    try:
        registry.check_primitive(model, args.primitive)
    except UserError as exc:
        runner.argparser.error(str(exc))
    refusal = placement.refuse(args.placement)
    if refusal:
        runner.argparser.error(refusal)
    cpus = placement.cpus_for(args.placement)
    runner.metadata.update({
        "parkbench_model": model.name,
        "parkbench_primitive": args.primitive,
        "parkbench_placement": args.placement,
        "parkbench_cpus": ",".join(map(str, cpus)),
        "parkbench_one_thread": int(registry.shares_one_thread(model.name)),
    })
    benchmark = runner.bench_time_func(
        f"switch-{model.name}-{args.primitive}-{args.placement}",
        _time_round_trips, probes.load(model.name), args.primitive, cpus,
        inner_loops=INNER_LOOPS,
    )
    if not args.worker and benchmark is not None and os.environ.get(protocol.RECORD_FD_ENV):
        # run by parkbench: the round's record on the channel every probe child uses
        # (pyperf's workers inherit neither the variable nor the descriptor)
        protocol.send({"kind": "switch", "model": model.name, "n": 0, "primitive": args.primitive,
                       "placement": args.placement, **pyperf_files.summary(benchmark)})


if __name__ == "__main__":
    main()
