"""``parkbench show``: the current figures of stored results (``current.py``), as a
table per machine and interpreter, or as tidy JSON lines."""

from parkbench.analysis import calibration, current, served_figures
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
        for skip in run.skipped:
            notes.append(f"{run.machine} {run.run_id}: {_job_label(skip)} skipped: "
                         f"{printable(skip['reason'])}")
    return notes


def summary_text(current) -> str:
    frame = current.frame

    # every note may quote a file (a reason, a figure's limit): control characters escaped
    notes = [printable(note) for note in failure_notes(current) + summary.limit_notes(frame) + current.notes]
    notes = ["", "notes:", *notes] if notes else []
    text = summary.render(summary.table(frame), notes=notes,
                          latency=summary.latency_table(frame, calibration.pipes(current)),
                          connections=summary.connections_table(frame))
    return text + served_text(current)


def served_text(current) -> str:
    """The served rate of each connections server, or nothing where none was measured."""
    table = served_figures.table(current.frame)
    if table.empty:
        return ""
    lines = []
    for (machine, interpreter), rows in table.groupby(["machine", "interpreter"], sort=False):
        slos = {current.runs[(machine, run)].parameters.get("slo_seconds")
                for run in rows.run if (machine, run) in current.runs}
        slo = ", ".join(format_seconds(value) for value in sorted(v for v in slos if v))
        lines += ["", f"{machine} {interpreter}: requests served while W connections sit idle "
                      f"(one core per server unless it uses several; p99 SLO {slo or '-'})",
                  f"  {'model/variant':<24} {'W':>7} {'peak/s':>9} {'spread':>6} {'at SLO/s':>9} "
                  f"{'CPU/request':>11} {'per core/s':>10}  run"]
        for row in rows.itertuples():
            held = f"{row.sustainable:,.0f}" if row.sustainable == row.sustainable else "none"
            flag = (" (generator-bound)" if row.generator_bound else "") + (
                " (disturbed: the machine was busy)" if row.disturbed else "")
            per_core = f"{row.rate_per_core:,.0f}" if row.rate_per_core == row.rate_per_core else "-"
            spread = f"{row.peak_spread:.0%}" if row.peak_spread == row.peak_spread else "-"
            lines.append(f"  {row.model + '/' + row.variant:<24} {row.n:>7,} {row.peak:>9,.0f} "
                         f"{spread:>6} {held:>9} {format_seconds(row.cpu_per_request):>11} "
                         f"{per_core:>10}  {row.run}{flag}")
    return "\n".join(lines)


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
        return 0
    print_summary([args.results])
    return 0
