"""``parkbench fit``: machines each model needs for W idle waiters and R wake-ups per
second, from each machine's current figures (``current.py``), naming where each figure
came from: waiters woken in-process are sized by the hand-off, connections serving
requests by the requests a server was measured to serve (``served_figures.py``)."""

import math

from parkbench.analysis import current, sizing
from parkbench.commands import output
from parkbench.core.errors import UserError
from parkbench.core.units import format_bytes, format_count, parse_count, parse_size


def machine_cores(current) -> dict:
    """machine -> logical CPUs, from the newest run that recorded them."""
    cores = {}
    for run in current.used_runs():
        if run.logical_cpus:
            cores[run.machine] = run.logical_cpus
    return cores


def _label(row) -> str:
    return f"{row['model']}/{row['variant']}" + (" (ref)" if row["reference"] else "")


def run(args) -> int:
    waiters = parse_count(args.waiters)
    rate = parse_count(args.rate, allow_zero=True)
    memory = parse_size(args.memory) if args.memory is not None else None
    figures = current.load(args.results, memory_bytes=memory)
    output.set_aside(figures.set_aside)
    frame = figures.frame
    if args.machine is not None:
        if args.machine not in set(frame.machine):
            raise UserError(f"unknown machine {args.machine!r}; results hold: "
                            f"{', '.join(sorted(set(frame.machine)))}")
        frame = frame[frame.machine == args.machine]
    profiles = sizing.profiles(frame, machine_cores(figures))
    rows = sizing.answer(profiles, waiters, rate)
    if not rows:
        raise UserError("no model has both a total per waiter and a hand-off time in these "
                        "results; run 'parkbench run' (memory and latency) first")
    memory_note = f", a machine of {format_bytes(memory)}" if memory else ""
    lines = [f"workload: {waiters:,} idle waiters, {rate:,} wake-ups/s{memory_note}"]
    header = (f"{'machine':<20} {'interpreter':<15} {'model/variant':<24} {'machines':>8}  "
              f"{'bound by':<14} {'capacity':>12} {'basis':<9} {'{rate}/s':>12}  figures from")
    for served, title, rate_word in (
            (False, "waiters woken in-process (a future, an event, a pipe byte): sized by the "
                    "hand-off", "hand-offs"),
            (True, "connections serving requests: sized by the requests one core serves at the "
                   "SLO while the others sit idle", "requests")):
        chosen = [row for row in rows if (row["rate_name"] == "request rate") == served]
        if not chosen:
            continue
        lines += ["", title, header.replace("{rate}", rate_word)]
        for row in chosen:
            machines = "never" if math.isinf(row["machines"]) else f"{row['machines']:,}"
            if row["bound_by"] == "no served rate":
                machines = "-"
            if not served:
                source = (f"memory run {row['memory_run']}; hand-off {row['primitive']} "
                          f"{row['placement']}, run {row['switch_run']}")
            elif row["served_run"]:
                source = f"memory run {row['memory_run']}; served: {row['served_basis']}, run {row['served_run']}"
            else:
                source = f"memory run {row['memory_run']}; no served rate measured (parkbench run --only served)"
            lines.append(
                f"{row['machine']:<20} {row['interpreter']:<15} "
                f"{_label(row):<24} {machines:>8}  {row['bound_by']:<14} "
                f"{format_count(row['capacity']):>12} {row['capacity_basis']:<9} "
                f"{row['rate_per_machine']:>12,.0f}  {source}")
    if any(row["reference"] for row in rows):
        lines.append("ref: a reference runtime measured here (a goroutine), not a Python model")
    if any(math.isinf(row["machines"]) and row["bound_by"] != "no served rate" for row in rows):
        lines.append("never: one waiter of that model needs more than a whole machine of this size")
    output.write("\n".join(lines))
    return 0
