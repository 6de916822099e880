"""Each model really parks N waiters in a fresh child, and memory grows with N."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from parkbench.core import registry
from parkbench.core.protocol import Job
from parkbench.measurement import suite
from parkbench.measurement.runner import Failure, run_child

pytestmark = pytest.mark.slow  # real probe children, pyperf or a notebook kernel

# the connections workload's variants are tested in test_connections.py
ALL = [(m.name, v) for m in registry.MODELS.values() for v in m.variants
       if not registry.is_connections(v)]


@pytest.fixture(autouse=True)
def toolchain(request):
    """go's cases need a Go toolchain (CI has one: the reference extra)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("model") == "go":
        reason = suite.unavailable(registry.get("go"))
        if reason:
            pytest.skip(reason)
SMALL_N = {"subprocess": (3, 30)}


def _sizes(model, variant):
    if model == "subprocess" and variant in ("spawn", "forkserver"):
        return (2, 12)
    return SMALL_N.get(model, (50, 2000))


def _run(model, variant, n):
    outcome = run_child(Job("memory", model, variant, n), timeout=60)
    assert not isinstance(outcome, Failure), outcome
    return outcome


@pytest.mark.parametrize("model, variant", ALL)
def test_probe_parks_exactly_n_reports_every_view_and_memory_grows_with_n(model, variant):
    small, large = _sizes(model, variant)
    # each N in a fresh child, both at once (only their own process trees are compared)
    with ThreadPoolExecutor(2) as pool:
        record, bigger = pool.map(lambda n: _run(model, variant, n), (small, large))
    # USS, not PSS: PSS divides shared pages among every process mapping them, so a sweep
    # beside the suite (its children map the same libraries) lowered one child's PSS
    assert bigger["memory"]["uss"] > record["memory"]["uss"]
    assert bigger["memory"]["rss"] > record["memory"]["rss"]
    assert record["parked"] == small
    assert record["n"] == small
    assert (record["model"], record["variant"]) == (model, variant)
    for view in ("rss", "vms", "uss", "pss"):
        assert record["memory"][view] > 0
    assert record["memory"]["uss"] <= record["memory"]["pss"] <= record["memory"]["rss"]
    assert record["spawn_seconds"] > 0
    if variant == "sleep":  # woken by a timer only: the child exits, wake is not timed
        assert record["wake_seconds"] is None and record["wake_timed"] is False
    else:
        assert record["wake_seconds"] > 0
    assert record["parks_on"] and "primitive" not in record  # the words, not a job field
    if model == "go":  # the probe child and the Go program
        assert record["memory"]["processes"] == 2
    elif model != "subprocess":
        assert record["memory"]["processes"] == 1
    elif variant in ("fork", "exec", "sleep"):
        assert record["memory"]["processes"] == 1 + small
    else:  # multiprocessing adds its resource tracker, and forkserver its server
        assert 1 + small < record["memory"]["processes"] <= 3 + small
    if variant == "socket":
        assert record["sockets"]["nofile_soft"] > 0
    checked = record["proof"]  # parking proved from outside, right before and after reading
    assert checked["blocked_before"] == checked["blocked_after"] == small
    checks = {when: {value for key, value in checked[when].items() if not key.startswith("info_")}
              for when in ("before", "after")}  # info_: recorded, documented as approximate
    assert checks["before"] == checks["after"] == {small}
    assert len(checked["before"]) >= 2  # two independent views of "blocked"


def test_probe_child_rejects_unknown_model_with_a_reason():
    outcome = run_child(Job("memory", "nosuch", "x", 5), timeout=30)
    assert isinstance(outcome, Failure)
    assert outcome.kind == "exit"
    assert "unknown model 'nosuch'" in outcome.reason


def test_thread_kernel_memory_is_at_least_its_kernel_stack():
    """An OS thread's kernel stack (16 KiB on x86-64 and arm64 Linux) never shows in
    RSS; the kernel view must see at least that much per thread."""
    low, high = _run("threads", "condition", 50), _run("threads", "condition", 1050)
    per_thread = (high["memory"]["kernel"] - low["memory"]["kernel"]) / 1000
    assert per_thread >= 16 * 1024
    stack = (high["memory"]["kernel_meminfo"]["KernelStack"]
             - low["memory"]["kernel_meminfo"]["KernelStack"]) / 1000
    assert stack >= 16 * 1024 * 0.95  # other processes may end meanwhile; 5% slack


def test_smaller_thread_stacks_reserve_less_address_space():
    default = _run("threads", "condition", 200)["memory"]["vms"]
    small = _run("threads", "stack-64k", 200)["memory"]["vms"]
    assert small < default - 200 * (8 * 2**20 - 64 * 2**10) * 0.9


def test_socket_waiters_raise_the_soft_descriptor_limit_and_say_so():
    """With the soft limit lowered below what N socketpairs need (the hard one stays),
    the probe raises it and records that it did."""
    import resource
    import subprocess
    import sys

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 1000:
        pytest.skip("hard descriptor limit too low")
    code = ("import resource, runpy, sys\n"
            f"resource.setrlimit(resource.RLIMIT_NOFILE, (256, {hard}))\n"
            "sys.argv = ['probe', '--model', 'asyncio', '--variant', 'socket', '--n', '400']\n"
            "runpy.run_module('parkbench.measurement.probe_child', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    import json

    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["parked"] == 400
    assert record["sockets"] == {"nofile_soft": 256, "nofile_hard": hard, "nofile_raised_to": hard}
