"""Parking is proved when memory is read: a waiter that is not blocked then, or that
ends before it arrives, fails the probe at once with what was seen."""

import subprocess
import sys
import time

import pytest

from parkbench.measurement.probes import proof

pytestmark = pytest.mark.slow  # real probe children, pyperf or a notebook kernel


def _probe(code: str, timeout: float = 60):
    """Run ``code`` in a fresh interpreter (probes import their libraries there)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - started


RUN = "from parkbench.measurement import probe_child as probe\nprobe.run({model!r}, {variant!r}, {n})\n"


def test_the_check_takes_the_smallest_count_and_names_every_view():
    assert proof.check(5, {"method": "m", "a": 5, "b": 5}, "before")["a"] == 5
    with pytest.raises(proof.NotParked, match=r"after measuring, 4 of 5 waiters were blocked \(a 5, b 4\)"):
        proof.check(5, {"method": "m", "a": 5, "b": 4}, "after")


@pytest.mark.parametrize("model, patch", [
    # a task that finishes instead of parking: Event.wait returns at once
    ("asyncio", "import asyncio\nasync def wait(self): return True\nasyncio.Event.wait = wait\n"),
    ("uvloop", "import asyncio\nasync def wait(self): return True\nasyncio.Event.wait = wait\n"),
    # a greenlet that finishes instead of parking (the main greenlet still waits)
    ("gevent", "import gevent\nfrom parkbench.measurement.probes import gevent_greenlets as g\n"
               "class Event(g.Event):\n"
               "    def wait(self, timeout=None):\n"
               "        return True if gevent.getcurrent().parent is not None else super().wait(timeout)\n"
               "g.Event = Event\n"),
])
def test_a_waiter_that_finishes_instead_of_parking_fails_the_probe(model, patch):
    done, _ = _probe(patch + RUN.format(model=model, variant="event", n=50))
    assert done.returncode != 0
    assert "NotParked: before measuring, 0 of 50 waiters were blocked" in done.stderr


@pytest.mark.parametrize("model, patch", [
    # the timer fires at once: each waiter sleeps zero seconds, then ends
    ("asyncio", "import asyncio\nreal = asyncio.sleep\n"
                "async def sleep(delay, result=None): return await real(0)\nasyncio.sleep = sleep\n"),
    ("uvloop", "import asyncio\nreal = asyncio.sleep\n"
               "async def sleep(delay, result=None): return await real(0)\nasyncio.sleep = sleep\n"),
    ("gevent", "import gevent\nreal = gevent.sleep\n"
               "def sleep(seconds=0, ref=True): return real(0)\ngevent.sleep = sleep\n"),
    ("threads", "import threading, time\nreal = time.sleep\n"
                "def sleep(seconds):\n"
                "    return real(seconds if threading.current_thread() is threading.main_thread() else 0)\n"
                "time.sleep = sleep\n"),
])
def test_a_sleeper_whose_timer_fires_at_once_fails_the_probe(model, patch):
    done, _ = _probe(patch + RUN.format(model=model, variant="sleep", n=40))
    assert done.returncode != 0
    assert "NotParked" in done.stderr and "of 40 waiters were blocked" in done.stderr


def test_a_thread_that_leaves_the_condition_fails_the_probe():
    patch = ("import threading\nreal = threading.Condition.wait\n"
             "def wait(self, timeout=None):\n"
             "    if threading.current_thread() is threading.main_thread():\n"
             "        return real(self, timeout)\n"
             "    raise SystemExit\n"  # a waiter thread ends instead of waiting
             "threading.Condition.wait = wait\n")
    done, _ = _probe(patch + RUN.format(model="threads", variant="condition", n=20))
    assert done.returncode != 0 and "NotParked" in done.stderr


def test_memory_read_before_the_threads_start_is_refused():
    """The views are read first, then the threads start and are proved parked around a
    measure that hands back the early reading: the proof passes, the thread count not."""
    patch = ("from parkbench.measurement.probes import threads as t\nreal = t.park\n"
             "def park(n, variant, measure, wake=True):\n"
             "    early = measure()\n"
             "    return real(n, variant, lambda *args, **kwargs: early, wake)\n"
             "t.park = park\n")
    done, _ = _probe(patch + RUN.format(model="threads", variant="condition", n=50))
    assert done.returncode != 0
    assert "the memory reading must show the 50 threads the 50 waiters run on" in done.stderr
    assert "held 0 more than at the baseline" in done.stderr


def test_a_worker_that_dies_instead_of_parking_fails_the_probe():
    patch = ("from parkbench.measurement.probes import subprocess_workers as w\n"
             "w.WORKER_CODE = \"import os\\nos.write(1, b'r')\\n\"\n")  # ready, then exits
    done, _ = _probe(patch + RUN.format(model="subprocess", variant="exec", n=4))
    assert done.returncode != 0 and "NotParked" in done.stderr


@pytest.mark.parametrize("model, variant, patch", [
    ("asyncio", "event",
     "import asyncio\nreal = asyncio.BaseEventLoop.create_task\ncount = [0]\n"
     "def create_task(self, coro, **kw):\n"
     "    task = real(self, coro, **kw)\n    count[0] += 1\n"
     "    if count[0] == 3: task.cancel()\n    return task\n"
     "asyncio.BaseEventLoop.create_task = create_task\n"),
    ("subprocess", "exec",
     "from parkbench.measurement.probes import subprocess_workers as w\nw.WORKER_CODE = 'import os\\nos._exit(1)\\n'\n"),
])
def test_a_waiter_that_never_arrives_fails_fast(model, variant, patch):
    done, seconds = _probe(patch + RUN.format(model=model, variant=variant, n=10))
    assert done.returncode != 0
    assert "NotParked" in done.stderr
    assert "ended before all" in done.stderr or "became ready" in done.stderr
    assert seconds < 20  # not the runner's timeout: the probe notices by itself
