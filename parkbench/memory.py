"""Memory views of a probe's process tree, each named for what it is.

- ``rss``: resident set size. For a tree of processes it is the naive sum, which counts
  every shared page once per process that maps it.
- ``vms``: virtual size (a thread reserves its whole stack here, resident or not).
- ``uss``: unique set size, pages no other process maps.
- ``pss``: proportional set size, each shared page divided among the processes that map
  it; summed over a tree it is the honest total of user memory.

USS and PSS come from /proc/<pid>/smaps_rollup through psutil, which is slow and takes
memory-management locks: read them once per measurement, never while timing.
"""

import psutil

VIEWS = ("rss", "vms", "uss", "pss")


def tree_views(pid: int | None = None) -> dict:
    """Sum of each view over the process ``pid`` (default: this one) and its children.

    Returns the views in bytes plus ``processes``, the number of processes summed.
    """
    root = psutil.Process(pid)
    processes = [root] + root.children(recursive=True)
    totals = dict.fromkeys(VIEWS, 0)
    counted = 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.NoSuchProcess:
            continue  # a child that already exited holds no memory
        for view in VIEWS:
            totals[view] += getattr(info, view)
        counted += 1
    totals["processes"] = counted
    return totals
