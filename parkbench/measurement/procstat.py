"""Each process's /proc/<pid>/stat, read as its fields after the name: the name (in
parentheses) may hold anything, spaces and ')' included, so fields count from its last
')'. Field 0 is the state, 1 the parent, 2 the process group, 3 the session, 11-14
utime, stime, cutime and cstime (clock ticks; ``man 5 proc`` numbers them from 3).
Imports nothing heavy."""

import os


def fields(stat_text: str) -> list[str]:
    """The fields of one /proc/<pid>/stat after the process's name."""
    return stat_text[stat_text.rindex(")") + 2:].split()


def each(proc: str = "/proc"):
    """(pid, fields) of every process under ``proc``; one that ended meanwhile (or whose
    file cannot be read) is left out."""
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat") as handle:
                text = handle.read()
            yield int(name), fields(text)
        except (OSError, ValueError):
            continue
