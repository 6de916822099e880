"""``parkbench show``: the current figures of stored results (``current.py``), as a
table per machine and interpreter, or as tidy JSON lines."""

from parkbench.commands import output


def _job_label(record: dict) -> str:
    from parkbench.runner import Job

    return Job(**record["job"]).label()


def failure_notes(current) -> list[str]:
    """Failures and skips of the runs that speak for something."""
    notes = []
    for run in current.used_runs():
        for failure in run.failures:
            notes.append(f"{run.machine} {run.run_id}: {_job_label(failure)} failed: {failure['reason']}")
        for skip in run.skipped:
            notes.append(f"{run.machine} {run.run_id}: {_job_label(skip)} skipped: {skip['reason']}")
    return notes


def summary_text(current) -> str:
    from parkbench import summary

    frame = current.frame
    notes = failure_notes(current) + summary.limit_notes(frame) + current.notes
    notes = ["", "notes:", *notes] if notes else []
    return summary.render(summary.table(frame), notes=notes, latency=summary.latency_table(frame))


def print_summary(paths) -> None:
    from parkbench import current

    output.write(summary_text(current.load(paths)))


def run(args) -> int:
    from parkbench import current

    if args.format == "json":
        output.json_lines(current.load([args.results]).frame)
        return 0
    print_summary([args.results])
    return 0
