"""What a map check's job is given (``analysis/map_checks.py`` predicts the checks): a
connections check's load generator offers its rates, an in-process check's wake probe
its own, each in rounds judged as the knee search judges a candidate
(``measurement/knee.py``: held in the majority, a connections step the floor failed too
is the machine's); and the total per waiter the memory guard predicts an in-process
check's memory by.
"""

# seconds each round of a checked rate is offered: the full sweep's step, over which the
# SLO is judged where the floor meets it
STEP_SECONDS = 1.0
WAKE_WARMUP_SECONDS = 0.2    # an in-process check's warm-up before each step, at its rate


def served_settings(settings: dict, rates) -> dict:
    """The served settings a job's probe is given: a map check's (``rates`` not None)
    offer its rates in rounds of ``STEP_SECONDS`` each, the SLO judged where the floor
    lets it be; any other job's as planned."""
    if not rates:
        return dict(settings)
    return {**settings, "rates": list(rates), "step_seconds": STEP_SECONDS, "judge_slo": True}


def wake_settings(settings: dict, rates) -> dict:
    """What an in-process check's probe is given (``probes/wake_load.py``): the run's
    wake settings (its SLO) with the check's rates, in rounds of ``STEP_SECONDS``."""
    return {**settings, "rates": list(rates), "step_seconds": STEP_SECONDS,
            "warmup_seconds": WAKE_WARMUP_SECONDS}


def bytes_per_waiter(checks, job) -> float | None:
    """The current total per waiter an in-process check of ``job`` was planned with (the
    guard predicts the job's memory by it), or ``None``."""
    for item in checks:
        if (item["model"], item["variant"], item["waiters"]) == (job.model, job.variant, job.n) \
                and tuple(item["rates"]) == tuple(job.rates or ()) and "bytes_per_waiter" in item:
            return float(item["bytes_per_waiter"])
    return None
