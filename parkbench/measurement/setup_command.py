"""Set-up commands that die with the run: the Go build, a venv and its pip installs.

Such a command starts children of its own (``go build`` its compiler and linker, ``venv``
its ``ensurepip``), which a signal to the command alone would leave running. So
``run`` starts it through a small warden, ``python -m parkbench.measurement.setup_command --parent
PID -- COMMAND...``, that puts COMMAND in a process group of its own, asks Linux for
SIGTERM when the run dies (``PR_SET_PDEATHSIG``: SIGKILL of the run included), and on
SIGTERM or SIGINT kills that whole group and exits. ``run`` itself stops the warden the
same way when it is interrupted (Ctrl-C, SIGTERM) or the command outlives its timeout.
Imports nothing heavy.
"""

import os
import signal
import subprocess
import sys

from parkbench.measurement import lifeline

STOP_WAIT_SECONDS = 10.0


def run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(command, timeout=timeout, **kwargs)``, with every process the
    command starts killed when the run is interrupted, dies, or the timeout passes
    (then ``subprocess.TimeoutExpired``, as ``subprocess.run`` raises)."""
    if kwargs.pop("capture_output", False):
        kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    warden = subprocess.Popen([sys.executable, "-m", "parkbench.measurement.setup_command",
                               "--parent", str(os.getpid()), "--", *command], **kwargs)
    try:
        out, err = warden.communicate(timeout=timeout)
    except BaseException:
        warden.terminate()  # the warden kills the command's whole group, then exits
        try:
            warden.communicate(timeout=STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            warden.kill()
            warden.wait()
        raise
    return subprocess.CompletedProcess(command, warden.returncode, out, err)


def main(argv: list[str]) -> int:
    parent, command = argv[1], argv[3:]
    child: subprocess.Popen | None = None

    def stop(signum, frame):
        if child is not None:  # no wait here: the main thread may be in child.wait()
            lifeline.kill_group(child.pid)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    lifeline.die_with_parent(parent, signal.SIGTERM)
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # no stop between the start and ``child``
    try:
        child = subprocess.Popen(command, start_new_session=True,
                                 preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, stops))
    except OSError as exc:
        print(f"{command[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 127
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    status = child.wait()
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
