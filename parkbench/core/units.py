"""Parsing counts written the way people write them (``10k``, ``1M``) and formatting
byte and time figures for humans, and the one test of a number read from anywhere.
Parsing is strict: anything that is not a positive whole number is a ``UserError`` that
names the accepted forms.
"""

import math
import re

from parkbench.core.errors import UserError

_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
MAX_COUNT = 10**15
# [0-9], never \d: \d takes every script's digits ('٥ms' read as 5 ms, issue 37)
_COUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgG]?)\s*$")


def is_finite_number(value) -> bool:
    """A real number, not a boolean, neither NaN nor infinite (a whole number of any
    size is finite: ``math.isfinite`` would overflow on it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def parse_count(text: str, allow_zero: bool = False, what: str = "N") -> int:
    """``"10k"`` -> 10000, ``"1.5M"`` -> 1500000; positive whole numbers only (or zero,
    with ``allow_zero``), at most ``MAX_COUNT``; ``what`` names it in the error (an
    option such as ``--waiters``)."""
    kind = "a whole number (0 or more)" if allow_zero else "a positive whole number"
    match = _COUNT.fullmatch(str(text))
    rule = f"{what} must be {kind} such as 100, 10k or 1M, at most {MAX_COUNT:,}, not {text!r}"
    if not match:
        raise UserError(rule)
    number, suffix = match.groups()
    value = float(number) * _SUFFIXES[suffix.lower()]
    if value != int(value) or value < (0 if allow_zero else 1) or value > MAX_COUNT:
        raise UserError(rule)
    return int(value)


def parse_count_list(text: str) -> list[int]:
    """A comma list of counts, in the order given, duplicates kept."""
    items = [item for item in str(text).split(",") if item.strip()]
    if not items:
        raise UserError(f"expected a comma list of N such as 1k,10k,100k, not {text!r}")
    return [parse_count(item) for item in items]


_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([kKmMgGtT])(i?)([bB]?))?\s*")
_SIZE_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4}
MAX_SIZE = 2**62


def parse_size(text: str) -> int:
    """A size in bytes, units exactly as written: ``"16GiB"`` (IEC, 16 x 2^30),
    ``"4GB"`` (SI, 4 x 10^9), ``"512M"`` or ``"1.5g"`` (a bare prefix: IEC, as
    ``ulimit`` and ``free`` use it), ``"4096"`` (bytes). At least one byte."""
    match = _SIZE.fullmatch(str(text))
    rule = (f"a size must be a whole number of bytes from 1 such as 4096, or an amount "
            f"such as 512MiB, 16GiB (IEC) or 4GB (SI), not {text!r}")
    if not match:
        raise UserError(rule)
    number, prefix, binary, byte = match.groups()
    if prefix is None:
        value = float(number)
    elif binary or not byte:
        value = float(number) * 1024 ** _SIZE_POWERS[prefix.lower()]
    else:
        value = float(number) * 1000 ** _SIZE_POWERS[prefix.lower()]
    if value < 1 or value > MAX_SIZE:
        raise UserError(rule)
    return int(value)


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
    if unit == "B" or value >= 999.5:  # 1,010 KiB, never 1.01e+03 KiB
        return f"{sign}{value:,.0f} {unit}"
    return f"{sign}{value:.3g} {unit}"


_SECONDS = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|ms|us|µs)?\s*$")


def parse_seconds(text: str, what: str = "a time") -> float:
    """``"5ms"`` -> 0.005: a positive time in s, ms or µs (``us``); no unit means s."""
    match = _SECONDS.match(str(text))
    value = float(match[1]) * {None: 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}[match[2]] \
        if match else 0.0
    if not 0 < value <= 86400:
        raise UserError(f"{what} must be a positive time such as 5ms, 500us or 0.01 (seconds), "
                        f"not {text!r}")
    return value


def format_seconds(value: float) -> str:
    """ns, µs, ms or s with three significant figures."""
    if value is None or math.isnan(value):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(value) >= scale or unit == "ns":
            return f"{value / scale:.3g} {unit}"
    raise AssertionError("unreachable")
