"""Writing one sweep's run file (``<run-id>.json``): the only object through which a run
document changes.

A run id is claimed with an exclusive create (two runs started in the same second get
``...Z`` and ``...Z-2``), and a run file being written is locked, so that no two
processes write one file. Every change is saved atomically at once, and only once the
reader's own check passes on what would be written: a runner killed at any moment leaves
a readable file holding all it had finished, and never one its reader would refuse. A
command reads and changes a run only through ``RunFile``'s methods, never its dict.
"""

import copy
import fcntl
import json
import math
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from parkbench.core.errors import UserError
from parkbench.store import pyperf_files
from parkbench.store.files import MAX_FILE_BYTES, _reject_constant, write_json_atomic
from parkbench.store.results import _checked_run, new_run_id, read_run
from parkbench.store.schema import RUN_SCHEMA, SCHEMA_VERSION

RECORD_LISTS = ("measurements", "failures", "skipped")
RESUMABLE_FROM = (2, 3, 4, 5)    # older formats an interrupted run can be resumed from


def _finite(value):
    """NaN has no JSON spelling: store it as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _remove_if_empty(folder: Path, created: bool) -> None:
    if created:
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty, or already gone: leave it


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.stem}.lock")


def _lock(path: Path):
    """An exclusive advisory lock on ``path``'s lock file, or ``UserError`` if another
    process holds it. The lock lives as long as the returned file object."""
    lock_path = _lock_path(path)
    try:  # never through a link, never blocking on a FIFO: only a regular file of its own
        fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        raise UserError(f"cannot open the run's lock file {lock_path}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"the run's lock file {lock_path} is not a regular file") from None
    handle = os.fdopen(fd, "a")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError(f"run {path.stem} is being written by another parkbench process "
                        f"(lock {lock_path}); wait for it to finish") from None
    return handle


class RunFile:
    """One sweep's file, saved atomically after every change, locked while open."""

    def __init__(self, path: Path, document: dict, lock, made_lock: bool = False):
        self.path = Path(path)
        self._document = document
        self._lock = lock
        self._made_lock = made_lock  # reopen made the lock file: a refusal removes it

    # --- what the run holds (copies: the run changes only through the methods below) --

    @property
    def run_id(self) -> str:
        return self._document["run_id"]

    @property
    def complete(self) -> bool:
        return self._document["complete"]

    @property
    def parameters(self) -> dict:
        return copy.deepcopy(self._document["parameters"])

    @property
    def interpreter(self) -> dict | None:
        return copy.deepcopy(self._document.get("interpreter"))

    @property
    def host(self) -> dict | None:
        return copy.deepcopy(self._document.get("host"))

    @property
    def pyperf_folder(self) -> Path:
        """Where the run's pyperf files lie: ``<machine>/<run-id>/``."""
        return self.path.with_suffix("")

    def records(self) -> dict[str, list]:
        """Copies of the run's measurements, failures and skips, by list."""
        return {key: copy.deepcopy(self._document[key]) for key in RECORD_LISTS}

    def stored(self, key: str) -> int:
        """How many records of ``measurements``, ``failures`` or ``skipped`` are stored."""
        return len(self._document[key])

    def calibration(self, when: str) -> dict | None:
        """The calibration measured at the run's ``start`` or ``end``, or ``None``."""
        return copy.deepcopy((self._document.get("calibration") or {}).get(when))

    @property
    def has_generator_ceiling(self) -> bool:
        return "generator_ceiling" in self._document

    def generator_ceiling(self) -> dict | None:
        return copy.deepcopy(self._document.get("generator_ceiling"))

    def generator_ceiling_failure(self) -> str | None:
        """Why the ceiling is null: what its child said, stored with it."""
        return self._document.get("generator_ceiling_failure")

    def snapshot(self) -> dict:
        """A copy of the whole document (for readers that take one: the phases' times)."""
        return copy.deepcopy(self._document)

    def let_go(self) -> None:
        """A refused resume: unlocked, and no lock file left that the reopen made."""
        self._lock.close()
        if self._made_lock:
            _lock_path(self.path).unlink(missing_ok=True)

    @classmethod
    def create(cls, folder: Path, machine: str, parameters: dict, interpreter: dict,
               machine_description: dict, now: datetime | None = None,
               host: dict | None = None) -> "RunFile":
        """A new run: claims a fresh run id (never one another run holds) and saves;
        ``host`` names the host it runs on (``machine.host``; None: not recorded)."""
        base = new_run_id(now)
        machine_folder = Path(folder) / machine
        created = not machine_folder.exists()
        try:
            machine_folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in its place too ("File exists")
            raise UserError(f"cannot create {str(machine_folder)!r}: {exc.strerror or exc}") from None
        for attempt in range(1, 1000):
            run_id = base if attempt == 1 else f"{base}-{attempt}"
            path = machine_folder / f"{run_id}.json"
            if path.exists():
                continue
            try:  # the claim: an exclusive create of the run's lock file
                os.close(os.open(_lock_path(path), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except FileExistsError:
                continue
            except OSError as exc:
                _remove_if_empty(machine_folder, created)
                raise UserError(f"cannot create {str(path)!r}: {exc.strerror or exc}") from None
            break
        else:
            raise UserError(f"no free run id under {str(machine_folder)!r} for {base}")
        document = {
            "schema": RUN_SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "run_id": run_id,
            "machine": machine,
            "host": host,
            "started_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
            "finished_at": None,
            "complete": False,
            "parameters": parameters,
            "interpreter": interpreter,
            "machine_description": machine_description,
            "measurements": [],
            "failures": [],
            "skipped": [],
            "figures": [],
        }
        run = cls(path, document, _lock(path))
        try:
            run.save()  # atomic: the run file never exists half-written, nor empty
        except (OSError, UserError) as exc:  # nothing of this run is left: no lock, no folder
            run._lock.close()
            _lock_path(path).unlink(missing_ok=True)
            _remove_if_empty(machine_folder, created)
            if isinstance(exc, UserError):
                raise
            raise UserError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        return run

    @classmethod
    def reopen(cls, path: Path) -> "RunFile":
        """An interrupted run's file, to be finished by a resumed sweep (locked first,
        so that two resumes of one run cannot both write it)."""
        path = Path(path)
        made = not _lock_path(path).exists()
        run = cls(path, {}, _lock(path), made)
        try:
            document = read_run(path)
            if document.get("upgraded_from") in RESUMABLE_FROM:  # the upgrade loses nothing
                del document["upgraded_from"]
            elif document.get("upgraded_from"):
                raise UserError(f"{path} is of results format {document['upgraded_from']}; "
                                f"only runs of format {', '.join(map(str, RESUMABLE_FROM))} or "
                                f"{SCHEMA_VERSION} can be resumed")
            run._document = document
        except UserError:
            run.let_go()
            raise
        return run

    def save(self) -> None:
        """Write the document atomically, once the readers' own check passes on what
        would be written: a run never stores what its reader would refuse (one bad value
        would set the whole run aside), so the file keeps its last good state."""
        document = _finite(self._document)
        text = json.dumps(document, allow_nan=False)
        try:
            if len(text.encode("utf-8")) > MAX_FILE_BYTES:
                raise UserError(f"{self.path} would be more than {MAX_FILE_BYTES:,} bytes")
            _checked_run(json.loads(text, parse_constant=_reject_constant), self.path)
        except UserError as exc:
            raise UserError(f"not stored, as its reader would refuse it: {exc}") from None
        write_json_atomic(self.path, document)

    def _change(self, key: str, value, **others) -> None:
        """Set ``key`` (and each of ``others``; ``None`` there removes it) and save; if
        saving fails, the document stays what the disk holds."""
        missing = object()
        before = {name: self._document.get(name, missing) for name in (key, *others)}
        self._document[key] = value
        for name, other in others.items():
            if other is None:
                self._document.pop(name, None)
            else:
                self._document[name] = other
        try:
            self.save()
        except BaseException:
            for name, old in before.items():
                if old is missing:
                    self._document.pop(name, None)
                else:
                    self._document[name] = old
            raise

    def _append(self, key: str, record: dict) -> None:
        """Add ``record`` and save; if saving fails, the document stays what the disk
        holds (so a count of stored records is true)."""
        self._document[key].append(record)
        try:
            self.save()
        except BaseException:
            self._document[key].pop()
            raise

    # --- the only ways a run document changes ------------------------------------------

    def set_parameters(self, parameters: dict) -> None:
        """The plan a resumed run goes on with (checked as a new run's, stored anew)."""
        self._change("parameters", parameters)

    def set_calibration(self, when: str, measured: dict | None) -> None:
        """The calibration measured at the run's ``start`` or ``end``."""
        self._change("calibration", {**(self._document.get("calibration") or {}), when: measured})

    def set_generator_ceiling(self, found: dict | None, failure: str = "") -> None:
        """The load generator's own ceiling, measured before the served jobs, or null
        and why (``generator_ceiling_failure``)."""
        self._change("generator_ceiling", found,
                     generator_ceiling_failure=(failure or None) if found is None else None)

    def add_measurement(self, record: dict) -> None:
        self._append("measurements", record)

    def add_switch_round(self, record: dict, round_file: Path) -> None:
        """A switch benchmark's round: its pyperf file merged into the benchmark's file
        (``record["file"]``, under the run's folder), then its record stored."""
        pyperf_files.merge_round(Path(round_file), self.path.parent / record["file"], record["repeat"])
        self._append("measurements", record)

    def add_failure(self, record: dict) -> None:
        self._append("failures", record)

    def add_skip(self, record: dict) -> None:
        self._append("skipped", record)

    def finish(self, figures: list[dict]) -> None:
        """The run is complete: the figures that depend on the machine's limits as it
        ends are stored with it (every other figure is derived from the records on read)."""
        self._document["figures"] = figures
        self._document["complete"] = True
        self._document["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.save()


