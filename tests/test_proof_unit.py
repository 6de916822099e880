"""The proof helpers in the parent's view: counts, settling, what the kernel says of a
thread asleep on a condition and of a process asleep reading a pipe, what counts as a
check, and a probe that proves fewer than N parked refused."""

import asyncio
import os
import subprocess
import sys
import threading
import time

import pytest

from parkbench.measurement import placement
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


def test_the_probe_refuses_a_count_short_of_n(monkeypatch):
    from parkbench.measurement import probe_child as probe
    from parkbench.measurement import probes

    class Short:
        @staticmethod
        def park(n, variant, measure, wake=True):
            measure()
            return {"parked": n - 1, "spawn_seconds": 0.1, "wake_seconds": 0.1, "parks_on": "p",
                    "memory": {}, "proof": {"blocked_before": n, "blocked_after": n}}

    monkeypatch.setattr(probes, "load", lambda name: Short)
    monkeypatch.setattr(probe, "_measurer", lambda *baselines: (lambda: {}))
    with pytest.raises(RuntimeError, match="proved 4 of 5 waiters parked"):
        probe.run("asyncio", "event", 5)
    Short.park = staticmethod(lambda n, variant, measure, wake=True: {
        "parked": n, "spawn_seconds": 0.1, "wake_seconds": 0.1, "parks_on": "p", "memory": {},
        "proof": {"blocked_before": n, "blocked_after": n - 1}})
    with pytest.raises(RuntimeError, match="no proof that 5 waiters were blocked"):
        probe.run("asyncio", "event", 5)


def test_info_figures_are_recorded_but_never_checked():
    counts = {"method": "m", "settle_polls": 3, "alive": 5, "info_scheduler": 1}
    assert proof.check(5, counts, "before") is counts
    assert proof.blocked_count(counts) == 5


def test_a_failed_check_says_when_how_many_and_every_count():
    with pytest.raises(proof.NotParked) as error:
        proof.check(5, {"method": "m", "alive": 5, "reading": 3, "info_x": 0}, "after")
    assert str(error.value) == "after measuring, 3 of 5 waiters were blocked (alive 5, reading 3)"


def test_the_async_proof_names_the_side_that_failed():
    def run(counts_in_turn):
        counts = iter(counts_in_turn)
        return asyncio.run(proof.measured_async(2, lambda: {"method": "m", "c": next(counts)},
                                                lambda: "read"))

    with pytest.raises(proof.NotParked, match="^before measuring, 1 of 2"):
        run([1, 2])
    with pytest.raises(proof.NotParked, match="^after measuring, 1 of 2"):
        run([2, 1])
    result, record = run([2, 2])
    assert result == "read" and record["settle_polls"] == 0
    assert record == {"method": "m", "blocked_before": 2, "blocked_after": 2, "settle_polls": 0,
                      "before": {"c": 2}, "after": {"c": 2}}


def test_settling_polls_with_its_poll_interval(monkeypatch):
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    counts = iter([1, 1, 2])
    found = proof.settled(2, lambda: {"method": "m", "c": next(counts)})
    assert found["settle_polls"] == 2
    assert slept == [proof.SETTLE_POLL_SECONDS] * 2


def _fake_task(tmp_path, stat, wchan):
    folder = tmp_path / "task"
    folder.mkdir(exist_ok=True)
    (folder / "stat").write_text(stat)
    (folder / "wchan").write_text(wchan)
    return str(folder)


def test_a_process_name_with_a_parenthesis_does_not_shift_the_state(tmp_path):
    # the state follows the *last* ")": a command name may hold ") " itself
    path = _fake_task(tmp_path, "4242 (evil) R (x) S 1 4242 4242 0 -1", "pipe_read")
    assert proof._stat(path) == ("S", "pipe_read")
    assert proof._asleep_in(path, proof.PIPE_WAITS)


@pytest.mark.parametrize("state, wchan, waits, expected", [
    ("S", "pipe_read", proof.PIPE_WAITS, True),
    ("S", "futex_wait_queue", proof.PIPE_WAITS, False),   # asleep, but elsewhere
    ("S", "0", proof.PIPE_WAITS, True),                   # the kernel hides wchan: asleep is all
    ("S", "", proof.PIPE_WAITS, True),
    ("R", "pipe_read", proof.PIPE_WAITS, False),          # running is not parked
    ("S", "do_nanosleep", None, True),                    # no place asked: asleep suffices
    ("S", "hrtimer_nanosleep", proof.NANOSLEEP_WAITS, True),
])
def test_asleep_where_it_should_be(tmp_path, state, wchan, waits, expected):
    path = _fake_task(tmp_path, f"1 (p) {state} 0", wchan)
    assert proof._asleep_in(path, waits) is expected


def _until(condition, seconds=5.0):
    """Poll ``condition`` (a process reaching a kernel wait has no signal to wait on)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_a_thread_is_counted_asleep_only_in_the_waits_asked_for():
    read_end, write_end = os.pipe()
    ids = []
    thread = threading.Thread(target=lambda: (ids.append(threading.get_native_id()),
                                              os.read(read_end, 1)), daemon=True)
    thread.start()
    try:
        assert _until(lambda: ids and proof.sleeping_threads(ids, proof.PIPE_WAITS) == 1)
        assert _until(lambda: proof.sleeping_threads(ids, proof.NANOSLEEP_WAITS) == 0)
    finally:
        os.write(write_end, b"x")
        thread.join()
        os.close(read_end)
        os.close(write_end)


def test_processes_reading_a_pipe_sleeping_alive_or_gone():
    reader = subprocess.Popen([sys.executable, "-c", "import os; os.read(0, 1)"], stdin=subprocess.PIPE)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert _until(lambda: proof.processes_in_pipe_read([reader.pid]) == 1)
        assert _until(lambda: proof.processes_in_nanosleep([sleeper.pid]) == 1)
        # wchan reads "0" for an instant now and then (asleep, place unknown, counted as
        # asleep): the negative checks look until they see the real place
        assert _until(lambda: proof.processes_in_pipe_read([sleeper.pid]) == 0)
        assert _until(lambda: proof.processes_in_nanosleep([reader.pid]) == 0)
        assert proof.processes_alive([reader.pid, sleeper.pid]) == 2
        sleeper.kill()
        assert _until(lambda: proof.processes_alive([sleeper.pid]) == 0)  # a zombie is not alive
        sleeper.wait()
        assert proof.processes_alive([sleeper.pid, reader.pid]) == 1      # nor a reaped one
    finally:
        reader.kill()
        sleeper.kill()
        reader.wait()
        sleeper.wait()


def _in_a_thread(function):
    """Run ``function`` in a fresh thread (pinning changes the calling thread only)."""
    found = []
    thread = threading.Thread(target=lambda: found.append(function()))
    thread.start()
    thread.join()
    return found[0]


def test_pin_pins_the_calling_thread_to_the_cpus_given_and_reports_them():
    cpus = placement.usable_cpus()
    assert cpus == sorted(os.sched_getaffinity(0))
    assert _in_a_thread(lambda: placement.pin({cpus[-1]})) == [cpus[-1]]
    assert _in_a_thread(lambda: placement.pin(None)) == cpus  # None leaves the affinity as it is
    assert sorted(os.sched_getaffinity(0)) == cpus              # this thread was never pinned


def test_cpus_for_each_placement():
    cpus = placement.usable_cpus()
    assert placement.cpus_for("os") is None
    assert placement.cpus_for("same-core") == (cpus[0], cpus[0])
    if len(cpus) >= 2:
        assert placement.cpus_for("cross-core") == (cpus[0], cpus[1])
    with pytest.raises(ValueError) as error:
        placement.cpus_for("numa")
    assert str(error.value) == "unknown placement 'numa'; accepted: same-core, cross-core, os"


def test_cross_core_on_one_cpu_is_refused_with_the_reason(monkeypatch):
    monkeypatch.setattr(placement, "usable_cpus", lambda: [3])
    with pytest.raises(ValueError) as error:
        placement.cpus_for("cross-core")
    assert str(error.value) == "cross-core needs two CPUs; this process may use only one"
    assert placement.refuse("same-core") is None
