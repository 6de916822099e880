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


def wait_group_gone(pgid: int, timeout: float = 10.0) -> bool:
    """Wait until no process of group ``pgid`` is left (killed workers tear down their
    memory after SIGKILL; the next probe's window must not see them end): whether it went
    within ``timeout`` seconds."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return True
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
