"""A run's calibration as a figure: its pipe hand-off (``measurement/calibration.py``
measured it at the run's start and end), the context of every hand-off figure of the
run (``vs pipe``) and of a comparison of two runs."""


def pipe_seconds(calibration: dict | None) -> float | None:
    """The run's pipe hand-off: the mean of its start and end measurements."""
    if not calibration:
        return None
    values = [calibration[when]["pipe_one_way_seconds"] for when in ("start", "end")
              if calibration.get(when)]
    return sum(values) / len(values) if values else None


def pipes(current) -> dict:
    """(machine, run id) -> the run's pipe hand-off (seconds), for every run of
    ``current`` (``current.load``) that has a calibration."""
    found = {}
    for (machine, run_id), run in current.runs.items():
        seconds = pipe_seconds(run.calibration)
        if seconds:
            found[(machine, run_id)] = seconds
    return found
