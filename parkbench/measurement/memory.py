"""Memory views of a probe's process tree, each named for what it is.

- ``rss``: resident set size. For a tree of processes it is the naive sum, which counts
  every shared page once per process that maps it.
- ``vms``: virtual size (a thread reserves its whole stack here, resident or not).
- ``uss``: unique set size, pages no other process maps.
- ``pss``: proportional set size, each shared page divided among the processes that map
  it; summed over a tree it is the honest total of user memory.

- ``kernel``: growth of the kernel's own memory (KernelStack + SUnreclaim slab +
  PageTables in /proc/meminfo) since a baseline. A thread's kernel stack, task struct
  and page tables never show in RSS. The figure is system-wide, so anything else the
  machine does at the same time lands in it too: it is noisier than the other views.

``tree_views`` also counts ``maps``, the memory mappings (a thread stack takes more
than one, and vm.max_map_count bounds them), and ``threads``, the OS threads of the tree
at the reading (a reading of parked threads or workers must see them).

USS and PSS come from /proc/<pid>/smaps_rollup through psutil, which is slow and takes
memory-management locks: read them once per measurement, never while timing.
"""

import psutil

VIEWS = ("rss", "vms", "uss", "pss")
KERNEL_FIELDS = ("KernelStack", "SUnreclaim", "PageTables")


def tree_views(pid: int | None = None, exclude=()) -> dict:
    """Sum of each view over the process ``pid`` (default: this one) and its children,
    leaving out the processes of ``exclude`` and their children (a connections probe's
    clients, which are not the measured server).

    Returns the views in bytes plus ``processes``, the number of processes summed.
    """
    root = psutil.Process(pid)
    left_out = set(exclude)
    for excluded in list(left_out):
        try:
            left_out.update(child.pid for child in psutil.Process(excluded).children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    processes = [root] + [child for child in root.children(recursive=True)
                          if child.pid not in left_out]
    totals = dict.fromkeys(VIEWS, 0)
    totals["maps"] = totals["threads"] = 0
    counted = 0
    for process in processes:
        try:
            info = process.memory_full_info()
            maps = _count_mappings(process.pid)
            threads = process.num_threads()
        except psutil.NoSuchProcess:
            continue  # a child that already exited holds no memory
        for view in VIEWS:
            totals[view] += getattr(info, view)
        totals["maps"] += maps
        totals["threads"] += threads
        counted += 1
    totals["processes"] = counted
    return totals


def _count_mappings(pid: int) -> int:
    """Memory mappings of a process (vm.max_map_count bounds them per process)."""
    try:
        with open(f"/proc/{pid}/maps", "rb") as handle:
            return sum(1 for _ in handle)
    except FileNotFoundError:
        raise psutil.NoSuchProcess(pid) from None


def kernel_meminfo(path: str = "/proc/meminfo") -> dict:
    """The kernel-memory fields of /proc/meminfo, in bytes (absent fields are 0)."""
    values = dict.fromkeys(KERNEL_FIELDS, 0)
    try:
        with open(path) as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                if name in values:
                    values[name] = int(rest.split()[0]) * 1024  # meminfo counts kB
    except FileNotFoundError:
        pass  # not Linux: no kernel view
    return values


def kernel_growth(baseline: dict, now: dict) -> int:
    """Bytes of kernel memory gained between two ``kernel_meminfo`` readings."""
    return sum(now[field] - baseline[field] for field in KERNEL_FIELDS)
