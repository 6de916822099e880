"""The report notebook executes end to end on fixture results, the same twice."""

import builtins
import shutil
from pathlib import Path

import pytest

from parkbench.cli import main

FIXTURES = str(Path(__file__).parent / "fixtures" / "results")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    output = tmp_path_factory.mktemp("report")
    assert main(["report", "--results", FIXTURES, "--output", str(output)]) == 0
    return output


def test_report_renders_html_and_the_executed_notebook(rendered):
    html = (rendered / "report.html").read_text()
    for text in ("fit map", "fixture-a", "fixture-b", "Comparing machines", "image/png"):
        assert text in html
    assert "Traceback" not in html


def test_report_writes_the_fit_map_of_each_machine(rendered):
    for machine in ("fixture-a", "fixture-b"):
        assert (rendered / f"fitmap-{machine}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_has_every_plot(rendered):
    import json

    notebook = json.loads((rendered / "report.ipynb").read_text())
    images = sum("image/png" in output.get("data", {})
                 for cell in notebook["cells"] for output in cell.get("outputs", []))
    errors = [output for cell in notebook["cells"] for output in cell.get("outputs", [])
              if output["output_type"] == "error"]
    assert errors == []
    # per machine: 6 plots; a fit map per machine; 4 comparison plots
    assert images == 2 * 6 + 2 + 4


def test_rendering_unchanged_results_changes_nothing(rendered, tmp_path):
    assert main(["report", "--results", FIXTURES, "--output", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").read_bytes() == (rendered / "report.html").read_bytes()
    assert (tmp_path / "report.ipynb").read_bytes() == (rendered / "report.ipynb").read_bytes()


def test_report_errors_are_exit_2(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path)]) == 2
    assert "no results found" in capsys.readouterr().err
    assert main(["report", "--results", FIXTURES, "--machines", "nosuch",
                 "--output", str(tmp_path)]) == 2
    assert "unknown machine 'nosuch'" in capsys.readouterr().err
    shutil.copytree(FIXTURES, tmp_path / "res")
    (run,) = (tmp_path / "res" / "fixture-a").glob("2*.json")
    run.write_text(run.read_text().replace('"schema_version": 1', '"schema_version": 7'))
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
