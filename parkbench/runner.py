"""The runner: walks the N grid of each model, one fresh probe child per measurement.

Each child runs in a new session (its own process group), so a timeout, or a crash
that leaves subprocess workers behind, is cleaned up by killing the whole group. The
runner never parks a waiter itself. A (model, variant) sweep stops at its first
failure, which is recorded with its reason (the limit it hit).

Results flow out through callbacks (``on_measurement``, ``on_failure``, ``on_progress``)
so that the caller can store each one as it arrives and show progress; this module
neither prints nor writes files.
"""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    model: str
    variant: str
    n: int
    repeat: int


@dataclass(frozen=True)
class Failure:
    job: Job
    kind: str  # "exit", "signal", "timeout" or "bad-output"
    reason: str
    exit_code: int | None
    wall_seconds: float

    def as_record(self) -> dict:
        return {
            "model": self.job.model,
            "variant": self.job.variant,
            "n": self.job.n,
            "repeat": self.job.repeat,
            "kind": self.kind,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "wall_seconds": self.wall_seconds,
        }


def plan(selection, grids, repeat: int) -> list[Job]:
    """Every job of a sweep, in run order: per (model, variant), N ascending."""
    return [
        Job(model, variant, n, r)
        for model, variant in selection
        for n in sorted(grids[model])
        for r in range(repeat)
    ]


def probe_command(job: Job) -> list[str]:
    return [
        sys.executable, "-m", "parkbench.probe",
        "--model", job.model, "--variant", job.variant, "--n", str(job.n),
    ]


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


POLL_SECONDS = 0.1  # how often the watchdog looks at the clock and at free memory


def _stop(child) -> None:
    _kill_group(child.pid)
    child.communicate()


def run_child(job: Job, timeout: float, command=None, memory_floor: int | None = None,
              available=None) -> dict | Failure:
    """Run one probe child; return its record, or a ``Failure`` saying why not.

    The child runs in a session of its own. It is killed, with its whole process group,
    when it outlives ``timeout``, when the machine's available memory (``available()``,
    default psutil's) falls below ``memory_floor``, or when the runner itself is
    interrupted. Whatever it leaves in its group is killed when it ends.
    """
    from parkbench.guard import available_bytes
    from parkbench.sizes import format_bytes

    command = command or probe_command(job)
    available = available or available_bytes
    start = time.perf_counter()
    env = dict(os.environ, PARKBENCH_RUNNER_PID=str(os.getpid()))
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
        env=env,
    )
    try:
        while True:
            try:
                out, err = child.communicate(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.perf_counter() - start
                if elapsed > timeout:
                    _stop(child)
                    return Failure(job, "timeout", f"no result within {timeout:g} s", None, elapsed)
                if memory_floor is not None:
                    free = available()
                    if free < memory_floor:
                        _stop(child)
                        return Failure(
                            job, "memory-floor",
                            f"ended by the watchdog: available memory {format_bytes(free)} "
                            f"fell below the floor of {format_bytes(memory_floor)}",
                            None, elapsed)
    except BaseException:  # Ctrl-C or SIGTERM of the runner: take the child with us
        _stop(child)
        raise
    finally:
        _kill_group(child.pid)  # anything the child left in its group
    wall = time.perf_counter() - start
    code = child.returncode
    if code < 0:
        name = signal.Signals(-code).name
        detail = _last_line(err)
        reason = f"killed by {name}" + (f" after: {detail}" if detail else "")
        return Failure(job, "signal", reason, code, wall)
    if code != 0:
        return Failure(job, "exit", _last_line(err) or f"exit status {code}", code, wall)
    try:
        record = json.loads(_last_line(out))
    except ValueError:
        return Failure(job, "bad-output", f"no JSON record on stdout: {_last_line(out)!r}", code, wall)
    record["repeat"] = job.repeat
    record["wall_seconds"] = wall
    return record


def job_key(record: dict) -> tuple:
    return (record["model"], record["variant"], record["n"], record.get("repeat", 0))


class Sweep:
    """Runs jobs in order, storing each outcome through ``store`` as it arrives.

    ``store`` has ``add_measurement(record)``, ``add_failure(record)`` and
    ``add_skip(record)``. A (model, variant) stops at its first failure or guard skip:
    larger N would fail or exceed the budget too. Jobs whose result ``store`` already
    holds (a resumed run) are not run again, and a (model, variant) that had stopped
    stays stopped.
    """

    def __init__(self, jobs, timeout: float, store, guard=None, progress=None, previous=None):
        self.jobs = jobs
        self.timeout = timeout
        self.store = store
        self.guard = guard
        self.progress = progress
        previous = previous or {"measurements": [], "failures": [], "skipped": []}
        self.done = {job_key(record) for record in previous["measurements"]}
        self.stopped = {(record["model"], record["variant"])
                        for record in previous["failures"] + previous["skipped"]}
        self.measured: dict[tuple, list] = {}
        for record in previous["measurements"]:
            self.measured.setdefault((record["model"], record["variant"]), []).append(record)

    def run(self) -> None:
        for index, job in enumerate(self.jobs):
            key = (job.model, job.variant)
            if key in self.stopped or (job.model, job.variant, job.n, job.repeat) in self.done:
                continue
            if self.guard is not None:
                reason = self.guard.refuse(job.model, job.n, self.measured.get(key, []))
                if reason:
                    self.stopped.add(key)
                    self.store.add_skip({"model": job.model, "variant": job.variant,
                                         "n": job.n, "repeat": job.repeat, "reason": reason})
                    self._report(index, job, reason)
                    continue
            floor = self.guard.floor_bytes if self.guard is not None else None
            outcome = run_child(job, self.timeout, memory_floor=floor)
            if isinstance(outcome, Failure):
                self.stopped.add(key)
                self.store.add_failure(outcome.as_record())
            else:
                self.measured.setdefault(key, []).append(outcome)
                self.store.add_measurement(outcome)
            self._report(index, job, outcome)

    def _report(self, index, job, outcome) -> None:
        if self.progress:
            self.progress(index, len(self.jobs), job, outcome)
