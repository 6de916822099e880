"""The served side of a run file's records, checked as read (``record_schema.py`` checks
the rest): a served record's (or the generator ceiling's) load generator output against
the server's CPU time and where everything ran, a knee search's trials, a wakes record's
steps, and every served rate against the run's own generator ceiling. A broken rule is a
``UserError`` naming the file, the place and the rule.
"""

from parkbench.store import loadgen_output
from parkbench.store.checker import Checker, _short


def check_served(check: Checker, held, where: str, open_run: bool = True, ceiling: float | None = None) -> None:
    """A served record's (or the generator ceiling's) measurement: the load generator's
    output checked by ``loadgen_output.parse``, the server's CPU and where everything ran;
    with ``ceiling`` (the run's usable generator ceiling, ``ceiling_phase``) no rate above
    ``CEILING_FACTOR`` times it."""
    check.dict(held, where)
    runs = ["closed_run"]
    if open_run:  # a served record: fixed rates (open_run) or the knee search (search), one of them
        if ("open_run" in held) == ("search" in held):
            check.fail(where, "must hold one of open_run (fixed rates) and search (the knee search)")
        if "open_run" in held:
            runs.append("open_run")
        else:
            check_search(check, held["search"], f"{where}.search", served=True,
                         server_cpus=len(held.get("placement", {}).get("server_cpus") or [1]), ceiling=ceiling)
    address = check.text(held.get("server_address"), f"{where}.server_address", optional=True, limit=64)
    parsed = {}
    for run in runs:
        try:
            parsed[run] = loadgen_output.parse(check.key(held, run, where))
        except ValueError as exc:
            check.fail(f"{where}.{run}", f"is not the load generator's output ({exc})")
        if address is not None and parsed[run].address != address:  # format 6 names the server
            check.fail(f"{where}.{run}.address", f"is {_short(parsed[run].address)}, not the server's {address}")
    cpu = check.number(check.key(held, "server_cpu_seconds", where), f"{where}.server_cpu_seconds", 0, 1e7)
    requests = check.number(check.key(held, "server_cpu_requests", where), f"{where}.server_cpu_requests", 0,
                            2**53, integer=True)
    too_cheap = loadgen_output.cpu_bound(requests, cpu)
    if too_cheap:
        check.fail(f"{where}.server_cpu_requests", f"claim {too_cheap} (the server's, read by parkbench)")
    closed = parsed["closed_run"]
    _under_ceiling(check, closed.closed, f"{where}.closed_run", ceiling)
    if closed.closed is not None:
        window = closed.closed.seconds + float((closed.warmup or {}).get("seconds") or 0)
        beyond = loadgen_output.beyond_wall(cpu, window, len((held.get("placement") or {}).get("server_cpus") or [1]))
        if beyond:
            check.fail(f"{where}.server_cpu_seconds", f"claim {beyond} (the server's, read by parkbench)")
    placement = check.dict(check.key(held, "placement", where), f"{where}.placement")
    for side in ("generator_cpus", "server_cpus"):
        cpus = check.list(check.key(placement, side, f"{where}.placement"), f"{where}.placement.{side}")
        if not 1 <= len(cpus) <= 4096:
            check.fail(f"{where}.placement.{side}", "must name 1 to 4,096 CPUs")
        for cpu in cpus:
            check.number(cpu, f"{where}.placement.{side}", 0, 2**20, integer=True)
    for rate in check.list(held.get("warmup_rates", []), f"{where}.warmup_rates"):
        check.number(rate, f"{where}.warmup_rates", 0, 1e9)


MAX_TRIALS = 400          # steps of one knee search (measurement/knee.py runs far fewer)
TARGETS = ("server", "floor")


def check_search(check: Checker, search, where: str, served: bool, server_cpus: int = 1,
                 ceiling: float | None = None) -> None:
    """A knee search as a record stores it (``measurement/knee.py``): where it started, the
    generator's ceiling it stopped short of (or null), and its trials in order, each one
    open-loop step at its rate (the generator's, or a loop's in the same shape) against
    the server or (served only) the floor; the server's CPU time and requests beside each
    server step."""
    check.dict(search, where)
    check.number(check.key(search, "start", where), f"{where}.start", 1, 1e9)
    check.number(search.get("generator_ceiling"), f"{where}.generator_ceiling", 0, 1e9, optional=True)
    for flag in ("judge_slo", "floor_every_round"):
        if flag in search:
            check.flag(search[flag], f"{where}.{flag}")
    rates = check.list(search.get("rates", []), f"{where}.rates")
    if len(rates) > 10:
        check.fail(f"{where}.rates", f"must hold at most 10 rates, not {len(rates):,}")
    for rate in rates:
        check.number(rate, f"{where}.rates", 1, 1e9)
    trials = check.list(check.key(search, "trials", where), f"{where}.trials")
    if len(trials) > MAX_TRIALS:
        check.fail(f"{where}.trials", f"holds {len(trials):,} steps, more than {MAX_TRIALS}")
    for i, trial in enumerate(trials):
        at = f"{where}.trials[{i}]"
        check.dict(trial, at)
        rate = check.number(check.key(trial, "rate", at), f"{at}.rate", 1, 1e9)
        check.number(check.key(trial, "round", at), f"{at}.round", 0, 100, integer=True)
        target = check.key(trial, "target", at)
        if target not in TARGETS or (target == "floor" and not served):
            check.fail(f"{at}.target", f"must be {'server or floor' if served else 'server'}, not {_short(target)}")
        try:
            steps = loadgen_output.parse_steps([check.key(trial, "step", at)], generator=served)
        except ValueError as exc:
            check.fail(at, f"is not one open-loop step ({exc})")
        if len(steps) != 1 or steps[0].offered != rate:
            check.fail(at, f"must be one step offering its rate ({rate:g}/s)")
        _under_ceiling(check, steps[0], f"{at}.step", ceiling)
        cpu = None
        if target == "server":
            cpu = check.number(check.key(trial, "cpu_seconds", at), f"{at}.cpu_seconds", 0, 1e7)
        requests = check.number(trial.get("requests", 0), f"{at}.requests", 0, 2**53, integer=True)
        too_cheap = loadgen_output.cpu_bound(requests, cpu) if served and cpu is not None else ""
        if too_cheap:
            check.fail(f"{at}.requests", f"claim {too_cheap} (the server's, read by parkbench)")
        beyond = loadgen_output.beyond_wall(cpu, steps[0].seconds, server_cpus) if served and cpu is not None else ""
        if beyond:
            check.fail(f"{at}.cpu_seconds", f"claim {beyond} (the server's, read by parkbench)")


def check_wakes(check: Checker, offered, where: str) -> None:
    """A wakes record's measurement (``probes/wake_load.py``): a map check's open-loop
    steps, in the load generator's step shape (``loadgen_output.parse_steps``), 1 to 10 of
    them; or the knee search of the wake rate (``check_search``)."""
    check.dict(offered, where)
    check.number(check.key(offered, "active", where), f"{where}.active", 1, 10_000, integer=True)
    check.number(check.key(offered, "warmup_seconds", where), f"{where}.warmup_seconds", 0, 3600)
    check.number(check.key(offered, "samples_cap", where), f"{where}.samples_cap", 1, 2**40, integer=True)
    if "steps" not in offered:
        check_search(check, check.key(offered, "search", where), f"{where}.search", served=False)
        return
    steps = check.list(check.key(offered, "steps", where), f"{where}.steps")
    if not 1 <= len(steps) <= 10:
        check.fail(f"{where}.steps", f"must hold 1 to 10 steps, not {len(steps):,}")
    try:
        loadgen_output.parse_steps(steps, "steps", generator=False)
    except ValueError as exc:
        check.fail(f"{where}.steps", f"are not open-loop steps ({exc})")


def _searched_as_planned(check: Checker, search: dict, rates, where: str) -> None:
    """A search (already checked) at the job's fixed ``rates`` (a map check's), or a
    search proper of a job without rates; every trial at one of those rates."""
    fixed = sorted(search.get("rates") or ())
    if fixed != sorted(rates or ()):
        check.fail(f"{where}.rates", f"are {_short(fixed)}/s, not the job's rates {_short(sorted(rates or ()))}/s")
    stray = [trial["rate"] for trial in search["trials"] if fixed and trial["rate"] not in fixed]
    if stray:
        check.fail(f"{where}.trials", f"offer {_short(stray[:3])}/s, none of the job's rates {_short(fixed)}/s")


def _offered_as_planned(check: Checker, steps: list, rates, where: str) -> None:
    """A map check's steps (already checked) offer the job's ``rates``, in order; a
    stopped run may end before the last."""
    if rates is None:
        return
    offered = [step["offered"] for step in steps]
    if offered != list(rates)[:len(offered)]:
        check.fail(where, f"offer {_short(offered)}/s, not the job's rates {_short(rates)}/s")


# a server's rate, or a step's, over the run's own generator ceiling (a quiet, steady
# one): at most 1.085 over every committed run (the generator is the one sending)
CEILING_FACTOR = 2.0


def ceiling_phase(found: dict | None):
    """(a stored generator ceiling's closed-loop phase, why it cannot be used or ''): not
    measured, not the generator's output, not steady (``loadgen_output.unsteady``), or
    measured while the rest of the machine was busy (a ceiling measured so, 2,168/s with
    no error against a real 45-60k, made every served row generator-bound). The one rule
    of the measurement (``measurement/calibration.py``) and of the readers."""
    try:
        closed = loadgen_output.parse(found["closed_run"]).closed if found else None
    except (ValueError, KeyError, TypeError):
        return None, "its output is not the generator's"
    if closed is None:
        return None, "not measured"
    unsteady = loadgen_output.unsteady(closed)
    activity = (found or {}).get("interference") or {}
    if not unsteady and activity.get("disturbed"):
        return closed, f"measured while the rest of the machine was busy: {activity.get('why') or 'disturbed'}"
    return closed, unsteady


def usable_ceiling(found: dict | None) -> float | None:
    """A stored generator ceiling's rate where it can be used (``ceiling_phase``), else None."""
    closed, problem = ceiling_phase(found)
    return None if problem or closed is None else closed.achieved


def _under_ceiling(check: Checker, phase, where: str, ceiling: float | None) -> None:
    """No rate beyond ``CEILING_FACTOR`` times the run's own generator ceiling: the
    generator cannot send what it cannot send."""
    if ceiling is not None and phase is not None and phase.achieved > CEILING_FACTOR * ceiling:
        check.fail(where, f"achieved {phase.achieved:,.0f}/s, more than {CEILING_FACTOR:g}x "
                          f"the run's own generator ceiling ({ceiling:,.0f}/s)")
