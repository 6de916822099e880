"""Files of the results store on disk: written atomically (a temporary file beside the
target, fsynced, renamed: the target holds the old file or the new one, whole), read
bounded (a regular file of at most ``MAX_FILE_BYTES``, UTF-8, JSON only: never pickle)."""

import json
import os
import tempfile
from pathlib import Path

from parkbench.core.errors import UserError
from parkbench.store import boundedread

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
