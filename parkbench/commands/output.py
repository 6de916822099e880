"""Writing a command's output to stdout: JSON lines, and text that survives a closed
pipe (``| head -1``), a full device and a terminal that cannot encode every character.
"""

import json
import sys

from parkbench.store.checker import printable


def write(text: str) -> None:
    """``text`` and a newline on stdout; characters the encoding lacks become '?'."""
    stream = sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    safe = text.encode(encoding, errors="replace").decode(encoding)
    stream.write(safe + "\n")


def set_aside(refused_files) -> None:
    """One line on stderr per run file a reader set aside (``run_reader.SetAside``),
    naming it and what is wrong: ``parkbench: skipped: <file>: <reason>`` (or ``<file> is ...``)."""
    for refused in refused_files:
        print(f"parkbench: skipped: {printable(refused.text())}", file=sys.stderr, flush=True)


def json_lines(frame) -> None:
    """One JSON object per row on stdout; missing values (NaN, NA, None) as null."""
    for row in frame.to_dict(orient="records"):
        clean = {key: (None if is_missing(value) else _plain(value)) for key, value in row.items()}
        sys.stdout.write(json.dumps(clean) + "\n")


def json_records(records) -> None:
    """One JSON object per record (plain dicts) on stdout, after ``json_lines``' rows."""
    for record in records:
        sys.stdout.write(json.dumps({key: _plain(value) for key, value in record.items()}) + "\n")


def is_missing(value) -> bool:
    import pandas as pd

    if isinstance(value, (list, tuple, dict)):
        return False
    return value is None or bool(pd.isna(value))


def _plain(value):
    """numpy and pandas scalars -> plain Python for json."""
    return value.item() if hasattr(value, "item") else value
