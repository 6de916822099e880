"""The results store: plain, versioned JSON under ``results/<machine>/``, read back.

- ``machine.json``: the machine kind the folder is named for (``machine_kind``) and
  the host that first filed results in it; written once, never rewritten by a run (an
  older format's file is brought to the current one once), so a clone stays clean.
- ``<run-id>.json``: one sweep (written by ``run_file.RunFile``): the machine description
  and OS limits in force when it ran, the interpreter, its plan, every raw measurement,
  failure and skip, and the figures that depend on the machine's limits when it ended.

Reading is bounded and checked: only regular files of at most ``MAX_FILE_BYTES``, JSON
only (never pickle), every document checked against its format (``schema.py``), older
ones upgraded in memory (``upgrade.py``); ``analysis.tidy.load`` makes run files a
DataFrame.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

from parkbench.core.errors import UserError
from parkbench.store import schema, upgrade
from parkbench.store.files import read_json, write_json_atomic
from parkbench.store.schema import MACHINE_SCHEMA, MACHINE_SCHEMA_VERSION, RUN_SCHEMA, SCHEMA_VERSION


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ")


def run_order(run_id: str) -> tuple[str, int]:
    """Sort key of run ids: by time, then by the ``-2``, ``-3`` of runs of one second."""
    base, _, suffix = run_id.partition("-")
    return base, int(suffix) if suffix.isdigit() else 1


# What names a machine kind: machine.json holds these and nothing that changes between
# its runs (free memory, tasks, kernel and package versions are each run's own).
KIND_FIELDS = ("architecture", "cpu_model", "logical_cpus", "physical_cpus", "memory_gib")


def machine_kind(description: dict) -> dict:
    """The machine kind of a description (``machine.describe``, or an older machine.json):
    its name and ``KIND_FIELDS``."""
    if "memory_gib" in description:
        gib = description["memory_gib"]
    else:
        total = description.get("memory_total")
        gib = round(total / 2**30) if isinstance(total, int) and total > 0 else None
    return {"name": description["name"],
            **{key: description.get(key) for key in KIND_FIELDS if key != "memory_gib"}, "memory_gib": gib}


def ensure_machine(folder: Path, kind: dict, host: dict) -> dict:
    """The machine.json of ``kind``'s folder, as stored: written where there is none
    (``host`` its first host); one of an older format (which held changing state, as
    every run's own file does) rewritten once with the kind it recorded and no first host
    (it never named one); otherwise left byte for byte as it is, whatever this run's
    machine or host. The caller compares."""
    path = Path(folder) / kind["name"] / "machine.json"
    first: dict | None = host
    if path.is_file() or path.is_symlink():
        stored = read_machine(path)
        if stored["schema_version"] == MACHINE_SCHEMA_VERSION:
            return stored
        kind, first = machine_kind({**stored, "name": kind["name"]}), None
    document = {"schema": MACHINE_SCHEMA, "schema_version": MACHINE_SCHEMA_VERSION,
                **kind, "first_host": first}
    schema.check_machine(json.loads(json.dumps(document)), str(path))  # as its reader will
    write_json_atomic(path, document)
    return document


# --- reading -------------------------------------------------------------------------


def read_machine(path: Path) -> dict:
    return schema.check_machine(read_json(path), str(path))


def read_run(path: Path) -> dict:
    """A run file, upgraded to the current format and checked; any problem is a
    ``UserError``. The folder it lies in must be named after its machine, and the file
    must not be a symbolic link: a link could show a file from anywhere as a run, or
    one run of the folder twice (docs/safety.md)."""
    path = Path(path)
    return _checked_run(read_json(path, follow_links=False), path)


def _checked_run(document, path: Path) -> dict:
    """``document`` as read from ``path``: upgraded if older, checked (``UserError``)."""
    version = schema.check_version(document, str(path), RUN_SCHEMA)
    if "upgraded_from" in document:  # said only in memory, of a file read and upgraded
        raise UserError(f"{path}: upgraded_from is not a field a run file holds")
    if version < SCHEMA_VERSION:
        machine_json = path.parent / "machine.json"
        machine = read_machine(machine_json) if machine_json.is_file() else None
        try:
            document = upgrade.upgrade_run(document, machine)
        except ValueError as exc:
            raise UserError(f"{path}: {exc}") from None
    return schema.check_run(document, str(path), path.parent.name)


def _is_run_file(path: Path) -> bool:
    return (path.suffix == ".json" and path.name != "machine.json"
            and not path.name.startswith(".") and schema.RUN_ID.match(path.stem) is not None)


def find_run_files(target: Path) -> list[Path]:
    """Run files under a results folder (``*/<run-id>.json``), a machine folder (one
    holding ``machine.json``: ``<run-id>.json``), or one run file. pyperf files in run
    folders are never taken for run files."""
    target = Path(target)
    if target.is_file():
        return [target]
    if not target.is_dir():
        raise UserError(f"no results at {str(target)!r}: not a file or folder")
    direct = [path for path in target.glob("*.json") if _is_run_file(path)]
    if direct or (target / "machine.json").is_file():
        candidates = direct  # a machine folder
    else:
        candidates = list(target.glob("*/*.json"))
    runs = sorted((path for path in candidates if _is_run_file(path)),
                  key=lambda path: (path.parent.name, run_order(path.stem), path.name))
    if not runs:
        raise UserError(f"no results found under {str(target)!r}; run 'parkbench run' first")
    return runs


def has_runs(folder: Path) -> bool:
    """Whether a machine folder holds any run file."""
    folder = Path(folder)
    return folder.is_dir() and any(_is_run_file(path) for path in folder.glob("*.json"))
