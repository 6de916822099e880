"""The memory views of a process tree: every process counted once, the excluded ones and
everything below them left out, mappings counted line by line."""

import os
import subprocess
import sys
from collections import namedtuple

import psutil

from parkbench.measurement import memory

# a process that starts a child, which starts a grandchild (a client with helpers, say);
# each prints the pid of the process it started
SLEEPER = "import time; time.sleep(60)"
MIDDLE = ("import subprocess, sys, time\n"
          f"child = subprocess.Popen([sys.executable, '-c', {SLEEPER!r}])\n"
          "print(child.pid, flush=True)\n"
          "time.sleep(60)\n")
PARENT = ("import subprocess, sys, time\n"
          f"child = subprocess.Popen([sys.executable, '-c', {MIDDLE!r}], stdout=subprocess.PIPE, text=True)\n"
          "print(child.stdout.readline().strip(), flush=True)\n"
          "time.sleep(60)\n")


def test_excluded_processes_and_their_children_are_left_out():
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(parent.stdout.readline())
        me = psutil.Process()
        assert {p.pid for p in me.children(recursive=True)} >= {helper.pid, parent.pid, grandchild}
        everything = memory.tree_views(os.getpid())
        without = memory.tree_views(os.getpid(), exclude=[parent.pid])
        assert everything["processes"] - without["processes"] == 3  # the parent and all below it
        alone = memory.tree_views(helper.pid)
        assert alone["processes"] == 1
        with open(f"/proc/{helper.pid}/maps", "rb") as maps:
            assert alone["maps"] == len(maps.readlines())
        assert alone["rss"] == psutil.Process(helper.pid).memory_info().rss
    finally:
        below = psutil.Process(parent.pid).children(recursive=True)
        for process in (helper, parent):
            process.kill()
            process.wait()
        for process in below:  # orphans once their parent died: init reaps them
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


def test_tree_views_sum_each_view_from_its_own_field_over_the_whole_tree(monkeypatch):
    workers = [_FakeProcess(11, FullInfo(rss=1000, vms=9000, uss=100, pss=300)),
               _FakeProcess(12, FullInfo(rss=1001, vms=9001, uss=101, pss=301))]
    grandchild = [_FakeProcess(13, FullInfo(rss=7, vms=70, uss=1, pss=3))]  # e.g. a forkserver's worker
    root = _FakeProcess(10, FullInfo(rss=50_000, vms=90_000, uss=20_000, pss=30_000), workers, grandchild)
    monkeypatch.setattr(memory.psutil, "Process", lambda pid=None: root)
    monkeypatch.setattr(memory, "_count_mappings", lambda pid: pid)  # 10 + 11 + 12 + 13
    views = memory.tree_views()
    assert views == {"rss": 52_008, "vms": 108_071, "uss": 20_202, "pss": 30_604,
                     "maps": 46, "threads": 10, "processes": 4}


def test_a_process_that_ends_while_it_is_read_is_skipped_not_fatal(monkeypatch):
    class Gone(_FakeProcess):
        def memory_full_info(self):
            raise memory.psutil.NoSuchProcess(self.pid)

    root = _FakeProcess(10, FullInfo(rss=5, vms=5, uss=5, pss=5),
                        [Gone(11, None), _FakeProcess(12, FullInfo(rss=1, vms=1, uss=1, pss=1))])
    monkeypatch.setattr(memory.psutil, "Process", lambda pid=None: root)
    monkeypatch.setattr(memory, "_count_mappings", lambda pid: 1)
    assert memory.tree_views() == {"rss": 6, "vms": 6, "uss": 6, "pss": 6, "maps": 2, "threads": 4, "processes": 2}


def test_kernel_fields_absent_from_meminfo_count_as_zero(tmp_path):
    path = tmp_path / "meminfo"
    path.write_text("MemTotal: 100 kB\nKernelStack: 4 kB\n")
    assert memory.kernel_meminfo(str(path)) == {"KernelStack": 4096, "SUnreclaim": 0, "PageTables": 0}
    assert memory.kernel_meminfo(str(tmp_path / "absent")) == {"KernelStack": 0, "SUnreclaim": 0, "PageTables": 0}


def test_kernel_growth_sums_the_three_fields(tmp_path):
    before = tmp_path / "before"
    after = tmp_path / "after"
    before.write_text("MemTotal: 100 kB\nKernelStack: 10 kB\nSUnreclaim: 20 kB\nPageTables: 30 kB\nSlab: 999 kB\n")
    after.write_text("MemTotal: 100 kB\nKernelStack: 16 kB\nSUnreclaim: 27 kB\nPageTables: 38 kB\nSlab: 5 kB\n")
    growth = memory.kernel_growth(memory.kernel_meminfo(str(before)), memory.kernel_meminfo(str(after)))
    assert growth == (6 + 7 + 8) * 1024


FullInfo = namedtuple("FullInfo", "rss vms uss pss")


class _FakeProcess:
    def __init__(self, pid, info, children=(), grandchildren=()):
        self.pid, self._info = pid, info
        self._children, self._grandchildren = list(children), list(grandchildren)

    def memory_full_info(self):
        return self._info

    def num_threads(self):
        return self.pid - 9  # 1, 2, 3 ... : each process's own count

    def children(self, recursive=False):
        return self._children + (self._grandchildren if recursive is True else [])
