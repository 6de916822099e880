"""The children's temporary folders (``measurement/scratch.py``): each child's lies in
its runner's, and a runner killed with SIGKILL leaves its folder to the next run's sweep."""

import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from parkbench.measurement import scratch

# A runner-like parent: one probe child through the runner, under the given command.
PARENT = """
import sys
from parkbench.core.protocol import Job
from parkbench.measurement.runner import run_child
print(run_child(Job("memory", "asyncio", "event", 1), 600, command=[sys.executable, "-c", sys.argv[1]]))
"""

# The child: ties itself to its runner as a probe child does, leaves a file in its
# $TMPDIR, says where (and who it is) in the ready file, and waits to be killed.
CHILD = """
import os, signal, sys
from parkbench.measurement import lifeline
lifeline.die_with_parent(os.environ["PARKBENCH_RUNNER_PID"])
open(os.path.join(os.environ["TMPDIR"], "left-behind"), "w").close()
with open({ready!r} + ".partial", "w") as ready:
    ready.write(os.environ["TMPDIR"])
os.rename({ready!r} + ".partial", {ready!r})
signal.pause()
"""

# The next run: one child that ends at once.
NEXT = """
import sys
from parkbench.core import protocol
protocol.send({"kind": "memory", "model": "asyncio", "variant": "event", "n": 1})
"""


def _wait_for(path, process, seconds=60.0):
    """Until the child wrote ``path`` (atomically), or its runner ended first."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the child never said it had started"
        time.sleep(0.01)
    return path.read_text()


@pytest.fixture
def short_tmp(monkeypatch):
    """A temporary folder of the test's own, short enough for a forkserver's socket."""
    import shutil

    folder = tempfile.mkdtemp(prefix="t", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_runner_killed_mid_child_leaves_no_temporary_folder_after_the_next_run(tmp_path, short_tmp):
    """issue 37.11: a runner killed with SIGKILL while its child ran left the child's
    temporary folder (docs/safety.md said it was removed however the child ends). The
    killed runner cannot remove it; the next run sweeps it, its own folder included."""
    env = dict(os.environ, TMPDIR=short_tmp)
    ready = tmp_path / "ready"
    runner = subprocess.Popen([sys.executable, "-c", PARENT, CHILD.format(ready=str(ready))], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        child_folder = _wait_for(ready, runner)
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.communicate()
    runner_folder = os.path.dirname(child_folder)
    assert os.path.dirname(runner_folder) == short_tmp
    assert os.path.basename(runner_folder) == f"pbr-{runner.pid}-{os.path.basename(runner_folder).split('-')[2]}"
    assert os.listdir(child_folder) == ["left-behind"]  # what the killed run could not remove
    done = subprocess.run([sys.executable, "-c", PARENT, NEXT], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "'n': 1" in done.stdout, done.stderr
    assert os.listdir(short_tmp) == []  # the killed run's swept, the next run's own gone at its exit


def test_the_sweep_takes_only_folders_of_runners_gone(tmp_path):
    me, started = os.getpid(), scratch.start_ticks(os.getpid())
    assert started is not None
    keep = [f"pbr-{me}-{started}", "pbr-1-x", "pb-abc", "pbr-12-34-extra"]
    gone = [f"pbr-{me}-{started + 1}",  # this pid, another start: the pid used again
            f"pbr-{2**22 + 1}-5"]       # above the largest pid: not running
    for name in keep + gone:
        (tmp_path / name / "c-1").mkdir(parents=True)
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "pbr-99999999-1").symlink_to(target)  # a link is never followed nor removed
    removed = scratch.sweep(str(tmp_path))
    assert sorted(removed) == sorted(str(tmp_path / name) for name in gone)
    assert sorted(os.listdir(tmp_path)) == sorted(keep + ["elsewhere", "pbr-99999999-1"])
    assert target.is_dir()


def test_each_child_folder_lies_in_this_runner_s(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(scratch, "_mine", None)
    first, second = scratch.child_folder(), scratch.child_folder()
    assert first != second and os.path.dirname(first) == os.path.dirname(second)
    assert os.path.dirname(first) == str(tmp_path / f"pbr-{os.getpid()}-{scratch.start_ticks(os.getpid())}")
