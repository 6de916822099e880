"""The results format: its version history and the check of every file read from disk
against it (older files are first brought to the current version by ``upgrade.py``; the
records a run file holds are checked by ``record_schema.py``).

Everything in a results file is untrusted input: names are checked like
``--machine``, numbers must be finite and in range, paths must stay inside the run's
folder. A file that breaks a rule is a ``UserError`` naming the file and the rule.

Format history (``schema_version``):

1. 2026-11 (first session): run files with ``environment`` (python, packages);
   ``machine.json`` rewritten by every run with the absolute interpreter path; grids
   keyed by model, later by ``model:variant``; records without ``kind`` are memory.
2. 2026-11-26: each run file carries ``machine_description`` (the machine and the OS
   limits in force when it ran) and ``interpreter`` (implementation, version, build,
   ABI, free-threading; the executable by name only); grids keyed by
   ``model:variant``; every record has ``kind``. Version-1 files are upgraded when
   read, never rewritten: their machine description is the one in ``machine.json``
   beside them (the latest, so possibly newer than the run), marked as such.
3. 2026-12-02: a record names its job once, at its top level (``kind``, ``model``,
   ``variant``, ``n``, ``repeat``, and ``primitive``, ``placement``, ``rates`` where
   the job has them), where format 2 kept a ``job`` copy beside ``model``, ``variant``
   and ``n``; failures and skips so too. A probe's words for what its waiters block on
   are ``parks_on`` (format 2's ``primitive``); a tail record's hand-off primitive is
   its ``primitive`` (format 2's ``handoff_primitive``); a switch record is one round,
   its ``repeat`` (format 2's ``round``), or ``whole``. Format-2 files are upgraded
   when read; an interrupted one can be resumed, and is then written as format 3.
4. 2026-12-06: ``figures`` holds only what depends on the machine's limits when the run
   ended (``capacity``, ``limit_reached``); every other figure (memory fits, switch
   latency, the served rate) is derived from the records whenever a run is read, so
   one rule makes them for every run. Format-3 files are read with their other stored
   figures left out (the reader derives the same ones); an interrupted one can be
   resumed, and is then written as format 4.
5. 2026-12-07: a served record's open loop is the knee search (``served.search``: every
   step, against the server and the machine's floor, in order, each with the generator's
   whole output and the server's CPU time), replayed by the reader (``knee.py``); a
   wakes record without rates holds the wake rate's search (``wakes.search``); a map
   check runs its rates in rounds the same way (``search`` with ``rates``) and names the
   ``criterion`` it is judged by; the plan stores ``wake_grids`` and ``wake_settings``,
   and new served settings. Format-4 files are read as they are (a served record's
   ``open_run`` judged by the old rule, a map check at the SLO); an interrupted one can be
   resumed, and is then written as format 5.

6. 2026-12-07: each run file names the ``host`` it ran on (``hostname``, and ``id``: the
   first 12 hex digits of the SHA-256 of /etc/machine-id, or null), and a served record
   (and the generator's ceiling) the ``server_address`` its generator was pointed at,
   which the generator's output must name. Format-5 files are
   read as they are (host not recorded); an interrupted one can be resumed, and is then
   written as format 6.

``machine.json`` has its own version (``MACHINE_SCHEMA_VERSION``): 1 and 2 held the
machine's latest description, rewritten by every run (free memory and tasks in use
included, so a clone was dirty after any sweep); 3 (2026-12-07) holds only the machine
kind the folder is named for (``architecture``, ``cpu_model``, ``logical_cpus``,
``physical_cpus``, ``memory_gib``) and ``first_host``, and no run rewrites it (one of an
older version is brought to version 3 by the next run, with the kind it recorded and
``first_host`` null: it never named a host).
"""

import re

from parkbench.core.errors import UserError
from parkbench.core.protocol import Job
from parkbench.store import hosts, record_schema, run_plan, served_schema
from parkbench.store.checker import Checker, _short

RUN_SCHEMA = "parkbench-run"
MACHINE_SCHEMA = "parkbench-machine"
SCHEMA_VERSION = 6
MACHINE_SCHEMA_VERSION = 3
RUN_ID = re.compile(r"\A[0-9]{8}T[0-9]{6}Z(-[0-9]{1,4})?\Z")


# --- checks ----------------------------------------------------------------------------


def check_version(document, source: str, schema: str) -> int:
    if not isinstance(document, dict) or document.get("schema") != schema:
        raise UserError(f"{source} is not a parkbench {schema!r} file")
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(f"{source} has no valid schema_version")
    newest = SCHEMA_VERSION if schema == RUN_SCHEMA else MACHINE_SCHEMA_VERSION
    if version > newest:
        raise UserError(f"{source} has schema version {version}, newer than this parkbench "
                        f"reads ({newest}); upgrade parkbench")
    return version


def check_limits(check: Checker, limits, where: str) -> None:
    if limits is None:
        return
    check.dict(limits, where)
    for key in ("pid_max", "threads_max", "max_map_count", "cgroup_pids_max",
                "cgroup_memory_max", "memory_available", "memory_total", "tasks_in_use",
                "nr_open", "ephemeral_ports", "nf_conntrack_max", "nf_conntrack_count"):
        check.number(limits.get(key), f"{where}.{key}", 0, 2**63, optional=True, integer=True)
    for key in ("rlimit_nproc", "rlimit_nofile", "rlimit_stack"):
        value = limits.get(key)
        if value is not None:
            check.dict(value, f"{where}.{key}")
            for side in ("soft", "hard"):
                check.number(value.get(side), f"{where}.{key}.{side}", 0, 2**63, optional=True,
                             integer=True)
    if "is_root" in limits:
        check.flag(limits["is_root"], f"{where}.is_root")


def check_machine(document, source: str) -> dict:
    """A machine.json document, checked (any version)."""
    check_version(document, source, MACHINE_SCHEMA)
    check = Checker(source)
    check.name(check.key(document, "name", "the machine file"), "name")
    check_limits(check, document.get("limits"), "limits")
    check.number(document.get("logical_cpus"), "logical_cpus", 1, 1 << 20, optional=True, integer=True)
    check.number(document.get("physical_cpus"), "physical_cpus", 1, 1 << 20, optional=True, integer=True)
    check.number(document.get("memory_total"), "memory_total", 0, 2**63, optional=True, integer=True)
    check.number(document.get("memory_gib"), "memory_gib", 0, 2**33, optional=True, integer=True)
    for key in ("cpu_model", "kernel", "os", "architecture"):
        check.text(document.get(key), key, optional=True)
    hosts.check(check, document.get("first_host"), "first_host")
    return document


def check_run(document, source: str, folder_name: str | None = None) -> dict:
    """A run document (already upgraded), checked against format ``SCHEMA_VERSION``."""
    check = Checker(source)
    check.dict(document, "the run file")
    run_id = check.key(document, "run_id", "the run file")
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        check.fail("run_id", f"must look like 20261126T050824Z, not {_short(run_id)}")
    machine = check.name(check.key(document, "machine", "the run file"), "machine")
    if folder_name is not None and machine != folder_name:
        check.fail("machine", f"{machine!r} differs from the folder it is in ({folder_name!r}); "
                              f"a run file lives in results/<its machine>/")
    check.flag(check.key(document, "complete", "the run file"), "complete")
    run_plan.check_shapes(check, check.key(document, "parameters", "the run file"))
    hosts.check(check, document.get("host"), "host")
    interpreter = document.get("interpreter")
    if interpreter is not None:
        check.dict(interpreter, "interpreter")
        for key in ("implementation", "version", "executable", "abi"):
            check.text(interpreter.get(key), f"interpreter.{key}", optional=True, limit=200)
        if "/" in (interpreter.get("executable") or ""):
            check.fail("interpreter.executable", "must be a name, not a path")
        if interpreter.get("gil_disabled") is not None:  # the label's t: "false" must not set it
            check.flag(interpreter["gil_disabled"], "interpreter.gil_disabled")
    description = document.get("machine_description")
    if description is not None:
        check.dict(description, "machine_description")
        check_limits(check, description.get("limits"), "machine_description.limits")
        check.number(description.get("logical_cpus"), "machine_description.logical_cpus", 1,
                     1 << 20, optional=True, integer=True)
    _check_calibration_and_ceiling(check, document)
    ceiling = served_schema.usable_ceiling(document.get("generator_ceiling"))  # checked just above
    for index, record in enumerate(check.list(check.key(document, "measurements", "the run file"),
                                              "measurements")):
        record_schema.check_record(check, record, f"measurements[{index}]", run_id, ceiling)
    for index, record in enumerate(check.list(check.key(document, "failures", "the run file"),
                                              "failures")):
        record_schema.check_failure(check, record, f"failures[{index}]", reached=True)
    for index, record in enumerate(check.list(document.get("skipped", []), "skipped")):
        record_schema.check_failure(check, record, f"skipped[{index}]", reached=False)
    seen: dict = {}
    for key in ("measurements", "failures", "skipped"):
        for index, record in enumerate(document.get(key, [])):
            where = seen.setdefault(Job.from_record(record), f"{key}[{index}]")
            if where != f"{key}[{index}]":  # --resume counts a job done once
                check.fail(f"{key}[{index}]", f"names the same job as {where}")
    for index, figure in enumerate(check.list(check.key(document, "figures", "the run file"),
                                              "figures")):
        record_schema.check_figure(check, figure, f"figures[{index}]")
    return document


def _check_calibration_and_ceiling(check: Checker, document: dict) -> None:
    """The run's calibration and the generator's ceiling (each with what the rest of the
    machine did meanwhile), and why a null ceiling is null."""
    calibration = document.get("calibration")
    if calibration is not None:
        check.dict(calibration, "calibration")
        for when in ("start", "end"):
            if calibration.get(when) is None:
                continue
            measured = check.dict(calibration[when], f"calibration.{when}")
            check.number(measured.get("python_loop_ns"), f"calibration.{when}.python_loop_ns", 0, 1e9)
            check.number(measured.get("pipe_one_way_seconds"),
                         f"calibration.{when}.pipe_one_way_seconds", 1e-9, 1.0)
            check.number(measured.get("pipe_spread"), f"calibration.{when}.pipe_spread", 0, 100,
                         optional=True)
            record_schema.check_interference(check, measured.get("interference"), f"calibration.{when}.interference")
    ceiling = document.get("generator_ceiling")
    if ceiling is not None:
        served_schema.check_served(check, ceiling, "generator_ceiling", open_run=False)
        record_schema.check_interference(check, ceiling.get("interference"), "generator_ceiling.interference")
        attempts = check.list(ceiling.get("attempts", []), "generator_ceiling.attempts")
        if len(attempts) > 10:
            check.fail("generator_ceiling.attempts", f"holds {len(attempts):,} rounds, more than 10")
        for i, attempt in enumerate(attempts):
            at = f"generator_ceiling.attempts[{i}]"
            check.dict(attempt, at)
            check.number(attempt.get("achieved"), f"{at}.achieved", 0, 1e9, optional=True)
            check.text(attempt.get("why_not"), f"{at}.why_not", limit=400)
    if document.get("generator_ceiling_failure") is not None:
        check.text(document["generator_ceiling_failure"], "generator_ceiling_failure", limit=500)
        if document.get("generator_ceiling") is not None:
            check.fail("generator_ceiling_failure", "is only beside a null generator_ceiling")
