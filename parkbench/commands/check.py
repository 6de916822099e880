"""``parkbench check [RESULTS]``: every run file (and each machine folder's
``machine.json``) read and checked as the readers read it. The readers set a bad run
file aside and answer from the rest; ``check`` lists each bad file with what is wrong
and exits 2 if there is any, for CI and for a user who wants to know."""

from parkbench.commands import output
from parkbench.core.errors import EXIT_USER_ERROR
from parkbench.store import run_reader
from parkbench.store.checker import printable


def run(args) -> int:
    checked, bad = run_reader.check(args.results)
    lines = [f"bad: {printable(refused.text())}" for refused in bad]
    lines.append(f"checked {checked:,} files under {printable(args.results)}: "
                 + (f"{len(bad):,} bad (show, fit, compare and report set "
                    f"{'it' if len(bad) == 1 else 'them'} aside)" if bad else "all good"))
    output.write("\n".join(lines))
    return EXIT_USER_ERROR if bad else 0
