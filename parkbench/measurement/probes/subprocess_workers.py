"""Worker processes, each blocked reading its own pipe.

Variants (the start method):

- ``fork``: ``os.fork()`` of the probe process; the worker shares the parent's pages
  copy-on-write, so its RSS counts pages that PSS and USS do not.
- ``exec``: ``subprocess.Popen`` of a fresh interpreter (``python -I -c ...``) per worker.
- ``sleep``: forked like ``fork``, each worker asleep in ``time.sleep`` far in the future
  instead of a pipe read (proof: alive and asleep in nanosleep); it dies with the probe
  (PR_SET_PDEATHSIG), and the probe kills it after measuring (no wake is timed).
- ``forkserver`` and ``spawn``: ``multiprocessing`` workers; spawn starts a fresh
  interpreter that imports this module, forkserver forks them from a server process.

Proof of parking: each worker writes one readiness byte to a pipe shared by all
workers, then blocks reading its own wake pipe; the parent reads until it has N bytes
(a worker that ends instead fails the probe at once). Right before and after memory is
read, ``prove`` counts from outside the workers alive and those asleep in a pipe read
(/proc/<pid>/stat state S and wchan): both must be N (``proof.py``).
Waking closes each wake pipe (the worker's read returns end-of-file, and it exits).
If the probe dies, the kernel closes the wake pipes and the workers exit the same way,
so no worker outlives its probe.

Hand-off (``pingpong``): the probe and one forked partner process pass a byte back
and forth over two pipes (primitive ``pipe``); with ``cross-core`` placement the two
processes are pinned to different CPUs.

Memory is summed over the probe and all its workers: USS and PSS sums are honest, the
RSS sum is the naive figure that counts shared pages once per worker.
"""

import multiprocessing
import os
import subprocess
import sys
import time
from typing import Any

from parkbench.core import registry
from parkbench.measurement import lifeline, placement
from parkbench.measurement.handoff import time_round_trips
from parkbench.measurement.probes import LimitReached, conn_server, connections, parked_result, proof

PRIMITIVE = "os.read on a pipe"

WORKER_CODE = "import os\nos.write(1, b'r')\nos.read(0, 1)\n"


class _ForkedWorker:
    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self):
        """The exit code if the worker has ended, else None (never blocks)."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode


def _start_exec(wake_r: int, ready_w: int):
    return subprocess.Popen(
        [sys.executable, "-I", "-c", WORKER_CODE], stdin=wake_r, stdout=ready_w
    )


def _start_fork(wake_r: int, ready_w: int):
    pid = os.fork()
    if pid == 0:  # the worker: never returns into the probe's code
        try:
            os.dup2(wake_r, 0)
            os.dup2(ready_w, 1)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.write(1, b"r")
            os.read(0, 1)
        finally:
            os._exit(0)
    return _ForkedWorker(pid)


def _start_fork_sleeper(wake_r: int, ready_w: int):
    """A forked worker that says it is ready, then sleeps on a timer far in the future.
    A pipe's end-of-file cannot wake it, so it dies with the probe (PR_SET_PDEATHSIG),
    and the probe kills it after measuring."""
    pid = os.fork()
    if pid == 0:
        try:
            lifeline.die_with_parent()
            os.write(ready_w, b"r")
            time.sleep(proof.SLEEP_SECONDS)
        finally:
            os._exit(0)
    return _ForkedWorker(pid)


STARTERS = {"exec": _start_exec, "fork": _start_fork, "sleep": _start_fork_sleeper}


def _mp_worker(wake, ready) -> None:
    """A multiprocessing worker: say it is ready, then block until its pipe closes."""
    ready.send_bytes(b"r")
    try:
        wake.recv_bytes()
    except EOFError:
        pass


def _park_multiprocessing(n: int, method: str, measure, wake: bool) -> dict:
    """Workers started by multiprocessing's ``forkserver`` or ``spawn`` method; each
    blocks receiving from its own pipe; readiness arrives as one message per worker."""
    context: Any = multiprocessing.get_context(method)
    ready_r, ready_w = context.Pipe(duplex=False)
    workers: list[Any] = []
    wake_ends: list[Any] = []
    start = time.perf_counter()
    for _ in range(n):
        try:
            wake_r, wake_w = context.Pipe(duplex=False)
            worker = context.Process(target=_mp_worker, args=(wake_r, ready_w), daemon=True)
            worker.start()
        except OSError as exc:
            raise LimitReached(len(workers), exc) from exc
        wake_r.close()
        workers.append(worker)
        wake_ends.append(wake_w)
    ready = 0
    while ready < n:  # one message per worker; fail fast if a worker ended instead
        if ready_r.poll(ARRIVAL_POLL_SECONDS):
            ready_r.recv_bytes()
            ready += 1
            continue
        ended = sum(1 for worker in workers if not worker.is_alive())
        if ended:
            raise proof.NotParked(f"{ended:,} of {n:,} workers ended before all were ready "
                                  f"({ready:,} ready)")
    spawn_seconds = time.perf_counter() - start
    memory, checked = proof.measured(n, lambda: _prove(workers, lambda w: w.is_alive()), measure)
    result = parked_result(ready, spawn_seconds, "multiprocessing Connection.recv_bytes", memory,
                           checked)
    if not wake:
        return result
    start = time.perf_counter()
    for wake_w in wake_ends:
        wake_w.close()
    for worker in workers:
        worker.join()
    result["wake_seconds"] = time.perf_counter() - start
    failed = sum(1 for worker in workers if worker.exitcode != 0)
    if failed:
        raise RuntimeError(f"{failed} of {n} workers exited with an error")
    return result


CONNECTION_PRIMITIVE = "a forked worker process per TCP connection, blocked in socket.recv()"


def serve_connections(listener, control) -> None:
    """A connections server process (``conn_server.py``): accepts each connection and
    forks a worker that blocks in ``recv`` on it (the server closes its copy); serves
    until killed. Workers die with the server (PR_SET_PDEATHSIG). Proof: workers alive
    and asleep in a socket read (/proc state S and wchan)."""
    pids: list[int] = []

    def on_accept(conn) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                lifeline.die_with_parent()
                listener.close()
                control.close()
                while data := conn.recv(1):
                    conn.sendall(data)
            finally:
                os._exit(0)
        conn.close()
        pids.append(pid)

    def counts() -> dict:
        return {"method": "worker processes alive and asleep in a socket read (/proc state S, wchan)",
                "workers_alive": proof.processes_alive(pids),
                "workers_in_recv": proof.processes_in(pids, conn_server.SOCKET_WAITS)}

    conn_server.serve_blocking(listener, control, on_accept, lambda: len(pids), counts)


def park(n: int, variant: str, measure, wake: bool = True) -> dict:
    if registry.is_connections(variant):
        return connections.park(n, variant, measure, serve_connections, CONNECTION_PRIMITIVE)
    if variant in ("forkserver", "spawn"):
        return _park_multiprocessing(n, variant, measure, wake)
    start_worker = STARTERS[variant]
    ready_r, ready_w = os.pipe()
    workers: list[Any] = []
    wake_ends: list[Any] = []

    start = time.perf_counter()
    for _ in range(n):
        try:
            wake_r, wake_w = os.pipe()
        except OSError as exc:  # EMFILE: out of file descriptors
            raise LimitReached(len(workers), exc) from exc
        try:
            workers.append(start_worker(wake_r, ready_w))
        except OSError as exc:  # EAGAIN from fork: out of pids or processes
            raise LimitReached(len(workers), exc) from exc
        finally:
            os.close(wake_r)
        wake_ends.append(wake_w)
    os.close(ready_w)
    ready = _readiness(ready_r, workers, n)
    spawn_seconds = time.perf_counter() - start

    if variant == "sleep":
        return _measure_sleepers(n, workers, ready, spawn_seconds, measure, wake_ends, ready_r)
    memory, checked = proof.measured(n, lambda: _prove(workers, lambda w: w.poll() is None), measure)

    result = parked_result(ready, spawn_seconds, PRIMITIVE, memory, checked)
    if not wake:  # the caller exits without waking (tail latency needs no wake timing)
        return result

    start = time.perf_counter()
    for wake_w in wake_ends:
        os.close(wake_w)
    failed = sum(1 for worker in workers if worker.wait() != 0)
    result["wake_seconds"] = time.perf_counter() - start
    os.close(ready_r)
    if failed:
        raise RuntimeError(f"{failed} of {n} workers exited with an error")
    return result


ARRIVAL_POLL_SECONDS = 0.5


def _readiness(ready_r: int, workers, n: int) -> int:
    """Read one readiness byte per worker; fail fast if a worker ended instead (the
    others hold the pipe open, so a read would wait forever)."""
    import select

    ready = 0
    while ready < n:
        readable, _, _ = select.select([ready_r], [], [], ARRIVAL_POLL_SECONDS)
        if readable:
            chunk = os.read(ready_r, n - ready)
            if not chunk:
                raise proof.NotParked(f"only {ready:,} of {n:,} workers became ready")
            ready += len(chunk)
            continue
        ended = sum(1 for worker in workers if worker.poll() is not None)
        if ended:
            raise proof.NotParked(f"{ended:,} of {n:,} workers ended before all were ready "
                                  f"({ready:,} ready)")
    return ready


def _measure_sleepers(n, workers, ready, spawn_seconds, measure, wake_ends, ready_r) -> dict:
    """Measure forked workers asleep in ``time.sleep``, then kill them (not a wake: no
    wake is timed) and reap every one."""
    import signal

    def prove() -> dict:
        return {"method": "worker processes alive, and asleep in nanosleep (/proc state and wchan)",
                "workers_alive": sum(1 for worker in workers if worker.poll() is None),
                "workers_in_nanosleep": proof.processes_in_nanosleep(w.pid for w in workers)}

    try:
        memory, checked = proof.measured(n, prove, measure)
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.kill(worker.pid, signal.SIGKILL)
        for worker in workers:
            worker.wait()
        for fd in wake_ends + [ready_r]:
            os.close(fd)
    result = parked_result(ready, spawn_seconds, "time.sleep (a timer far in the future)",
                           memory, checked)
    result["wake_timed"] = False
    return result


def _prove(workers, alive) -> dict:
    return {"method": "worker processes alive, and asleep in a pipe read (/proc state and wchan)",
            "workers_alive": sum(1 for worker in workers if alive(worker)),
            "workers_in_pipe_read": proof.processes_in_pipe_read(worker.pid for worker in workers)}


HANDOFF_PRIMITIVES = ("pipe",)


def pingpong(primitive: str, loops: int, cpus=None, samples=None, observed=None) -> float:
    """Seconds for ``loops`` round trips of one byte between this process (on
    ``cpus[0]``) and a forked partner (on ``cpus[1]``)."""
    if primitive != "pipe":
        raise ValueError(f"unknown hand-off primitive {primitive!r}; accepted: pipe")
    to_b_r, to_b_w = os.pipe()
    to_a_r, to_a_w = os.pipe()
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # partner B: echo every byte until end-of-file
        try:
            for fd in (to_b_w, to_a_r, report_r):
                os.close(fd)  # or B would hold its own input open and never see EOF
            affinity = placement.pin(None if cpus is None else [cpus[1]])
            os.write(report_w, (",".join(map(str, affinity)) + "\n").encode())
            while os.read(to_b_r, 1):
                os.write(to_a_w, b"b")
        finally:
            os._exit(0)
    for fd in (to_b_r, to_a_w, report_w):
        os.close(fd)
    try:
        affinity_a = placement.pin(None if cpus is None else [cpus[0]])
        report = os.read(report_r, 4096).decode().strip()  # B is pinned and ready
        if observed is not None:
            observed.update(a=affinity_a, b=[int(cpu) for cpu in report.split(",")])

        def a_step():
            os.write(to_b_w, b"a")
            os.read(to_a_r, 1)

        return time_round_trips(a_step, loops, samples)
    finally:
        for fd in (to_b_w, to_a_r, report_r):
            os.close(fd)
        os.waitpid(pid, 0)


def pingpong_here(primitive: str, loops: int, samples=None) -> float:
    """The hand-off where the probe stands (for tail latency): not pinned."""
    return pingpong(primitive, loops, None, samples)
