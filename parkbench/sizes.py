"""Parsing counts written the way people write them (``10k``, ``1M``) and formatting
byte and time figures for humans. Parsing is strict: anything that is not a positive
whole number is a ``UserError`` that names the accepted forms.
"""

import math
import re

from parkbench.errors import UserError

_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$")


def parse_count(text: str) -> int:
    """``"10k"`` -> 10000, ``"1.5M"`` -> 1500000; positive whole numbers only."""
    match = _COUNT.match(str(text))
    if not match:
        raise UserError(
            f"N must be a positive whole number such as 100, 10k or 1M, not {text!r}"
        )
    number, suffix = match.groups()
    value = float(number) * _SUFFIXES[suffix.lower()]
    if value != int(value) or value < 1:
        raise UserError(
            f"N must be a positive whole number such as 100, 10k or 1M, not {text!r}"
        )
    return int(value)


def parse_count_list(text: str) -> list[int]:
    """A comma list of counts, in the order given, duplicates kept."""
    items = [item for item in str(text).split(",") if item.strip()]
    if not items:
        raise UserError(f"expected a comma list of N such as 1k,10k,100k, not {text!r}")
    return [parse_count(item) for item in items]


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?)[bB]?\s*$")
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(text: str) -> int:
    """A memory size: ``"16GiB"``, ``"512M"``, ``"1.5g"``, ``"4096"`` (bytes).

    Binary and decimal prefixes are both read as binary (GiB), as memory is sized.
    """
    match = _SIZE.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise UserError(
            f"a size must be a positive amount such as 512MiB, 16GiB or 4096 (bytes), not {text!r}"
        )
    number, prefix, _binary = match.groups()
    return int(float(number) * 1024 ** _SIZE_POWERS[prefix.lower()])


def format_count(n: float) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "-"
    return f"{int(n):,}"


def format_bytes(value: float) -> str:
    """Binary units, three significant figures: 9.84 KiB, 1.20 MiB."""
    if value is None or math.isnan(value):
        return "-"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    if unit == "B":
        return f"{sign}{value:.0f} B"
    return f"{sign}{value:.3g} {unit}"


def format_seconds(value: float) -> str:
    """ns, µs, ms or s with three significant figures."""
    if value is None or math.isnan(value):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(value) >= scale or unit == "ns":
            return f"{value / scale:.3g} {unit}"
    raise AssertionError("unreachable")
