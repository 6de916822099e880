"""The connections workload's kernel memory split between its clients and its server,
by slab counts (``/proc/slabinfo``).

Kernel growth with both ends open is the *pair*. Each client connection is one plain
socket, and nothing else. The **client's share** is N times the slab footprint (pages
per slab / objects per slab) of a TCP sock and a file, the unreclaimable slabs a socket
takes; the server's share (the record's ``kernel``, used by ``total`` and capacity) is
the pair minus that: its own sockets and whatever the model adds per connection (epoll
entries, thread stacks, worker processes' page tables). Freeing one side to measure the
other cannot work: client and server socks are allocated alternately into the same slab
pages, so killing the servers frees almost no page (measured: 6% of the pair). A socket
also pins a socket inode and a dentry, which the kernel files as *reclaimable* slab and
the kernel view leaves out: the record gives their footprint per socket. Where
/proc/slabinfo is not readable, the server is charged with the pair, and the record
says so.
"""

import os

# The unreclaimable slabs a plain socket takes (counted by the kernel view, SUnreclaim),
# and the "reclaimable" ones it pins while open (SReclaimable: not in the kernel view).
CLIENT_SOCKET_CACHES = ("TCP", "filp")
PINNED_CACHES = ("sock_inode_cache", "dentry")
SHOWN_CACHES = CLIENT_SOCKET_CACHES + PINNED_CACHES + ("eventpoll_epi", "eventpoll_pwq")


def slabinfo(path: str = "/proc/slabinfo") -> dict | None:
    """{cache: (active objects, bytes one object takes in its slab)}, or ``None`` where
    the file is not readable (root only on most systems)."""
    page = os.sysconf("SC_PAGE_SIZE")
    found = {}
    try:
        with open(path) as handle:
            for line in handle:
                fields = line.split()
                if len(fields) < 6 or not fields[1].isdigit():
                    continue  # the header lines
                name, active, _total, _size, per_slab, pages = fields[:6]
                if int(per_slab) > 0:
                    found[name] = (int(active), int(pages) * page / int(per_slab))
    except (OSError, ValueError):
        return None
    return found or None


def client_share(n: int, before: dict | None, now: dict | None) -> dict:
    """The clients' kernel memory, from slab counts: each client connection is one plain
    socket and nothing else, so its share of the kernel view is N times the slab
    footprint of a TCP sock and a file (the unreclaimable slabs a socket takes). The
    server's share is the rest of the pair's growth: its own sockets and whatever the
    model adds per connection. A socket also pins a socket inode and a dentry, which
    the kernel files under reclaimable slabs (not in the kernel view): recorded per
    socket, for the reader."""
    needed = CLIENT_SOCKET_CACHES + PINNED_CACHES
    if before is None or now is None or any(cache not in now for cache in needed):
        return {"kernel_client": None,
                "kernel_split": "not split: /proc/slabinfo is not readable here; the "
                                "server is charged with the whole pair"}
    per_socket = sum(now[cache][1] for cache in CLIENT_SOCKET_CACHES)
    return {"kernel_client": round(n * per_socket),
            "kernel_client_per_socket": per_socket,
            "pinned_reclaimable_per_socket": sum(now[cache][1] for cache in PINNED_CACHES),
            "kernel_split": "clients' sockets x slab footprint of a TCP sock and a file "
                            "(/proc/slabinfo); the server: the pair minus that",
            "slab_objects_added": {cache: now[cache][0] - before[cache][0]
                                   for cache in SHOWN_CACHES if cache in now and cache in before}}
