"""The runner: walks the N grid of each model, one fresh probe child per measurement.

Each child runs in a new session (its own process group), so a timeout, or a crash
that leaves subprocess workers behind, is cleaned up by killing the whole group. The
runner never parks a waiter itself. A (model, variant) sweep stops at its first
failure, which is recorded with its reason (the limit it hit).

Each child sends its record on a pipe of its own and says how it ended by its exit
status (``protocol.py``). A record is checked as it arrives, by the rule the results
reader applies (``record_schema.check_measurement``), and one that breaks it fails its job
alone. ``Sweep`` hands every outcome to a store (``add_measurement``, ``add_failure``,
``add_skip``; a switch round's record through ``add_switch_round`` with the pyperf file the
benchmark wrote, which the store merges) as it arrives, and to a ``progress`` callback.
This module prints nothing and writes no run file; for a switch job it makes the run's
pyperf folder and removes a stale round file.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from parkbench.core import protocol
from parkbench.core.errors import UserError
from parkbench.core.protocol import OPTIONAL_FIELDS, FailureKind, Job, JobKind
from parkbench.core.units import format_bytes
from parkbench.measurement import interference, lifeline, map_check_jobs, scratch, switchbench
from parkbench.measurement.guard import available_bytes
from parkbench.store import record_schema


@dataclass(frozen=True)
class Failure:
    job: Job
    kind: FailureKind
    reason: str
    exit_code: int | None
    wall_seconds: float
    reached: int | None = None  # for "limit": waiters started before the OS said no

    def as_record(self) -> dict:
        return {**self.job.as_record(), "failure": self.kind, "reached": self.reached,
                "reason": self.reason, "exit_code": self.exit_code, "wall_seconds": self.wall_seconds}


def probe_command(job: Job, tail_loops: int | None = None, wake_max_n: dict | None = None,
                  python: str | None = None, served: dict | None = None, wakes: dict | None = None) -> list[str]:
    """The probe child of ``job``, under ``python`` (default: this interpreter);
    ``served``: the settings of a served job, ``wakes`` those of a wake search."""
    command = [
        python or sys.executable, "-m", "parkbench.measurement.probe_child",
        "--model", job.model, "--variant", str(job.variant), "--n", str(job.n),
    ]
    if job.kind == JobKind.MEMORY and job.n > (wake_max_n or {}).get(job.model, job.n):
        command.append("--no-wake")
    if job.kind == JobKind.TAIL:
        command += ["--primitive", str(job.primitive), "--tail-loops", str(tail_loops)]
    if job.kind == JobKind.SERVED:  # a map check's settings offer its rates (map_checks.py)
        command += ["--served", json.dumps(map_check_jobs.served_settings(served or {}, job.rates), sort_keys=True)]
    if job.kind == JobKind.WAKES and job.rates:  # an in-process map check: its rates, on the loop
        command += ["--wakes", json.dumps(map_check_jobs.wake_settings(wakes or {}, job.rates), sort_keys=True)]
    elif job.kind == JobKind.WAKES:  # the wake rate's knee search, on the probe's loop
        command += ["--wakes", json.dumps(wakes or {}, sort_keys=True)]
    return command


def _last_line(text: str, limit: int = 1000) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""  # a reason the results file takes whole


POLL_SECONDS = 0.1  # how often the watchdog looks at the clock and at free memory


def _stop(child) -> None:
    lifeline.kill_group(child.pid)
    child.communicate()


class _Channel:
    """The read end of a child's record pipe, drained by a thread so that a child never
    blocks on a full pipe."""

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        self.chunks: list[bytes] = []
        self.thread = threading.Thread(target=self._drain, daemon=True)

    def _drain(self) -> None:
        total = 0
        while chunk := os.read(self.read_fd, 65536):
            total += len(chunk)
            if total <= protocol.MAX_RECORD_BYTES + 1:
                self.chunks.append(chunk)

    def started(self) -> None:
        os.close(self.write_fd)  # the child holds its own copy
        self.thread.start()

    def data(self) -> bytes:
        self.thread.join(timeout=5)
        os.close(self.read_fd)
        return b"".join(self.chunks)


def run_child(job: Job, timeout: float, command=None, memory_floor: int | None = None,
              available=None, env=None) -> dict | Failure:
    """Run one child; return its record, or a ``Failure`` saying why not.

    ``command`` defaults to the probe child of ``job``. Every child (a probe child, the
    pyperf switch benchmark) sends its record on a pipe of its own (``protocol.py``) and
    says how it ended by its exit status.

    The child runs in a session of its own. It is killed, with its whole process group,
    when it outlives ``timeout``, when the machine's available memory (``available()``,
    default psutil's) falls below ``memory_floor``, or when the runner itself is
    interrupted. Whatever it leaves in its group is killed when it ends, and whatever
    it leaves in its temporary folder (``$TMPDIR``, one of its own) is removed.
    """
    channel = _Channel()
    start = time.perf_counter()
    # a temporary folder of the child's own, removed when it ends: what a child leaves
    # in $TMPDIR (multiprocessing's pymp-* folders, a forkserver's socket) goes with it;
    # inside the runner's, which a later run sweeps if this one is killed (scratch.py)
    folder = scratch.child_folder()
    env = dict(os.environ, **(env or {}), PARKBENCH_RUNNER_PID=str(os.getpid()), TMPDIR=folder,
               **{protocol.RECORD_FD_ENV: str(channel.write_fd)})
    lifeline.become_subreaper()  # what the child leaves is reaped here (end_session)
    try:
        child = subprocess.Popen(command or probe_command(job), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                 start_new_session=True, text=True, env=env,
                                 pass_fds=(channel.write_fd,))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    channel.started()
    try:
        stopped = _watch(job, child, start, timeout, memory_floor, available or available_bytes)
    except BaseException:  # Ctrl-C or SIGTERM of the runner: take the child with us
        _stop(child)
        raise
    finally:
        # all the child left (its group, and its servers' and clients' own groups), gone
        lifeline.end_session(child.pid)  # before the next child's window (interference.py)
        data = channel.data()
        shutil.rmtree(folder, ignore_errors=True)
    if isinstance(stopped, Failure):
        return stopped
    out, err = stopped
    return _outcome(job, child.returncode, data, out, err, time.perf_counter() - start)


def _watch(job: Job, child, start: float, timeout: float, memory_floor, available):
    """(stdout, stderr) of ``child`` once it ended, or the ``Failure`` of a child the
    watchdog ended: past ``timeout``, or with available memory below ``memory_floor``."""
    while True:
        try:
            return child.communicate(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            elapsed = time.perf_counter() - start
            if elapsed > timeout:
                _stop(child)
                return Failure(job, FailureKind.TIMEOUT, f"no result within {timeout:g} s", None, elapsed)
            if memory_floor is not None:
                free = available()
                if free < memory_floor:
                    _stop(child)
                    return Failure(job, FailureKind.MEMORY_FLOOR,
                                   f"ended by the watchdog: available memory {format_bytes(free)} "
                                   f"fell below the floor of {format_bytes(memory_floor)}", None, elapsed)


def _outcome(job: Job, code: int, data: bytes, out: str, err: str, wall: float) -> dict | Failure:
    """The record of a child that ended with status ``code`` and sent ``data``, naming
    its job once (format 3), or the ``Failure`` its status, signal or output says."""
    if code < 0:
        detail = _last_line(err)
        reason = f"killed by {signal.Signals(-code).name}" + (f" after: {detail}" if detail else "")
        return Failure(job, FailureKind.SIGNAL, reason, code, wall)
    if code == protocol.EXIT_LIMIT_REACHED:
        try:
            limit = protocol.decode(data)
            if limit.get("kind") == "limit" and 0 <= int(limit["reached"]) <= job.n:
                reason = _last_line(err) or _last_line(str(limit["error"]))
                return Failure(job, FailureKind.LIMIT, reason, code, wall, reached=int(limit["reached"]))
        except (ValueError, KeyError, TypeError):
            pass
    if code != protocol.EXIT_OK:
        reason = _last_line(err) or f"exit status {code}"
        if code == protocol.EXIT_ORPHANED:
            reason = "the child found its runner gone before it started"
        return Failure(job, FailureKind.EXIT, reason, code, wall)
    try:
        record = protocol.decode(data)
        for key, wanted in (("kind", str(job.kind)), ("model", job.model), ("variant", job.variant),
                            ("n", job.n)):
            if record.get(key) != wanted:
                # a child's record is of its own job, or of none
                raise ValueError(f"a record of {key} {record.get(key)!r} for a job of {key} {wanted!r}")
    except (ValueError, KeyError, OSError) as exc:
        return Failure(job, FailureKind.BAD_OUTPUT, f"no usable result ({exc}); stdout ended "
                       f"{_last_line(out)!r}", code, wall)
    for key in OPTIONAL_FIELDS:  # a field its job has not is none of the child's to add
        record.pop(key, None)
    record.update(job.as_record(), wall_seconds=wall)  # the job named once (format 3)
    return record


TIMED_HERE = (JobKind.SWITCH, JobKind.TAIL)  # the runner reads their window (interference.py)


def _stop_reason(job: Job, failure: str | None = None) -> str:
    """Why the rest of ``job``'s series does not run."""
    where = f"round {job.repeat + 1}" if job.kind == JobKind.SWITCH else f"n={job.n:,}"
    return f"its series stopped at {where} ({f'{failure} failure' if failure else 'skipped'})"


class Sweep:
    """Runs jobs in order, storing each outcome through ``store`` as it arrives.

    ``store`` has ``add_measurement(record)``, ``add_switch_round(record, round_file)``,
    ``add_failure(record)`` and ``add_skip(record)``. A series (``Job.series``) stops at its first failure or guard
    skip: larger N would fail or exceed the budget too. Jobs whose result ``previous``
    already holds (a resumed run) are not run again, and a series that had stopped stays
    stopped. ``switch_folder`` (named by the run id) receives the pyperf files of
    switch jobs.
    """

    def __init__(self, jobs, plan, store, guard=None, progress=None, previous=None,
                 switch_folder=None, python: str | None = None, served_context: dict | None = None):
        self.jobs = jobs
        # what a served job's child is told beside the plan: the generator's own ceiling
        self.served_context = dict(served_context or {})
        self.plan = plan  # a RunPlan: timeout, latency mode, tail loops, caps, rlimits
        self.python = python  # the interpreter of the children (None: this one)
        self.store = store
        self.guard = guard
        self.progress = progress
        self.switch_folder = switch_folder
        previous = previous or {}
        measurements = previous.get("measurements", [])
        self.done = {Job.from_record(record) for record in measurements}
        ended = previous.get("failures", []) + previous.get("skipped", [])
        # every job accounted for already (failed or skipped), and why a series stopped
        self.accounted = {Job.from_record(record) for record in ended}
        self.stopped: dict[tuple, str] = {}
        for record in ended:
            job = Job.from_record(record)
            self.stopped.setdefault(job.series, _stop_reason(job))
        self.measured: dict[tuple, list] = {}
        for record in measurements:
            self._remember(record)

    def _remember(self, record: dict) -> None:
        if record["kind"] == "memory":
            self.measured.setdefault((record["model"], record["variant"]), []).append(record)

    def _child(self, job: Job):
        """The command of ``job``'s child, and for a switch round the pyperf file it writes
        (the store merges it into the benchmark's file) and what its record adds."""
        if job.kind != JobKind.SWITCH:
            served = {**self.plan.served_settings, "slo_seconds": self.plan.slo_seconds, **self.served_context}
            wakes = {**self.plan.wake_settings, "slo_seconds": self.plan.slo_seconds}
            return probe_command(job, self.plan.tail_loops, self.plan.wake_max_n, self.python, served,
                                 wakes), None, {}
        primitive, where = str(job.primitive), str(job.placement)
        path = self.switch_folder / switchbench.round_filename(job.model, primitive, where, job.repeat)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # pyperf refuses to overwrite; a stale file is no result
        mode, rigorous = self.plan.latency_mode, self.plan.rigorous_primitives
        if mode == "rigorous" and rigorous is not None and primitive not in rigorous.get(job.model, ()):
            mode = "quick"
        command = switchbench.switch_command(job.model, primitive, where, path, mode, self.python)
        name = switchbench.switch_filename(job.model, primitive, where)
        return command, path, {"mode": mode, "file": f"{self.switch_folder.name}/{name}"}

    def run(self) -> None:
        for index, job in enumerate(self.jobs):
            if job in self.done or job in self.accounted:
                continue
            if job.series in self.stopped:  # accounted for: skipped, with the reason
                self._record_skip(job, f"not run: {self.stopped[job.series]}", index)
                continue
            measured = self.measured.get((job.model, job.variant), [])
            largest = max((r["n"] for r in measured), default=None)
            if job.kind == "tail" and largest is not None and job.n > largest:
                # past the largest N this sweep parked for memory (a to-the-limit grid)
                self.skip(job, f"beyond the largest N parked for memory ({largest:,})", index)
                continue
            if self.guard is not None and job.kind != "switch":
                reason = self.guard.refuse(job.model, job.n, measured,  # a check: as planned
                                           map_check_jobs.bytes_per_waiter(self.plan.map_checks, job))
                if reason:
                    self.skip(job, reason, index)
                    continue
            command, round_file, adds = self._child(job)
            floor = self.guard.floor_bytes if self.guard is not None else None
            # a hand-off timed: what the rest of the machine did meanwhile goes with it (a
            # memory, served or wakes probe records its own window, inside the child)
            before = interference.snapshot() if job.kind in TIMED_HERE else None
            outcome = run_child(job, self.plan.timeout_seconds, command, memory_floor=floor,
                                env={"PARKBENCH_CHILD_RLIMITS": self.plan.child_rlimits})
            if before is not None and not isinstance(outcome, Failure) and "interference" not in outcome:
                adds = {**adds, "interference": interference.between(before, interference.snapshot())}
            if not isinstance(outcome, Failure):
                outcome = self._checked(job, {**outcome, **adds})
            if isinstance(outcome, Failure):
                self.stopped[job.series] = _stop_reason(job, outcome.kind)
                self.accounted.add(job)
                self.store.add_failure(outcome.as_record())
            elif round_file is not None:  # a switch round: the store merges its pyperf file
                self.store.add_switch_round(outcome, round_file)
            else:
                self._remember(outcome)
                self.store.add_measurement(outcome)
            self._report(index, job, outcome)

    def _checked(self, job: Job, record: dict) -> dict | Failure:
        """``record`` if it is the job's and the results format takes it; else a failure
        of this job alone (a record stored unchecked would make the run file unreadable)."""
        run_id = self.switch_folder.name if self.switch_folder is not None else ""
        try:  # the record names its own job already (run_child)
            record_schema.check_measurement(record, "the child's record", run_id)
        except UserError as exc:
            return Failure(job, FailureKind.BAD_OUTPUT, f"no usable result: {exc}", protocol.EXIT_OK,
                           record.get("wall_seconds", 0.0))
        return record

    def skip(self, job: Job, reason: str, index: int | None = None) -> None:
        """Record that ``job`` will not run, and why; the rest of its series will not
        run either (each is recorded as skipped when the sweep reaches it)."""
        self.stopped.setdefault(job.series, _stop_reason(job))
        self._record_skip(job, reason, index)

    def _record_skip(self, job: Job, reason: str, index: int | None) -> None:
        self.accounted.add(job)
        self.store.add_skip({**job.as_record(), "reason": reason})
        if index is not None:
            self._report(index, job, reason)

    def _report(self, index, job, outcome) -> None:
        if self.progress:
            self.progress(index, len(self.jobs), job, outcome)
