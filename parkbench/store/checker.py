"""One-line checks of values read from disk: ``Checker`` collects where a value sits in
its file, so that a broken rule is one ``UserError`` naming the file, the place and the
rule. Numbers must be finite and in range (``units.is_finite_number``), names plain.
"""

import math
import re

from parkbench.core.errors import UserError
from parkbench.core.units import is_finite_number

PLAIN_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
MAX_RECORDS = 100_000        # records of one kind in one run file


def is_plain_name(value) -> bool:
    return isinstance(value, str) and bool(PLAIN_NAME.match(value)) and ".." not in value


def printable(value) -> str:
    """Text from a results file with its control characters shown as ``\\xNN`` (ESC,
    BEL or CR from a file must not retitle or clear a terminal, nor reach a plot)."""
    return "".join(f"\\x{ord(ch):02x}" if ord(ch) < 32 or 127 <= ord(ch) < 160 else ch
                   for ch in str(value))


class Checker:
    """Collects the path of the value being checked, for one-line messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, rule: str):
        raise UserError(f"{self.source}: {where} {rule}")

    def dict(self, value, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"must be an object, not {_kind(value)}")
        return value

    def list(self, value, where: str) -> list:
        if not isinstance(value, list):
            self.fail(where, f"must be a list, not {_kind(value)}")
        if len(value) > MAX_RECORDS:
            self.fail(where, f"holds {len(value):,} entries, more than {MAX_RECORDS:,}")
        return value

    def key(self, mapping, key: str, where: str):
        if key not in mapping:
            self.fail(where, f"lacks {key!r}")
        return mapping[key]

    def name(self, value, where: str, optional: bool = False):
        if value is None and optional:
            return None
        if not is_plain_name(value):
            self.fail(where, f"must be a plain name (letters, digits, '.', '_', '-'), not {_short(value)}")
        return value

    def text(self, value, where: str, optional: bool = False, limit: int = 4096):
        if value is None and optional:
            return None
        if not isinstance(value, str) or len(value) > limit:
            self.fail(where, f"must be text of at most {limit} characters, not {_short(value)}")
        return value

    def number(self, value, where: str, low=-math.inf, high=math.inf, optional=False,
               integer=False):
        if value is None and optional:
            return None
        ok = is_finite_number(value)
        if ok and integer and isinstance(value, float):
            ok = value.is_integer()
        if not ok or not low <= value <= high:
            kind = "a whole number" if integer else "a finite number"
            self.fail(where, f"must be {kind} in [{low:g}, {high:g}], not {_short(value)}")
        return value

    def flag(self, value, where: str):
        if not isinstance(value, bool):
            self.fail(where, f"must be true or false, not {_short(value)}")
        return value


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
