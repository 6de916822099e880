"""Operating-system limits that bound how many waiters a machine can hold, and the
capacity of each model: the smallest of its memory bound and the OS bounds that apply.

``read(root)`` reads /proc, the process's cgroups (v1 and v2) and getrlimit; ``root``
lets tests point it at fixture trees. ``bounds`` and ``capacity`` are plain functions
of what ``read`` returned and of measured per-waiter figures: they return data.
"""

import os
import resource
from dataclasses import dataclass
from pathlib import Path

from parkbench.core import registry
from parkbench.core.registry import is_connections
from parkbench.measurement import rlimits

UNLIMITED = None

# The lowest a limit is reported as: cgroup v1 writes "no limit" as a huge number.
_NO_LIMIT_FROM = 2**62


def read_int(path: Path):
    """An integer /proc or cgroup value (its first word); ``None`` where absent or not a
    number, ``UNLIMITED`` for "max" and cgroup v1's huge "no limit"."""
    try:
        text = path.read_text().strip()
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        return None
    if text == "max":
        return UNLIMITED
    try:
        value = int(text.split()[0])
    except (ValueError, IndexError):
        return None
    return UNLIMITED if value >= _NO_LIMIT_FROM else value


def _rlimit(which) -> dict:
    soft, hard = resource.getrlimit(which)

    def plain(value):
        return UNLIMITED if value == resource.RLIM_INFINITY else value

    return {"soft": plain(soft), "hard": plain(hard)}


def _cgroup_paths(root: Path) -> dict:
    """controller -> cgroup path of this process; key "" for the v2 unified hierarchy."""
    paths: dict[str, str] = {}
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except FileNotFoundError:
        return paths
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _cgroup_limit(root: Path, paths: dict, v1_controller: str, v1_file: str, v2_file: str):
    """The tightest limit on this process's cgroup and its ancestors (limits nest)."""
    base = root / "sys/fs/cgroup"
    candidates = []
    if v1_controller in paths:
        candidates.append((base / v1_controller, paths[v1_controller], v1_file))
    if "" in paths:
        candidates.append((base, paths[""], v2_file))
        candidates.append((base / "unified", paths[""], v2_file))
    found = []
    for mount, path, name in candidates:
        parts = [part for part in path.split("/") if part]
        for depth in range(len(parts) + 1):
            value = read_int(mount.joinpath(*parts[:depth], name))
            if value is not None:
                found.append(value)
    return min(found) if found else UNLIMITED


def _meminfo(root: Path) -> dict:
    values = {}
    try:
        for line in (root / "proc/meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            values[name] = int(rest.split()[0]) * 1024
    except (FileNotFoundError, ValueError, IndexError):
        pass
    return values


def _tasks_in_use(root: Path) -> int | None:
    """Threads of every process on the machine (each one holds a pid)."""
    proc = root / "proc"
    try:
        return sum(
            len(os.listdir(entry / "task"))
            for entry in proc.iterdir()
            if entry.name.isdigit() and (entry / "task").is_dir()
        )
    except OSError:
        return None


def ephemeral_ports(root: Path) -> int | None:
    """Ephemeral ports (net.ipv4.ip_local_port_range): connections one client address
    can open to one server address and port."""
    try:
        low, high = map(int, (root / "proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return None
    return max(high - low + 1, 0)


def read(root_path: str = "/") -> dict:
    """This machine's limits: kernel-wide, per-process (rlimits), cgroup, and usage."""
    root = Path(root_path)
    proc = root / "proc/sys"
    cgroups = _cgroup_paths(root)
    meminfo = _meminfo(root)
    return {
        "pid_max": read_int(proc / "kernel/pid_max"),
        "threads_max": read_int(proc / "kernel/threads-max"),
        "max_map_count": read_int(proc / "vm/max_map_count"),
        "rlimit_nproc": _rlimit(resource.RLIMIT_NPROC),
        "rlimit_nofile": _rlimit(resource.RLIMIT_NOFILE),
        "rlimit_stack": _rlimit(resource.RLIMIT_STACK),
        "cgroup_pids_max": _cgroup_limit(root, cgroups, "pids", "pids.max", "pids.max"),
        "cgroup_memory_max": _cgroup_limit(
            root, cgroups, "memory", "memory.limit_in_bytes", "memory.max"
        ),
        "memory_available": meminfo.get("MemAvailable"),
        "memory_total": meminfo.get("MemTotal"),
        "tasks_in_use": _tasks_in_use(root),
        "nr_open": read_int(proc / "fs/nr_open"),
        "ephemeral_ports": ephemeral_ports(root),
        "nf_conntrack_max": read_int(proc / "net/netfilter/nf_conntrack_max"),
        "nf_conntrack_count": read_int(proc / "net/netfilter/nf_conntrack_count"),
        "is_root": os.geteuid() == 0 if str(root_path) == "/" else False,
    }


# --- bounds and capacity ----------------------------------------------------------------

HOW_TO_RAISE = {
    "memory": "add memory, or choose a model with a smaller total per waiter",
    "pid_max": "sysctl -w kernel.pid_max=4194304",
    "threads_max": "sysctl -w kernel.threads-max=<N>",
    "max_map_count": "sysctl -w vm.max_map_count=1048576",
    "rlimit_nproc": "ulimit -u <N> (raise the hard limit in /etc/security/limits.conf)",
    "rlimit_nofile": "ulimit -n <N> up to the hard limit (raise that in /etc/security/limits.conf)",
    "cgroup_pids_max": "raise pids.max of the cgroup (systemd: TasksMax=)",
    "rlimit_nofile_hard": "raise the hard limit (limits.conf, systemd LimitNOFILE=; up to "
                          "fs.nr_open), or run P server processes (the reuseport variant)",
    "ephemeral_ports": "sysctl -w net.ipv4.ip_local_port_range='1024 65535', or clients "
                       "from more source addresses",
    "nf_conntrack_max": "sysctl -w net.netfilter.nf_conntrack_max=<N>, or exempt the "
                        "server's port from tracking (iptables -t raw ... -j NOTRACK)",
}

# Source addresses a connections probe's clients may use (127.0.0.2 ...): each opens at
# most the ephemeral port range to the one server port, less PORTS_KEPT_FREE (the
# connection that times requests under load takes one of them).
CLIENT_SOURCES = 250
PORTS_KEPT_FREE = 8


def ports_per_client(ports: int) -> int:
    """Idle connections one loopback client address opens, of ``ports`` ephemeral ports."""
    return max(ports - PORTS_KEPT_FREE, 0)

# Mappings one thread adds (stack and its guard page) when none was measured.
DEFAULT_MAPS_PER_THREAD = 2
# File descriptors one waiter holds in the probe, by model or variant: a subprocess
# worker keeps one wake-pipe end open there (multiprocessing adds a sentinel); a socket
# waiter holds both ends of a socketpair.
# Descriptors every probe process keeps free for the interpreter, psutil and its pipes:
# a socket or connection waiter gets the rest of its descriptor limit.
DESCRIPTOR_MARGIN = 64
FDS_PER_WAITER = {"subprocess": 1, "socket": 2, "forkserver": 2, "spawn": 2}


@dataclass(frozen=True)
class Bound:
    limit: str       # the name of the limit, a key of HOW_TO_RAISE
    waiters: int     # how many more waiters it allows
    detail: str      # the arithmetic, in words

    @property
    def how_to_raise(self) -> str:
        return HOW_TO_RAISE[self.limit]


def _headroom(limit, used) -> int | None:
    if limit is None:
        return None
    return max(limit - (used or 0), 0)


def bounds(model: str, variant: str, limits: dict, total_per_waiter: float | None = None,
           maps_per_waiter: float | None = None, maps_fixed: float | None = None) -> list[Bound]:
    """Every bound that applies to ``model``/``variant`` on a machine with ``limits``.
    ``maps_fixed``: the mappings the process holds before any thread (counted where
    known); the threads get the rest of vm.max_map_count."""
    found = []
    memory = [v for v in (limits.get("memory_available"), limits.get("cgroup_memory_max")) if v]
    if total_per_waiter and total_per_waiter > 0 and memory:
        available = min(memory)
        found.append(Bound("memory", int(available / total_per_waiter),
                           f"{available:,} B available / {total_per_waiter:,.0f} B per waiter"))
    tasks = limits.get("tasks_in_use")
    takes_a_task = model in ("threads", "subprocess")
    if takes_a_task:
        for name in ("pid_max", "threads_max", "cgroup_pids_max"):
            room = _headroom(limits.get(name), tasks)
            if room is not None:
                found.append(Bound(name, room, f"{limits[name]:,} - {tasks or 0:,} tasks in use"))
        nproc = (limits.get("rlimit_nproc") or {}).get("soft")
        if nproc is not None and not limits.get("is_root"):
            found.append(Bound("rlimit_nproc", _headroom(nproc, tasks) or 0,
                               f"{nproc:,} per user (counts threads too)"))
    if model == "threads" and limits.get("max_map_count"):
        per = maps_per_waiter if maps_per_waiter and maps_per_waiter > 0 else DEFAULT_MAPS_PER_THREAD
        fixed = maps_fixed if maps_fixed and maps_fixed > 0 else 0
        mappings = (f"({limits['max_map_count']:,} - {fixed:,.0f} held before any thread) mappings"
                    if fixed else f"{limits['max_map_count']:,} mappings")
        found.append(Bound("max_map_count", int(max(limits["max_map_count"] - fixed, 0) / per),
                           f"{mappings} / {per:.2f} per thread"))
    if is_connections(variant):
        return found + _connection_bounds(model, variant, limits)
    fds = FDS_PER_WAITER.get(variant, FDS_PER_WAITER.get(model))
    nofile = limits.get("rlimit_nofile") or {}
    # A socket probe raises its soft limit to the hard one; a worker pool does not.
    ceiling = nofile.get("hard") if variant == "socket" else nofile.get("soft")
    if fds and ceiling is not None:
        found.append(Bound("rlimit_nofile", int(ceiling / fds),
                           f"{ceiling:,} descriptors / {fds} per waiter"))
    return found


def _connection_bounds(model: str, variant: str, limits: dict) -> list[Bound]:
    """A connections server: one descriptor per connection in one process (the probe
    raises its soft limit to the hard one; subprocess workers and the reuseport
    variant's P processes hold theirs apart); the loopback clients' ports; conntrack
    where it tracks connections on this machine (entries in use when limits were read)."""
    found = []
    hard = (limits.get("rlimit_nofile") or {}).get("hard")
    if hard is not None and registry.one_process_holds_every_waiter(model, variant):
        found.append(Bound("rlimit_nofile_hard", max(hard - DESCRIPTOR_MARGIN, 0),
                           f"{hard:,} descriptors per process, {DESCRIPTOR_MARGIN} kept free, "
                           f"one per connection"))
    ports = limits.get("ephemeral_ports")
    if ports:
        found.append(Bound("ephemeral_ports", ports_per_client(ports) * CLIENT_SOURCES,
                           f"{ports:,} ports ({PORTS_KEPT_FREE} kept free) x {CLIENT_SOURCES} "
                           f"loopback client addresses (one client host: {ports:,})"))
    conntrack = limits.get("nf_conntrack_max")
    if conntrack and limits.get("nf_conntrack_count"):
        found.append(Bound("nf_conntrack_max",
                           _headroom(conntrack, limits["nf_conntrack_count"]) or 0,
                           f"{conntrack:,} tracked connections - "
                           f"{limits['nf_conntrack_count']:,} in use"))
    return found


def capacity(model: str, variant: str, limits: dict, total_per_waiter: float | None = None,
             maps_per_waiter: float | None = None, maps_fixed: float | None = None) -> Bound | None:
    """The binding bound: the one allowing the fewest waiters (``None`` if none known)."""
    found = bounds(model, variant, limits, total_per_waiter, maps_per_waiter, maps_fixed)
    return min(found, key=lambda bound: bound.waiters) if found else None


def with_child_rlimits(limits: dict, spec: str) -> dict:
    """``limits`` as a probe child saw them after ``--child-rlimit`` lowered some."""
    names = {"nofile": "rlimit_nofile", "nproc": "rlimit_nproc", "stack": "rlimit_stack"}
    limits = dict(limits)
    for name, value in rlimits.items(spec, "child_rlimits"):
        if name in names:
            limits[names[name]] = {"soft": value, "hard": value}
    return limits
