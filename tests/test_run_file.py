"""Writing a run file: the format git sees, the atomic write (the temporary file beside
its target, a failure midway leaving the old file whole), claiming run ids, the lock
(never followed through a FIFO or a link), resume refusals that leave no lock file, a
full disk or an unwritable folder before anything runs."""

import json
import math
import os
import shutil
import signal
from datetime import UTC, datetime

import pytest

from parkbench.cli import main
from parkbench.core.errors import UserError
from parkbench.store import files, results, run_file
from tests import committed, synthetic
from tests.damage import committed_copy, one_line_error

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_json_is_written_one_space_indented_and_never_with_nan(tmp_path):
    path = tmp_path / "doc.json"
    files.write_json_atomic(path, {"a": [1, 2], "b": {"c": None}})
    assert path.read_text() == '{\n "a": [\n  1,\n  2\n ],\n "b": {\n  "c": null\n }\n}\n'
    with pytest.raises(ValueError):
        files.write_json_atomic(path, {"a": math.nan})  # NaN is not JSON: refuse, never write it
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": {"c": None}}


def test_the_temporary_file_lives_beside_its_target_hidden_and_is_renamed(tmp_path, monkeypatch):
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renamed.append((src, dst)), real_replace(src, dst)))
    target = tmp_path / "run.json"
    files.write_text_atomic(target, "é\n")
    (source, destination), = renamed
    source = os.fspath(source)
    assert os.path.dirname(source) == str(tmp_path)  # one file system: the rename is atomic
    assert os.path.basename(source).startswith(".run.json.") and source.endswith(".tmp")
    assert os.fspath(destination) == str(target)
    assert target.read_bytes() == "é\n".encode()
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_run_ids_sort_by_time_then_by_their_second_number():
    assert results.new_run_id(NOW) == "20260102T030405Z"
    assert results.run_order("20260102T030405Z") == ("20260102T030405Z", 1)
    assert results.run_order("20260102T030405Z-12") == ("20260102T030405Z", 12)
    ids = ["20260102T030405Z-10", "20260102T030405Z", "20260102T030405Z-2", "20260101T000000Z-3"]
    assert sorted(ids, key=results.run_order) == ["20260101T000000Z-3", "20260102T030405Z",
                                                   "20260102T030405Z-2", "20260102T030405Z-10"]


def _create(folder, machine="m"):
    return run_file.RunFile.create(folder, machine, {"repeat": 1}, {"implementation": "CPython"},
                                  {}, now=NOW)


def test_a_claimed_run_id_is_never_reused_and_the_next_is_taken(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / ".20260102T030405Z.lock").write_text("")  # claimed by another run
    run = _create(tmp_path)
    assert run.path.name == "20260102T030405Z-2.json"
    assert _create(tmp_path).path.name == "20260102T030405Z-3.json"


def test_no_free_run_id_is_a_clear_error(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / ".20260102T030405Z.lock").write_text("")
    for attempt in range(2, 1000):
        (folder / f".20260102T030405Z-{attempt}.lock").write_text("")
    with pytest.raises(UserError) as error:
        _create(tmp_path)
    assert str(error.value) == f"no free run id under {str(folder)!r} for 20260102T030405Z"


def test_folders_are_created_with_their_parents(tmp_path):
    run = _create(tmp_path / "deep" / "results")
    assert run.path.parent == tmp_path / "deep" / "results" / "m"
    assert files.check_output_folder(tmp_path / "a" / "b" / "c") == tmp_path / "a" / "b" / "c"


def test_unusable_folders_are_one_line_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError) as error:
        files.check_output_folder(blocker / "sub")
    assert str(error.value) == f"output folder {str(blocker / 'sub')!r} is not writable: Not a directory"
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "m").write_text("")  # where the machine folder should be
    with pytest.raises(UserError) as error:
        _create(tmp_path / "r")
    assert str(error.value) == f"cannot create {str(tmp_path / 'r' / 'm')!r}: File exists"
    with pytest.raises(UserError) as error:
        _create(blocker)
    assert str(error.value) == f"cannot create {str(blocker / 'm')!r}: Not a directory"


def test_a_new_run_document_is_whole_and_finishing_stamps_it(tmp_path):
    run = _create(tmp_path)
    document = json.loads(run.path.read_text())
    assert set(document) == {"schema", "schema_version", "run_id", "machine", "host", "started_at",
                             "finished_at", "complete", "parameters", "interpreter",
                             "machine_description", "measurements", "failures", "skipped",
                             "figures"}
    assert (document["started_at"], document["finished_at"], document["complete"]) == \
        ("2026-01-02T03:04:05+00:00", None, False)
    before = datetime.now(UTC).replace(microsecond=0)
    run.finish([])
    finished = json.loads(run.path.read_text())
    assert finished["complete"] is True
    stamp = datetime.fromisoformat(finished["finished_at"])
    assert stamp.utcoffset().total_seconds() == 0 and stamp >= before


def test_a_run_reopened_without_its_lock_file_locks_it_again(tmp_path):
    run = _create(tmp_path)
    path = run.path
    run._lock.close()
    (path.parent / f".{path.stem}.lock").unlink()
    again = run_file.RunFile.reopen(path)
    assert (path.parent / f".{path.stem}.lock").is_file()
    with pytest.raises(UserError, match="is being written by another parkbench process"):
        run_file.RunFile.reopen(path)
    again._lock.close()


def test_a_run_of_an_older_format_cannot_be_resumed(tmp_path):

    machine = "x86_64-2cpu-24gib"
    shutil.copytree(committed.results() / machine, tmp_path / machine)
    path = tmp_path / machine / "20261126T050824Z.json"
    with pytest.raises(UserError) as error:
        run_file.RunFile.reopen(path)
    assert str(error.value) == f"{path} is of results format 1; only runs of format 2, 3, 4, 5 or 6 can be resumed"
    with pytest.raises(UserError, match="of results format 1"):  # not "being written": let go
        run_file.RunFile.reopen(path)
    assert not (path.parent / ".20261126T050824Z.lock").exists()  # a refusal leaves no lock file


def test_a_refused_resume_keeps_a_lock_file_it_did_not_make(tmp_path):

    machine = "x86_64-2cpu-24gib"
    shutil.copytree(committed.results() / machine, tmp_path / machine)
    path = tmp_path / machine / "20261126T050824Z.json"
    lock = path.parent / ".20261126T050824Z.lock"
    lock.write_text("")  # the claim of whoever made it
    with pytest.raises(UserError, match="of results format 1"):
        run_file.RunFile.reopen(path)
    assert lock.exists()


def test_a_write_that_fails_midway_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    files.write_json_atomic(path, {"version": "old", "values": list(range(100))})
    before = path.read_bytes()

    def fail(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        files.write_json_atomic(path, {"version": "new", "values": list(range(10**5))})
    assert path.read_bytes() == before
    assert json.loads(before)["version"] == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp file left


@pytest.mark.parametrize("change, said", [
    (lambda d: d.update(complete=True), "already complete"),
    (lambda d: d["parameters"].update(repeat=1000), "repeat must be"),
])
def test_a_resume_refused_after_reopening_leaves_no_lock_file(tmp_path, capsys, change, said):

    path = committed_copy(tmp_path)
    stored = json.loads(path.read_text())
    stored["complete"] = False
    change(stored)
    path.write_text(json.dumps(stored))
    assert main(["run", "--output", str(tmp_path), "--resume", str(path)]) == 2
    assert said in capsys.readouterr().err
    assert not (path.parent / ".20261126T181921Z.lock").exists()


def test_a_lock_file_that_is_a_fifo_or_a_link_is_refused_not_followed(tmp_path):
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [], complete=False)
    lock = path.parent / f".{path.stem}.lock"
    lock.unlink(missing_ok=True)
    os.mkfifo(lock)

    def hung(*_):
        raise AssertionError("opening the lock file blocked on a FIFO")

    signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        with pytest.raises(UserError, match="lock file"):
            run_file.RunFile.reopen(path)          # before: blocked forever on the FIFO
    finally:
        signal.alarm(0)
    lock.unlink()
    outside = tmp_path / "created-by-lock"
    lock.symlink_to(outside)
    with pytest.raises(UserError, match="lock file"):
        run_file.RunFile.reopen(path)
    assert not outside.exists()                   # before: created outside the folder


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
