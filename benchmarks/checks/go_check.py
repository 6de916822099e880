"""Check parkbench's go figures against an independent Go program run beside them.

``benchmarks/checks/gocheck`` shares no code with the reference model's program: it reads its
own RSS before and after parking N goroutines on a channel receive (100,000 and 400,000,
each in a fresh process), and times a plain channel ping-pong with GOMAXPROCS=1. This
script builds it offline (the same toolchain and cache as the go model), runs it, and
prints its figures beside the machine's current go figures in the results folder:

    python benchmarks/checks/go_check.py [--results results] [--machine NAME]

Targets (issue 15): RSS per goroutine within 10%, hand-off within 30%. Printed, never
asserted.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from parkbench.analysis import current
from parkbench.core.errors import UserError
from parkbench.core.units import format_bytes, format_seconds
from parkbench.measurement import gotoolchain, machine

SOURCE = Path(__file__).parent / "gocheck"


def run(binary: Path, *arguments: str) -> dict:
    done = subprocess.run([str(binary), *arguments], capture_output=True, text=True,
                          timeout=600, check=True)
    return json.loads(done.stdout)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/checks/go_check.py")
    parser.add_argument("--results", default="results")
    parser.add_argument("--machine")
    args = parser.parse_args(argv)
    try:
        name = machine.check_name(machine.resolve_name(args.machine))
        go = gotoolchain.find_go()
        if go is None:
            raise UserError(f"no Go toolchain; {gotoolchain.HOW_TO_GET}")
        frame = current.load(Path(args.results) / name).frame
        rows = frame[(frame.model == "go") & frame.n.isna()]
        memory = rows[(rows.variant == "chan") & (rows.metric == "rss_per_waiter")]
        switch = rows[(rows.variant == "chan") & (rows.metric == "switch_latency")
                      & (rows.placement == "same-core")]
        if memory.empty or switch.empty:
            raise UserError(f"no go figures for {name} in {args.results}: run parkbench run --models go")
    except UserError as exc:
        print(f"go_check: error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        binary = Path(folder) / "gocheck"
        subprocess.run([go, "build", "-o", str(binary), "."], cwd=SOURCE, check=True,
                       env=gotoolchain.build_env(gotoolchain.cache_folder() / "go"))
        small, large = run(binary, "park", "-n", "100000"), run(binary, "park", "-n", "400000")
        pingpong = run(binary, "pingpong", "-loops", "1000000")
    independent = (large["rss_after"] - small["rss_after"]) / (large["n"] - small["n"])
    ours = float(memory.value.iloc[0])
    handoff = pingpong["one_way_ns"] * 1e-9
    our_handoff = float(switch.value.iloc[0])
    print(f"RSS per parked goroutine: parkbench {format_bytes(ours)} (run {memory.run_id.iloc[0]}), "
          f"independent {format_bytes(independent)} (100k -> 400k): "
          f"{ours / independent - 1:+.1%} (target within 10%)")
    print(f"one-way hand-off: parkbench {format_seconds(our_handoff)} same-core "
          f"(run {switch.run_id.iloc[0]}), independent ping-pong {format_seconds(handoff)} "
          f"(GOMAXPROCS=1): {our_handoff / handoff - 1:+.1%} (target within 30%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
