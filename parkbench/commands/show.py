"""``parkbench show``: the current figures of stored results (``current.py``), as a
table per machine and interpreter, or as tidy JSON lines."""

from parkbench.analysis import calibration, current, host_mix, map_checks, served_figures, wake_figures
from parkbench.commands import output
from parkbench.core.protocol import Job
from parkbench.core.units import format_seconds
from parkbench.presentation import summary
from parkbench.store.checker import printable


def _job_label(record: dict) -> str:
    return Job.from_record(record).label()


def failure_notes(current) -> list[str]:
    """Failures and skips of the runs that speak for something."""
    notes = []
    for run in current.used_runs():
        for failure in run.failures:
            notes.append(f"{run.machine} {run.run_id}: {_job_label(failure)} failed: "
                         f"{printable(failure['reason'])}")
        by_reason: dict[str, list[str]] = {}  # a model pip could not install: one line, not 19
        for skip in run.skipped:
            by_reason.setdefault(skip["reason"], []).append(_job_label(skip))
        for reason, jobs in by_reason.items():
            what = jobs[0] if len(jobs) == 1 else (
                f"{len(jobs)} jobs ({', '.join(jobs[:2])}{' ...' if len(jobs) > 2 else ''})")
            notes.append(f"{run.machine} {run.run_id}: {what} skipped: {printable(reason)}")
    return notes


def summary_text(current) -> str:
    frame = current.frame

    # every note may quote a file (a reason, a figure's limit): control characters escaped
    notes = [printable(note) for note in failure_notes(current) + summary.limit_notes(frame) + current.notes]
    notes = ["", "notes:", *notes] if notes else []
    text = summary.render(summary.table(frame), notes=notes,
                          latency=summary.latency_table(frame, calibration.pipes(current)),
                          connections=summary.connections_table(frame))
    return text + served_text(current) + wake_text(current) + checks_text(current)


def _slos(current, machine: str, runs) -> str:
    slos = {current.runs[(machine, run)].parameters.get("slo_seconds") for run in runs if (machine, run) in current.runs}
    return ", ".join(format_seconds(value) for value in sorted(v for v in slos if v)) or "-"


def _rate(value: float, empty: str = "-") -> str:
    return f"{value:,.0f}" if value == value else empty


def _spread(value: float) -> str:
    return f"{value:.0%}" if value == value else "-"


def _time(value: float) -> str:
    return format_seconds(value) if value == value else "-"


def _flag(row) -> str:
    return " (disturbed: the machine was busy)" if row.disturbed else ""


def served_text(current) -> str:
    """The served rate of each connections server at each W: the closed-loop peak, the
    saturation and SLO knees, the knee's spread over rounds, the CPU per request at the
    rate served and closed loop, the rate per core the maps size by and its basis; or
    nothing where none was measured."""
    table = served_figures.table(current.frame)
    if table.empty:
        return ""
    lines = []
    for (machine, interpreter), rows in table.groupby(["machine", "interpreter"], sort=False):
        lines += ["", f"{machine} {interpreter}: requests served while W connections sit idle "
                      f"(one core per server unless it uses several; p99 SLO {_slos(current, machine, rows.run)})",
                  f"  {'model/variant':<24} {'W':>7} {'peak/s':>9} {'saturation/s':>12} {'SLO/s':>9} "
                  f"{'spread':>6} {'CPU/req':>8} {'closed':>8} {'per core/s':>10}  {'basis':<15}  run"]
        for row in rows.itertuples():
            label = served_figures.basis_label(row.basis)
            slo = _rate(row.slo) if row.slo_judged else ("floor" if label == "floor-bound" else "-")
            lines.append(f"  {row.model + '/' + row.variant:<24} {row.n:>7,} {row.peak:>9,.0f} "
                         f"{_rate(row.saturation):>12} {slo:>9} {_spread(row.knee_spread):>6} "
                         f"{_time(row.cpu_per_request):>8} {_time(row.cpu_per_request_closed):>8} "
                         f"{_rate(row.rate_per_core):>10}  {label or '-':<15}  {row.run}{_flag(row)}")
    lines.append("  saturation: kept up (99% of offered, median steady); SLO: and p99 within the SLO "
                 "('floor': the machine's own floor missed it; '-': steps too short to judge it, --full "
                 "does); spread: the knee's over rounds")
    return "\n".join(lines)


def wake_text(current) -> str:
    """The wake rate one loop sustains beside W parked, per W; nothing where none."""
    table = wake_figures.table(current.frame)
    if table.empty:
        return ""
    lines = []
    for (machine, interpreter), rows in table.groupby(["machine", "interpreter"], sort=False):
        lines += ["", f"{machine} {interpreter}: wake-ups one loop sustains while W waiters stay parked "
                      f"(p99 SLO {_slos(current, machine, rows.run)})",
                  f"  {'model/variant':<24} {'W':>9} {'saturation/s':>12} {'SLO/s':>9} {'spread':>6} "
                  f"{'CPU/wake':>8}  run"]
        for row in rows.itertuples():
            lines.append(f"  {row.model + '/' + row.variant:<24} {row.n:>9,} {_rate(row.saturation):>12} "
                         f"{_rate(row.slo):>9} {_spread(row.knee_spread):>6} {_time(row.cpu_per_wake):>8}"
                         f"  {row.run}{_flag(row)}")
    return "\n".join(lines)


def checks_text(current) -> str:
    """Each machine's newest map checks: W, the offered rate against the edge, held or
    not, and whether that agrees with the map; nothing where none was checked."""
    lines = []
    for machine in sorted(set(current.frame.machine)):
        rows = map_checks.newest(current, machine)
        if not rows:
            continue
        lines += ["", f"{machine}: the fit map checked at W it was not drawn from "
                      f"(0.8x the edge should hold, 1.25x should not)",
                  f"  {'model/variant':<20} {'W':>9} {'offered/s':>10} {'x edge':>6} {'held':>5} "
                  f"{'by':<10} {'verdict':<10} rounds"]
        for row in rows:
            lines.append(f"  {row['model'] + '/' + row['variant']:<20} {row['waiters']:>9,} {row['offered']:>10,.0f} "
                         f"{row['share']:>5.2f}x {'yes' if row['held'] else 'no':>5} {row['criterion']:<10} "
                         f"{map_checks.verdict_word(row):<10} {row['rounds']} (run {row['run_id']})")
        lines += [f"  {map_checks.disagreement(row)}" for row in rows if not row["agrees"]]
    return "\n".join(lines)


def check_records(current) -> list[dict]:
    """A JSON record per checked map point of each machine's newest checks (``kind``
    "map_check"), after the figures' rows: the verdicts the table prints."""
    keys = ("model", "variant", "waiters", "offered", "share", "held", "criterion", "predicted",
            "agrees", "achieved", "p99", "rounds", "disturbed", "interpreter", "run_id")
    return [{"kind": "map_check", "machine": machine, **{key: row.get(key) for key in keys}}
            for machine in sorted(set(current.frame.machine)) for row in map_checks.newest(current, machine)]


def print_summary(paths, selection=None, run_id=None, interpreter=None) -> None:
    """The summary of ``paths``; with ``selection`` ((model, variant) pairs) only their
    rows, and only the latency of run ``run_id``: what a run just measured, read as the
    machine's current figures (so a measured ceiling of an earlier run still gives
    capacity, and a fit the rule set aside says so); with ``interpreter`` (a label such
    as ``CPython 3.12.1``) only that interpreter's rows."""
    figures = current.load(paths)
    output.set_aside(figures.set_aside)
    if interpreter is not None:
        figures.frame = figures.frame[figures.frame.interpreter == interpreter]
    if selection is not None:
        frame = figures.frame
        pairs = set(map(tuple, selection))
        models = {model for model, _ in pairs}
        latency = frame.metric.str.startswith("switch")
        keep = [(is_latency and model in models and run == run_id)
                or (not is_latency and (model, variant) in pairs)
                for model, variant, run, is_latency
                in zip(frame.model, frame.variant, frame.run_id, latency)]
        figures.frame = frame[frame.index.isin(frame.index[keep])] if keep else frame.iloc[0:0]
    output.write(summary_text(figures))


def run(args) -> int:
    if args.format == "json":
        figures = current.load([args.results])
        output.set_aside(figures.set_aside)
        output.json_lines(figures.frame)
        output.json_records({"kind": "hosts", "machine": machine, **entry}  # only where hosts mix
                            for machine, entries in host_mix.mixed(figures).items() for entry in entries)
        output.json_records(check_records(figures))
        return 0
    print_summary([args.results])
    return 0
