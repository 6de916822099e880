"""A short calibration per run: how fast this machine is at this moment, so that
hand-off figures of different days and machines can be put in context.

Two fixed measurements, each the median of ``REPEATS`` blocks, in a child process (it
pins itself to one CPU; the runner is never pinned):

- ``python_loop_ns``: nanoseconds per iteration of a fixed pure-Python loop (the
  interpreter's speed on this CPU);
- ``pipe_one_way_seconds``: a one-byte hand-off between two processes over pipes, both
  on one CPU (the kernel's wake-up path, the floor under every blocking hand-off).

A run measures both at its start and at its end, each with what the rest of the machine
did meanwhile (``interference``: a disturbed calibration is no context for a quiet
figure); a hand-off figure is shown beside its ratio to the run's pipe hand-off (``vs
pipe``), and ``compare`` sets the two runs' calibrations side by side.

The load generator's own ceiling is measured as a server is: in rounds
(``CEILING_ROUNDS`` quiet and steady ones wanted, at most ``CEILING_ATTEMPTS`` within
the run's ``--timeout``), each with the rest of the machine's activity; a round that
was disturbed, or not steady (errors, timeouts, a collapsing interval), is no ceiling,
and the highest usable round is (a ceiling is what the generator can do: a stall only
lowers it). Every round's rate and why it was not used are stored beside it. Run by hand: ``python -m parkbench.measurement.calibration_child``
(the child); the run's pipe hand-off as a figure is ``analysis/calibration.py``'s.
"""

import json
import os
import subprocess
import sys
import time

from parkbench.measurement import interference, lifeline
from parkbench.store import served_schema

TIMEOUT_SECONDS = 60.0
CEILING_ROUNDS = 2        # quiet, steady rounds of the generator's ceiling wanted
CEILING_ATTEMPTS = 4      # rounds tried at most


def _tied_env() -> dict:
    """The child's environment: it dies with this process (``lifeline``), SIGKILL too."""
    return dict(os.environ, PARKBENCH_RUNNER_PID=str(os.getpid()))


def generator_ceiling(python: str | None, settings: dict, timeout: float = 120.0) -> tuple[dict | None, str]:
    """The load generator's own ceiling (see the module's docstring): (the highest quiet,
    steady round with ``attempts``, every round's rate and why it was not used, and its
    ``interference``, ''); where no round was usable, (the last measured, '') and its
    problem said by ``ceiling_problem``; where none ran, (``None``, why not: the last
    round's child's last line, such as a port range too narrow for its connections, or
    that it outlived the run's ``--timeout``). All rounds together stay within ``timeout``."""
    deadline = time.monotonic() + timeout
    attempts: list[dict] = []
    usable: list[dict] = []
    last, failure = None, "no round ran within the run's --timeout"
    while len(attempts) < CEILING_ATTEMPTS and len(usable) < CEILING_ROUNDS:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        before = interference.snapshot()
        found, failure = _ceiling_round(python, settings, left)
        if found is None:
            attempts.append({"achieved": None, "why_not": failure[:400]})
            continue
        found["interference"] = interference.between(before, interference.snapshot())
        closed, why = served_schema.ceiling_phase(found)
        attempts.append({"achieved": closed.achieved if closed is not None else None, "why_not": why[:400]})
        last = found
        if not why:
            usable.append(found)
    chosen = max(usable, key=lambda found: ceiling_rate(found) or 0.0) if usable else last
    if chosen is None:
        return None, failure
    return {**chosen, "attempts": attempts}, ""


def _ceiling_round(python: str | None, settings: dict, timeout: float) -> tuple[dict | None, str]:
    """One round of the generator's ceiling in a fresh child (``probes/served_load.py``):
    (its measurement, ''), or (``None``, why not: the child's last line, or that it
    outlived ``timeout``). The child runs in a session of its
    own, and the whole session (its echo server, its generator) is killed when it ends,
    however it ends: a timeout of ``subprocess.run`` kills the direct child only, and the
    echo server kept listening."""
    try:
        child = subprocess.Popen([python or sys.executable, "-m", "parkbench.measurement.probes.served_load",
                                  "--ceiling", json.dumps(settings, sort_keys=True)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=_tied_env(), start_new_session=True)
    except OSError as exc:
        return None, f"its child did not start ({exc.strerror or exc})"
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"no result within {timeout:.3g} s (the run's --timeout)"
    finally:  # Ctrl-C of the runner and a timeout alike: nothing of it left running
        lifeline.kill_group(child.pid)
        if child.returncode is None:
            child.kill()
            child.communicate()
    if child.returncode != 0:
        return None, ((err or "").strip().splitlines() or [f"exit status {child.returncode}"])[-1][:500]
    try:
        return json.loads(out.strip().splitlines()[-1]), ""
    except (ValueError, IndexError):
        return None, "its output is not JSON"


def measure(python: str | None = None) -> dict | None:
    """Both measurements in a fresh child (under ``python``), with what the rest of the
    machine did meanwhile (``interference``); ``None`` if it failed (a calibration is
    context, never a reason to stop a sweep)."""
    try:
        before = interference.snapshot()
        done = subprocess.run([python or sys.executable, "-m", "parkbench.measurement.calibration_child"],
                              capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                              env=_tied_env())
        if done.returncode == 0:
            measured = json.loads(done.stdout.strip().splitlines()[-1])
            if isinstance(measured, dict):
                measured["interference"] = interference.between(before, interference.snapshot())
            return measured
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        pass
    return None


def ceiling_rate(found: dict | None) -> float | None:
    """The generator's closed-loop peak (requests/s) of a ceiling measurement, or None:
    none measured, or one that cannot be used (``served_schema.ceiling_phase``)."""
    return served_schema.usable_ceiling(found)


def ceiling_problem(found: dict | None, failure: str | None = None) -> str:
    """Why a ceiling measurement cannot be used ('' when it can): ``failure``, the
    reason a run stored beside a null ceiling, where there is one."""
    return failure if found is None and failure else served_schema.ceiling_phase(found)[1]
