"""The report renders every partial shape of results (issue: a memory-only folder failed
with 'No artists with labels found to put in legend' and left an empty output folder).
Each shape's notebook code runs here in-process, cell by cell, with every warning an
error as the report itself treats one (``report.py``); one shape renders for real in
``test_report.py``."""

import json
from pathlib import Path

import matplotlib
import pytest

from tests import shapes
from tests.builders import run_notebook

matplotlib.use("Agg")


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
    from parkbench.presentation import report

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


HOSTILE = "3.11.7<script>alert(1)</script><img src=x onerror=alert(2)>\x1b]0;owned\x07"


def _tags(page: str) -> dict:
    import re
    from collections import Counter

    return Counter(tag.lower() for tag in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9-]*)", page))


@pytest.mark.slow
def test_no_tag_a_results_file_wrote_reaches_the_page(tmp_path):
    """A run file whose strings hold markup: the page has exactly the tags of the same
    report from plain strings (escaped everywhere: tables, Markdown, notes)."""
    from parkbench.cli import main
    from tests import synthetic

    pages = {}
    for kind, text in (("plain", "3.11.7"), ("hostile", HOSTILE)):
        folder = tmp_path / kind
        records = shapes.SHAPES["one-model"]
        failure = {"kind": "memory", "repeat": 0,
                   "model": "threads", "variant": "condition", "n": 30_000, "failure": "exit",
                   "reason": f"RuntimeError: {text}", "exit_code": 3, "wall_seconds": 1.0}
        interpreter = dict(synthetic.INTERPRETER, version=text, implementation=f"CPython{text}", abi=text)
        path = synthetic.write_run(folder, "m", shapes.RUN, records, failures=[failure],
                                   interpreter=interpreter)
        shapes.write_pyperf_files(path, records)
        _plant_bad_files(folder, text)  # named on the page: escaped too
        assert main(["report", "--results", str(folder), "--output", str(tmp_path / f"{kind}-out")]) == 0
        pages[kind] = (tmp_path / f"{kind}-out" / "report.html").read_text()
    assert "alert(1)" in pages["hostile"].replace("\\(1\\)", "(1)") or "alert" in pages["hostile"]
    assert _tags(pages["hostile"]) == _tags(pages["plain"])
    assert "\x1b" not in pages["hostile"] and "\x07" not in pages["hostile"]
    assert all("3 run files in these results are not read" in page for page in pages.values())


def test_show_prints_control_characters_from_a_file_escaped(tmp_path, capsys):
    from parkbench.cli import main
    from tests import synthetic

    failure = {"kind": "memory", "repeat": 0,
               "model": "threads", "variant": "condition", "n": 30_000, "failure": "exit",
               "reason": "boom\x1b]0;owned\x07\rgone", "exit_code": 3, "wall_seconds": 1.0}
    interpreter = dict(synthetic.INTERPRETER, version="3.11.7\x1b[2J")
    synthetic.write_run(tmp_path, "m", shapes.RUN, shapes.SHAPES["one-model"], failures=[failure],
                        interpreter=interpreter)
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "boom\\x1b]0;owned\\x07\\x0dgone" in out and "3.11.7\\x1b[2J" in out
    assert not any(ord(ch) < 32 and ch != "\n" for ch in out)


def _plant_bad_files(folder: Path, text: str) -> list:
    """Beside the good run of machine ``m``: a run file whose run id is ``text`` (refused,
    its reason quotes it), a good run of ``m`` in a folder named with ``text``'s markup and
    control characters (refused: the folder is not its machine's), and a second file of
    the good run. Their paths, in the order the readers meet them."""
    import shutil

    (good,) = (folder / "m").glob("2*.json")
    document = json.loads(good.read_text())
    bad_id = folder / "m" / "20300101T000000Z.json"
    bad_id.write_text(json.dumps({**document, "run_id": text}))
    copy = good.with_name(f"{good.stem}-2.json")
    shutil.copy(good, copy)
    hostile_folder = folder / f"m{text.replace('/', '')}"
    hostile_folder.mkdir()
    misplaced = hostile_folder / good.name
    shutil.copy(good, misplaced)
    return [copy, bad_id, misplaced]


def _set_aside_section(shown: list) -> list:
    return [item.data for item in shown if getattr(item, "data", "").startswith("**Set aside:**")]


def test_the_report_names_each_file_it_set_aside_escaped(tmp_path):
    """Item 12 of issue 28: the page says which run files it left out and why, with every
    name and reason from disk escaped: no tag, no control character, no Markdown."""
    import re

    from nbconvert.filters.markdown import markdown2html

    folder = shapes.write(tmp_path / "results", "one-model")
    assert _set_aside_section(run_notebook(folder)) == []  # nothing set aside: no section
    planted = _plant_bad_files(folder, HOSTILE)
    (section,) = _set_aside_section(run_notebook(folder))
    lines = section.splitlines()
    assert lines[0].startswith("**Set aside:** 3 run files in these results are not read")
    assert len(lines) == 2 + len(planted)
    for line, path in zip(lines[2:], planted, strict=True):
        assert line.startswith("- ") and path.name.replace("_", "\\_").replace("-", "\\-") in line
    assert "again; it is read from" in lines[2] and "run\\_id must look like" in lines[3]
    assert "differs from the folder it is in" in lines[4]
    page = markdown2html(section)
    assert set(re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9-]*)", page)) <= {"p", "strong", "code", "ul", "li"}
    assert "&lt;script&gt;" in page and "\x1b" not in page and "\x07" not in page
    assert "&amp;#x27;" not in page  # a quote shows as a quote, not as its entity


def test_the_set_aside_section_stays_short():
    from parkbench.presentation import headline
    from parkbench.store.run_reader import SetAside

    assert headline.set_aside([]) is None
    one = headline.set_aside([SetAside(Path("m/20300101T000000Z.json"), "not valid JSON")])
    assert one.startswith("**Set aside:** 1 run file in these results is not read, and no figure "
                          "below comes from it")
    many = headline.set_aside([SetAside(Path(f"m/2030010{k % 10}T00000{k // 10}Z.json"), "bad")
                               for k in range(25)]).splitlines()
    assert len(many) == 2 + headline.SET_ASIDE_SHOWN + 1 and many[-1] == "- and 5 more"
