"""The server's CPU time as the served probe reads it from outside (``loadgen_driver
.cpu_seconds``), against what a process tree making syscalls says of itself: user plus
system time (a network server spends most of its time in the kernel), a worker that
ended and was reaped (its parent's cutime and cstime), and one that ended and was not
reaped yet (a zombie's own times)."""

import subprocess
import sys
import textwrap

import pytest

from parkbench.measurement.probes import loadgen_driver

# A parent and two children each copying 64 KiB from /dev/zero 150,000 times (system time,
# mostly):
# child A ends and is reaped, child B ends and is left a zombie; each writes its own
# getrusage (user, system) to the parent, which prints the three, then waits to be told
# to exit (so that it is read alive).
TREE = textwrap.dedent("""
    import os, resource, sys, time

    READS = 150_000                          # about 0.2 s of CPU each, wherever it runs

    def work(reads):
        zero = os.open("/dev/zero", os.O_RDONLY)
        for _ in range(reads):
            os.read(zero, 65536)

    def own():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime, usage.ru_stime

    sys.stdin.readline()                     # the reading before
    pids = []
    for _ in range(2):
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:
            work(READS)
            os.write(writer, ("%r %r" % own()).encode())
            os._exit(0)
        os.close(writer)
        pids.append((pid, reader))
    work(READS)
    children = [tuple(map(float, os.read(reader, 100).split())) for _, reader in pids]
    os.waitpid(pids[0][0], 0)                # A reaped: its times are the parent's cutime now
    while open(f"/proc/{pids[1][0]}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)                     # B ended, not reaped: a zombie
    print(*own(), *children[0], *children[1], flush=True)
    sys.stdin.readline()                     # the reading after
""")


def test_the_servers_cpu_is_user_plus_system_of_the_living_the_reaped_and_the_zombies():
    tree = subprocess.Popen([sys.executable, "-c", TREE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        before = loadgen_driver.cpu_seconds([tree.pid])
        tree.stdin.write("go\n")
        tree.stdin.flush()
        parent_user, parent_system, a_user, a_system, b_user, b_system = map(float, tree.stdout.readline().split())
        after = loadgen_driver.cpu_seconds([tree.pid])
    finally:
        tree.stdin.write("done\n")
        tree.stdin.close()
        tree.wait(10)
    said = parent_user + parent_system + a_user + a_system + b_user + b_system
    system = parent_system + a_system + b_system
    assert system > 0.5 * said     # the work was in the kernel: user time alone would miss most of it
    # what the tree said of itself, within two clock ticks per process (/proc counts ticks)
    assert after - before == pytest.approx(said, abs=6 * 0.01 + 0.02)
    # each child's share is more than the slack: leaving out the reaped one or the zombie fails
    assert min(a_user + a_system, b_user + b_system) > 6 * 0.01 + 0.02
