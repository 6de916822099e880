"""The probe protocol: one record on a channel of its own, exit codes that mean what
they say, and a child that imports only what its model needs (every module it imports
is memory it reports)."""

import json
import subprocess
import sys

import pytest

from parkbench.core import protocol
from parkbench.core.protocol import Job
from parkbench.measurement.runner import Failure, run_child

JOB = Job("memory", "asyncio", "event", 10)


def _python(code):
    return [sys.executable, "-c", code]


def test_stdout_noise_does_not_disturb_the_record():
    code = ("print('a library chatting on stdout'); print('{\"kind\": \"memory\", \"fake\": 1}')\n"
            "from parkbench.core import protocol\nprotocol.send({'kind': 'memory', 'model': 'asyncio', 'variant': 'event', 'n': 10, 'real': 1})\n"
            "print('more noise after the record')\n")
    outcome = run_child(JOB, 30, _python(code))
    assert outcome["real"] == 1 and "fake" not in outcome


def test_a_record_of_another_kind_is_bad_output():
    code = "from parkbench.core import protocol\nprotocol.send({'kind': 'tail'})\n"
    outcome = run_child(JOB, 30, _python(code))
    assert isinstance(outcome, Failure) and outcome.kind == protocol.FailureKind.BAD_OUTPUT


def test_exit_codes_name_the_outcome():
    limit = ("import os\nfrom parkbench.core import protocol\n"
             "protocol.send({'kind': 'limit', 'reached': 7, 'error': 'OSError: no'})\n"
             f"os._exit({protocol.EXIT_LIMIT_REACHED})\n")
    outcome = run_child(JOB, 30, _python(limit))
    assert (outcome.kind, outcome.reached) == (protocol.FailureKind.LIMIT, 7)
    failed = f"import sys\nprint('RuntimeError: gone', file=sys.stderr)\nsys.exit({protocol.EXIT_PROBE_FAILED})\n"
    outcome = run_child(JOB, 30, _python(failed))
    assert (outcome.kind, outcome.reason) == (protocol.FailureKind.EXIT, "RuntimeError: gone")


FOREIGN = {"asyncio": ("gevent", "uvloop", "greenlet"), "uvloop": ("gevent", "greenlet"),
           "gevent": ("uvloop",), "threads": ("gevent", "uvloop", "asyncio"),
           "subprocess": ("gevent", "uvloop")}
HEAVY = ("pandas", "numpy", "matplotlib", "pyperf", "nbformat", "parkbench.analysis.current", "parkbench.presentation.plots")


@pytest.mark.slow
@pytest.mark.parametrize("model, variant", [("asyncio", "event"), ("uvloop", "event"),
                                            ("gevent", "event"), ("threads", "condition"),
                                            ("subprocess", "fork")])
def test_a_probe_child_imports_only_what_its_model_needs(model, variant):
    code = ("import json, sys\nfrom parkbench.measurement import probe_child\n"
            f"probe_child.run({model!r}, {variant!r}, 4)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run(_python(code), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    for name in FOREIGN[model] + HEAVY:
        assert name not in modules, f"a {model} probe imported {name}"
