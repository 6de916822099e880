"""Reading a file someone else may have put in place: only a regular file, only up to a
size cap. A FIFO (which would hang a plain read), a device or a link to one
(``/dev/zero`` would grow without end), a folder or an oversized file is a one-line
``UserError`` naming the path. Run files (``results.read_text``) and the stored machine
config (``machine.resolve_name``) are read through it. Imports nothing heavy.
"""

import os
import stat
from pathlib import Path

from parkbench.errors import UserError


def read_regular(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path`` of at most ``limit`` bytes. A missing file
    raises ``FileNotFoundError`` (the caller decides what that means); anything else
    that is not such a file is a ``UserError`` that calls it a ``what``."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{path} is not a regular file")
        if info.st_size > limit:
            raise UserError(f"{path} is {info.st_size:,} bytes, more than a {what} may "
                            f"be ({limit:,})")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UserError(f"{path} is more than {limit:,} bytes")
    return data
