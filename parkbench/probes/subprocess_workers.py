"""Worker processes, each blocked reading its own pipe.

Variants (the start method):

- ``exec``: ``subprocess.Popen`` of a fresh interpreter (``python -I -c ...``) per worker.
- ``fork``: ``os.fork()`` of the probe process; the worker shares the parent's pages
  copy-on-write, so its RSS counts pages that PSS and USS do not.

Proof of parking: each worker writes one readiness byte to a pipe shared by all
workers, then blocks reading its own wake pipe; the parent reads until it has N bytes.
Waking closes each wake pipe (the worker's read returns end-of-file, and it exits).
If the probe dies, the kernel closes the wake pipes and the workers exit the same way,
so no worker outlives its probe.

Memory is summed over the probe and all its workers: USS and PSS sums are honest, the
RSS sum is the naive figure that counts shared pages once per worker.
"""

import os
import subprocess
import sys
import time

PRIMITIVE = "os.read on a pipe"

WORKER_CODE = "import os\nos.write(1, b'r')\nos.read(0, 1)\n"


class _ForkedWorker:
    def __init__(self, pid: int):
        self.pid = pid

    def wait(self) -> int:
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


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


STARTERS = {"exec": _start_exec, "fork": _start_fork}


def park(n: int, variant: str, measure) -> dict:
    start_worker = STARTERS[variant]
    ready_r, ready_w = os.pipe()
    workers, wake_ends = [], []

    start = time.perf_counter()
    for _ in range(n):
        wake_r, wake_w = os.pipe()
        workers.append(start_worker(wake_r, ready_w))
        os.close(wake_r)
        wake_ends.append(wake_w)
    os.close(ready_w)
    ready = 0
    while ready < n:
        chunk = os.read(ready_r, n - ready)
        if not chunk:
            raise RuntimeError(f"only {ready} of {n} workers became ready")
        ready += len(chunk)
    spawn_seconds = time.perf_counter() - start

    memory = measure()

    start = time.perf_counter()
    for wake_w in wake_ends:
        os.close(wake_w)
    failed = sum(1 for worker in workers if worker.wait() != 0)
    wake_seconds = time.perf_counter() - start
    os.close(ready_r)
    if failed:
        raise RuntimeError(f"{failed} of {n} workers exited with an error")
    return {
        "parked": ready,
        "spawn_seconds": spawn_seconds,
        "wake_seconds": wake_seconds,
        "primitive": PRIMITIVE,
        "memory": memory,
    }
