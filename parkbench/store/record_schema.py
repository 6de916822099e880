"""The check of each record a run file holds (measurements, figures, failures and
skips) against the results format; the runner checks each new record with the same rule
(``check_measurement``) before it stores it.
"""

from pathlib import PurePosixPath

from parkbench.core import protocol
from parkbench.core.protocol import MAX_N
from parkbench.store.checker import MAX_RECORDS, Checker, _short, is_plain_name
from parkbench.store.served_schema import _offered_as_planned, _searched_as_planned, check_served, check_wakes

# A connections probe's requests timed under load (seconds), in its record's "connections"
REQUEST_METRICS = ("request_p50", "request_p99", "request_p999", "request_max")
# The figures a run file stores (format 4): those that depend on the machine's limits when
# the run ended; every other figure is derived from its records whenever it is read.
STORED_FIGURES = ("capacity", "limit_reached")
NON_NEGATIVE_FIGURES = ("capacity", "limit_reached", "max_n", "disturbed_points")
POSITIVE_FIGURES = ("switch_latency", "switch_latency_mean")


JOB_KINDS = ("memory", "switch", "tail", "served", "wakes")


def check_job(check: Checker, record, where: str) -> None:
    """The fields that name a record's job, at its top level, each once (format 3):
    ``kind``, ``model``, ``variant``, ``n``, ``repeat``, and ``primitive``,
    ``placement`` and ``rates`` where the job has them (``protocol.Job``): a switch
    benchmark has a primitive and a placement, n 0 and no variant; a tail job a variant,
    N, a primitive and a placement; the others a variant and N, and only a served or
    wakes job (a map check) rates."""
    kind = check.key(record, "kind", where)
    if kind not in JOB_KINDS:
        check.fail(f"{where}.kind", f"must be one of {', '.join(JOB_KINDS)}, not {_short(kind)}")
    check.name(check.key(record, "model", where), f"{where}.model")
    check.number(check.key(record, "n", where), f"{where}.n", 0, MAX_N, integer=True)
    check.number(record.get("repeat", 0), f"{where}.repeat", 0, MAX_RECORDS, integer=True)
    has = {"primitive": kind in ("switch", "tail"), "placement": kind in ("switch", "tail"),
           "variant": kind != "switch"}
    for key, needed in has.items():
        if needed:
            check.name(check.key(record, key, where), f"{where}.{key}")
        elif record.get(key) is not None:
            check.fail(f"{where}.{key}", f"does not name a {kind} job, not {_short(record[key])}")
    if kind == "switch" and record["n"] != 0:
        check.fail(f"{where}.n", f"of a switch benchmark must be 0, not {_short(record['n'])}")
    if kind != "switch" and record["n"] < 1:
        check.fail(f"{where}.n", f"must be at least 1 waiter, not {_short(record['n'])}")
    rates = record.get("rates")
    if rates is not None:
        if kind not in ("served", "wakes"):
            check.fail(f"{where}.rates", f"belong to a map check (served or wakes), not a {kind} job")
        check.list(rates, f"{where}.rates")
        for i, rate in enumerate(rates[:11]):
            check.number(rate, f"{where}.rates[{i}]", 1, 10**8, integer=True)
        if len(rates) > 10:
            check.fail(f"{where}.rates", "holds more than 10 rates")
    for key in ("job", "handoff_primitive", "round"):  # format 2's copies: a file mixing formats
        if key in record:
            check.fail(f"{where}.{key}", "belongs to results format 2; format 3 names the job once")


def check_interference(check: Checker, activity, where: str) -> None:
    """What the rest of the machine did while something was measured
    (``interference.between``), where recorded (None: not recorded)."""
    if activity is None:
        return
    check.dict(activity, where)
    for key, low, high in (("window_seconds", 0, 1e7), ("other_cpu_seconds", 0, 1e9),
                           ("other_threads", -(2**31), 2**31), ("running", 0, 2**31)):
        check.number(check.key(activity, key, where), f"{where}.{key}", low, high)
    check.flag(check.key(activity, "disturbed", where), f"{where}.disturbed")
    check.text(activity.get("why"), f"{where}.why", optional=True, limit=300)


def check_record(check: Checker, record, where: str, run_id: str, ceiling: float | None = None) -> None:
    """A record as its run file holds it; ``ceiling``: the run's usable generator ceiling,
    which no served rate may exceed by much (``served_schema.check_served``)."""
    _check_record(check, record, where, run_id, ceiling)
    check_interference(check, record.get("interference"), f"{where}.interference")
    if record["kind"] != "switch" and "parked" in record and record["parked"] != record["n"]:
        check.fail(f"{where}.parked", f"must be the N proved parked ({record['n']:,}), "
                                      f"not {_short(record['parked'])}")


def _check_record(check: Checker, record, where: str, run_id: str, ceiling: float | None) -> None:
    check.dict(record, where)
    check_job(check, record, where)
    kind = record["kind"]
    if kind != "switch":  # the probe's words for what its waiters block on
        check.text(record.get("parks_on"), f"{where}.parks_on", optional=True, limit=200)
    if kind == "memory":
        memory = check.dict(check.key(record, "memory", where), f"{where}.memory")
        for key in ("rss", "uss", "pss", "vms"):
            check.number(check.key(memory, key, f"{where}.memory"), f"{where}.memory.{key}", 0, 2**63)
        check.number(check.key(memory, "kernel", f"{where}.memory"), f"{where}.memory.kernel",
                     -(2**63), 2**63)
        check.number(memory.get("maps"), f"{where}.memory.maps", 0, 2**40, optional=True)
        check.number(memory.get("threads"), f"{where}.memory.threads", 0, 2**31, optional=True,
                     integer=True)
        check.number(check.key(record, "spawn_seconds", where), f"{where}.spawn_seconds", 0, 1e7)
        check.number(check.key(record, "wake_seconds", where), f"{where}.wake_seconds", 0, 1e7,
                     optional=True)  # None: the child exited without waking
        check.number(record.get("kernel_client"), f"{where}.kernel_client", 0, 2**63, optional=True)
        held = record.get("connections")
        if held is not None:
            check.dict(held, f"{where}.connections")
            check.number(check.key(held, "processes", f"{where}.connections"),
                         f"{where}.connections.processes", 1, 10**6, integer=True)
            for key in REQUEST_METRICS:
                check.number(check.key(held, key, f"{where}.connections"),
                             f"{where}.connections.{key}", 0, 1e4)
        baseline = record.get("baseline")
        if baseline is not None:
            check.dict(baseline, f"{where}.baseline")
            check.number(baseline.get("maps"), f"{where}.baseline.maps", 0, 2**40, optional=True)
            check.number(baseline.get("threads"), f"{where}.baseline.threads", 0, 2**31,
                         optional=True, integer=True)
        short = protocol.threads_short(record)
        if short:
            check.fail(f"{where}.memory.threads", short)
    elif kind == "served":
        check_served(check, check.key(record, "served", where), f"{where}.served", ceiling=ceiling)
        if "open_run" in record["served"]:  # fixed rates in one run: before format 5
            _offered_as_planned(check, record["served"]["open_run"]["steps"], record.get("rates"),
                                f"{where}.served.open_run.steps")
        else:
            _searched_as_planned(check, record["served"]["search"], record.get("rates"), f"{where}.served.search")
    elif kind == "wakes":
        check_wakes(check, check.key(record, "wakes", where), f"{where}.wakes")
        if "steps" in record["wakes"]:  # a map check's steps in one run: before format 5
            if record.get("rates") is None:
                check.fail(f"{where}.wakes", "holds steps at fixed rates, but its job names no rates")
            _offered_as_planned(check, record["wakes"]["steps"], record.get("rates"), f"{where}.wakes.steps")
        else:
            _searched_as_planned(check, record["wakes"]["search"], record.get("rates"), f"{where}.wakes.search")
    elif kind == "tail":
        tail = check.dict(check.key(record, "tail", where), f"{where}.tail")
        for key in ("switch_p50", "switch_p99", "switch_p999", "switch_max"):
            check.number(check.key(tail, key, f"{where}.tail"), f"{where}.tail.{key}", 0, 1e4)
    else:
        for key in ("median", "mean", "stdev"):
            value = check.number(check.key(record, key, where), f"{where}.{key}", 0, 1e4)
            if key != "stdev" and value <= 0:
                check.fail(f"{where}.{key}", f"must be more than 0 seconds, not {value!r}")
        check.number(check.key(record, "values", where), f"{where}.values", 0, 10**7, integer=True)
        if "whole" in record:  # a format-2 record of every round in one go
            check.flag(record["whole"], f"{where}.whole")
        values = record.get("value_list")
        if values is not None:
            check.list(values, f"{where}.value_list")
            if len(values) > 100_000:
                check.fail(f"{where}.value_list", f"holds {len(values):,} values, more than 100,000")
            for value in values:
                if check.number(value, f"{where}.value_list", 0, 1e4) <= 0:
                    check.fail(f"{where}.value_list", "holds a value that is not more than 0 seconds")
        file = check.text(check.key(record, "file", where), f"{where}.file", limit=300)
        parts = PurePosixPath(file).parts
        if len(parts) != 2 or parts[0] != run_id or not is_plain_name(parts[1]) \
                or not parts[1].endswith(".json"):
            check.fail(f"{where}.file", f"must be '{run_id}/<name>.json' inside the run's "
                                        f"folder, not {_short(file)}")


def check_measurement(record, source: str, run_id: str) -> dict:
    """One measurement as a run file stores it, checked by the reader's own rule: the
    runner checks each record so, as it arrives, before it is stored."""
    check_record(Checker(source), record, "the record", run_id)
    return record


def check_figure(check: Checker, figure, where: str) -> None:
    check.dict(figure, where)
    check.name(check.key(figure, "model", where), f"{where}.model")
    check.name(check.key(figure, "variant", where), f"{where}.variant")
    check.name(check.key(figure, "metric", where), f"{where}.metric")
    check.name(figure.get("placement"), f"{where}.placement", optional=True)
    metric = figure["metric"]
    if metric not in STORED_FIGURES:
        check.fail(f"{where}.metric", f"is {metric!r}: a run file stores only {', '.join(STORED_FIGURES)} "
                                      f"(every other figure is derived from its records when read)")
    low = -1e18
    if metric in NON_NEGATIVE_FIGURES or metric.startswith("switch_latency"):
        low = 0
    value = check.number(check.key(figure, "value", where), f"{where}.value", low, 1e18, optional=True)
    if metric in POSITIVE_FIGURES and value is not None and value <= 0:
        check.fail(f"{where}.value", f"of {metric} must be more than 0, not {value!r}")
    check.text(check.key(figure, "unit", where), f"{where}.unit", limit=32)
    check.text(figure.get("limit"), f"{where}.limit", optional=True, limit=64)
    check.number(figure.get("r2"), f"{where}.r2", -1, 1.000001, optional=True)


def check_failure(check: Checker, record, where: str, reached: bool) -> None:
    check.dict(record, where)
    check_job(check, record, where)
    check.text(check.key(record, "reason", where), f"{where}.reason")
    if reached:
        check.text(record.get("failure"), f"{where}.failure", optional=True, limit=32)
        waiters = check.number(record.get("reached"), f"{where}.reached", 0, MAX_N, optional=True,
                               integer=True)
        if waiters is not None and waiters > record["n"]:
            check.fail(f"{where}.reached", f"must be at most the job's N ({record['n']:,}), not {waiters:,}")
