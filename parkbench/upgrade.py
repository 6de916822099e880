"""Reading older results files: each version's upgrade to the current format, in
memory, never written back. The format history is in ``schema.py``.
"""

from pathlib import PurePosixPath

from parkbench.schema import SCHEMA_VERSION


def _executable_name(python: dict) -> dict:
    python = dict(python)
    if isinstance(python.get("executable"), str):
        python["executable"] = PurePosixPath(python["executable"]).name
    return python


def upgrade_run(document: dict, machine_document: dict | None) -> dict:
    """A run document of any known version as version ``SCHEMA_VERSION`` (in memory)."""
    if document.get("schema_version") == SCHEMA_VERSION:
        return document
    upgraded = dict(document)
    environment: dict = document["environment"] if isinstance(document.get("environment"), dict) else {}
    python: dict = environment["python"] if isinstance(environment.get("python"), dict) else {}
    upgraded["interpreter"] = _executable_name(python)
    description: dict | None = None
    if isinstance(machine_document, dict):
        description = describe_from_machine_json(machine_document)
        description["source"] = "machine.json at upgrade (format 1 did not record it)"
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
    upgraded["schema_version"] = SCHEMA_VERSION
    upgraded["upgraded_from"] = document.get("schema_version")
    return upgraded


def describe_from_machine_json(machine_document: dict) -> dict:
    description = {key: value for key, value in machine_document.items()
                   if key not in ("schema", "schema_version")}
    if isinstance(description.get("python"), dict):
        description["python"] = _executable_name(description["python"])
    return description


