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


def run_child(job: Job, timeout: float, command=None) -> dict | Failure:
    """Run one probe child; return its record, or a ``Failure`` saying why not."""
    command = command or probe_command(job)
    start = time.perf_counter()
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
    )
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(child.pid)
        out, err = child.communicate()
        wall = time.perf_counter() - start
        return Failure(job, "timeout", f"no result within {timeout:g} s", None, wall)
    except BaseException:  # Ctrl-C or SIGTERM of the runner: take the child with us
        _kill_group(child.pid)
        child.wait()
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


def sweep(jobs, timeout: float, on_measurement, on_failure, on_progress=None) -> None:
    """Run ``jobs`` in order; after a failure, skip the rest of that (model, variant)."""
    failed = set()
    for index, job in enumerate(jobs):
        key = (job.model, job.variant)
        if key in failed:
            continue
        if on_progress:
            on_progress(index, len(jobs), job, None)
        outcome = run_child(job, timeout)
        if isinstance(outcome, Failure):
            failed.add(key)
            on_failure(outcome)
        else:
            on_measurement(outcome)
        if on_progress:
            on_progress(index, len(jobs), job, outcome)
