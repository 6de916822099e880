"""Resuming an interrupted run (``run --resume``): its stored plan checked as the
command line's, no other sweep option taken, and a run another process is writing
left alone."""

import json
import time

import pytest

from parkbench.cli import main
from parkbench.measurement import guard
from parkbench.store import run_file
from tests import synthetic
from tests.damage import one_line_error


def _run_file(tmp_path, **parameters):
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [], complete=False)
    document = json.loads(path.read_text())
    document["parameters"] = {**_good_parameters(), **parameters}
    path.write_text(json.dumps(document))
    return path


def _good_parameters():
    return {"full": False, "selection": [["asyncio", "event"]], "grids": {"asyncio:event": [10, 20, 40]},
            "repeat": 1, "timeout_seconds": 60.0, "memory": True, "latency": False,
            "latency_mode": "quick", "pyperf_options": [], "primitives": {"asyncio": ["future"]},
            "placements": ["same-core", "cross-core"], "tail_loops": 1000, "tail_placement": "os",
            "to_limit": None, "child_rlimits": "", "memory_budget_bytes": 2**30,
            "memory_floor_bytes": guard.default_floor(), "guard_margin": 1.5}


@pytest.mark.parametrize("parameters, message", [
    ({"memory_budget_bytes": 1e18}, "memory budget must be positive and at most"),
    ({"grids": {"asyncio:event": [10, 20, 50_000_000_000]}}, "N must be a whole number from 1 to 1,000,000,000"),
    ({"grids": {"asyncio:event": [-5, 10, 20]}}, "parameters.grids.asyncio:event must be a whole number in [0, 9.22337e+18], not -5"),
    ({"repeat": 10**9}, "repeat must be a whole number from 1 to 100"),
    ({"timeout_seconds": "soon"}, "timeout_seconds must be a finite number"),
    ({"selection": [["fibers", "x"]]}, "unknown model 'fibers'"),
    ({"memory_budget_bytes": 50}, "below what the smallest probe child needs"),
    ({"child_rlimits": "nofile=lots"}, "N must be a positive whole number"),
])
def test_resume_checks_stored_parameters_like_the_command_line(tmp_path, capsys, parameters, message):
    path = _run_file(tmp_path, **parameters)
    started = time.monotonic()
    one_line_error(capsys, main(["run", "--resume", str(path)]), message)
    assert time.monotonic() - started < 10  # refused before any child ran


def test_a_resume_refuses_other_sweep_options(tmp_path, capsys):
    path = _run_file(tmp_path)
    for option in (["--timeout", "5"], ["--repeat", "2"], ["--latency-mode", "rigorous"], ["--full"]):
        one_line_error(capsys, main(["run", "--resume", str(path), *option]), "do not pass --")


def test_a_run_being_written_cannot_be_resumed_by_another_process(tmp_path, capsys):
    path = _run_file(tmp_path)
    holder = run_file.RunFile.reopen(path)
    try:
        one_line_error(capsys, main(["run", "--resume", str(path)]),
                       "being written by another parkbench process")
    finally:
        holder._lock.close()
