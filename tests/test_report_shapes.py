"""The report renders every partial shape of results (issue: a memory-only folder failed
with 'No artists with labels found to put in legend' and left an empty output folder).
Each shape's notebook code runs here in-process, cell by cell, with every warning an
error as the report itself treats one (``report.py``); one shape renders for real in
``test_report.py``."""

import json
import warnings
from pathlib import Path

import matplotlib
import pytest

from tests import shapes

matplotlib.use("Agg")
NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "report.ipynb"


def run_notebook(results_dir: Path) -> list:
    """Every code cell of the report, as ``parkbench report`` runs them; what it displayed."""
    import IPython.display

    shown: list = []
    namespace = {"__name__": "report"}
    cells = [cell for cell in json.loads(NOTEBOOK.read_text())["cells"] if cell["cell_type"] == "code"]
    original = IPython.display.display
    IPython.display.display = lambda *items, **_: shown.extend(items)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for cell in cells:
                source = "".join(line for line in cell["source"] if not line.startswith("%"))
                if "parameters" in cell.get("metadata", {}).get("tags", []):
                    source += f"\nresults_dir = {str(results_dir)!r}\n"
                exec(compile(source, "report", "exec"), namespace)
    finally:
        IPython.display.display = original
    return shown


@pytest.mark.parametrize("shape", sorted(shapes.SHAPES))
def test_the_report_renders_a_partial_shape(tmp_path, shape):
    shown = run_notebook(shapes.write(tmp_path, shape))
    figures = [item for item in shown if isinstance(item, matplotlib.figure.Figure)]
    texts = " ".join(getattr(item, "data", "") for item in shown)
    assert "### m" in texts
    if shape == "memory-only":
        assert "no hand-off" in texts.lower() and figures
    if shape == "connections-only":
        assert "no hand-off" in texts.lower()


def test_a_failed_render_leaves_no_empty_output_folder(tmp_path, monkeypatch):
    from parkbench import report

    def broken(*_):
        raise RuntimeError("the report notebook wrote an error or to stderr: boom")

    monkeypatch.setattr(report, "_execute", broken)
    output = tmp_path / "new" / "report"
    with pytest.raises(RuntimeError, match="boom"):
        report.render(shapes.write(tmp_path / "results", "memory-only"), output)
    assert not output.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(RuntimeError):
        report.render(tmp_path / "results", kept)
    assert kept.is_dir()  # a folder the user made stays


@pytest.mark.slow
def test_a_memory_only_folder_renders_for_real(tmp_path):
    from parkbench.cli import main

    results = shapes.write(tmp_path / "results", "memory-only")
    assert main(["report", "--results", str(results), "--output", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "no hand-off latency measured" in page and "<img" in page
