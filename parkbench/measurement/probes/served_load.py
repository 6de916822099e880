"""The served rate: requests a connections server answers while W other connections sit
idle, driven by the load generator (``benchmarks/loadgen``, Go, stdlib).

A ``served`` job is a connections probe child (``probes/connections.py``) that, once its
W idle connections are proved parked, calls ``measure`` here instead of reading memory:

1. **Placement.** The generator runs on its own CPU (the first this process may use), the
   server processes (every task of every process of their trees) on the others; on a
   machine of one CPU they share it, and the record says so. A model that can use several
   cores (worker processes, Go, the reuseport servers) is given every server CPU and sized
   per core by the analysis (``served.py``).
2. **Closed loop.** K connections back to back: a warm-up in rounds of a quarter second, each
   on new connections, until two agree within 10%, at most ``warmup_seconds`` (a fresh
   asyncio streams server serves its first connections at under half the rate it serves
   every later ones at, however long they last: measured by hand against a plain
   ``asyncio.start_server``, 35-40k/s in the first session, 87-95k/s after); then the measured phase, whose achieved
   rate is the peak. The server tree's CPU time (utime + stime, from /proc) over that
   phase, divided by the requests it answered, is the **CPU time per request**.
3. **The knee.** Open-loop steps (each request timed from its intended send time: the
   generator corrects coordinated omission) at rates the knee search chooses
   (``measurement/knee.py``, run by ``served_search.py``), from ``start_share`` of the
   peak, each judged against the machine's floor (the generator's null echo server
   holding the same W idle connections) and over rounds; the server tree's CPU time over
   each step gives the CPU per request at that rate. A map check (``map_checks.py``)
   runs the same rounds at the rates its settings name instead of searching.
4. **Parked again.** The generator's connections close; the probe waits until every
   count of the server's proof is W again, so the proof after the measurement holds.

Everything the generator printed is kept in the record (``served``), untrusted until the
analysis checks it. Memory is not read in a served job (smaps takes kernel locks that
disturb the rate).
"""

import json
import os
import subprocess
import time

from parkbench.measurement import gotoolchain, interference, lifeline
from parkbench.measurement.probes import connections, served_search
from parkbench.measurement.probes.loadgen_driver import answered, cpu_seconds, pin, placement, run_generator

WARMUP_ROUND_SECONDS = 0.25     # a closed-loop round of the warm-up
WARMUP_STABLE = 0.10            # two rounds within this of each other: warm
SETTINGS = ("connections", "warmup_seconds", "closed_seconds", "step_seconds", "start_share",
            "reply_timeout_seconds", "judge_slo", "floor_every_round", "slo_seconds")  # what --served JSON holds (the run's plan chose them)


CEILING_SETTINGS = ("connections", "warmup_seconds", "closed_seconds", "reply_timeout_seconds")


def settings(text: str, required=SETTINGS) -> dict:
    """The served settings of ``--served JSON`` (the plan checked them), or the subset a
    ceiling needs (``CEILING_SETTINGS``)."""
    chosen = json.loads(text)
    missing = set(required) - set(chosen)
    if missing:
        raise ValueError(f"--served lacks {', '.join(sorted(missing))}")
    return chosen


def warm_up(binary, port: int, common: list[str], cpus, chosen: dict) -> list[float]:
    """Closed-loop rounds of ``WARMUP_ROUND_SECONDS`` until two in a row agree within
    ``WARMUP_STABLE`` (a fresh asyncio streams server serves less than half its rate for
    its first seconds; uvloop, threads and Go are steady at once), for at most
    ``warmup_seconds``: the rate of each round."""
    rates: list[float] = []
    while len(rates) * WARMUP_ROUND_SECONDS < chosen["warmup_seconds"]:
        run = run_generator(binary, port, [*common, "-warmup", "0s",
                                           "-closed", f"{WARMUP_ROUND_SECONDS}s"], cpus,
                            _plan_seconds({**chosen, "closed_seconds": WARMUP_ROUND_SECONDS}, 0))
        rates.append((run.get("closed") or {}).get("achieved") or 0.0)
        if len(rates) >= 2 and abs(rates[-1] - rates[-2]) <= WARMUP_STABLE * max(rates[-2], 1):
            break
    return rates


def _plan_seconds(chosen: dict, steps: int) -> float:
    phases = 2 + steps
    return (chosen["warmup_seconds"] + chosen["closed_seconds"] + steps * chosen["step_seconds"]
            + phases * (2 * chosen["reply_timeout_seconds"] + 0.5) + 5)


def measure_served(binary, port: int, servers: list[int], settle, chosen: dict, waiters: int) -> dict:
    """Warm-up and the closed-loop peak against the servers (pids) listening on ``port``,
    then the knee search against them and the machine's floor (``served_search.py``), or
    a map check's fixed rates; then ``settle()`` until only the W idle connections are
    held. The ``served`` record."""
    where = placement(sorted(os.sched_getaffinity(0)))
    pinned = pin(servers, where["server_cpus"])
    common = ["-connections", str(chosen["connections"]),
              "-timeout", f"{chosen['reply_timeout_seconds']}s"]
    warmup = warm_up(binary, port, common, where["generator_cpus"], chosen)
    before = cpu_seconds(servers)
    closed = run_generator(binary, port, [*common, "-warmup", "0s",
                                          "-closed", f"{chosen['closed_seconds']}s"],
                           where["generator_cpus"], _plan_seconds(chosen, 0))
    server_cpu = cpu_seconds(servers) - before
    peak = (closed.get("closed") or {}).get("achieved") or 0
    if not peak > 0:
        raise RuntimeError("the closed loop served no request")
    found = {"settings": chosen, "placement": {**where, "server_tasks_pinned": pinned},
             "warmup_rates": warmup, "closed_run": closed, "server_cpu_seconds": server_cpu,
             "server_cpu_requests": answered(closed), "server_address": f"127.0.0.1:{port}"}
    limit = 3600.0  # the floor outlives every step; it ends with the search
    with served_search.Floor(binary, waiters, where["server_cpus"], limit) as floor:
        found["search"] = served_search.search(binary, port, servers, floor, chosen, where, peak)
    settle_start = time.perf_counter()
    settle()
    found["settle_seconds"] = time.perf_counter() - settle_start
    return found


def measurer(chosen: dict, activity: dict):
    """A probe child's ``measure`` for a connections probe: the served rate while N stay
    idle, and in ``activity`` what the rest of the machine did while it was timed."""
    binary = gotoolchain.binary("loadgen")

    def measure(port, servers, settle, waiters, **_context) -> dict:
        before = interference.snapshot()
        found = {"served": measure_served(binary, port, servers, settle, chosen, waiters)}
        activity.update(interference.between(before, interference.snapshot()))
        return found

    return measure


def ceiling(binary, chosen: dict) -> dict:
    """The generator's own ceiling: its closed-loop peak against its own echo server
    (``loadgen -echo``, a goroutine per connection), placed as a served job places a
    server. No server rate measured beside it on this machine means much within 80% of
    it (``served.GENERATOR_BOUND_SHARE``)."""
    connections.generator_ports(chosen["connections"], 1, "the generator's ceiling")  # its echo server's port
    where = placement(sorted(os.sched_getaffinity(0)))
    limit = _plan_seconds(chosen, 0)
    parent = os.getpid()

    def placed_and_tied():  # on the server CPUs, and dead with this child however it ends
        os.sched_setaffinity(0, where["server_cpus"])
        lifeline.die_with_parent(parent)

    echo = subprocess.Popen([str(binary), "-echo", "127.0.0.1:0", "-max-seconds", f"{limit + 5:g}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=placed_and_tied)
    try:
        assert echo.stdout is not None
        listening = json.loads(echo.stdout.readline() or "{}").get("listening", "")
        port = int(listening.rsplit(":", 1)[1]) if ":" in listening else 0
        if not port:
            raise RuntimeError(f"the echo server did not listen: {echo.stderr.read() if echo.stderr else ''}")
        before = cpu_seconds([echo.pid])
        closed = run_generator(binary, port, ["-connections", str(chosen["connections"]),
                                              "-timeout", f"{chosen['reply_timeout_seconds']}s",
                                              "-warmup", f"{min(chosen['warmup_seconds'], 1.0)}s",
                                              "-closed", f"{chosen['closed_seconds']}s"],
                               where["generator_cpus"], limit)
        server_cpu = cpu_seconds([echo.pid]) - before
    finally:
        echo.terminate()
        try:
            echo.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            echo.kill()
            echo.communicate()
    return {"settings": chosen, "placement": where, "closed_run": closed, "server_address": f"127.0.0.1:{port}",
            "server_cpu_seconds": server_cpu, "server_cpu_requests": answered(closed)}


def main(argv=None) -> int:
    """``python -m parkbench.measurement.probes.served_load --ceiling JSON``: the generator's ceiling
    as one JSON line (the runner's calibration of the served rate)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m parkbench.measurement.probes.served_load")
    parser.add_argument("--ceiling", metavar="JSON", required=True, help="the served settings")
    args = parser.parse_args(argv)
    lifeline.die_with_parent(os.environ.get("PARKBENCH_RUNNER_PID"))  # the run's set-up
    print(json.dumps(ceiling(gotoolchain.binary("loadgen"), settings(args.ceiling, CEILING_SETTINGS))))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
