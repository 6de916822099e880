"""An independent check of the served rate: asyncio streams' closed-loop peak as parkbench
measures it (a served job at W = 100) beside a plain ``asyncio.start_server`` echo server
written here without parkbench, driven by ``echoclient/`` (a Go client that shares no code
with the load generator), on the same CPUs: the client on the first, the server on the
second. Prints both rates and their ratio for each of ``--rounds`` rounds, alternating the
two, and their medians. The independent server is measured in its second client session:
a fresh asyncio streams server serves its first connections at under half the rate it
serves every later ones at (seen with both clients), which parkbench's warm-up rounds also
pass.

    .venv/bin/python benchmarks/checks/served_check.py [--rounds 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from parkbench.measurement import gotoolchain, suite

SOURCE = Path(__file__).parent / "echoclient"
SERVER = """
import asyncio, os, sys
os.sched_setaffinity(0, {int(sys.argv[1])})
async def echo(reader, writer):
    while data := await reader.read(1):
        writer.write(data)
    writer.close()
async def main():
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


def independent(client: Path, cpus: list[int]) -> float:
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(cpus[1])], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        rates = []
        for warmup, measure in (("0s", "2s"), ("1s", "3s")):  # a first session, then the measured one
            done = subprocess.run([str(client), "-addr", f"127.0.0.1:{port}", "-connections", "16",
                                   "-warmup", warmup, "-measure", measure],
                                  capture_output=True, text=True, check=True, timeout=60,
                                  preexec_fn=lambda: os.sched_setaffinity(0, {cpus[0]}))
            rates.append(json.loads(done.stdout)["rate"])
        return rates[-1]
    finally:
        server.kill()
        server.wait()


def parkbench_peak() -> float:
    settings = dict(suite.SERVED_SETTINGS, warmup_seconds=6.0, closed_seconds=3.0, shares=[0.25])
    done = subprocess.run([sys.executable, "-m", "parkbench.measurement.probe_child", "--model", "asyncio",
                           "--variant", "connections", "--n", "100", "--served", json.dumps(settings)],
                          capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout)["served"]["closed_run"]["closed"]["achieved"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        print("served_check: needs two CPUs", file=sys.stderr)
        return 1
    client = gotoolchain.cache_folder() / "go" / "echoclient"
    subprocess.run([gotoolchain.find_go() or "go", "build", "-o", str(client), "."], cwd=SOURCE, check=True,
                   env=gotoolchain.build_env(gotoolchain.cache_folder() / "go"))
    ours, theirs = [], []
    for round_ in range(args.rounds):
        ours.append(parkbench_peak())
        theirs.append(independent(client, cpus))
        print(f"round {round_ + 1}: parkbench {ours[-1]:,.0f}/s, independent {theirs[-1]:,.0f}/s, "
              f"ratio {ours[-1] / theirs[-1]:.2f}", flush=True)
        time.sleep(1)
    print(f"median of {args.rounds}: parkbench {statistics.median(ours):,.0f}/s, independent "
          f"{statistics.median(theirs):,.0f}/s, ratio {statistics.median(ours) / statistics.median(theirs):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
