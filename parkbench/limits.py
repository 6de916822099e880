"""Operating-system limits that bound how many waiters a machine can hold.

Read from /proc, /sys/fs/cgroup and getrlimit. ``root`` lets tests point the readers
at fixture trees instead of the live system.
"""

import resource
from pathlib import Path

UNLIMITED = None


def _read_int(path: Path):
    try:
        text = path.read_text().strip()
    except (FileNotFoundError, PermissionError):
        return None
    if text == "max":
        return UNLIMITED
    try:
        value = int(text)
    except ValueError:
        return None
    # cgroup v1 writes "no limit" as a huge page-aligned number.
    return UNLIMITED if value >= 2**62 else value


def _rlimit(which) -> dict:
    soft, hard = resource.getrlimit(which)
    as_value = lambda v: UNLIMITED if v == resource.RLIM_INFINITY else v  # noqa: E731
    return {"soft": as_value(soft), "hard": as_value(hard)}


def read(root: str = "/") -> dict:
    """This machine's limits: kernel-wide, per-user (rlimits) and cgroup."""
    root = Path(root)
    proc = root / "proc/sys"
    cgroup = root / "sys/fs/cgroup"
    return {
        "pid_max": _read_int(proc / "kernel/pid_max"),
        "threads_max": _read_int(proc / "kernel/threads-max"),
        "max_map_count": _read_int(proc / "vm/max_map_count"),
        "rlimit_nproc": _rlimit(resource.RLIMIT_NPROC),
        "rlimit_nofile": _rlimit(resource.RLIMIT_NOFILE),
        "rlimit_stack": _rlimit(resource.RLIMIT_STACK),
        "cgroup_pids_max": _first_known(
            cgroup / "pids.max", cgroup / "pids/pids.max"
        ),
        "cgroup_memory_max": _first_known(
            cgroup / "memory.max", cgroup / "memory/memory.limit_in_bytes"
        ),
    }


def _first_known(*paths: Path):
    for path in paths:
        if path.exists():
            return _read_int(path)
    return UNLIMITED
