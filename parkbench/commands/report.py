"""``parkbench report``: execute the report notebook over the results, write HTML."""

from pathlib import Path

from parkbench.commands import output


def run(args) -> int:
    from parkbench import report

    machines = [m for m in args.machines.split(",") if m] if args.machines else None
    written = report.render(Path(args.results), Path(args.output or args.results), machines)
    output.write("wrote " + ", ".join(str(path) for path in written))
    return 0
