"""The results store: plain, versioned JSON under ``results/<machine>/``.

- ``machine.json``: the machine's latest description (``machine.describe``), no paths.
- ``<run-id>.json``: one sweep: the machine description and OS limits in force when it
  ran, the interpreter, parameters, every raw measurement, failure and skip, and every
  derived figure. It is rewritten atomically after each measurement, so a runner killed
  at any moment leaves a readable file holding all it had finished. A run id is claimed
  with an exclusive create (two runs started in the same second get ``...Z`` and
  ``...Z-2``), and a run file being written is locked, so that no two processes write
  one file.

Reading is bounded and checked: only regular files of at most ``MAX_FILE_BYTES``, JSON
only (never pickle), every document checked against its format (``schema.py``), older
ones upgraded in memory (``upgrade.py``); ``tidy.load`` makes run files a DataFrame.
"""

import fcntl
import json
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from parkbench.core.errors import UserError
from parkbench.store import boundedread, schema, upgrade
from parkbench.store.schema import MACHINE_SCHEMA, MACHINE_SCHEMA_VERSION, RUN_SCHEMA, SCHEMA_VERSION

MAX_FILE_BYTES = 64 * 2**20  # a full sweep's run file is about 1 MiB; pyperf files less


def write_json_atomic(path: Path, document: dict) -> None:
    """Write ``document`` as JSON so that ``path`` holds either the old or the new file."""
    write_text_atomic(path, json.dumps(document, indent=1, allow_nan=False) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` holds either the old or the new file, whole."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
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
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ")


def run_order(run_id: str) -> tuple[str, int]:
    """Sort key of run ids: by time, then by the ``-2``, ``-3`` of runs of one second."""
    base, _, suffix = run_id.partition("-")
    return base, int(suffix) if suffix.isdigit() else 1


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
    import stat

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
        self.document = document
        self._lock = lock
        self._made_lock = made_lock  # reopen made the lock file: a refusal removes it

    def let_go(self) -> None:
        """A refused resume: unlocked, and no lock file left that the reopen made."""
        self._lock.close()
        if self._made_lock:
            _lock_path(self.path).unlink(missing_ok=True)

    @classmethod
    def create(cls, folder: Path, machine: str, parameters: dict, interpreter: dict,
               machine_description: dict, now: datetime | None = None) -> "RunFile":
        """A new run: claims a fresh run id (never one another run holds) and saves."""
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
            run.document = read_run(path)
            if run.document.get("upgraded_from") == 2:  # the upgrade loses nothing: written as 3
                del run.document["upgraded_from"]
            elif run.document.get("upgraded_from"):
                raise UserError(f"{path} is of results format {run.document['upgraded_from']}; "
                                f"only runs of format 2 or {SCHEMA_VERSION} can be resumed")
        except UserError:
            run.let_go()
            raise
        return run

    def save(self) -> None:
        """Write the document atomically, once the readers' own check passes on what
        would be written: a run never stores what its reader would refuse (one bad value
        would set the whole run aside), so the file keeps its last good state."""
        document = _finite(self.document)
        text = json.dumps(document, allow_nan=False)
        try:
            if len(text.encode("utf-8")) > MAX_FILE_BYTES:
                raise UserError(f"{self.path} would be more than {MAX_FILE_BYTES:,} bytes")
            _checked_run(json.loads(text, parse_constant=_reject_constant), self.path)
        except UserError as exc:
            raise UserError(f"not stored, as its reader would refuse it: {exc}") from None
        write_json_atomic(self.path, document)

    def _append(self, key: str, record: dict) -> None:
        """Add ``record`` and save; if saving fails, the document stays what the disk
        holds (so a count of stored records is true)."""
        self.document[key].append(record)
        try:
            self.save()
        except BaseException:
            self.document[key].pop()
            raise

    def add_measurement(self, record: dict) -> None:
        self._append("measurements", record)

    def add_failure(self, record: dict) -> None:
        self._append("failures", record)

    def add_skip(self, record: dict) -> None:
        self._append("skipped", record)

    def finish(self, figures: list[dict]) -> None:
        self.document["figures"] = figures
        self.document["complete"] = True
        self.document["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.save()


def write_machine(folder: Path, description: dict) -> Path:
    path = Path(folder) / description["name"] / "machine.json"
    document = {"schema": MACHINE_SCHEMA, "schema_version": MACHINE_SCHEMA_VERSION,
                **upgrade.describe_from_machine_json(description)}
    schema.check_machine(json.loads(json.dumps(document)), str(path))  # as its reader will
    write_json_atomic(path, document)
    return path


# --- reading -------------------------------------------------------------------------


def read_text(path: Path, limit: int = MAX_FILE_BYTES, follow_links: bool = True) -> str:
    """The text of a regular file of at most ``limit`` bytes; anything else (a FIFO, a
    device, a symlink to one, a huge file, binary; without ``follow_links`` a symlink to
    anything) is a ``UserError``."""
    try:
        data = boundedread.read_regular(path, limit, "results file", follow_links)
    except FileNotFoundError:
        raise UserError(f"no such results file: {path}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a parkbench results file (not UTF-8 text)") from None


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: Path, follow_links: bool = True):
    text = read_text(path, follow_links=follow_links)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise UserError(f"{path} is nested too deeply to be a results file") from None
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON (truncated or damaged?): {exc}") from None


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
