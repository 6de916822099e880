"""Nothing lost, nothing escapes: hostile files, careless input, I/O faults and output
that goes nowhere each end in exit 0 or a one-line error (exit 2), never a traceback,
never a file outside the output folder, never an orphan process."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from parkbench.cli import main
from parkbench.measurement import guard
from parkbench.store import files, results, run_file

from . import synthetic
from .damage import FIXTURES, mutated, one_line_error


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


# --- 2. the guard cannot be bypassed by noise ------------------------------------------


def test_a_noisy_negative_slope_never_predicts_below_the_floor():
    measured = [{"n": 100, "memory": {"pss": 30e6, "kernel": 0}},
                {"n": 200, "memory": {"pss": 29e6, "kernel": -1e6}}]  # cost falls with N: noise
    peak, basis = guard.predict_peak("asyncio", 10**9, measured, margin=1.5)
    assert peak >= 512 * 10**9 * 1.5
    assert "floor" in basis
    assert guard.Guard(10 * 2**30, 2**29).refuse("asyncio", 10**9, measured) is not None


# --- 3, 4. resume trusts nothing and never runs twice -----------------------------------


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


# --- 5. no orphans after SIGKILL during a latency job ----------------------------------


def _processes_mentioning(text: str):
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(text in part for part in process.info["cmdline"] or ()):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.mark.slow
def test_sigkill_of_the_runner_during_a_switch_job_leaves_no_process(tmp_path):
    import psutil

    output = tmp_path / "killed-during-switch"
    runner = subprocess.Popen(
        [sys.executable, "-m", "parkbench", "run", "--models", "threads:condition", "--only",
         "latency", "--latency-mode", "rigorous", "--output", str(output), "--machine", "m"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    family = []
    while not family:  # the switch benchmark and at least one pyperf worker of it
        assert time.monotonic() < deadline, "the switch benchmark never started a worker"
        assert runner.poll() is None
        for process in _processes_mentioning(str(output)):
            try:
                if "bench_switch.py" in " ".join(process.cmdline()) and process.children():
                    family = [process, *process.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.02)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 15
    while any(process.is_running() and process.status() != psutil.STATUS_ZOMBIE for process in family):
        assert time.monotonic() < deadline, [p.cmdline() for p in family if p.is_running()]
        time.sleep(0.05)
    assert not _processes_mentioning(str(output))


# --- 6. nothing escapes the output folder (its folder rule: test_schema.py) ------------


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


# --- 7. bounded reads -------------------------------------------------------------------


def test_a_symlink_to_a_device_is_not_read(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "20260101T000000Z.json").symlink_to("/dev/zero")
    one_line_error(capsys, main(["show", str(tmp_path)]), "not a regular file")


@pytest.mark.slow
def test_a_fifo_does_not_hang_show(tmp_path):
    (tmp_path / "m").mkdir()
    os.mkfifo(tmp_path / "m" / "20260101T000000Z.json")
    done = subprocess.run([sys.executable, "-m", "parkbench", "show", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not a regular file" in done.stderr


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    with open(tmp_path / "m" / "20260101T000000Z.json", "wb") as handle:
        handle.truncate(files.MAX_FILE_BYTES + 1)  # sparse: no disk used
    one_line_error(capsys, main(["show", str(tmp_path)]), "more than a results file may be")


def test_deeply_nested_json_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "20260101T000000Z.json").write_text("[" * 100_000 + "]" * 100_000)
    one_line_error(capsys, main(["show", str(tmp_path)]), "nested too deeply")


# --- 8. wrong shapes (refused by the format's checks: test_schema.py) ------------------


def test_a_noisy_negative_total_still_gets_an_answer(tmp_path, capsys):
    def change(document):
        for figure in document["figures"]:
            if figure["metric"] == "total_per_waiter" and figure["model"] == "asyncio":
                figure["value"] = -12.0
    folder = mutated(tmp_path, change)
    assert main(["fit", "--waiters", "1k", "--rate", "0", "--results", str(folder)]) == 0
    assert "asyncio/event" in capsys.readouterr().out


# --- 9. I/O faults ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_full_disk_mid_sweep_keeps_what_was_stored_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    real = run_file.write_json_atomic
    calls = []

    def full_after_three(path, document):
        calls.append(path)
        if len(calls) > 3:
            raise OSError(28, "No space left on device")
        real(path, document)

    monkeypatch.setattr(run_file, "write_json_atomic", full_after_three)
    status = main(["run", "--models", "asyncio:event", "--n", "5,10,20", "--only", "memory",
                   "--output", str(tmp_path), "--machine", "m"])
    line = one_line_error(capsys, status, "No space left on device", progress=True)
    assert "--resume" in line and "2 measurements are in" in line  # the run file's 4th write failed
    (path,) = (tmp_path / "m").glob("2*.json")
    assert len(results.read_run(path)["measurements"]) == 2


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


# --- 10. output that goes nowhere ------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["list"], ["show", str(FIXTURES), "--format", "json"], ["show", str(FIXTURES)],
    ["compare", "fixture-a", "fixture-b", "--results", str(FIXTURES), "--format", "json"],
])
@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(command):
    shell = " ".join(f"'{part}'" for part in [sys.executable, "-m", "parkbench", *command])
    done = subprocess.run(f"{shell} | head -1", shell=True, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() and done.stderr == ""


@pytest.mark.slow
def test_a_closed_stdout_and_a_full_device_are_one_line_errors():
    base = [sys.executable, "-m", "parkbench", "show", str(FIXTURES), "--format", "json"]
    closed = subprocess.run(" ".join(f"'{p}'" for p in base) + " >&-", shell=True,
                            capture_output=True, text=True, timeout=60)
    assert closed.returncode == 2 and len(closed.stderr.strip().splitlines()) == 1
    with open("/dev/full", "w") as full:
        done = subprocess.run(base, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2 and "No space left" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_an_ascii_terminal_gets_the_table(tmp_path):
    done = subprocess.run([sys.executable, "-m", "parkbench", "show", str(FIXTURES)],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONIOENCODING="ascii"))
    assert done.returncode == 0 and "R? (RSS)" in done.stdout and done.stderr == ""


# --- 11. unclear or silent input --------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["run", "--machine", "box\n"], "machine name must be a plain name"),
    (["run", "--n", "-5,100,200"], "N must be a positive whole number"),
    (["run", "--memory-budget", "50", "--models", "asyncio"], "below what the smallest probe child needs"),
    (["run", "--memory-budget", "0.5"], "a size must be"),
    (["run", "--repeat", "0"], "from 1 to 100"),
    (["run", "--repeat", "1000000000"], "from 1 to 100"),
    (["run", "--n", "100,200,10g"], "grid threads:condition holds 10000000000; N must be a whole number from 1 to 1,000,000,000"),
])
def test_unclear_input_is_a_one_line_error(tmp_path, capsys, argv, message):
    try:
        status = main(argv + ["--output", str(tmp_path / "out")])
    except SystemExit as exit_info:  # argparse's own check, now one line too
        status = exit_info.code
    one_line_error(capsys, status, message)
    assert not (tmp_path / "out").exists()


def test_fit_takes_zero_wake_ups_and_says_never_for_a_tiny_machine(capsys):
    assert main(["fit", "--waiters", "10k", "--rate", "0", "--results", str(FIXTURES)]) == 0
    capsys.readouterr()
    assert main(["fit", "--waiters", "10k", "--rate", "5", "--memory", "4", "--results", str(FIXTURES)]) == 0
    out = capsys.readouterr().out
    assert "never" in out and "inf" not in out


def test_sizes_follow_si_and_iec_exactly():
    from parkbench.core.units import parse_size

    assert parse_size("4GB") == 4 * 10**9
    assert parse_size("4GiB") == 4 * 2**30
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("4096") == 4096


# --- the fuzz test ----------------------------------------------------------------------


HOSTILE_VALUES = (None, "", "x/../../y", "../evil", -5, 0, 1e30, -1e30, 3.5, True, [], {},
                  "NaN", [[[[]]]], {"a": {"b": {}}}, "é" * 300, 2**70, 10**400, -(10**400),
                  "<script>alert(1)</script>", "a\x1b]0;t\x07\rb", "3.12 ", "m1\n", "**x** [y](z)")


def _mutate(document, rng):
    """One random change at a random place of the document: a value replaced, a key
    removed, or a list emptied."""
    target, path = document, []
    while True:
        if isinstance(target, dict) and target and rng.random() < 0.8:
            key = rng.choice(sorted(target))
        elif isinstance(target, list) and target and rng.random() < 0.8:
            key = rng.randrange(len(target))
        else:
            break
        if not isinstance(target[key], (dict, list)) or rng.random() < 0.3:
            break
        path.append(key)
        target = target[key]
    if isinstance(target, dict) and target:
        key = rng.choice(sorted(target))
        if rng.random() < 0.2:
            del target[key]
        else:
            target[key] = _fresh(rng.choice(HOSTILE_VALUES))
    elif isinstance(target, list) and target:
        target[rng.randrange(len(target))] = _fresh(rng.choice(HOSTILE_VALUES))


def _fresh(value):
    """A copy, so that no two places of a document share one list or dict."""
    return json.loads(json.dumps(value))


@pytest.mark.slow
def test_fuzzed_run_files_give_exit_0_or_one_line_exit_2(tmp_path, capsys):
    import random

    from tests.test_report_shapes import run_notebook

    rng = random.Random(20261126)
    original = json.loads(next((FIXTURES / "fixture-a").glob("2*.json")).read_text())
    folder = tmp_path / "results"
    shutil.copytree(FIXTURES, folder)
    (path,) = (folder / "fixture-a").glob("2*.json")
    outcomes = {0: 0, 2: 0}
    rendered = 0
    for case in range(300):
        document = json.loads(json.dumps(original))
        for _ in range(rng.randint(1, 3)):
            _mutate(document, rng)
        path.write_text(json.dumps(document, allow_nan=True))
        command = (["show", str(folder)],
                   ["fit", "--waiters", "10k", "--rate", "1k", "--results", str(folder)],
                   ["compare", "fixture-a", "fixture-b", "--results", str(folder)])[case % 3]
        status = main(command)
        captured = capsys.readouterr()
        assert status in (0, 2), (case, command, captured.err)
        if status == 2:
            assert len(captured.err.strip().splitlines()) == 1, (case, captured.err)
        else:  # a fuzzed file set aside: one line naming it
            assert all(line.startswith(f"parkbench: skipped {path}")
                       for line in captured.err.strip().splitlines()), (case, captured.err)
        outcomes[status] += 1
        if status == 0 and not captured.err and rendered < 6:
            # a fuzzed file the readers took: its values reach the report's own code
            # (in-process: a kernel per case is slow; about 5 s a render)
            run_notebook(folder)
            rendered += 1
            capsys.readouterr()
    assert outcomes[0] > 20 and outcomes[2] > 20 and rendered == 6  # every path was exercised


def test_a_full_disk_at_the_start_leaves_nothing(tmp_path, capsys, monkeypatch):
    def full(path, document):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_file, "write_json_atomic", full)
    started = []
    monkeypatch.setattr("parkbench.measurement.runner.run_child", lambda *a, **k: started.append(a))
    status = main(["run", "--models", "asyncio:event", "--n", "5,10,20", "--only", "memory",
                   "--output", str(tmp_path / "out"), "--machine", "m"])
    one_line_error(capsys, status, "No space left on device")
    assert started == [] and not (tmp_path / "out" / "m").exists()


def test_an_unwritable_machine_folder_is_refused_before_any_child(tmp_path, capsys, monkeypatch):
    real = os.open

    def refuse_lock(path, flags, *args):
        if str(path).endswith(".lock"):
            raise PermissionError(13, "Permission denied")
        return real(path, flags, *args)

    monkeypatch.setattr(run_file.os, "open", refuse_lock)
    started = []
    monkeypatch.setattr("parkbench.measurement.runner.run_child", lambda *a, **k: started.append(a))
    status = main(["run", "--models", "asyncio:event", "--n", "5,10,20", "--only", "memory",
                   "--output", str(tmp_path / "out"), "--machine", "m"])
    one_line_error(capsys, status, "Permission denied")
    assert started == []


@pytest.mark.parametrize("where", ["n", "memory.rss", "spawn_seconds", "logical_cpus"])
@pytest.mark.parametrize("command", ["show", "fit", "compare"])
def test_a_huge_integer_in_a_run_file_is_a_one_line_error(tmp_path, capsys, where, command):
    """10**400 gave OverflowError tracebacks (math.isfinite on a huge int)."""
    from tests import synthetic

    path = synthetic.write_run(tmp_path / "a", "m", "20260101T000000",
                               [synthetic.memory_record("asyncio", "event", n) for n in (10, 20, 30)])
    document = json.loads(path.read_text())
    record = document["measurements"][1]
    if where == "logical_cpus":
        document["machine_description"]["logical_cpus"] = 10**400
    elif where == "memory.rss":
        record["memory"]["rss"] = 10**400
    else:
        record[where] = 10**400
    path.write_text(json.dumps(document))
    argv = {"show": ["show", str(tmp_path / "a")],
            "fit": ["fit", "--waiters", "1k", "--rate", "1", "--results", str(tmp_path / "a")],
            "compare": ["compare", str(path), str(path)]}[command]
    one_line_error(capsys, main(argv), "must be a")
