"""The server's CPU time as the served probe reads it from outside (``loadgen_driver
.cpu_seconds``), against what a process tree making syscalls says of itself: user plus
system time (a network server spends most of its time in the kernel), a worker that
ended and was reaped (its parent's cutime and cstime), one that ended and was not reaped
yet (a zombie's own times), and many short workers whose times in whole clock ticks
would each lose up to 10 ms (a worker-per-connection server forks 16 a step)."""

import subprocess
import sys
import textwrap

import pytest

from parkbench.measurement.probes import loadgen_driver

# A parent and its children each copying 64 KiB from /dev/zero (system time, mostly):
# child A ends and is reaped; child B and 16 short workers end and are left zombies; each
# writes its own getrusage (user, system) to the parent, which prints the parent's, A's
# and the zombies' sums, then waits to be told to exit (so that it is read alive).
TREE = textwrap.dedent("""
    import os, resource, sys, time

    READS = 150_000                          # about 0.2 s of CPU each, wherever it runs
    SHORT = 4_000                            # a few ms each: a short worker's share

    def work(reads):
        zero = os.open("/dev/zero", os.O_RDONLY)
        for _ in range(reads):
            os.read(zero, 65536)

    def own():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime, usage.ru_stime

    sys.stdin.readline()                     # the reading before
    pids = []
    for reads in [READS, READS] + [SHORT] * 16:
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:
            work(reads)
            os.write(writer, ("%r %r" % own()).encode())
            os._exit(0)
        os.close(writer)
        pids.append((pid, reader))
    work(READS)
    children = [tuple(map(float, os.read(reader, 100).split())) for _, reader in pids]
    os.waitpid(pids[0][0], 0)                # A reaped: its times are the parent's cutime now
    for pid, _ in pids[1:]:                  # the others ended, not reaped: zombies
        while open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.01)
    zombies = [sum(c[0] for c in children[1:]), sum(c[1] for c in children[1:])]
    print(*own(), *children[0], *zombies, sum(map(sum, children[2:])), flush=True)
    sys.stdin.readline()                     # the reading after
""")


def test_the_servers_cpu_is_user_plus_system_of_the_living_the_reaped_and_the_zombies():
    tree = subprocess.Popen([sys.executable, "-c", TREE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        before = loadgen_driver.cpu_seconds([tree.pid])
        tree.stdin.write("go\n")
        tree.stdin.flush()
        parent_user, parent_system, a_user, a_system, b_user, b_system, short = map(
            float, tree.stdout.readline().split())
        after = loadgen_driver.cpu_seconds([tree.pid])
    finally:
        tree.stdin.write("done\n")
        tree.stdin.close()
        tree.wait(10)
    said = parent_user + parent_system + a_user + a_system + b_user + b_system
    system = parent_system + a_system + b_system
    assert system > 0.5 * said     # the work was in the kernel: user time alone would miss most of it
    # what the tree said of itself, within two clock ticks for the parent's own and A's
    # (each in whole ticks) and rounding for the rest
    slack = 2 * 0.01 + 0.01
    assert after - before == pytest.approx(said, abs=slack)
    # each part is more than the slack: leaving out the reaped child, the zombies, or the
    # short workers' fractions of a tick fails
    assert min(a_user + a_system, b_user + b_system - short) > slack
    assert short > 2 * slack
