"""A short calibration per run: how fast this machine is at this moment, so that
hand-off figures of different days and machines can be put in context.

Two fixed measurements, each the median of ``REPEATS`` blocks, in a child process (it
pins itself to one CPU; the runner is never pinned):

- ``python_loop_ns``: nanoseconds per iteration of a fixed pure-Python loop (the
  interpreter's speed on this CPU);
- ``pipe_one_way_seconds``: a one-byte hand-off between two processes over pipes, both
  on one CPU (the kernel's wake-up path, the floor under every blocking hand-off).

A run measures both at its start and at its end; a hand-off figure is shown beside its
ratio to the run's pipe hand-off (``vs pipe``), and ``compare`` sets the two runs'
calibrations side by side. Run by hand: ``python -m parkbench.measurement.calibration_child``
(the child); the run's pipe hand-off as a figure is ``analysis/calibration.py``'s.
"""

import json
import os
import subprocess
import sys

from parkbench.measurement import lifeline
from parkbench.store import loadgen_output

TIMEOUT_SECONDS = 60.0


def _tied_env() -> dict:
    """The child's environment: it dies with this process (``lifeline``), SIGKILL too."""
    return dict(os.environ, PARKBENCH_RUNNER_PID=str(os.getpid()))


def generator_ceiling(python: str | None, settings: dict, timeout: float = 120.0) -> tuple[dict | None, str]:
    """The load generator's closed-loop peak against its own echo server, in a fresh
    child (``probes/served_load.py``): (the measurement, ''), or (``None``, why not: the
    child's last line, such as a port range too narrow for its connections, or that it
    outlived ``timeout``, the run's ``--timeout``; then no served figure is flagged as
    the generator's, and the run says why). The child runs in a session of its own, and
    the whole session (its echo server, its generator) is killed when it ends, however
    it ends: a timeout of ``subprocess.run`` kills the direct child only, and the echo
    server kept listening."""
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
        return None, f"no result within {timeout:g} s (the run's --timeout)"
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
    """Both measurements in a fresh child (under ``python``); ``None`` if it failed (a
    calibration is context, never a reason to stop a sweep)."""
    try:
        done = subprocess.run([python or sys.executable, "-m", "parkbench.measurement.calibration_child"],
                              capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                              env=_tied_env())
        if done.returncode == 0:
            return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        pass
    return None


def ceiling_rate(found: dict | None) -> float | None:
    """The generator's closed-loop peak (requests/s) of a ceiling measurement, or None:
    none measured, or one that was not steady (``loadgen_output.unsteady``)."""
    closed, problem = _ceiling_phase(found)
    return None if problem or closed is None else closed.achieved


def ceiling_problem(found: dict | None, failure: str | None = None) -> str:
    """Why a ceiling measurement cannot be used ('' when it can): ``failure``, the
    reason a run stored beside a null ceiling, where there is one."""
    return failure if found is None and failure else _ceiling_phase(found)[1]


def _ceiling_phase(found: dict | None):
    """(the ceiling's closed-loop phase, why it cannot be used or '')."""
    try:
        closed = loadgen_output.parse(found["closed_run"]).closed if found else None
    except (ValueError, KeyError, TypeError):
        return None, "its output is not the generator's"
    if closed is None:
        return None, "not measured"
    return closed, loadgen_output.unsteady(closed)
