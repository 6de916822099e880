"""An independent check of parkbench's asyncio connections figure (issue 16).

It shares no code with parkbench. For each N, in fresh processes: a plain
``asyncio.start_server`` echo server (the way a user writes one: a handler that reads
and writes back) runs as one process; a plain client process opens N connections to it
and holds them; once the server has printed that N handlers are reading, the script
reads the server's PSS from ``/proc/<pid>/smaps_rollup`` and ends both. The slope of
PSS over N is the figure, beside parkbench's ``pss_per_waiter`` for
``asyncio/connections`` from the current results of this machine (run ``parkbench run
--models asyncio:connections`` first).

    .venv/bin/python benchmarks/checks/connections_check.py [results/]

It prints one line per N and the two slopes with their ratio.
"""

import json
import statistics
import subprocess
import sys
import time

GRID = (1_000, 3_000, 10_000, 19_000)

SERVER = r"""
import asyncio, gc, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
n = int(sys.argv[1])
handlers = set()


async def handle(reader, writer):
    handlers.add(asyncio.current_task())
    if len(handlers) == n:
        asyncio.get_running_loop().call_later(0.5, ready)
    while data := await reader.read(1):
        writer.write(data)


def ready():
    gc.collect()
    print("ready", flush=True)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

CLIENT = r"""
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, n = int(sys.argv[1]), int(sys.argv[2])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
print("connected", flush=True)
sys.stdin.read()
"""


def pss(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no Pss line")


def measure(n: int) -> int:
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(n)], stdout=subprocess.PIPE, text=True)
    client = None
    try:
        port = server.stdout.readline().strip()
        client = subprocess.Popen([sys.executable, "-c", CLIENT, port, str(n)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError("the server did not get its connections")
        time.sleep(0.1)
        return pss(server.pid)
    finally:
        for process in (client, server):
            if process is not None:
                process.kill()
                process.wait()


def slope(points) -> float:
    return statistics.linear_regression([n for n, _ in points], [v for _, v in points]).slope


def parkbench_figure(results: str):
    try:
        shown = subprocess.run([sys.executable, "-m", "parkbench", "show", results, "--format", "json"],
                               capture_output=True, text=True, check=True).stdout
    except subprocess.CalledProcessError:
        return None
    for line in shown.splitlines():
        row = json.loads(line)
        if (row.get("model"), row.get("variant"), row.get("metric")) == (
                "asyncio", "connections", "pss_per_waiter"):
            return row["value"]
    return None


def main() -> int:
    points = []
    for n in GRID:
        points.append((n, measure(n)))
        print(f"N {n:>6,}: server PSS {points[-1][1] / 2**20:8.1f} MiB", flush=True)
    independent = slope(points)
    ours = parkbench_figure(sys.argv[1] if len(sys.argv) > 1 else "results")
    print(f"independent asyncio.start_server: {independent:,.0f} B PSS per connection")
    if ours is None:
        print("parkbench: no asyncio/connections figure in the results")
        return 1
    print(f"parkbench asyncio/connections:    {ours:,.0f} B PSS per connection "
          f"({ours / independent - 1:+.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
