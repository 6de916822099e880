"""One bad run file does not poison its folder (issue 28, item 2): a reader names it
and what is wrong in one line on stderr, sets it aside and answers from the rest;
``parkbench check`` exits 2 on it; a folder of only bad files, and a bad file named
explicitly, stay one-line errors. And a run never writes what its reader would refuse."""

import json
import shutil

import pytest

from parkbench.cli import main
from parkbench.commands import show
from parkbench.core.errors import UserError
from parkbench.store import results, run_file
from tests import synthetic
from tests.damage import FIXTURES, one_line_error

BAD_ID = "20300101T000000Z"


@pytest.fixture
def folder(tmp_path):
    """Both fixture machines, fixture-a with a second, newer run file whose first
    measurement has N = -5 (a hostile value its reader refuses)."""
    shutil.copytree(FIXTURES, tmp_path / "results")
    good = next((tmp_path / "results" / "fixture-a").glob("2*.json"))
    document = json.loads(good.read_text())
    document["run_id"] = BAD_ID
    document["measurements"][0]["n"] = -5
    (good.parent / f"{BAD_ID}.json").write_text(json.dumps(document))
    return tmp_path / "results"


def _bad(folder):
    return folder / "fixture-a" / f"{BAD_ID}.json"


def _skipped_line(err: str, folder) -> str:
    """The stderr of a command that set the bad file aside: that one line."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"parkbench: skipped: {_bad(folder)}"), lines[0]
    assert "measurements[0].n is -5 but its job's is 10" in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("command", [
    ["show", "{folder}"],
    ["show", "{folder}/fixture-a", "--format", "json"],
    ["fit", "--waiters", "10k", "--rate", "1k", "--results", "{folder}"],
    ["compare", "fixture-a", "fixture-b", "--results", "{folder}"],
])
def test_a_reader_names_the_bad_file_and_answers_from_the_rest(folder, capsys, command):
    assert main([part.format(folder=folder) for part in command]) == 0
    captured = capsys.readouterr()
    _skipped_line(captured.err, folder)
    assert "fixture-a" in captured.out or "20261126T052607Z" in captured.out


def test_the_answer_is_the_good_files_answer(folder, tmp_path, capsys):
    clean = tmp_path / "clean"
    shutil.copytree(FIXTURES, clean)
    assert main(["show", str(clean)]) == 0
    expected = capsys.readouterr().out
    assert main(["show", str(folder)]) == 0
    captured = capsys.readouterr()
    assert captured.out == expected.replace(str(clean), str(folder))
    _skipped_line(captured.err, folder)


def test_the_run_summary_names_the_bad_file(folder, capsys):
    show.print_summary([folder / "fixture-a"])
    _skipped_line(capsys.readouterr().err, folder)


def test_report_names_the_bad_file(folder, tmp_path, capsys, monkeypatch):
    from parkbench.presentation import report

    monkeypatch.setattr(report, "_require", lambda module: None)
    monkeypatch.setattr(report, "_execute", lambda *args: [tmp_path / "out" / "report.html"])
    assert main(["report", "--results", str(folder), "--output", str(tmp_path / "out")]) == 0
    _skipped_line(capsys.readouterr().err, folder)


def test_check_exits_2_on_a_bad_file_and_names_it(folder, capsys):
    assert main(["check", str(folder)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"bad: {_bad(folder)}") and "measurements[0].n" in out[0]
    assert out[-1] == f"checked 5 files under {folder}: 1 bad (show, fit, compare and report set it aside)"
    _bad(folder).unlink()
    assert main(["check", str(folder)]) == 0
    assert capsys.readouterr().out.strip() == f"checked 4 files under {folder}: all good"


def test_check_names_a_bad_machine_json(folder, capsys):
    _bad(folder).unlink()
    (folder / "fixture-b" / "machine.json").write_text("{}")
    assert main(["check", str(folder)]) == 2
    assert "bad: " + str(folder / "fixture-b" / "machine.json") in capsys.readouterr().out


def test_a_folder_of_only_bad_files_is_a_one_line_error(folder, capsys):
    (folder / "fixture-a" / "20261126T052607Z.json").write_text("{not json")
    one_line_error(capsys, main(["show", str(folder / "fixture-a")]), "20261126T052607Z.json is not valid JSON")
    one_line_error(capsys, main(["fit", "--waiters", "1k", "--rate", "1", "--results", str(folder / "fixture-a")]),
                   "and 1 more bad run file under")
    one_line_error(capsys, main(["compare", "fixture-a", "fixture-b", "--results", str(folder)]),
                   "none readable; 'parkbench check")


def test_a_bad_file_named_explicitly_stays_an_error(folder, capsys):
    good = folder / "fixture-b" / "20261126T052634Z.json"
    one_line_error(capsys, main(["compare", str(good), str(_bad(folder))]), "measurements[0].n is -5")
    one_line_error(capsys, main(["show", str(_bad(folder))]), "measurements[0].n is -5")


# --- a run never writes what its reader would refuse ------------------------------------


def test_a_save_its_reader_would_refuse_is_not_written(tmp_path):
    path = synthetic.write_run(tmp_path, "m", "20260101T000000",
                               [synthetic.memory_record("asyncio", "event", n) for n in (10, 100)],
                               complete=False)
    stored = path.read_text()
    run = run_file.RunFile(path, json.loads(stored), lock=None)
    run._document["parameters"]["python_spec"] = "3.12" + " " * 40  # longer than the reader allows
    with pytest.raises(UserError, match="not stored, as its reader would refuse it: .*python_spec"):
        run.save()
    del run._document["parameters"]["python_spec"]
    bad = synthetic.memory_record("asyncio", "event", 1000)
    bad["n"] = -5
    with pytest.raises(UserError, match=r"measurements\[2\].n must be"):
        run.add_measurement(bad)
    assert run.stored("measurements") == 2  # what the disk holds
    assert path.read_text() == stored
    results.read_run(path)


def test_a_new_run_its_reader_would_refuse_leaves_nothing(tmp_path):
    with pytest.raises(UserError, match="interpreter.executable must be a name"):
        run_file.RunFile.create(tmp_path, "m", {"repeat": 1, "grids": {}},
                               {"implementation": "CPython", "version": "3.12", "executable": "/usr/bin/python3"},
                               {"logical_cpus": 2, "limits": synthetic.LIMITS})
    assert not (tmp_path / "m").exists()


# --- item 12: symlinked and FIFO run files are set aside in one line ---------------------

GOOD_A = "20261126T052607Z"


def _clean_show(tmp_path, capsys) -> str:
    clean = tmp_path / "clean"
    shutil.copytree(FIXTURES, clean)
    assert main(["show", str(clean)]) == 0
    return capsys.readouterr().out.replace(str(clean), "{folder}")


def _newer_copy(source, run_id: str) -> str:
    """The run file ``source`` as a valid run ``run_id`` (its switch files' names too)."""
    return source.read_text().replace(source.stem, run_id)


@pytest.fixture
def plain(tmp_path):
    """The fixtures, unchanged: the hostile files are added by each test."""
    shutil.copytree(FIXTURES, tmp_path / "results")
    return tmp_path / "results"


def test_a_symlinked_run_file_is_set_aside_in_one_line(plain, tmp_path, capsys):
    """A link to a valid, newer run of the same machine kept outside the folder: read, it
    would become the machine's current figures; refused, the answer is the folder's."""
    expected = _clean_show(tmp_path, capsys)
    outside = tmp_path / "elsewhere" / "fixture-a"
    outside.mkdir(parents=True)
    (outside / f"{BAD_ID}.json").write_text(_newer_copy(plain / "fixture-a" / f"{GOOD_A}.json", BAD_ID))
    results.read_run(outside / f"{BAD_ID}.json")  # a good run file where it lies
    link = plain / "fixture-a" / f"{BAD_ID}.json"
    link.symlink_to(outside / f"{BAD_ID}.json")
    assert main(["show", str(plain)]) == 0
    captured = capsys.readouterr()
    assert captured.out.replace(str(plain), "{folder}") == expected
    assert captured.err.strip() == (f"parkbench: skipped: {link} is a symbolic link, not a regular "
                                    f"file (a results file is never read through a link: put the "
                                    f"file itself there)")
    assert main(["check", str(plain)]) == 2
    assert capsys.readouterr().out.startswith(f"bad: {link} is a symbolic link")
    one_line_error(capsys, main(["show", str(link)]), "is a symbolic link")


def test_a_fifo_among_good_run_files_is_set_aside_without_hanging(plain, tmp_path, capsys):
    import os
    import signal

    expected = _clean_show(tmp_path, capsys)
    fifo = plain / "fixture-a" / f"{BAD_ID}.json"
    os.mkfifo(fifo)

    def hung(*_):
        raise AssertionError("reading a FIFO run file hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        assert main(["show", str(plain)]) == 0
        captured = capsys.readouterr()
        assert main(["check", str(plain)]) == 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert captured.out.replace(str(plain), "{folder}") == expected
    assert captured.err.strip() == f"parkbench: skipped: {fifo} is not a regular file"
    assert capsys.readouterr().out.startswith(f"bad: {fifo} is not a regular file")


# --- item 12: one run in two files is read once, the other file set aside ----------------


def test_a_second_file_of_one_run_is_set_aside_naming_both(plain, tmp_path, capsys):
    """A copy of a run under another run id's name, with its figures changed (read, the
    run would count twice or its figures be mixed), and a hard link to it: the first
    file in reading order is read, each other one set aside in one line naming both. A
    copy whose name is not a run id, or one in a subfolder, is not a run file at all."""
    import os

    from parkbench.analysis import current, tidy

    expected = _clean_show(tmp_path, capsys)
    clean_rows = len(tidy.load(tmp_path / "clean"))
    original = plain / "fixture-a" / f"{GOOD_A}.json"
    document = json.loads(original.read_text())
    for record in document["measurements"]:
        if record["kind"] == "memory":
            record["memory"]["pss"] *= 3
    copy = plain / "fixture-a" / f"{GOOD_A}-2.json"
    copy.write_text(json.dumps(document))
    results.read_run(copy)  # a good run file on its own
    link = plain / "fixture-a" / f"{GOOD_A}-3.json"
    os.link(original, link)
    shutil.copy(original, plain / "fixture-a" / f"{GOOD_A} copy.json")
    (plain / "fixture-a" / "old").mkdir()
    shutil.copy(copy, plain / "fixture-a" / "old" / f"{GOOD_A}.json")

    assert main(["show", str(plain)]) == 0
    captured = capsys.readouterr()
    assert captured.out.replace(str(plain), "{folder}") == expected
    assert captured.err.strip().splitlines() == [
        f"parkbench: skipped: {path}: run {GOOD_A} of machine fixture-a again; it is read from "
        f"{original} (a run counts once: remove one of the two)" for path in (copy, link)]
    assert main(["check", str(plain)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[0].startswith(f"bad: {copy}: run {GOOD_A} of machine fixture-a again")
    assert out[1].startswith(f"bad: {link}: run {GOOD_A} of machine fixture-a again")
    assert out[2] == f"checked 6 files under {plain}: 2 bad (show, fit, compare and report set them aside)"

    figures = current.load(plain)
    assert len(figures.frame) == len(current.load(tmp_path / "clean").frame)
    assert [item.path for item in figures.set_aside] == [copy, link]
    with pytest.raises(UserError, match="again; it is read from"):
        tidy.load(plain)  # strict: no set-aside list to put it in
    copy.unlink()
    link.unlink()
    assert len(tidy.load([plain, plain / "fixture-a", original])) == clean_rows  # one file, reached thrice


def test_a_run_named_twice_on_the_command_line_is_read_once(plain, tmp_path, capsys):
    original = plain / "fixture-a" / f"{GOOD_A}.json"
    copy = tmp_path / "copy" / "fixture-a" / f"{GOOD_A}.json"
    copy.parent.mkdir(parents=True)
    shutil.copy(original, copy)
    from parkbench.analysis import current

    figures = current.load([original, copy])
    assert len(figures.frame) == len(current.load([original]).frame)
    assert [item.path for item in figures.set_aside] == [copy]
    assert str(original) in figures.set_aside[0].text()


def test_skips_of_one_run_with_one_reason_are_one_note():
    from types import SimpleNamespace

    from parkbench.commands.show import failure_notes

    why = "gevent could not be installed for CPython 3.13.5t: pip failed: cffi: RuntimeError: ..."
    skipped = [{"kind": "memory", "model": "gevent", "variant": "event", "n": n, "reason": why}
               for n in (1_000, 3_000, 10_000)] + [
              {"kind": "memory", "model": "asyncio", "variant": "event", "n": 10**7, "reason": "predicted peak"}]
    run = SimpleNamespace(machine="m", run_id="r", failures=[], skipped=skipped)
    notes = failure_notes(SimpleNamespace(used_runs=lambda: [run]))
    assert notes == [f"m r: 3 jobs (memory gevent/event n=1,000, memory gevent/event n=3,000 ...) skipped: {why}",
                     "m r: memory asyncio/event n=10,000,000 skipped: predicted peak"]
