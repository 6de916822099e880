"""Children die with their parent: a probe child, the switch benchmark and its pyperf
workers ask the kernel (Linux ``PR_SET_PDEATHSIG``) for SIGKILL when their parent dies,
so a runner killed with SIGKILL leaves nothing running. Imports nothing heavy."""

import os
import sys

from parkbench.core.protocol import EXIT_ORPHANED
from parkbench.measurement import procstat


def kill_group(pgid: int) -> None:
    """SIGKILL every process of group ``pgid``; a group already gone is not an error."""
    import signal

    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _session(sid: int, proc: str = "/proc") -> list[tuple[int, str, int]]:
    """(pid, state, parent) of every process of session ``sid``, zombies included."""
    return [(pid, found[0], int(found[1])) for pid, found in procstat.each(proc)
            if len(found) > 3 and found[3] == str(sid)]


def session_members(sid: int, proc: str = "/proc") -> list[int]:
    """The living processes of session ``sid`` (a zombie has freed its memory): a probe
    child leads its own session, and its servers and clients, each in a process group of
    its own, stay in it."""
    return [pid for pid, state, _ in _session(sid, proc) if state != "Z"]


def become_subreaper() -> None:
    """Orphans of this process's descendants come to it (Linux
    ``PR_SET_CHILD_SUBREAPER``), not to init: the runner reaps what a probe left at once
    (``end_session``), where init reaped 400 killed workers whenever it next woke, inside
    the next probe's window (400 tasks ended elsewhere, their CPU time in init's)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_child_subreaper = 36
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1)


def end_session(sid: int, timeout: float = 10.0) -> bool:
    """SIGKILL every process of session ``sid`` (a probe child's group and the groups its
    servers and clients made), reap those that are this process's (``become_subreaper``),
    and wait until none is left, zombies included: killed workers and servers tear down
    their memory after SIGKILL, and the next probe's window must see neither that nor
    their reaping (``interference.py``); nothing is left behind. Whether all went within
    ``timeout`` seconds."""
    import signal
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = _session(sid)
        if not found:
            return True
        for pid, state, parent in found:
            try:
                if state != "Z":
                    os.kill(pid, signal.SIGKILL)
                elif parent == os.getpid():
                    os.waitpid(pid, os.WNOHANG)
            except (ProcessLookupError, PermissionError, ChildProcessError):
                pass
        time.sleep(0.01)
    return False


def die_with_parent(expected_parent: str | int | None = None, signum: int | None = None) -> None:
    """SIGKILL (or ``signum``) this process when its parent dies. If the parent is
    already gone (it is not ``expected_parent``, or this process was re-parented to
    init), exit now."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signum or signal.SIGKILL)
    parent = os.getppid()
    if parent == 1 or (expected_parent is not None and parent != int(expected_parent)):
        os._exit(EXIT_ORPHANED)  # the parent died before the request was made
