"""Running the load generator (``benchmarks/loadgen``) from a served probe: where it and
the servers run, one run of it pinned to its CPU, and the servers' CPU time, read from
outside their process trees (user plus system: a network server spends most of its time
in the kernel)."""

import json
import os
import subprocess
import time

import psutil

from parkbench.measurement import procstat
from parkbench.measurement.probes import connections


def placement(cpus: list[int]) -> dict:
    """CPUs of the generator and of the servers, and what that means."""
    if len(cpus) < 2:
        return {"generator_cpus": cpus, "server_cpus": cpus,
                "note": "one CPU: the generator and the server share it"}
    return {"generator_cpus": cpus[:1], "server_cpus": cpus[1:],
            "note": f"generator on CPU {cpus[0]}, servers on {len(cpus) - 1} other CPU(s)"}


def _tree(pids) -> list[int]:
    """Every process of the trees under ``pids`` (a worker-per-connection server forks)."""
    found = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            found += [root.pid] + [child.pid for child in root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


def pin(pids, cpus) -> int:
    """Pin every task (thread) of every process of the trees under ``pids`` to ``cpus``
    (``sched_setaffinity`` on a pid pins one thread only); how many were pinned."""
    pinned = 0
    for pid in _tree(pids):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                os.sched_setaffinity(int(task), cpus)
                pinned += 1
            except OSError:
                continue  # a task that ended meanwhile
    return pinned


def _run_seconds(proc: str, pid: int) -> float:
    """The run time of ``pid``'s living threads, in nanoseconds' precision (the first
    field of each /proc/<pid>/task/<tid>/schedstat; a zombie keeps its own): 0 where
    none can be read."""
    try:
        paths = [f"{proc}/{pid}/task/{tid}/schedstat" for tid in os.listdir(f"{proc}/{pid}/task")]
    except OSError:
        paths = []
    total = 0
    for path in paths or [f"{proc}/{pid}/schedstat"]:
        try:
            with open(path) as handle:
                total += int(handle.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def cpu_seconds(pids, proc: str = "/proc") -> float:
    """User plus system CPU time of the trees under ``pids``: per process, its own (a
    zombie's too: a worker that served a connection and ended, not reaped yet) and what
    it reaped of its ended children (cutime, cstime), so that a process that ends
    between two readings still counts: read before and after a step, the difference is
    the CPU the tree spent in it. A process's own time is the larger of /proc/<pid>/stat's
    utime + stime (which holds its ended threads, but in whole clock ticks: a worker per
    connection, 16 a step, each lost up to 10 ms of its few) and its living threads' run
    time in nanoseconds (``_run_seconds``). The server outlives the measurement."""
    table = dict(procstat.each(proc))
    children: dict[int, list[int]] = {}
    for pid, fields in table.items():
        children.setdefault(int(fields[1]), []).append(pid)
    tick = os.sysconf("SC_CLK_TCK")
    total, stack, seen = 0.0, list(pids), set()
    while stack:
        pid = stack.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        fields = table[pid]
        own = (int(fields[11]) + int(fields[12])) / tick          # utime, stime
        reaped = (int(fields[13]) + int(fields[14])) / tick       # cutime, cstime
        total += max(own, _run_seconds(proc, pid)) + reaped
        stack += children.get(pid, [])
    return total


def run_generator(binary, port: int, arguments: list[str], cpus, timeout: float) -> dict:
    """One run of the generator against 127.0.0.1:``port``, pinned to ``cpus``: its JSON,
    cross-checked against what is known here (``vouched``)."""
    command = [str(binary), "-addr", f"127.0.0.1:{port}", *arguments,
               "-max-seconds", f"{timeout:g}"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 10,
                          preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RuntimeError(f"the load generator failed: {connections.port_range_note(last)}")
    return vouched(json.loads(done.stdout), port, elapsed)


# the generator's clock and this one's: a phase of planned length ends a little after it
CLOCK_SLACK_SECONDS = 0.05


def claimed_seconds(found: dict) -> float:
    """The load a generator's answer claims, in seconds: its phases (``warmup``,
    ``closed``, an interactive ``step``) and every one of its ``steps``."""
    phases = [found.get(part) for part in ("warmup", "closed", "step")] + list(found.get("steps") or ())
    return sum((phase or {}).get("seconds") or 0 for phase in phases)


def vouched(found, port: int, elapsed: float):
    """The generator's output where what can be checked here holds: it ran against this
    server (its ``address``), and its phases (``claimed_seconds``) fit in the ``elapsed``
    seconds it ran (a rate over a step it did not run for is no rate); a one-line
    ``RuntimeError`` where not (the job fails: a tampered or broken generator never gives
    a figure)."""
    if not isinstance(found, dict):
        raise RuntimeError("the load generator's output is not a JSON object")
    claimed = claimed_seconds(found)
    address = found.get("address", f"127.0.0.1:{port}")  # an interactive step names none
    if address != f"127.0.0.1:{port}":
        raise RuntimeError(f"the load generator's output names {str(address)[:40]!r}, not the server "
                           f"it was pointed at (127.0.0.1:{port})")
    if not isinstance(claimed, (int, float)) or claimed > elapsed * 1.05 + CLOCK_SLACK_SECONDS:
        raise RuntimeError(f"the load generator claims {claimed:g} s of load in a run of "
                           f"{elapsed:.3f} s")
    return found


def answered(run: dict) -> int:
    """Requests a run of the generator had answered, its warm-up included (the server's
    CPU time is read over the whole run)."""
    return sum(((run.get(phase) or {}).get("count") or 0) for phase in ("warmup", "closed")) + sum(
        step.get("count") or 0 for step in run.get("steps") or ())


class Stepper:
    """The generator in ``-interactive`` mode against 127.0.0.1:``port``, pinned to
    ``cpus``: its K connections stay open from step to step (a server that spawns a
    thread or a process per connection does so once), and ``step(rate)`` runs the
    warm-up and one step at ``rate``: the generator's answer, {warmup, step}. It ends
    (its process group killed) when the ``with`` ends, however it ends."""

    def __init__(self, binary, port: int, arguments: list[str], cpus, step_timeout: float):
        self.command = [str(binary), "-addr", f"127.0.0.1:{port}", "-interactive", *arguments,
                        "-max-seconds", "86400"]
        self.port = port
        self.cpus, self.step_timeout = cpus, step_timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Stepper":
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, process_group=0,
                                        preexec_fn=lambda: os.sched_setaffinity(0, self.cpus))
        return self

    def step(self, rate: float) -> dict:
        """One step at ``rate`` (its warm-up first); a one-line ``RuntimeError`` where the
        generator fails or takes longer than ``step_timeout``."""
        import select

        assert self.process is not None and self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(f"{rate:g}\n")
            self.process.stdin.flush()
        except OSError:
            pass  # it has ended: its stderr says why, below
        started = time.perf_counter()
        ready, _, _ = select.select([self.process.stdout], [], [], self.step_timeout)
        line = self.process.stdout.readline() if ready else ""
        elapsed = time.perf_counter() - started
        if not line:
            self._end()
            said = self.process.stderr.read() if self.process.stderr else ""
            why = "did not answer in time" if not ready else connections.port_range_note(
                ((said or "").strip().splitlines() or ["ended"])[-1])
            raise RuntimeError(f"the load generator failed at {rate:,.0f}/s: {why}")
        return vouched(json.loads(line), self.port, elapsed)

    def _end(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
        if self.process is not None:
            self.process.wait()

    def __exit__(self, *_exc) -> None:
        if self.process is not None and self.process.stdin:
            try:
                self.process.stdin.close()   # end of input: the generator ends
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._end()
