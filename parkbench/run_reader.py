"""Reading the run files of a results folder, a machine folder or one run file, where
one bad file does not poison the rest.

In a folder, a run file that its check refuses (``results.read_run``: not a regular
file, too large, not JSON, of another format or version, a value out of range) is set
aside: the reader gets a ``SetAside`` naming the file and what is wrong, and answers
from the others. A folder where every run file is bad is still an error (one line: the
first file's reason). A run file named explicitly (``compare a.json b.json``, ``show
run.json``) stays strict: its error is the command's. ``parkbench check`` reads the
same way and exits 2 on any bad file. Everything here returns data; the commands print.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from parkbench import results
from parkbench.errors import UserError


@dataclass(frozen=True)
class SetAside:
    """A run file a reader set aside, and the reader's reason (it names the file)."""

    path: Path
    reason: str

    def text(self) -> str:
        """``<path>: <what is wrong>`` (the reason as the reader gave it)."""
        if self.reason.startswith(str(self.path)):
            return self.reason
        return f"{self.path}: {self.reason}"


def each_run(target, set_aside: list | None = None) -> Iterator[tuple[Path, dict]]:
    """(path, checked document) of every run file of ``target``, oldest first, one at a
    time (a year of runs is never held in memory at once).

    With ``set_aside`` a list, a bad run file of a folder is appended to it and passed
    over; without, its error is raised. A target with run files but none readable
    raises the first one's error: so a run file named as ``target`` stays strict."""
    target = Path(target)
    strict = set_aside is None
    good, bad = 0, []
    for path in results.find_run_files(target):
        document = read_or_set_aside(path)
        if isinstance(document, SetAside):
            if strict:
                raise UserError(document.reason)
            bad.append(document)
            continue
        good += 1
        yield path, document
    if bad and not good:
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


def check(target) -> tuple[int, list]:
    """How many files ``target`` holds (run files, and the ``machine.json`` of each
    machine folder they lie in), and the ``SetAside`` of each the readers refuse."""
    paths = results.find_run_files(target)
    bad = [found for found in map(read_or_set_aside, paths) if isinstance(found, SetAside)]
    machines = sorted({path.parent / "machine.json" for path in paths
                       if (path.parent / "machine.json").is_file()})
    for machine in machines:
        try:
            results.read_machine(machine)
        except UserError as exc:
            bad.append(SetAside(machine, str(exc)))
    return len(paths) + len(machines), bad
