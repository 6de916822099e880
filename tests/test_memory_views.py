"""The memory views of a process tree: every process counted once, the excluded ones and
everything below them left out, mappings counted line by line."""

import os
import subprocess
import sys

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
