"""The machine's name and its stored config: a name that climbs out of the results
folder, or names a file, is refused; a config that is a folder, a FIFO or /dev/zero is
a one-line error, never a hang."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from parkbench.cli import main
from tests.damage import FIXTURES, one_line_error


def test_a_machine_name_that_climbs_out_is_refused(tmp_path, capsys):
    folder = tmp_path / "results"
    shutil.copytree(FIXTURES / "fixture-a", folder / "x")
    (path,) = (folder / "x").glob("2*.json")
    document = json.loads(path.read_text())
    document["machine"] = "x/../../../pwned"
    path.write_text(json.dumps(document))
    output = tmp_path / "out"
    one_line_error(capsys, main(["report", "--results", str(folder), "--output", str(output)]),
                   "must be a plain name")
    assert not list(tmp_path.rglob("pwned*")) and not output.exists()


def test_a_machine_name_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "report.html").write_text("<html>")
    one_line_error(capsys, main(["run", "--n", "1,2,3", "--models", "asyncio", "--output", str(tmp_path),
                                 "--machine", "report.html"]), "report.html")


def test_a_config_path_that_is_a_folder_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "parkbench" / "machine.json").mkdir(parents=True)
    one_line_error(capsys, main(["limits", "--results", str(tmp_path)]), "not a parkbench machine config")


def _bounded_child():
    """A child's address space capped at 1 GiB: an unbounded read fails fast, not the machine."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))


@pytest.mark.parametrize("plant", ["fifo", "dev-zero"])
@pytest.mark.parametrize("command", [["limits"], ["run", "--models", "asyncio", "--n", "1,2,3"]])
def test_a_machine_config_that_is_a_fifo_or_dev_zero_is_one_line(tmp_path, plant, command):
    """issue 28.4: a FIFO hung ``run`` and ``limits``; a link to /dev/zero grew to a
    MemoryError. Read in a child with a timeout and an address-space cap, so that the
    bug, if it comes back, fails the test instead of hanging or starving the machine."""
    config = tmp_path / "config" / "parkbench" / "machine.json"
    config.parent.mkdir(parents=True)
    if plant == "fifo":
        os.mkfifo(config)
    else:
        config.symlink_to("/dev/zero")
    output = tmp_path / "results"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run([sys.executable, "-m", "parkbench", *command, "--results" if command == ["limits"]
                           else "--output", str(output)], env=env, capture_output=True, text=True,
                          timeout=60, preexec_fn=_bounded_child)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "is not a regular file: not a parkbench machine config" in done.stderr
    assert not output.exists()
