"""A run's calibration as a figure: its pipe hand-off (``measurement/calibration.py``
measured it at the run's start and end), the context of every hand-off figure of the
run (``vs pipe``) and of a comparison of two runs. A measurement the rest of the
machine disturbed (its ``interference``) never stands beside a quiet one: the quiet
ones give the figure, and where only disturbed ones exist there is none, unless asked
for them (``disturbed=True``: ``compare`` shows them, marked)."""


def _disturbed(measured: dict) -> bool:
    return bool((measured.get("interference") or {}).get("disturbed"))


def pipe_seconds(calibration: dict | None, disturbed: bool = False) -> float | None:
    """The run's pipe hand-off: the mean of its start and end measurements made on a
    quiet machine (with ``disturbed``, of those the rest of the machine disturbed)."""
    if not calibration:
        return None
    values = [calibration[when]["pipe_one_way_seconds"] for when in ("start", "end")
              if calibration.get(when) and _disturbed(calibration[when]) == disturbed]
    return sum(values) / len(values) if values else None


def pipes(current, disturbed: bool = False) -> dict:
    """(machine, run id) -> the run's pipe hand-off (seconds), for every run of
    ``current`` (``current.load``) that has a quiet calibration (``disturbed``: one the
    rest of the machine disturbed)."""
    found = {}
    for (machine, run_id), run in current.runs.items():
        seconds = pipe_seconds(run.calibration, disturbed)
        if seconds:
            found[(machine, run_id)] = seconds
    return found
