"""Each model really parks N waiters in a fresh child, and memory grows with N."""

import pytest

from parkbench import probes
from parkbench.runner import Failure, Job, run_child

ALL = [(m.name, v) for m in probes.MODELS.values() for v in m.variants]
SMALL_N = {"subprocess": (3, 30)}


def _run(model, variant, n):
    outcome = run_child(Job("memory", model, variant, n), timeout=60)
    assert not isinstance(outcome, Failure), outcome
    return outcome


@pytest.mark.parametrize("model, variant", ALL)
def test_probe_parks_exactly_n_and_reports_every_view(model, variant):
    small, _ = SMALL_N.get(model, (50, 2000))
    record = _run(model, variant, small)
    assert record["parked"] == small
    assert record["n"] == small
    assert (record["model"], record["variant"]) == (model, variant)
    for view in ("rss", "vms", "uss", "pss"):
        assert record["memory"][view] > 0
    assert record["memory"]["uss"] <= record["memory"]["pss"] <= record["memory"]["rss"]
    assert record["spawn_seconds"] > 0 and record["wake_seconds"] > 0
    assert record["primitive"]
    expected_processes = 1 + small if model == "subprocess" else 1
    assert record["memory"]["processes"] == expected_processes


@pytest.mark.parametrize("model, variant", ALL)
def test_memory_grows_with_n(model, variant):
    small, large = SMALL_N.get(model, (50, 2000))
    low, high = _run(model, variant, small), _run(model, variant, large)
    assert high["memory"]["pss"] > low["memory"]["pss"]
    assert high["memory"]["rss"] > low["memory"]["rss"]


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
