"""Children die with their parent: a probe child, the switch benchmark and its pyperf
workers ask the kernel (Linux ``PR_SET_PDEATHSIG``) for SIGKILL when their parent dies,
so a runner killed with SIGKILL leaves nothing running. Imports nothing heavy."""

import os
import sys

from parkbench.protocol import EXIT_ORPHANED


def kill_group(pgid: int) -> None:
    """SIGKILL every process of group ``pgid``; a group already gone is not an error."""
    import signal

    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def session_members(sid: int, proc: str = "/proc") -> list[int]:
    """The living processes of session ``sid`` (a zombie has freed its memory): a probe
    child leads its own session, and its servers and clients, each in a process group of
    its own, stay in it."""
    found = []
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat") as handle:
                text = handle.read()
        except OSError:
            continue  # ended meanwhile
        fields = text[text.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if len(fields) > 3 and fields[3] == str(sid) and fields[0] != "Z":  # a zombie has torn down
            found.append(int(name))
    return found


def end_session(sid: int, timeout: float = 10.0) -> bool:
    """SIGKILL every process of session ``sid`` (a probe child's group and the groups its
    servers and clients made) and wait until none is left: killed workers and servers
    tear down their memory after SIGKILL, and the next probe's window must not see them
    end (``interference.py``); nothing is left behind. Whether all went within
    ``timeout`` seconds."""
    import signal
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        members = session_members(sid)
        if not members:
            return True
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
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
