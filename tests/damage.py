"""For tests that feed parkbench a damaged results file: a copy of a committed fixture or
run with one change, and the one-line error (exit 2) a user must then see."""

import json
import shutil
from pathlib import Path

import pytest

from parkbench.core.errors import UserError
from parkbench.store import results
from tests import committed

FIXTURES = Path(__file__).parent / "fixtures" / "results"


def one_line_error(capsys, status, expected=None, progress=False):
    """The error is one line; with ``progress`` it is the last, after progress lines."""
    captured = capsys.readouterr()
    assert status == 2, captured
    lines = captured.err.strip().splitlines()
    if progress:
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("parkbench"), captured.err
    assert "Traceback" not in captured.err
    if expected:
        assert expected in lines[0], lines[0]
    return lines[0]


def mutated(tmp_path, change):
    """A results folder under ``tmp_path`` holding fixture-a, its run file passed
    through ``change`` (a function that edits the document in place)."""
    shutil.copytree(FIXTURES / "fixture-a", tmp_path / "fixture-a")
    (path,) = (tmp_path / "fixture-a").glob("2*.json")
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, allow_nan=True))
    return tmp_path


def set_at(path, value):
    """A change for ``mutated``: the value at ``path`` (keys and indexes) replaced by
    ``value``, or removed if ``value`` is ``KeyError``."""
    def change(document):
        target = document
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


COMMITTED_MACHINE = "x86_64-2cpu-24gib"   # the machine of the committed results


def committed_copy(tmp_path, run_id="20261126T181921Z"):
    """A copy of the committed machine folder under ``tmp_path``; the path of one run."""
    shutil.copytree(committed.results() / COMMITTED_MACHINE, tmp_path / COMMITTED_MACHINE)
    return tmp_path / COMMITTED_MACHINE / f"{run_id}.json"


def refused_after(path, change, said):
    """``path`` (a run file) edited by ``change(document)``, then read: refused so."""
    stored = json.loads(path.read_text())
    change(stored)
    path.write_text(json.dumps(stored))
    with pytest.raises(UserError, match=said):
        results.read_run(path)


def edit(path, change):
    """Run file ``path`` rewritten with ``change(document)`` applied (no check)."""
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
