"""The served rate's knee, found against the machine's own floor (``measurement/knee.py``
says the rule): open-loop steps of the load generator at candidate rates against the
server under test and, where the rule asks, against the floor: the generator's null echo
server (``loadgen -echo``, placed on the server's CPUs) holding the same W idle
connections (client children of its own, as the server's are), so that a stall of the
machine shows in both. Two generators, one at each, held open through the search
(``loadgen -interactive``, ``loadgen_driver.Stepper``): their connections stay up from
step to step, so a server that spawns a thread or a process per connection does it once,
not in every step (it did, and a threads server's knee moved 1.5x between runs).

Each step's trial keeps the generator's step (untrusted until the analysis checks it),
and for the server the CPU time of its process tree over the step's warm-up and the step
and the requests it answered in both: the CPU time per request *at that rate*, where a
paced request costs more than a batched one.
"""

import json
import math
import os
import subprocess
import time

from parkbench.measurement import knee, lifeline
from parkbench.measurement.probes import connections, loadgen_driver
from parkbench.store import loadgen_output

STEP_WARMUP_SECONDS = 0.02      # the generator's warm-up before each step, at its rate
INTERVALS = 5                   # equal parts of a step, each with its rate (knee.throughput)
FLOOR_SPARE = 64                # descriptors an echo server keeps for the steps' connections


class Floor:
    """The generator's null echo servers, on ``cpus``, holding ``n`` idle connections
    between them (one process holds as many as its descriptors allow, as a server's
    process does: at W = 100,000 one alone stopped accepting near 20,000 here); the
    search's steps go to the first. Ends (with its clients) when the ``with`` ends,
    however it ends."""

    def __init__(self, binary, n: int, cpus, limit_seconds: float):
        self.binary, self.n, self.cpus, self.limit = binary, n, cpus, limit_seconds
        self.echoes: list[subprocess.Popen] = []
        self.clients: list = []
        self.port = 0

    def __enter__(self) -> "Floor":
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _listen(self) -> int:
        echo = subprocess.Popen(
            [str(self.binary), "-echo", "127.0.0.1:0", "-max-seconds", f"{self.limit:g}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, process_group=0,
            preexec_fn=lambda: os.sched_setaffinity(0, self.cpus))
        self.echoes.append(echo)
        assert echo.stdout is not None
        listening = json.loads(echo.stdout.readline() or "{}").get("listening", "")
        port = int(listening.rsplit(":", 1)[1]) if ":" in listening else 0
        if not port:
            raise RuntimeError("the floor's echo server did not listen")
        return port

    def _start(self) -> None:
        ports = [self._listen() for _ in range(echo_processes(self.n))]
        self.port = ports[0]
        self.clients = [connections.start_client(ports[echo], share, source)
                        for share, source, echo in floor_plan(self.n, len(ports))]
        deadline = time.monotonic() + connections.CLIENT_START_SECONDS * max(1.0, self.n / 10_000)
        while not all(client.line for client in self.clients):
            for client in self.clients:
                client.poll_line()
                if client.line and not client.line.startswith("connected"):
                    raise RuntimeError(f"the floor's idle clients failed: {client.line}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the floor's {self.n:,} idle connections did not open in time")
            time.sleep(connections.POLL_SECONDS)

    def __exit__(self, *_exc) -> None:
        for client in self.clients:
            lifeline.kill_group(client.process.pid)
            client.process.wait()
        for echo in self.echoes:
            lifeline.kill_group(echo.pid)
            echo.communicate()


def echo_processes(n: int) -> int:
    """How many echo servers hold ``n`` idle connections and the steps' connections: one
    per process's descriptors (its hard limit less the margin), as a server spreads them."""
    return max(1, math.ceil((n + FLOOR_SPARE) / connections.per_process_connections()))


def floor_plan(n: int, echoes: int) -> list[tuple[int, str, int]]:
    """(connections, source address, echo server) per floor client: each source's share
    (``connections.client_plan``) split evenly over the ``echoes`` servers."""
    plan: list[tuple[int, str, int]] = []
    for share, source in connections.client_plan(n, listening=1 + echoes):  # the server's port too
        parts = [share // echoes + (1 if j < share % echoes else 0) for j in range(echoes)]
        plan.extend((part, source, j) for j, part in enumerate(parts) if part)
    return plan


def ports_fit(n: int, chosen: dict) -> None:
    """Before a served job at W = ``n`` starts anything, that each of its loopback
    connections will find an ephemeral port: a port is unique per (source address,
    destination port) pair, and a listening socket bound in the range takes its port
    from every pair. Beside the server's W idle connections (``connections.park``
    checks them), the floor's W over their own ports beside every listening port (the
    server's and the floor's echo servers'), and the generator's ``connections`` from
    127.0.0.1 to the server and to the floor beside them too: ``TooManyConnections``
    naming the range and how many ports were needed where one does not fit."""
    listening = 1 + echo_processes(n)
    connections.generator_ports(chosen["connections"], listening, f"a served job at W={n:,}")
    floor_plan(n, listening - 1)


def stepper(binary, port: int, chosen: dict, cpus) -> loadgen_driver.Stepper:
    """The generator held open against ``port`` for the search's steps."""
    arguments = ["-connections", str(chosen["connections"]), "-timeout", f"{chosen['reply_timeout_seconds']}s",
                 "-warmup", f"{STEP_WARMUP_SECONDS}s", "-step", f"{chosen['step_seconds']}s",
                 "-intervals", str(INTERVALS)]
    return loadgen_driver.Stepper(binary, port, arguments, cpus, plan_seconds(chosen))


def step(generator: loadgen_driver.Stepper, rate: float, servers=None) -> dict:
    """One open-loop step at ``rate``: the step, and with ``servers`` (the server's pids)
    their CPU time over its warm-up and the step, and the requests answered in both."""
    before = loadgen_driver.cpu_seconds(servers) if servers else 0.0
    answer = generator.step(rate)
    if not servers:
        return {"step": answer["step"], "cpu_seconds": None, "requests": 0}
    return {"step": answer["step"], "cpu_seconds": loadgen_driver.cpu_seconds(servers) - before,
            "requests": int(answer["step"]["count"]) + int(answer["warmup"]["count"])}


def plan_seconds(chosen: dict) -> float:
    """The longest one step may take (warm-up, step, drains and dials)."""
    return STEP_WARMUP_SECONDS + chosen["step_seconds"] + 2 * (2 * chosen["reply_timeout_seconds"] + 0.5) + 5


def search(binary, port: int, servers, floor: Floor, chosen: dict, where: dict, peak: float) -> dict:
    """The knee search from ``start_share`` of the closed-loop ``peak`` (at most the
    generator's own ceiling, where known), or a map check's rounds at its fixed
    ``rates``: every trial, in order."""
    ceiling = chosen.get("generator_ceiling")
    start = max(knee.MIN_RATE, peak * chosen["start_share"])
    rates = tuple(sorted(chosen.get("rates") or ()))
    found = knee.Search(start, chosen["slo_seconds"], ceiling * knee.GENERATOR_SHARE if ceiling else None,
                        judge_slo=chosen["judge_slo"], floor_always=chosen["floor_every_round"], rates=rates)
    trials = []
    cpus = where["generator_cpus"]
    with stepper(binary, port, chosen, cpus) as at_server, stepper(binary, floor.port, chosen, cpus) as at_floor:
        while (asked := found.next()) is not None:
            rate, round_, target = asked
            server = target == knee.SERVER
            result = step(at_server if server else at_floor, rate, servers if server else None)
            trials.append({"rate": rate, "round": round_, "target": target, **result})
            found.record(knee.Trial(rate, round_, target, loadgen_output.parse_steps([result["step"]])[0],
                                    result["cpu_seconds"], result["requests"]))
    return {"start": start, "generator_ceiling": ceiling, "judge_slo": chosen["judge_slo"],
            "floor_every_round": chosen["floor_every_round"], "rates": list(rates),
            "floor_connections": floor.n, "floor_servers": len(floor.echoes), "trials": trials}
