"""Which host ran a run: a run file's ``host`` record (``hostname``, and ``id``, a
short hash of the host's /etc/machine-id), checked as read and named for readers.

A machine folder names a machine kind; two hosts of one kind can file runs under one
name. The readers say so (``current.py``) and ``run`` suggests ``--machine`` when the
host differs from the one that first filed results in the folder (``machine.json``).
"""

import re

from parkbench.store.checker import Checker

HOST_ID = re.compile(r"\A[0-9a-f]{12}\Z")


def check(check: Checker, value, where: str) -> dict | None:
    """A ``host`` record (or None: not recorded), checked like any value from disk."""
    if value is None:
        return None
    check.dict(value, where)
    check.text(value.get("hostname"), f"{where}.hostname", limit=253)
    if not value.get("hostname"):
        check.fail(f"{where}.hostname", "must not be empty")
    if not value["hostname"].isprintable():  # a control, format or bidi character: never written
        check.fail(f"{where}.hostname", "must be printable text (no control, format or direction characters)")
    if value.get("id") is not None and not (isinstance(value["id"], str) and HOST_ID.match(value["id"])):
        check.fail(f"{where}.id", "must be 12 lowercase hex digits (a hash of /etc/machine-id) or null")
    return value


def label(host: dict | None) -> str:
    """``vm (3d1219c7c4c5)``: a host as the readers name it."""
    if not host:
        return "not recorded"
    return f"{host.get('hostname')} ({host.get('id') or 'no machine id'})"


def same(one: dict | None, other: dict | None) -> bool:
    """Whether two host records name one host: by machine id where both have one, else
    by hostname; an unrecorded host is never the same as another."""
    if not one or not other:
        return False
    if one.get("id") and other.get("id"):
        return one["id"] == other["id"]
    return one.get("hostname") == other.get("hostname")
