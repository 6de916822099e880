"""Reading the run files of a results folder, a machine folder or one run file, where
one bad file does not poison the rest.

In a folder, a run file that its check refuses (``results.read_run``: not a regular
file, too large, not JSON, of another format or version, a value out of range) is set
aside: the reader gets a ``SetAside`` naming the file and what is wrong, and answers
from the others. A folder where every run file is bad is still an error (one line: the
first file's reason). A run file named explicitly (``compare a.json b.json``, ``show
run.json``) stays strict: its error is the command's. ``parkbench check`` reads the
same way and exits 2 on any bad file. Everything here returns data; the commands print.

A run is read once (``FirstOfEachRun``): of two files holding the same machine and run id
(a copy under another run id's name, a hard link), the first in reading order (machine
folder, then file name; targets in the order given) is read and each other one is set
aside naming both, so no figure is counted twice (named explicitly too: its run is
answered from the first). One file reached twice (by targets that overlap, ``results``
and ``results/m``) is simply read once.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from parkbench.core.errors import UserError
from parkbench.store import results


@dataclass(frozen=True)
class SetAside:
    """A run file a reader set aside, and the reader's reason (it names the file)."""

    path: Path
    reason: str
    again: bool = False  # a second file of a run read from another file

    def text(self) -> str:
        """``<path>: <what is wrong>`` (the reason as the reader gave it)."""
        if self.reason.startswith(str(self.path)):
            return self.reason
        return f"{self.path}: {self.reason}"


class FirstOfEachRun:
    """The file read for each (machine, run id) so far: a run's figures count once."""

    def __init__(self) -> None:
        self.read: dict[tuple[str, str], Path] = {}

    def claim(self, path: Path, document: dict) -> dict | SetAside | None:
        """``document`` if its run is new; ``None`` if ``path`` is the very file already
        read for it; else a ``SetAside`` naming ``path`` and the file that is read."""
        key = (document["machine"], document["run_id"])
        first = self.read.setdefault(key, path)
        if first is path:
            return document
        if first.resolve() == path.resolve():
            return None
        return SetAside(path, f"{path}: run {key[1]} of machine {key[0]} again; it is read from "
                              f"{first} (a run counts once: remove one of the two)", again=True)


def each_run(target, set_aside: list | None = None,
             first: FirstOfEachRun | None = None) -> Iterator[tuple[Path, dict]]:
    """(path, checked document) of every run file of ``target``, oldest first, one at a
    time (a year of runs is never held in memory at once), each run once (``first``:
    shared by the targets of one reading).

    With ``set_aside`` a list, a bad run file of a folder, or a second file of a run
    already read, is appended to it and passed over; without, its error is raised. A
    target with run files but none readable raises the first one's error: so a run
    file named as ``target`` stays strict."""
    target = Path(target)
    first = FirstOfEachRun() if first is None else first
    good, again, bad = 0, 0, []
    for path in results.find_run_files(target):
        document = read_once(path, first)
        if document is None:
            continue
        if isinstance(document, SetAside):
            again += document.again
            if set_aside is None:
                raise UserError(document.reason)
            bad.append(document)
            continue
        good += 1
        yield path, document
    if bad and not good and not again:
        raise UserError(all_bad(target, bad))
    if set_aside is not None:
        set_aside.extend(bad)


def all_bad(target: Path, bad: list) -> str:
    """The one line of a folder whose every run file is bad."""
    if len(bad) == 1:
        return bad[0].reason
    others = len(bad) - 1
    return (f"{bad[0].text()} (and {others} more bad run file{'s' if others > 1 else ''} under "
            f"{str(target)!r}, none readable; 'parkbench check {target}' lists them)")


def read_or_set_aside(path: Path) -> dict | SetAside:
    """The checked document, or why the reader refuses the file."""
    try:
        return results.read_run(path)
    except UserError as exc:
        return SetAside(Path(path), str(exc))


def read_once(path: Path, first: FirstOfEachRun) -> dict | SetAside | None:
    """``read_or_set_aside``, and the file set aside if its run was read from another
    file (``first``); ``None`` if this very file was read already."""
    document = read_or_set_aside(path)
    return document if isinstance(document, SetAside) else first.claim(path, document)


def check(target) -> tuple[int, list]:
    """How many files ``target`` holds (run files, and the ``machine.json`` of each
    machine folder they lie in), and the ``SetAside`` of each the readers refuse."""
    paths = results.find_run_files(target)
    first = FirstOfEachRun()
    bad = [found for found in (read_once(path, first) for path in paths) if isinstance(found, SetAside)]
    machines = sorted({path.parent / "machine.json" for path in paths
                       if (path.parent / "machine.json").is_file()})
    for machine in machines:
        try:
            results.read_machine(machine)
        except UserError as exc:
            bad.append(SetAside(machine, str(exc)))
    return len(paths) + len(machines), bad
