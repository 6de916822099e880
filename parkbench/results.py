"""The results store: plain, versioned JSON under ``results/<machine>/``.

- ``machine.json``: who the machine is (``machine.describe``).
- ``<run-id>.json``: one sweep: parameters, every raw measurement, every failure and
  every derived figure. It is rewritten atomically after each measurement, so a runner
  killed at any moment leaves a readable file holding all it had finished.

``load(paths)`` turns any set of run files into one tidy DataFrame, one row per
(machine, run, model, variant, metric, n). Files are read as JSON only; a file of an
unknown schema or a newer version is an error, never a guess.
"""

import json
import math
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from parkbench.errors import UserError
from parkbench.fitting import FITTED, kind, measurement_value

RUN_SCHEMA = "parkbench-run"
MACHINE_SCHEMA = "parkbench-machine"
SCHEMA_VERSION = 1

COLUMNS = ("machine", "run_id", "model", "variant", "placement", "metric", "n", "value", "unit",
           "repeat", "limit")
TAIL_METRICS = ("switch_p50", "switch_p99", "switch_p999", "switch_max")


def write_json_atomic(path: Path, document: dict) -> None:
    """Write ``document`` as JSON so that ``path`` holds either the old or the new file."""
    text = json.dumps(document, indent=1, allow_nan=False, default=_jsonable) + "\n"
    write_text_atomic(path, text)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` holds either the old or the new file, whole."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)  # mkstemp's 0600 would follow the file into git
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _jsonable(value):
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _finite(value):
    """NaN has no JSON spelling: store it as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ")


def check_output_folder(folder: Path) -> Path:
    """Create ``folder`` if needed and prove it is writable, or raise ``UserError``."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UserError(f"output folder {str(folder)!r} is not writable: {exc.strerror or exc}") from None
    return folder


class RunFile:
    """One sweep's file, saved atomically after every change."""

    def __init__(self, folder: Path, machine: str, run_id: str, parameters: dict, environment: dict):
        self.path = Path(folder) / machine / f"{run_id}.json"
        self.document = {
            "schema": RUN_SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "run_id": run_id,
            "machine": machine,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "finished_at": None,
            "complete": False,
            "parameters": parameters,
            "environment": environment,
            "measurements": [],
            "failures": [],
            "skipped": [],
            "figures": [],
        }

    @classmethod
    def reopen(cls, path: Path) -> "RunFile":
        """An interrupted run's file, to be finished by a resumed sweep."""
        document = read_run(path)
        run = cls.__new__(cls)
        run.path = Path(path)
        run.document = document
        document.setdefault("skipped", [])
        return run

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, _finite(self.document))

    def add_measurement(self, record: dict) -> None:
        self.document["measurements"].append(record)
        self.save()

    def add_failure(self, record: dict) -> None:
        self.document["failures"].append(record)
        self.save()

    def add_skip(self, record: dict) -> None:
        self.document["skipped"].append(record)
        self.save()

    def finish(self, figures: list[dict]) -> None:
        self.document["figures"] = figures
        self.document["complete"] = True
        self.document["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.save()


def write_machine(folder: Path, description: dict) -> Path:
    path = Path(folder) / description["name"] / "machine.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"schema": MACHINE_SCHEMA, "schema_version": SCHEMA_VERSION, **description})
    return path


# --- reading -------------------------------------------------------------------------


def read_document(path: Path, schema: str) -> dict:
    """A stored file of ``schema``, checked; any problem is a ``UserError``."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"no such results file: {path}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a parkbench results file (not text)") from None
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON (truncated or damaged?): {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != schema:
        raise UserError(f"{path} is not a parkbench {schema!r} file")
    version = document.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise UserError(f"{path} has no valid schema_version")
    if version > SCHEMA_VERSION:
        raise UserError(
            f"{path} has schema version {version}, newer than this parkbench reads "
            f"({SCHEMA_VERSION}); upgrade parkbench"
        )
    return document


def read_run(path: Path) -> dict:
    return read_document(path, RUN_SCHEMA)


def find_run_files(target: Path) -> list[Path]:
    """Run files under a results folder, a machine folder, or one run file."""
    target = Path(target)
    if target.is_file():
        return [target]
    if not target.is_dir():
        raise UserError(f"no results at {str(target)!r}: not a file or folder")
    runs = sorted(
        path for pattern in ("*.json", "*/*.json")
        for path in target.glob(pattern)
        if path.name != "machine.json" and not path.name.startswith(".")
    )
    if not runs:
        raise UserError(f"no results found under {str(target)!r}; run 'parkbench run' first")
    return runs


def tidy_rows(document: dict) -> list[dict]:
    """The tidy rows of one run document: raw measurements, then figures."""
    base = {"machine": document["machine"], "run_id": document["run_id"]}
    rows = []
    for record in document["measurements"]:
        if kind(record) == "memory":
            for key, _stem, unit in FITTED:
                if key == "maps" and "maps" not in record["memory"]:
                    continue  # runs before mappings were counted have no such view
                rows.append({
                    **base, "model": record["model"], "variant": record["variant"],
                    "placement": None, "metric": key, "n": record["n"],
                    "value": measurement_value(record, key), "unit": unit,
                    "repeat": record.get("repeat"),
                })
        elif kind(record) == "tail":
            for metric in TAIL_METRICS:
                rows.append({
                    **base, "model": record["model"], "variant": record["handoff_primitive"],
                    "placement": record["job"]["placement"], "metric": metric,
                    "n": record["n"], "value": record["tail"][metric], "unit": "seconds",
                    "repeat": record.get("repeat"),
                })
    for figure in document["figures"]:
        rows.append({
            **base, "model": figure["model"], "variant": figure["variant"],
            "placement": figure.get("placement"), "metric": figure["metric"],
            "n": figure.get("n"), "value": figure["value"], "unit": figure["unit"],
            "repeat": None, "limit": figure.get("limit"),
        })
    return rows


def load(paths):
    """Any mix of results folders, machine folders and run files -> tidy DataFrame.

    Columns: machine, run_id, model, variant, placement, metric, n, value, unit,
    repeat. Raw memory measurements have metric ``rss``, ``uss``, ``pss``, ``vms``,
    ``kernel``, ``total`` (bytes), ``spawn_seconds``, ``wake_seconds`` (seconds) and
    their N; tail latency has ``switch_p50`` ... ``switch_max`` (seconds) with the N of
    parked waiters and ``variant`` the hand-off primitive; derived figures
    (``rss_per_waiter``, ``switch_latency`` ...) have no N; ``capacity`` rows name
    the binding limit in ``limit``.
    """
    import pandas as pd

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows = []
    for target in paths:
        for path in find_run_files(target):
            rows.extend(tidy_rows(read_run(path)))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["n"] = frame["n"].astype("Int64")
    frame["repeat"] = frame["repeat"].astype("Int64")
    frame["value"] = frame["value"].astype(float)
    return frame


def load_machines(folder) -> dict:
    """machine name -> machine.json of every machine folder under a results folder."""
    machines = {}
    for path in sorted(Path(folder).glob("*/machine.json")):
        document = read_document(path, MACHINE_SCHEMA)
        machines[document["name"]] = document
    return machines
