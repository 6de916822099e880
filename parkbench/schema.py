"""The results format: its version history and the check of every file read from disk
against it (older files are first brought to the current version by ``upgrade.py``).

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
"""

import math
import re
from pathlib import PurePosixPath

from parkbench.errors import UserError
from parkbench.protocol import MAX_N
from parkbench.units import is_finite_number

RUN_SCHEMA = "parkbench-run"
MACHINE_SCHEMA = "parkbench-machine"
SCHEMA_VERSION = 2

PLAIN_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
RUN_ID = re.compile(r"\A\d{8}T\d{6}Z(-\d{1,4})?\Z")
MAX_RECORDS = 100_000        # records of one kind in one run file
RECORD_KINDS = ("memory", "switch", "tail")
# A connections probe's requests timed under load (seconds), in its record's "connections"
REQUEST_METRICS = ("request_p50", "request_p99", "request_p999", "request_max")
NON_NEGATIVE_FIGURES = ("capacity", "limit_reached", "max_n")
POSITIVE_FIGURES = ("switch_latency", "switch_latency_mean")


def is_plain_name(value) -> bool:
    return isinstance(value, str) and bool(PLAIN_NAME.match(value)) and ".." not in value


class _Checker:
    """Collects the path of the value being checked, for one-line messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, rule: str):
        raise UserError(f"{self.source}: {where} {rule}")

    def dict(self, value, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"must be an object, not {_kind(value)}")
        return value

    def list(self, value, where: str) -> list:
        if not isinstance(value, list):
            self.fail(where, f"must be a list, not {_kind(value)}")
        if len(value) > MAX_RECORDS:
            self.fail(where, f"holds {len(value):,} entries, more than {MAX_RECORDS:,}")
        return value

    def key(self, mapping, key: str, where: str):
        if key not in mapping:
            self.fail(where, f"lacks {key!r}")
        return mapping[key]

    def name(self, value, where: str, optional: bool = False):
        if value is None and optional:
            return None
        if not is_plain_name(value):
            self.fail(where, f"must be a plain name (letters, digits, '.', '_', '-'), not {_short(value)}")
        return value

    def text(self, value, where: str, optional: bool = False, limit: int = 4096):
        if value is None and optional:
            return None
        if not isinstance(value, str) or len(value) > limit:
            self.fail(where, f"must be text of at most {limit} characters, not {_short(value)}")
        return value

    def number(self, value, where: str, low=-math.inf, high=math.inf, optional=False,
               integer=False):
        if value is None and optional:
            return None
        ok = is_finite_number(value)
        if ok and integer and isinstance(value, float):
            ok = value.is_integer()
        if not ok or not low <= value <= high:
            kind = "a whole number" if integer else "a finite number"
            self.fail(where, f"must be {kind} in [{low:g}, {high:g}], not {_short(value)}")
        return value

    def flag(self, value, where: str):
        if not isinstance(value, bool):
            self.fail(where, f"must be true or false, not {_short(value)}")
        return value


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- checks ----------------------------------------------------------------------------


def check_version(document, source: str, schema: str) -> int:
    if not isinstance(document, dict) or document.get("schema") != schema:
        raise UserError(f"{source} is not a parkbench {schema!r} file")
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(f"{source} has no valid schema_version")
    if version > SCHEMA_VERSION:
        raise UserError(f"{source} has schema version {version}, newer than this parkbench "
                        f"reads ({SCHEMA_VERSION}); upgrade parkbench")
    return version


def check_limits(check: _Checker, limits, where: str) -> None:
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
    check = _Checker(source)
    check.name(check.key(document, "name", "the machine file"), "name")
    check_limits(check, document.get("limits"), "limits")
    check.number(document.get("logical_cpus"), "logical_cpus", 1, 1 << 20, optional=True, integer=True)
    check.number(document.get("memory_total"), "memory_total", 0, 2**63, optional=True, integer=True)
    for key in ("cpu_model", "kernel", "os", "architecture"):
        check.text(document.get(key), key, optional=True)
    return document


def _check_job(check: _Checker, job, where: str) -> None:
    check.dict(job, where)
    check.name(check.key(job, "kind", where), f"{where}.kind")
    check.name(check.key(job, "model", where), f"{where}.model")
    check.name(job.get("variant"), f"{where}.variant", optional=True)
    check.number(check.key(job, "n", where), f"{where}.n", 0, MAX_N, integer=True)
    check.number(job.get("repeat", 0), f"{where}.repeat", 0, MAX_RECORDS, integer=True)
    check.name(job.get("primitive"), f"{where}.primitive", optional=True)
    check.name(job.get("placement"), f"{where}.placement", optional=True)
    unknown = set(job) - {"kind", "model", "variant", "n", "repeat", "primitive", "placement"}
    if unknown:
        check.fail(where, f"has unknown fields {sorted(unknown)}")


def _check_measurement(check: _Checker, record, where: str, run_id: str) -> None:
    check.dict(record, where)
    kind = check.key(record, "kind", where)
    if kind not in RECORD_KINDS:
        check.fail(f"{where}.kind", f"must be one of {', '.join(RECORD_KINDS)}, not {_short(kind)}")
    check.name(check.key(record, "model", where), f"{where}.model")
    _check_job(check, check.key(record, "job", where), f"{where}.job")
    check.number(record.get("repeat"), f"{where}.repeat", 0, MAX_RECORDS, optional=True, integer=True)
    if kind == "memory":
        check.name(check.key(record, "variant", where), f"{where}.variant")
        check.number(check.key(record, "n", where), f"{where}.n", 1, MAX_N, integer=True)
        memory = check.dict(check.key(record, "memory", where), f"{where}.memory")
        for key in ("rss", "uss", "pss", "vms"):
            check.number(check.key(memory, key, f"{where}.memory"), f"{where}.memory.{key}", 0, 2**63)
        check.number(check.key(memory, "kernel", f"{where}.memory"), f"{where}.memory.kernel",
                     -(2**63), 2**63)
        check.number(memory.get("maps"), f"{where}.memory.maps", 0, 2**40, optional=True)
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
    elif kind == "tail":
        check.name(check.key(record, "variant", where), f"{where}.variant")
        check.name(check.key(record, "handoff_primitive", where), f"{where}.handoff_primitive")
        check.number(check.key(record, "n", where), f"{where}.n", 1, MAX_N, integer=True)
        tail = check.dict(check.key(record, "tail", where), f"{where}.tail")
        for key in ("switch_p50", "switch_p99", "switch_p999", "switch_max"):
            check.number(check.key(tail, key, f"{where}.tail"), f"{where}.tail.{key}", 0, 1e4)
    else:
        check.name(check.key(record, "primitive", where), f"{where}.primitive")
        check.name(check.key(record, "placement", where), f"{where}.placement")
        for key in ("median", "mean", "stdev"):
            value = check.number(check.key(record, key, where), f"{where}.{key}", 0, 1e4)
            if key != "stdev" and value <= 0:
                check.fail(f"{where}.{key}", f"must be more than 0 seconds, not {value!r}")
        check.number(check.key(record, "values", where), f"{where}.values", 0, 10**7, integer=True)
        check.number(record.get("round"), f"{where}.round", 0, 9, optional=True, integer=True)
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
    _check_measurement(_Checker(source), record, "the record", run_id)
    return record


def _check_figure(check: _Checker, figure, where: str) -> None:
    check.dict(figure, where)
    check.name(check.key(figure, "model", where), f"{where}.model")
    check.name(check.key(figure, "variant", where), f"{where}.variant")
    check.name(check.key(figure, "metric", where), f"{where}.metric")
    check.name(figure.get("placement"), f"{where}.placement", optional=True)
    metric = figure["metric"]
    low = -1e18
    if metric in NON_NEGATIVE_FIGURES or metric.startswith("switch_latency"):
        low = 0
    value = check.number(check.key(figure, "value", where), f"{where}.value", low, 1e18, optional=True)
    if metric in POSITIVE_FIGURES and value is not None and value <= 0:
        check.fail(f"{where}.value", f"of {metric} must be more than 0, not {value!r}")
    check.text(check.key(figure, "unit", where), f"{where}.unit", limit=32)
    check.text(figure.get("limit"), f"{where}.limit", optional=True, limit=64)
    check.number(figure.get("r2"), f"{where}.r2", -1, 1.000001, optional=True)


def _check_failure(check: _Checker, record, where: str, reached: bool) -> None:
    check.dict(record, where)
    _check_job(check, check.key(record, "job", where), f"{where}.job")
    check.text(check.key(record, "reason", where), f"{where}.reason")
    if reached:
        check.text(record.get("failure"), f"{where}.failure", optional=True, limit=32)
        check.number(record.get("reached"), f"{where}.reached", 0, MAX_N, optional=True, integer=True)


def _check_parameter_shapes(check: _Checker, parameters) -> None:
    """The shapes of the parameters that readers use (grids, latency settings); what
    they mean is the plan's to check (``plan.RunPlan.from_document``) when a run is
    resumed."""
    check.dict(parameters, "parameters")
    grids = parameters.get("grids")
    if grids is not None:
        check.dict(grids, "parameters.grids")
        for key, grid in grids.items():
            model, _, variant = str(key).partition(":")
            check.name(model, "parameters.grids key")
            check.name(variant or None, "parameters.grids key", optional=True)
            for n in check.list(grid, f"parameters.grids.{key}"):
                check.number(n, f"parameters.grids.{key}", 0, 2**63, integer=True)
    check.text(parameters.get("latency_mode"), "parameters.latency_mode", optional=True, limit=32)
    options = parameters.get("pyperf_options")
    if options is not None:
        for option in check.list(options, "parameters.pyperf_options"):
            check.text(option, "parameters.pyperf_options", limit=64)
    check.text(parameters.get("python_spec"), "parameters.python_spec", optional=True, limit=20)


def check_run(document, source: str, folder_name: str | None = None) -> dict:
    """A run document (already upgraded), checked against format ``SCHEMA_VERSION``."""
    check = _Checker(source)
    check.dict(document, "the run file")
    run_id = check.key(document, "run_id", "the run file")
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        check.fail("run_id", f"must look like 20261126T050824Z, not {_short(run_id)}")
    machine = check.name(check.key(document, "machine", "the run file"), "machine")
    if folder_name is not None and machine != folder_name:
        check.fail("machine", f"{machine!r} differs from the folder it is in ({folder_name!r}); "
                              f"a run file lives in results/<its machine>/")
    check.flag(check.key(document, "complete", "the run file"), "complete")
    _check_parameter_shapes(check, check.key(document, "parameters", "the run file"))
    interpreter = document.get("interpreter")
    if interpreter is not None:
        check.dict(interpreter, "interpreter")
        for key in ("implementation", "version", "executable", "abi"):
            check.text(interpreter.get(key), f"interpreter.{key}", optional=True, limit=200)
        if "/" in (interpreter.get("executable") or ""):
            check.fail("interpreter.executable", "must be a name, not a path")
    description = document.get("machine_description")
    if description is not None:
        check.dict(description, "machine_description")
        check_limits(check, description.get("limits"), "machine_description.limits")
        check.number(description.get("logical_cpus"), "machine_description.logical_cpus", 1,
                     1 << 20, optional=True, integer=True)
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
    for index, record in enumerate(check.list(check.key(document, "measurements", "the run file"),
                                              "measurements")):
        _check_measurement(check, record, f"measurements[{index}]", run_id)
    for index, record in enumerate(check.list(check.key(document, "failures", "the run file"),
                                              "failures")):
        _check_failure(check, record, f"failures[{index}]", reached=True)
    for index, record in enumerate(check.list(document.get("skipped", []), "skipped")):
        _check_failure(check, record, f"skipped[{index}]", reached=False)
    for index, figure in enumerate(check.list(check.key(document, "figures", "the run file"),
                                              "figures")):
        _check_figure(check, figure, f"figures[{index}]")
    return document
