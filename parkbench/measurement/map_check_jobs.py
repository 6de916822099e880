"""What a map check's job is given (``analysis/map_checks.py`` predicts the checks): a
connections check's load generator offers its rates, an in-process check's wake probe
its own; each rate for ``STEP_SECONDS``; and the total per waiter the memory guard
predicts an in-process check's memory by.
"""

# seconds each checked rate is offered: longer than a served step, since at W in the
# thousands every server here (Go's too) stalls for tens of ms every few seconds, and a
# 1-s step holds or fails by whether a stall fell in it
STEP_SECONDS = 6.0
WAKE_WARMUP_SECONDS = 0.5    # an in-process check's warm-up at its first rate (not judged)


def served_settings(settings: dict, rates) -> dict:
    """The served settings a job's probe is given: a map check's (``rates`` not None)
    offer its rates, each for at least ``STEP_SECONDS``; any other job's as planned."""
    if not rates:
        return dict(settings)
    return {**settings, "rates": list(rates),
            "step_seconds": max(settings.get("step_seconds", 0), STEP_SECONDS)}


def wake_settings(rates) -> dict:
    """What an in-process check's probe is given (``probes/wake_load.py``)."""
    return {"rates": list(rates), "step_seconds": STEP_SECONDS, "warmup_seconds": WAKE_WARMUP_SECONDS}


def bytes_per_waiter(checks, job) -> float | None:
    """The current total per waiter an in-process check of ``job`` was planned with (the
    guard predicts the job's memory by it), or ``None``."""
    for item in checks:
        if (item["model"], item["variant"], item["waiters"]) == (job.model, job.variant, job.n) \
                and tuple(item["rates"]) == tuple(job.rates or ()) and "bytes_per_waiter" in item:
            return float(item["bytes_per_waiter"])
    return None
