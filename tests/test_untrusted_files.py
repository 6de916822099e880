"""Files someone else may have written, read as parkbench reads results: a link to a
device, a FIFO, a huge or deeply nested file, huge integers, a bad SLO, a malformed
pyperf file, control characters, fuzzed run files. Each ends in an answer from the
rest (the bad file set aside and named) or a one-line error, never a traceback or hang."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from parkbench.cli import main
from parkbench.store import files
from tests import committed, synthetic
from tests.builders import ASYNCIO, served_run
from tests.damage import FIXTURES, edit, one_line_error

MACHINE = "x86_64-2cpu-24gib"
CHECK_RUN = "20261202T013159Z"   # a committed run with both map checks (served and wakes)


def _copy(tmp_path):
    shutil.copytree(committed.results() / MACHINE, tmp_path / MACHINE)
    return tmp_path / MACHINE


@pytest.mark.parametrize("field", ["seconds", "count", "p99", "offered"])
def test_a_huge_integer_in_a_step_sets_the_file_aside_not_a_traceback(tmp_path, capsys, field):
    folder = _copy(tmp_path)

    def huge(document):
        record = next(m for m in document["measurements"] if m["kind"] == "wakes")
        record["wakes"]["steps"][0][field] = 10**400

    edit(folder / f"{CHECK_RUN}.json", huge)
    assert main(["show", str(tmp_path)]) == 0          # answered from the rest
    err = capsys.readouterr().err
    assert f"{CHECK_RUN}.json" in err and "Traceback" not in err
    assert main(["check", str(tmp_path)]) == 2


@pytest.mark.parametrize("slo", ["x", None, [1], -1, 0, 11])
def test_a_bad_slo_in_a_run_file_is_the_reader_s_one_line(tmp_path, capsys, slo):
    path = served_run(tmp_path, ASYNCIO)
    edit(path, lambda document: document["parameters"].update(slo_seconds=slo))
    assert main(["check", str(tmp_path)]) == 2
    assert "parameters.slo_seconds" in capsys.readouterr().out
    good = served_run(tmp_path / "other", ASYNCIO, when="20260102T000000")
    shutil.copy(good, path.parent / good.name)
    assert main(["show", str(tmp_path)]) == 0   # the bad one set aside, the good one answers
    err = capsys.readouterr().err
    assert "parameters.slo_seconds" in err and "Traceback" not in err


def test_notes_quoting_a_file_reach_the_terminal_escaped(tmp_path, capsys):
    records = [synthetic.memory_record("asyncio", "event", n) for n in (1_000, 10_000, 100_000)]
    for record in records:
        record["interference"] = {"window_seconds": 1.0, "other_cpu_seconds": 0.9, "other_threads": 0,
                                  "running": 2, "disturbed": True, "why": "\x1b]0;PWNED\x07\x1b[2J\r<b>"}
    synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "disturbed by the rest of the machine" in out
    assert not any(char in out for char in "\x1b\x07\r") and "\\x1b]0;PWNED" in out


@pytest.mark.parametrize("content", ["[]", "5", '{"version": "1.0", "benchmarks": [5]}', "[" * 100_000 + "]" * 100_000])
def test_a_malformed_pyperf_file_is_one_line(tmp_path, capsys, content):
    folder = _copy(tmp_path)
    switch = sorted((folder / "20261126T153352Z").glob("switch-*.json"))[0]
    switch.write_text(content)
    assert main(["compare", str(folder / "20261126T153352Z.json"), str(folder / "20261126T153122Z.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a pyperf benchmark file" in err[0]


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

    from tests.builders import run_notebook

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
            assert all(line.startswith(f"parkbench: skipped: {path}")
                       for line in captured.err.strip().splitlines()), (case, captured.err)
        outcomes[status] += 1
        if status == 0 and not captured.err and rendered < 6:
            # a fuzzed file the readers took: its values reach the report's own code
            # (in-process: a kernel per case is slow; about 5 s a render)
            run_notebook(folder)
            rendered += 1
            capsys.readouterr()
    assert outcomes[0] > 20 and outcomes[2] > 20 and rendered == 6  # every path was exercised


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
