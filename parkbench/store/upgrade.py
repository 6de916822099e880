"""Reading older results files: each version's upgrade to the current format, in
memory, never written back. The format history is in ``schema.py``.
"""

import json
from pathlib import PurePosixPath

from parkbench.core.protocol import JOB_FIELDS
from parkbench.store.record_schema import STORED_FIGURES
from parkbench.store.schema import SCHEMA_VERSION


def _executable_name(python: dict) -> dict:
    python = dict(python)
    if isinstance(python.get("executable"), str):
        python["executable"] = PurePosixPath(python["executable"]).name
    return python


def upgrade_run(document: dict, machine_document: dict | None) -> dict:
    """A run document of any known version as version ``SCHEMA_VERSION`` (in memory),
    one version's step after the other; ``upgraded_from`` names the version read.
    ``ValueError`` (naming the field) where the document breaks its own version's rule
    in a way the upgrade would otherwise hide."""
    version = document.get("schema_version")
    if version == SCHEMA_VERSION:
        return document
    upgraded = _from_1(document, machine_document) if version == 1 else dict(document)
    if version in (1, 2):
        upgraded = _from_2(upgraded)
    if version in (1, 2, 3):
        upgraded = _from_3(upgraded)
    upgraded = _from_4(upgraded)
    upgraded["schema_version"] = SCHEMA_VERSION
    upgraded["upgraded_from"] = version
    return upgraded


PROBE_KINDS = ("memory", "tail", "served", "wakes")  # records whose "primitive" described the wait


def _top_level_fields(record: dict, measurement: bool) -> tuple[str, ...]:
    """The job's fields that a format-2 record also held at its top level (which its
    readers read): every other job field was the ``job`` copy's alone."""
    if not measurement:  # a failure or a skip
        return ("model", "variant", "n")
    if record.get("kind") == "switch":
        return ("kind", "model", "n", "repeat", "primitive", "placement")
    if record.get("kind") == "tail":
        return ("kind", "model", "variant", "n", "repeat", "primitive")
    return ("kind", "model", "variant", "n", "repeat")


def _named_once(record, measurement: bool, where: str):
    """A format-2 record without its ``job`` copy, or ``ValueError`` where format 2's
    own rule is broken (no ``job`` object) or its two copies disagree. A probe's words
    for the wait move from ``primitive`` to ``parks_on``; a tail record's
    ``handoff_primitive`` becomes its ``primitive``; a switch record's ``round`` (its
    repeat) goes, and one without a round (every round in one go, before rounds were
    interleaved) says ``whole``; a switch record's missing ``n`` is its job's 0."""
    if not isinstance(record, dict):
        return record  # the check names it
    job = record.get("job")
    if not isinstance(job, dict):
        raise ValueError(f"{where}.job must be an object in results format 2")
    lacking = [key for key in ("kind", "model", "n") if key not in job]
    unknown = sorted(str(key) for key in set(job) - set(JOB_FIELDS))
    if lacking or unknown:  # format 2's own rule for its job copy
        raise ValueError(f"{where}.job " + (f"lacks {lacking[0]!r}" if lacking else f"has unknown fields {unknown}"))
    record = dict(record)
    del record["job"]
    kind = record.get("kind")
    if measurement and kind in PROBE_KINDS and "primitive" in record:
        record["parks_on"] = record.pop("primitive")
    if measurement and kind == "tail" and "handoff_primitive" in record:
        record["primitive"] = record.pop("handoff_primitive")
    if measurement and kind == "switch":
        if "round" not in record:
            record["whole"] = True
        else:
            _same_round(record, job, where)
            record["repeat"] = record.pop("round")
        if record.get("n") is None:  # format 2 wrote none; the job's 0 says it does not apply
            record.pop("n", None)
    top = _top_level_fields(record, measurement)
    for key in JOB_FIELDS:
        if key in top and key in record:  # the same value and type (true is not 1)
            if key in job and json.dumps(job[key]) != json.dumps(record[key]):
                raise ValueError(f"{where}.{key} is {record[key]!r} but its job's is {job[key]!r}")
        elif key in job and (job[key] is not None or key == "variant"):
            record[key] = job[key]
        else:
            record.pop(key, None)  # not the job's: format 2 never read it
    return record


def _same_round(record: dict, job: dict, where: str) -> None:
    """A format-2 switch record's ``round`` is its repeat three times over (``round``, the
    top-level ``repeat`` and its job's); ``ValueError`` naming ``round`` where another
    copy says otherwise (the same value and type: true is not 1)."""
    for other, copy in (("its repeat", record), ("its job's repeat", job)):
        if "repeat" in copy and json.dumps(copy["repeat"]) != json.dumps(record["round"]):
            raise ValueError(f"{where}.round is {record['round']!r} but {other} is {copy['repeat']!r}")


def _from_3(document: dict) -> dict:
    """Format 3 stored every figure at the run's end; format 4 stores only those that
    depend on the limits in force then (``record_schema.STORED_FIGURES``), and the
    reader derives the rest from the records, as it does for every run."""
    upgraded = dict(document)
    if isinstance(document.get("figures"), list):
        upgraded["figures"] = [figure for figure in document["figures"] if not _derived(figure)]
    return upgraded


def _from_4(document: dict) -> dict:
    """Format 4 judged a map check's rates at the SLO alone (one step each), and offered
    a served job's open loop at fixed ``shares`` of its peak; format 5 stores the
    criterion each check is judged by, and searches for the knee from ``start_share`` of
    the peak (the smallest share), its steps judged against the floor. A resumed format-4
    run measures what is left by the new method; each record says which one it used."""
    parameters = document.get("parameters")
    if not isinstance(parameters, dict):
        return document
    parameters = dict(parameters)
    if isinstance(parameters.get("map_checks"), list):
        parameters["map_checks"] = [{**item, "criterion": item.get("criterion", "slo")}
                                    if isinstance(item, dict) else item for item in parameters["map_checks"]]
    served = parameters.get("served_settings")
    if isinstance(served, dict) and "shares" in served:
        shares = served["shares"]
        kept = {key: value for key, value in served.items() if key != "shares"}
        parameters["served_settings"] = {
            **kept, "start_share": min(shares) if isinstance(shares, list) and shares else 0.5,
            "judge_slo": True, "floor_every_round": False}
    return {**document, "parameters": parameters}


def _derived(figure) -> bool:
    """A well-named figure the reader derives (anything else stays, for the check to
    judge: a malformed figure is refused, not dropped)."""
    return (isinstance(figure, dict) and isinstance(figure.get("metric"), str)
            and figure["metric"] not in STORED_FIGURES)


def _from_2(document: dict) -> dict:
    upgraded = dict(document)
    for key in ("measurements", "failures", "skipped"):
        if isinstance(document.get(key), list):
            upgraded[key] = [_named_once(record, key == "measurements", f"{key}[{i}]")
                             for i, record in enumerate(document[key])]
    return upgraded


def _from_1(document: dict, machine_document: dict | None) -> dict:
    upgraded = dict(document)
    environment: dict = document["environment"] if isinstance(document.get("environment"), dict) else {}
    python: dict = environment["python"] if isinstance(environment.get("python"), dict) else {}
    upgraded["interpreter"] = _executable_name(python)
    description: dict | None = None
    if isinstance(machine_document, dict):
        description = describe_from_machine_json(machine_document)
        description["source"] = "machine.json at upgrade (format 1 did not record it)"  # its kind alone, since version 3
    if description is not None and "packages" in environment:
        description["packages"] = environment["packages"]
    upgraded["machine_description"] = description
    upgraded.pop("environment", None)
    parameters = document.get("parameters")
    if isinstance(parameters, dict) and isinstance(parameters.get("grids"), dict):
        parameters = dict(parameters)
        selection: list = parameters["selection"] if isinstance(parameters.get("selection"), list) else []
        grids = {}
        for key, grid in parameters["grids"].items():
            if isinstance(key, str) and ":" not in key:
                for item in selection:
                    if isinstance(item, list) and len(item) == 2 and item[0] == key:
                        grids[f"{key}:{item[1]}"] = grid
            else:
                grids[key] = grid
        parameters["grids"] = grids
        upgraded["parameters"] = parameters
    if isinstance(document.get("measurements"), list):
        upgraded["measurements"] = [
            {"kind": "memory", **record} if isinstance(record, dict) and "kind" not in record else record
            for record in document["measurements"]]
    return upgraded


def describe_from_machine_json(machine_document: dict) -> dict:
    description = {key: value for key, value in machine_document.items()
                   if key not in ("schema", "schema_version", "first_host")}
    if isinstance(description.get("python"), dict):
        description["python"] = _executable_name(description["python"])
    return description


