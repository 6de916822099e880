"""The command line end to end, on tiny grids."""

import json
import os
import subprocess
import sys

import pytest

from parkbench.cli import main
from parkbench.core import registry
from tests.damage import FIXTURES, one_line_error


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.slow
def test_run_then_show_json_end_to_end(tmp_path, capsys):
    out = tmp_path / "res"
    status = main(["run", "--models", "asyncio:event,subprocess:fork", "--n", "5,20,80", "--only", "memory",
                   "--output", str(out), "--machine", "ci-box"])
    assert status == 0
    printed = capsys.readouterr()
    assert "RSS/waiter" in printed.out and "asyncio" in printed.out
    assert "[1/6] memory asyncio/event n=5" in printed.err
    assert (out / "ci-box" / "machine.json").exists()
    runs = list((out / "ci-box").glob("2*.json"))
    assert len(runs) == 1

    assert main(["show", str(out), "--format", "json"]) == 0
    records = _json_lines(capsys.readouterr().out)
    for key in ("machine", "run_id", "model", "variant", "metric", "n", "value", "unit"):
        assert all(key in record for record in records)
    figures = {(r["model"], r["variant"], r["metric"]): r for r in records if r["n"] is None}
    assert figures[("asyncio", "event", "rss_per_waiter")]["unit"] == "bytes"
    assert figures[("subprocess", "fork", "pss_per_waiter")]["value"] > 0
    assert figures[("subprocess", "fork", "uss_per_waiter")]["value"] > 0
    assert figures[("asyncio", "event", "max_n")]["value"] == 80

    assert main(["show", str(runs[0])]) == 0
    assert "subprocess" in capsys.readouterr().out


def test_list_names_every_model_and_variant(capsys):
    import re


    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for model in registry.MODELS.values():
        assert re.search(rf"^{model.name}: ", out, re.M)
        variants = re.search(rf"^{model.name}: .*\n  variants: ([^(]+) \(", out, re.M).group(1)
        assert variants.split(", ") == list(model.variants)  # "fork" is not found in "forkserver"


@pytest.mark.parametrize("argv, message", [
    (["run", "--models", "fibers"], "unknown model 'fibers'; accepted models: threads"),
    (["run", "--n", "10,ten,100"], "N must be a positive whole number"),
    (["run", "--n", "0,10,100"], "N must be a positive whole number"),
    (["run", "--models", "threads:stack-16k"], "the platform minimum is 32k"),
    (["run", "--models", "threads:stack-66k"], "multiple of 4k"),
    (["run", "--models", "subprocess:socket"], "accepted variants: fork, exec, forkserver, spawn"),
    (["run", "--models", "subprocess:vfork"], "accepted variants: fork, exec, forkserver, spawn"),
    (["run", "--n", "10,100,10"], "at least 3 distinct N"),
    (["run", "--machine", "../evil"], "machine name must be a plain name"),
    (["run", "--machine", "a/b"], "machine name must be a plain name"),
    (["run", "--machine", ""], "machine name must be a plain name"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "res"
    assert main(argv + ["--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_unwritable_output_is_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", "--n", "1,2,3", "--models", "asyncio", "--output", str(blocker / "res")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_show_without_results_is_exit_2(tmp_path, capsys):
    assert main(["show", str(tmp_path)]) == 2
    assert "no results found" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["run", "--repeat", "0"], ["run", "--timeout", "-1"]])
def test_argparse_level_bad_input_is_exit_2(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


@pytest.mark.slow
def test_console_command_and_module_both_work():
    for command in (["parkbench", "list"], [sys.executable, "-m", "parkbench", "list"]):
        if command[0] == "parkbench":
            command[0] = os.path.join(os.path.dirname(sys.executable), "parkbench")
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "uvloop" in done.stdout


def test_the_command_reference_is_current():
    """docs/commands.md is generated from the parser; regenerate it with
    `python scripts/generated_docs.py` when this fails."""
    from pathlib import Path

    from parkbench.cli import build_parser
    from parkbench.commands.command_docs import markdown

    page = Path(__file__).parent.parent / "docs" / "commands.md"
    assert page.read_text() == markdown(build_parser())


def test_the_stored_plan_s_table_is_current():
    """docs/results-format.md shows every field of a run's stored plan, generated from
    its one definition (store/run_plan.py); regenerate it with
    `python scripts/generated_docs.py` when this fails."""
    from pathlib import Path

    from parkbench.store import run_plan

    page = (Path(__file__).parent.parent / "docs" / "results-format.md").read_text()
    shown = page.split("<!-- generated: parameters -->\n")[1].split("<!-- end of generated: parameters -->")[0]
    assert shown == run_plan.docs_table() + "\n"
    for field in ("selection", "slo_seconds", "served_settings", "map_checks", "python_spec"):
        assert f"| `{field}` |" in shown


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


@pytest.mark.parametrize("argv, message", [
    (["run", "--machine", "box\n"], "machine name must be a plain name"),
    (["run", "--n", "-5,100,200"], "N must be a positive whole number"),
    (["run", "--memory-budget", "50", "--models", "asyncio"], "below what the smallest probe child needs"),
    (["run", "--memory-budget", "0.5"], "a size must be"),
    (["run", "--repeat", "0"], "from 1 to 100"),
    (["run", "--repeat", "1000000000"], "from 1 to 100"),
    (["run", "--repeat", "٢"], "from 1 to 100"),          # an Arabic-Indic two: int() takes it
    (["run", "--timeout", "٥"], "number of seconds"),
    (["run", "--timeout", "1e1"], "number of seconds"),
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
