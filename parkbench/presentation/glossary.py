"""The report's words: each term a reader meets on the page (memory views, the OS limits
that bind, the served rate's vocabulary, the notation of the plots), defined once, and
the short names the headline table gives the binding limits. The notebook shows the
glossary near the top; the tables and plots use the terms as they are defined here.
"""

from parkbench.analysis.capacity import LIMIT_MATCH
from parkbench.analysis.map_checks import SHARES
from parkbench.measurement.knee import ACHIEVED_SHARE, GENERATOR_SHARE

# The OS limits ``measurement/limits.py`` names as binding: the headline's short label,
# and what the limit is (with how to raise it). Every name a capacity figure can carry.
LIMITS = {
    "memory": ("memory", "the machine's available memory divided by the total (PSS + kernel) "
                         "per waiter"),
    "max_map_count": ("map count", "vm.max_map_count, the memory mappings one process may hold "
                                   "(each thread stack takes more than one); sysctl vm.max_map_count"),
    "rlimit_nofile": ("fds", "RLIMIT_NOFILE's soft limit, the open file descriptors (sockets, "
                             "pipes) one process may hold; ulimit -n"),
    "rlimit_nofile_hard": ("fds hard", "RLIMIT_NOFILE's hard limit: a connections server raises "
                                         "its soft limit to it and stops there, a few kept free; "
                                         "limits.conf or systemd's LimitNOFILE"),
    "rlimit_nproc": ("nproc", "RLIMIT_NPROC, the threads and processes one user may run; ulimit -u"),
    "pid_max": ("pid_max", "kernel.pid_max, the largest process or thread id"),
    "threads_max": ("threads-max", "kernel.threads-max, the threads the whole system may run"),
    "cgroup_pids_max": ("cgroup pids", "the cgroup's pids.max, the tasks its processes may run"),
    "ephemeral_ports": ("ports", "the local ports a client may connect from "
                                 "(net.ipv4.ip_local_port_range), per client address"),
    "nf_conntrack_max": ("conntrack", "net.netfilter.nf_conntrack_max, the connections the "
                                      "firewall tracks"),
    "unidentified": ("unidentified", f"the OS refused, and no known limit was within {LIMIT_MATCH:.0%} "
                                     "of the count"),
}

# Term -> definition, in the order a reader meets them.
TERMS = {
    "waiter": "one parked unit of a concurrency model (a thread, a task, a greenlet, a worker "
              "process, a goroutine), blocked until woken",
    "RSS": "resident set size: the memory pages of a process that are in RAM, shared ones counted "
           "in full by every process that maps them",
    "USS": "unique set size: the pages only this process maps (what its exit would free)",
    "PSS": "proportional set size: USS plus each shared page divided by the processes sharing "
           "it; summed over a process tree it counts every page once",
    "kernel": "the kernel's own memory for the waiters (KernelStack + unreclaimable slab + "
              "page tables in /proc/meminfo); read system-wide, so noisier",
    "total": "PSS + kernel: what capacity planning should use",
    "slope": "bytes per waiter: the slope of memory against N, each N in a fresh process",
    "hand-off": "one waiter waking another and blocking; timed as half a round trip",
    "same-core / cross-core": "both waiters pinned to one CPU, or to two",
    "capacity": "waiters one machine holds: measured where a sweep met the OS's ceiling, "
                "else predicted from memory and the OS limits below",
    "measured / predicted": "a capacity the OS refused at (measured), or one computed from the "
                            "limits and the cost per waiter (predicted)",
    "binding limit": "the limit that stops a model first; the headline names it by the short "
                     "label in brackets below",
    **{name + ("" if short == name else f" ({short})"): meaning for name, (short, meaning) in LIMITS.items()},
    "vs go": "a figure over a goroutine's, measured the same way on the same machine",
    "edge": "the highest rate (wake-ups or requests per second) a model sustained beside W "
            "parked waiters or idle connections: what the maps size by",
    "W / R": "W: concurrent idle waiters (or connections); R: wake-ups (or requests) per second",
    "SLO": "the latency objective a step's p99 must meet (the run's setting, drawn on the "
           "latency plots)",
    "p50 / p99 / p99.9": "the latency half, 99% and 99.9% of the requests (or hand-offs) "
                         "stayed under",
    "saturation": f"the highest offered rate the server kept up with: achieved {ACHIEVED_SHARE:.0%} of offered, "
                  "nothing lost, its median not climbing",
    "floor": "the load generator's own null echo server holding the same W: the machine's "
             "latency, the server taken away",
    "floor-bound": "the machine's floor itself missed the SLO, so saturation speaks",
    "generator-bound": f"the knee search stopped short of {GENERATOR_SHARE:.0%} of the load generator's own "
                       "ceiling: the generator, not the server, may have been the limit; sized "
                       "by 1 / CPU per request",
    "knee": "the highest rate held, found by the knee search (rates rising, then bisected)",
    "round": "one pass of the knee search over its rates; each rate is judged by the majority "
             "of rounds",
    "knee spread": "(highest - lowest) / knee of the knee over rounds",
    "churn": "waiters created and woken again and again (connections that come and go): "
             "the spawn and wake cost per waiter",
    "N^b": "the time to spawn (or wake) N waiters grows as N to the power b, fitted on log-log "
           "axes: b = 1 is linear (a flat line per waiter), above 1 each waiter costs more as N "
           "grows; given where a straight line would mislead",
    "x predicted rate": f"a checked point's offered rate over the map's edge at that W "
                        f"({SHARES[0]:.2f}x: the map says it fits; {SHARES[1]:.2f}x: it does not)",
    "MiB / KiB": "2^20 and 2^10 bytes; MB and KB are 10^6 and 10^3",
}


def short_limit(name: str) -> str:
    """The headline's label of a binding limit: its short name (the name itself if unknown)."""
    return LIMITS.get(name, (name, ""))[0]


def limits_key(names) -> str:
    """'map count = max_map_count; fds hard = rlimit_nofile_hard': the short labels of
    the limits ``names`` that differ from their names, for the line under a table."""
    shown = [f"{short_limit(name)} = {name}" for name in dict.fromkeys(names)
             if short_limit(name) != name]
    return "; ".join(shown)


def markdown() -> str:
    """The glossary as a Markdown definition list (bold term, then its meaning)."""
    return "\n".join(f"- **{term}**: {meaning}" for term, meaning in TERMS.items())
