"""Temporary folders of the children: each child's ``$TMPDIR`` lies inside a folder of
its runner, ``<tmp>/pbr-<pid>-<start>`` (the runner's pid and its start time in clock
ticks since boot, ``/proc/<pid>/stat``'s 22nd field), so that a pid used again by
another process never passes for the runner.

A child's folder is removed when the child ends (``runner.run_child``), and the
runner's when the runner exits; a runner killed with SIGKILL can do neither, so the
first child of every later runner sweeps the folders of runners that are gone (their
pid not running, or running with another start time): what a killed run left goes at
the next run. Only plain folders of this user whose names have that exact shape are
swept. Imports nothing heavy.
"""

import atexit
import os
import re
import shutil
import stat
import tempfile

from parkbench.measurement import procstat

PREFIX = "pbr-"
NAME = re.compile(r"pbr-(\d+)-(\d+)")
START_FIELD = 19  # starttime: /proc/<pid>/stat's 22nd field, 19th after the name (procstat)

_mine: str | None = None


def start_ticks(pid: int, proc: str = "/proc") -> int | None:
    """When ``pid`` started (clock ticks since boot), or ``None`` if it is not running."""
    try:
        with open(f"{proc}/{pid}/stat") as handle:
            return int(procstat.fields(handle.read())[START_FIELD])
    except (OSError, ValueError, IndexError):
        return None


def _owner_gone(name: str) -> bool:
    found = NAME.fullmatch(name)
    return found is not None and start_ticks(int(found[1])) != int(found[2])


def sweep(folder: str | None = None) -> list[str]:
    """Remove the runner folders under ``folder`` (the temporary folder) whose runner
    is gone; the paths removed."""
    folder = folder or tempfile.gettempdir()
    removed: list[str] = []
    try:
        names = [name for name in os.listdir(folder) if name.startswith(PREFIX)]
    except OSError:
        return removed
    for name in names:
        path = os.path.join(folder, name)
        try:
            seen = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(seen.st_mode) and seen.st_uid == os.getuid() and _owner_gone(name):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def runner_folder() -> str:
    """This runner's folder: on first use, after a sweep, and removed at its exit; made
    again if it went meanwhile. One that is not a folder of this user's (a link, another
    user's) is refused."""
    global _mine
    pid = os.getpid()
    folder = tempfile.gettempdir()
    if _mine is None or os.path.dirname(_mine) != folder or not os.path.basename(_mine).startswith(f"{PREFIX}{pid}-"):
        sweep(folder)
        _mine = os.path.join(folder, f"{PREFIX}{pid}-{start_ticks(pid)}")
        atexit.register(shutil.rmtree, _mine, True)
    os.makedirs(_mine, mode=0o700, exist_ok=True)
    seen = os.lstat(_mine)
    if not stat.S_ISDIR(seen.st_mode) or seen.st_uid != os.getuid():
        raise OSError(f"{_mine} is not a folder of this user's")
    return _mine


def child_folder() -> str:
    """A new temporary folder for one child, inside this runner's; short, since a
    forkserver's socket path inside it must fit 108 bytes."""
    return tempfile.mkdtemp(prefix="c-", dir=runner_folder())
