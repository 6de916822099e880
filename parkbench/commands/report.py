"""``parkbench report``: execute the report notebook over the results, write HTML."""

from pathlib import Path

from parkbench.commands import output
from parkbench.presentation import report


def run(args) -> int:
    machines = [m for m in args.machines.split(",") if m] if args.machines else None
    set_aside: list = []
    try:
        written = report.render(Path(args.results), Path(args.output or args.results), machines,
                                set_aside=set_aside)
    finally:
        output.set_aside(set_aside)
    output.write("wrote " + ", ".join(str(path) for path in written))
    return 0
