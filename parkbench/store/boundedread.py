"""Reading a file someone else may have put in place: only a regular file, only up to a
size cap. A FIFO (which would hang a plain read), a device or a link to one
(``/dev/zero`` would grow without end), a folder or an oversized file is a one-line
``UserError`` naming the path. Run files (``results.read_text``) and the stored machine
config (``machine.resolve_name``) are read through it; a run file also never through a
symbolic link (``follow_links=False``). Imports nothing heavy.
"""

import errno
import os
import stat
from pathlib import Path

from parkbench.core.errors import UserError


def read_regular(path: Path, limit: int, what: str, follow_links: bool = True) -> bytes:
    """The bytes of the regular file ``path`` of at most ``limit`` bytes. A missing file
    raises ``FileNotFoundError`` (the caller decides what that means); anything else
    that is not such a file is a ``UserError`` that calls it a ``what``. Without
    ``follow_links``, ``path`` itself being a symbolic link (to anything) is refused;
    links among the folders above it are followed."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links and path.is_symlink():
            raise UserError(f"{path} is a symbolic link, not a regular file (a {what} is "
                            f"never read through a link: put the file itself there)") from None
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
