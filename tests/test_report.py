"""The report notebook executes end to end on fixture results, the same twice."""

import builtins
import shutil
import signal
from pathlib import Path

import pytest

from parkbench.cli import main

pytestmark = pytest.mark.slow  # real probe children, pyperf or a notebook kernel

FIXTURES = str(Path(__file__).parent / "fixtures" / "results")


def with_wake_rates(folder: Path) -> Path:
    """The fixture results under ``folder``, each machine given a run of asyncio's wake-rate
    search at two W (its in-process maps need a measured edge); fixture-a's two runs come
    from two hosts (vm, box-2), fixture-b's from one."""
    from tests import synthetic
    from tests.builders import wake_search_record
    from tests.damage import edit

    shutil.copytree(FIXTURES, folder)
    (first,) = (folder / "fixture-a").glob("2*.json")
    edit(first, lambda document: document.update(host={"hostname": "vm", "id": "3d1219c7c4c5"}))
    for machine, knees, host in (("fixture-a", ((1_000, 410_000), (10_000, 370_000)),
                                  {"hostname": "box-2", "id": "a1b2c3d4e5f6"}),
                                 ("fixture-b", ((1_000, 300_000), (10_000, 260_000)), None)):
        synthetic.write_run(folder, machine, "20261206T120000",
                            [wake_search_record("asyncio", "event", w, rate) for w, rate in knees], host=host)
    return folder


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return with_wake_rates(tmp_path_factory.mktemp("fixtures") / "results")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, results):
    import contextlib
    import io

    output = tmp_path_factory.mktemp("report")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["report", "--results", str(results), "--output", str(output)]) == 0
    (output / "stdout.txt").write_text(out.getvalue())
    (output / "stderr.txt").write_text(err.getvalue())
    return output


def test_report_names_every_file_it_wrote(rendered):
    out = (rendered / "stdout.txt").read_text()
    for name in ("report.html", "report.ipynb", "fitmap-fixture-a.png", "decision-map-fixture-b.png"):
        assert name in out
    assert "without encryption" not in (rendered / "stderr.txt").read_text()


def test_report_renders_html_and_the_executed_notebook(rendered):
    html = (rendered / "report.html").read_text()
    for text in ("Fit map", "Decision map", "fixture-a", "fixture-b", "Comparing machines", "image/png"):
        assert text in html
    assert "Traceback" not in html


def test_report_writes_the_maps_of_each_machine(rendered):
    for machine in ("fixture-a", "fixture-b"):
        for kind in ("fitmap", "decision-map"):
            assert (rendered / f"{kind}-{machine}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_has_every_plot_and_no_error_or_stderr(rendered):
    import json

    notebook = json.loads((rendered / "report.ipynb").read_text())
    outputs = [output for cell in notebook["cells"] for output in cell.get("outputs", [])]
    images = sum("image/png" in output.get("data", {}) for output in outputs)
    problems = [output for output in outputs if output["output_type"] == "error"
                or (output["output_type"] == "stream" and output["name"] == "stderr")]
    assert problems == []
    # per machine: decision map, fit map, 4 memory plots, 2 latency plots, the wake rate's
    # latency against the offered rate; 4 comparisons
    assert images == 2 * 9 + 4


def test_report_page_hides_code_and_paths(rendered, results):
    import base64
    import re
    import struct

    html = (rendered / "report.html").read_text()
    assert "import " not in html and "plots.memory_vs_n" not in html  # no code cells
    assert str(Path(FIXTURES).resolve()) not in html and str(rendered) not in html
    assert str(results) not in html
    assert "/tmp/" not in html and "/home/" not in html
    assert 'src="http' not in html and 'import("http' not in html  # opens with no network
    assert "<title>parkbench report</title>" in html
    assert "The answer in one table" in html and "Which model needs the fewest machines" in html
    assert "KiB" in html and "µs" in html and "predicted" in html
    for image in re.findall(r'src="data:image/png;base64,([^"]+)"', html)[:3]:
        png = base64.b64decode(image)
        width, height = struct.unpack(">II", png[16:24])
        assert width >= 800  # drawn at 110 dpi, at least 8 inches wide


def test_the_1m_tasks_figures_are_named_in_their_own_unit(rendered):
    """The chart's values are MiB (labelled MB): the page says MiB, converts to MB of 10^6
    bytes only where it says so, and quotes no figure in its prose (the table holds them)."""
    import re

    from parkbench.core import published

    html = (rendered / "report.html").read_text()
    section = html[html.index("The famous"):html.index("Where each figure came from")]
    for figure in published.ONE_MILLION_TASKS:
        assert f"{figure.value:,.1f} MiB" in section, figure.label
        assert f"{figure.base / 1e6:,.0f} MB" in section
        assert f"{figure.value:,.0f} MB" not in section  # a MiB figure called MB
    prose = section[:section.index("<table")]
    assert not re.search(r"\d[\d,.]* (MB|MiB|KB|KiB)\b", prose)


def test_the_glossary_comes_before_the_first_table(rendered):
    html = (rendered / "report.html").read_text()
    glossary = html.index("Words used on this page")
    assert glossary < html.index("The answer in one table")
    for term in ("rlimit_nofile_hard", "max_map_count", "USS", "churn", "generator-bound", "N^b",
                 "x predicted rate"):
        assert term in html[glossary:html.index("The answer in one table")], term


def test_measured_on_says_when_a_machine_s_figures_come_from_two_hosts(rendered):
    html = (rendered / "report.html").read_text()
    measured_on = html[html.index("Measured on"):html.index("Words used on this page")]
    assert measured_on.count("more than one host or CPU") == 1
    said = measured_on[measured_on.index("more than one host or CPU"):]
    assert "fixture-a: current figures come from 2 hosts under one machine name" in said
    assert "vm (3d1219c7c4c5)" in said and "box-2 (a1b2c3d4e5f6)" in said


def test_rendering_unchanged_results_changes_nothing(rendered, results, tmp_path):
    assert main(["report", "--results", str(results), "--output", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").read_bytes() == (rendered / "report.html").read_bytes()
    assert (tmp_path / "report.ipynb").read_bytes() == (rendered / "report.ipynb").read_bytes()


def test_report_errors_are_exit_2(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path)]) == 2
    assert "no results found" in capsys.readouterr().err
    assert main(["report", "--results", FIXTURES, "--machines", "nosuch",
                 "--output", str(tmp_path)]) == 2
    assert "unknown machine 'nosuch'" in capsys.readouterr().err
    # a folder whose every run file is bad (one bad among good ones is set aside:
    # tests/test_set_aside.py)
    shutil.copytree(Path(FIXTURES) / "fixture-a", tmp_path / "res" / "fixture-a")
    (run,) = (tmp_path / "res" / "fixture-a").glob("2*.json")
    run.write_text(run.read_text().replace('"schema_version": 1', '"schema_version": 7'))
    capsys.readouterr()
    assert main(["report", "--results", str(tmp_path / "res"), "--output", str(tmp_path)]) == 2
    assert "schema version 7, newer than this parkbench reads" in capsys.readouterr().err


def test_missing_notebook_dependency_names_the_extra(monkeypatch, tmp_path, capsys):
    real_import = builtins.__import__

    def no_nbclient(name, *args, **kwargs):
        if name == "nbclient":
            raise ImportError("No module named 'nbclient'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_nbclient)
    assert main(["report", "--results", FIXTURES, "--output", str(tmp_path)]) == 2
    assert "install the report extra (pip install -e '.[report]')" in capsys.readouterr().err


def _is_kernel(process) -> bool:
    import psutil

    try:
        return "-f" in process.cmdline()
    except psutil.Error:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_report_leaves_no_kernel_and_no_files(tmp_path, signum):
    """issue 28.12: SIGTERM of ``report`` gave a traceback and the kernel lingered ~13 s
    (a graceful shutdown of a busy kernel waited 10 s); SIGKILL left the kernel's
    connection file and its folder in the temporary folder. Now SIGTERM is one line,
    exit 130; either way the kernel goes within seconds and leaves no file."""
    import os
    import subprocess
    import sys
    import time

    import psutil

    # a deep temporary folder: the kernel's sockets must not sit in it where their path
    # would pass a Unix socket's 107 bytes (the kernel then never starts)
    private = tmp_path / ("deep" * 12) / "tmp"
    private.mkdir(parents=True)
    report = subprocess.Popen([sys.executable, "-m", "parkbench", "report", "--results", FIXTURES,
                               "--output", str(tmp_path / "out")], env={**os.environ, "TMPDIR": str(private)},
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    kernel = None
    try:
        while kernel is None:  # the synchronisation point: the kernel started (its files exist)
            assert report.poll() is None and time.monotonic() < deadline, report.stderr.read()
            kernel = next((child for child in psutil.Process(report.pid).children()
                           if _is_kernel(child)), None)
            time.sleep(0.05)
        report.send_signal(signum)
        _, err = report.communicate(timeout=60)
    finally:  # a failed wait leaves no report (and its kernel) running for hours
        if report.poll() is None:
            for process in psutil.Process(report.pid).children(recursive=True):
                process.kill()
            report.kill()
            report.communicate()
    if signum == signal.SIGTERM:
        assert report.returncode == 130 and err == "parkbench: interrupted\n", err
    psutil.wait_procs([kernel], timeout=5)
    assert not kernel.is_running() or kernel.status() == psutil.STATUS_ZOMBIE
    assert list(private.iterdir()) == []


def test_the_kernel_folder_leaves_a_temporary_folder_too_deep_for_its_sockets(monkeypatch, tmp_path):
    from parkbench.presentation import report

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert report._kernel_parent() == str(tmp_path)
    deep = tmp_path / ("d" * (report.SOCKET_PATH_BYTES - len(str(tmp_path))))
    monkeypatch.setattr("tempfile.tempdir", str(deep))
    assert report._kernel_parent() == "/tmp"
