"""A memory reading of parked threads (or worker processes) must see them: the measured
tree holds at least N more OS threads at the reading than at the baseline. A reading
taken before the threads started passed the old check, a kernel-memory inequality
over a system-wide and noisy figure; this one counts, and the runner and every reader
refuse a record that breaks it (the probe child's own refusal: ``test_proof.py``)."""

import pytest

from parkbench.core import protocol
from parkbench.core.errors import UserError
from parkbench.store import record_schema
from tests.synthetic import memory_record


def _record(model, n, at_baseline, at_reading):
    record = memory_record(model, "condition" if model == "threads" else "fork", n)
    record["baseline"]["threads"] = at_baseline
    record["memory"]["threads"] = at_reading
    return record


@pytest.mark.parametrize("model", ["threads", "subprocess"])
def test_a_reading_before_the_waiters_started_is_refused(model):
    early = _record(model, 100, 1, 1)  # the probe's main thread alone
    assert "must show the 100 threads the 100 waiters run on" in protocol.threads_short(early)
    with pytest.raises(UserError, match=r"memory\.threads must show the 100 threads .* held 0 more"):
        record_schema.check_measurement(early, "the child's record", "r")
    one_short = _record(model, 100, 1, 100)
    assert "held 99 more" in protocol.threads_short(one_short)


def test_a_reading_that_sees_every_waiter_passes_and_old_records_are_not_judged():
    assert protocol.threads_short(_record("threads", 100, 1, 101)) is None
    assert protocol.threads_short(_record("subprocess", 100, 1, 112)) is None  # a forkserver's own
    # asyncio tasks share one thread: no bound
    assert protocol.threads_short(_record("asyncio", 100, 1, 1)) is None
    old = memory_record("threads", "condition", 100)  # no thread counts (before 2026-12)
    assert protocol.threads_short(old) is None
    record_schema.check_measurement(_record("threads", 100, 1, 101), "the child's record", "r")
