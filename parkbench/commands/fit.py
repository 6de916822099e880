"""``parkbench fit``: machines each model needs for W idle waiters and R wake-ups per
second, from each machine's current figures (``current.py``), naming where each figure
came from: each model is sized by its measured edge (``sizing.py``: the wake-ups a loop
sustains beside W parked, the requests a server serves beside W idle), its basis named
(SLO, saturation, floor-bound, generator-bound); an in-process row shows cores / hand-off
beside it, the upper bound it is."""

import math

from parkbench.analysis import current, host_mix, map_checks, sizing
from parkbench.commands import output
from parkbench.core.errors import UserError
from parkbench.core.units import format_bytes, format_count, parse_count, parse_size
from parkbench.store.checker import printable

UNSIZED_HINT = {"no capacity": ": their memory runs recorded no OS limits; 'parkbench limits --live' "
                               "predicts one from this machine's limits now"}


def machine_cores(current) -> dict:
    """machine -> logical CPUs, from the newest run that recorded them."""
    cores = {}
    for run in current.used_runs():
        if run.logical_cpus:
            cores[run.machine] = run.logical_cpus
    return cores


def _label(row) -> str:
    return f"{row['model']}/{row['variant']}" + (" (ref)" if row["reference"] else "")


WORKLOADS = ((False, "waiters woken in-process (a future, an event, a pipe byte): sized by the wake rate "
                    "one loop sustains while W others stay parked"),
             (True, "connections serving requests: sized by the requests a server serves while W "
                    "others sit idle"))


def _rate(row) -> str:
    if row["rate_at"] is None:
        return "-"
    return f"{row['rate_at']:,.0f}" + ("*" if row["extrapolated"] else "")


def _checked(figures, rows) -> dict:
    """(machine, interpreter, model, variant) -> the newest map checks of its edge."""
    found: dict = {}
    for machine, interpreter in sorted({(row["machine"], row["interpreter"]) for row in rows}):
        for check in map_checks.newest(figures, machine, interpreter):
            found.setdefault((machine, interpreter, check["model"], check["variant"]), []).append(check)
    return found


def _check_text(checks) -> str:
    """'; map checked at W=9,968 (run R): 0.80x held, 1.25x not held: agrees with the map'."""
    if not checks:
        return ""
    points = ", ".join(f"{c['share']:.2f}x {'held' if c['held'] else 'not held'}" for c in checks)
    agrees = all(c["agrees"] for c in checks)
    return (f"; map checked at W={checks[0]['waiters']:,} (run {checks[0]['run_id']}): {points}: "
            + ("agrees with the map" if agrees else "DISAGREES with the map (show says where)"))


def _source(row, served: bool) -> str:
    source = f"memory run {row['memory_run']}"
    if row["edge_basis"]:
        source += f"; rate: {row['edge_basis']}"
    else:
        source += ("; no served rate measured (parkbench run --only served)" if served
                   else "; no wake rate measured (parkbench run --only served measures the loops with a "
                        "wake driver)")
    source += _check_text(row.get("checks"))
    if not served and row["switch_run"]:
        source += f"; hand-off {row['primitive']} {row['placement']}, run {row['switch_run']}"
        if row.get("switch_disturbed"):
            source += " (disturbed: timed on a busy machine, no quiet run timed it)"
    return source


def _table(rows, served: bool, waiters: int) -> list[str]:
    """The lines of one workload's table: machines, what binds, capacity, the rate the
    model sustains at W (its measured edge) with its basis, and for in-process waiters
    the hand-off's upper bound beside it."""
    word = "requests" if served else "wake-ups"
    basis = max([15] + [len(row["rate_basis"] or "") for row in rows])  # "floor-bound to generator-bound"
    header = (f"{'machine':<20} {'interpreter':<15} {'model/variant':<24} {'cores':>5} {'machines':>8}  "
              f"{'bound by':<14} {'capacity':>12} {'basis':<9} {word + '/s at W':>15} {'rate basis':<{basis}}"
              + ("" if served else f" {'1/hand-off':>11}") + "  figures from")
    lines = [header]
    for row in rows:
        machines = "never" if math.isinf(row["machines"]) else f"{row['machines']:,}"
        if row["bound_by"] in ("no served rate", "no wake rate"):
            machines = "-"
        bound = ("" if served else f" {row['handoffs_per_second']:>11,.0f}")
        lines.append(
            f"{row['machine']:<20} {row['interpreter']:<15} {_label(row):<24} {row['cores']:>5} {machines:>8}  "
            f"{row['bound_by']:<14} {format_count(row['capacity']):>12} {row['capacity_basis']:<9} "
            f"{_rate(row):>15} {row['rate_basis'] or '-':<{basis}}{bound}  {_source(row, served)}")
    return lines


def run(args) -> int:
    waiters = parse_count(args.waiters, what="--waiters")
    rate = parse_count(args.rate, allow_zero=True, what="--rate")
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
    unsized = sizing.unsized(frame, profiles)
    rows = sizing.answer(profiles, waiters, rate)
    checked = _checked(figures, rows)
    for row in rows:  # each edge a check confirmed or refuted says so, with its run
        row["checks"] = checked.get((row["machine"], row["interpreter"], row["model"], row["variant"]), [])
    if not rows:
        raise UserError("no model has both a total per waiter and a hand-off time or measured rate "
                        "in these results; run 'parkbench run' first")
    memory_note = f", a machine of {format_bytes(memory)}" if memory else ""
    lines = [f"workload: {waiters:,} idle waiters, {rate:,} wake-ups/s{memory_note}"]
    for served, title in WORKLOADS:
        chosen = [row for row in rows if (row["rate_name"] == "request rate") == served]
        if chosen:
            lines += ["", title, *_table(chosen, served, waiters)]
    if any(row["extrapolated"] for row in rows):
        lines.append("*: W lies beyond the W measured; the edge's nearest measured rate is held flat there")
    lines.append("cores: the cores a machine gives the model (every core for worker processes, Go, "
                 "reuseport servers and threads without the GIL; one for one interpreter)")
    if any(row["reference"] for row in rows):
        lines.append("ref: a reference runtime measured here (a goroutine), not a Python model")
    if any(row["bound_by"] in ("no served rate", "no wake rate") for row in rows):
        lines.append("-: no measured rate to size by (1/hand-off: two waiters, a wake at a time; shown, never sized by)")
    if any(math.isinf(row["machines"]) and row["bound_by"] not in ("no served rate", "no wake rate")
           for row in rows):
        lines.append("never: one waiter of that model needs more than a whole machine of this size")
    lines += [f"not sized ({why}{UNSIZED_HINT.get(why, '')}): {', '.join(labels)}" for why, labels in unsized.items()]
    machines = {row["machine"] for row in rows}
    lines += [f"hosts: {printable(host_mix.note(machine, entries))}"
              for machine, entries in host_mix.mixed(figures).items() if machine in machines]
    output.write("\n".join(lines))
    return 0
