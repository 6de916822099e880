"""The proof helpers in the parent's view: counts, settling, and what the kernel says
of a thread asleep on a condition and of a process asleep reading a pipe."""

import os
import threading

import pytest

from parkbench.measurement.probes import proof


def test_blocked_is_the_smallest_count_and_ignores_the_method():
    assert proof.blocked_count({"method": "m", "a": 7, "b": 5, "settle_polls": 0}) == 5


def test_settling_polls_until_all_are_blocked(monkeypatch):
    counts = iter([3, 4, 5])
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    settled = proof.settled(5, lambda: {"method": "m", "a": next(counts)})
    assert settled["a"] == 5 and settled["settle_polls"] == 2


def test_settling_gives_up_at_the_deadline(monkeypatch):
    clock = iter([0.0] + [proof.SETTLE_SECONDS + 1] * 5)
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    with pytest.raises(proof.NotParked, match="before measuring, 4 of 5 waiters were blocked"):
        proof.settled(5, lambda: {"method": "m", "a": 4})


def _clock(monkeypatch, step):
    """A fake monotonic clock that advances ``step`` seconds at every reading."""
    now = [0.0]

    def monotonic():
        now[0] += step
        return now[0]

    monkeypatch.setattr("time.monotonic", monotonic)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    return now


def test_a_count_that_stands_still_fails_before_the_deadline(monkeypatch):
    now = _clock(monkeypatch, 0.1)
    with pytest.raises(proof.NotParked, match="before measuring, 4 of 5"):
        proof.settled(5, lambda: {"method": "m", "a": 4})
    assert proof.STILL_SECONDS < now[0] < proof.STILL_SECONDS + 0.5  # not the 2 s deadline


def test_a_count_still_moving_is_given_until_the_deadline(monkeypatch):
    counts = iter(range(1, 1000))   # one more waiter asleep at every poll, never N
    now = _clock(monkeypatch, 0.1)
    with pytest.raises(proof.NotParked):
        proof.settled(10_000, lambda: {"method": "m", "a": next(counts)})
    assert now[0] >= proof.SETTLE_SECONDS


def test_measured_checks_after_the_measurement_too():
    counts = iter([5, 4])
    with pytest.raises(proof.NotParked, match="after measuring, 4 of 5"):
        proof.measured(5, lambda: {"method": "m", "a": next(counts)}, lambda: "memory")
    counts = iter([5, 5])
    result, record = proof.measured(5, lambda: {"method": "how", "a": next(counts), "b": 5},
                                    lambda: "memory")
    assert result == "memory"
    assert record == {"method": "how", "blocked_before": 5, "blocked_after": 5, "settle_polls": 0,
                      "before": {"a": 5, "b": 5}, "after": {"a": 5, "b": 5}}


def test_an_awaitable_measurement_needs_the_async_helper():
    import asyncio

    async def measure():
        return 42

    coroutine = measure()
    with pytest.raises(TypeError, match="measured_async"):
        proof.measured(1, lambda: {"method": "m", "a": 1}, lambda: coroutine)
    coroutine.close()
    result, record = asyncio.run(proof.measured_async(1, lambda: {"method": "m", "a": 1}, measure))
    assert result == 42 and record["blocked_after"] == 1


def test_a_thread_waiting_on_a_condition_is_asleep_and_a_busy_one_is_not():
    condition, stop = threading.Condition(), threading.Event()
    arrived = threading.Barrier(3)

    def sleeper():
        with condition:
            arrived.wait()
            condition.wait()

    def spinner():
        arrived.wait()
        while not stop.is_set():
            pass

    threads = [threading.Thread(target=sleeper), threading.Thread(target=spinner)]
    for thread in threads:
        thread.start()
    arrived.wait()
    try:
        deadline_polls = 400
        while proof.sleeping_threads([threads[0].native_id]) != 1 and deadline_polls:
            deadline_polls -= 1
            threading.Event().wait(0.005)
        assert proof.sleeping_threads([threads[0].native_id]) == 1
        assert proof.sleeping_threads([threads[1].native_id, 2**31 - 1]) <= 1  # a gone tid counts 0
    finally:
        stop.set()
        with condition:
            condition.notify_all()
        for thread in threads:
            thread.join()


def test_a_process_reading_a_pipe_is_in_a_pipe_read():
    read_end, write_end = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(ready_w, b"r")
            os.read(read_end, 1)
        finally:
            os._exit(0)
    try:
        os.read(ready_r, 1)
        polls = 400
        while proof.processes_in_pipe_read([pid]) != 1 and polls:
            polls -= 1
            threading.Event().wait(0.005)
        assert proof.processes_in_pipe_read([pid]) == 1
        assert proof.processes_in_pipe_read([os.getpid(), 2**31 - 1]) == 0  # running / gone
    finally:
        os.write(write_end, b"x")
        os.waitpid(pid, 0)
        for fd in (read_end, write_end, ready_r, ready_w):
            os.close(fd)
