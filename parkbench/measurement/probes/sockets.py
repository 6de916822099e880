"""Idle-socket waiters: what the socket variants of threads, asyncio, uvloop and gevent
share. Each waiter blocks reading its own end of a connected socketpair; the probe holds
the other end and wakes the waiter by sending it one byte. A waiter then costs two file
descriptors and two kernel socket buffers on top of the model's own cost.
"""

import resource

from parkbench.measurement.limits import DESCRIPTOR_MARGIN
from parkbench.measurement.probes import LimitReached


def ensure_descriptors(n: int) -> dict:
    """Raise the soft RLIMIT_NOFILE to the hard limit if ``n`` socketpairs need it;
    return what was done, for the record (the probe says so rather than do it silently)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * n + DESCRIPTOR_MARGIN
    note = {"nofile_soft": soft, "nofile_hard": hard, "nofile_raised_to": None}
    if needed > soft and soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        note["nofile_raised_to"] = hard
    return note


def socketpairs(n: int, make_pair) -> list:
    """``n`` connected pairs from ``make_pair``; running out of descriptors is the limit."""
    pairs = []
    for _ in range(n):
        try:
            pairs.append(make_pair())
        except OSError as exc:  # EMFILE / ENFILE
            for waiter_end, probe_end in pairs:
                waiter_end.close()
                probe_end.close()
            raise LimitReached(len(pairs), exc) from exc
    return pairs


def wake(pairs) -> None:
    """One byte to each pair's probe end: the waiter parked on its other end wakes."""
    for _, probe_end in pairs:
        probe_end.send(b"w")
