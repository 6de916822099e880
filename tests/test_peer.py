"""The peer-style check: its decomposition adds up to the peer figure with every part
in its place, a stored check is untrusted input, and the whole program's peak is read."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from parkbench.core.errors import UserError
from parkbench.measurement import peer

SCRIPT = str(Path(__file__).parent.parent / "benchmarks" / "checks" / "peer_style.py")

# a gathered run and the same tasks held in a list: every figure different
GATHERED = {"rss_start": 10_000_000, "rss_settled": 180_000_000, "rss_peak": 190_000_000}
HELD = {"rss_start": 9_000_000, "rss_settled": 165_000_000}
N = 100_000
SLOPE = 1_500.0


def test_the_parts_add_up_to_the_peer_figure_each_in_its_place():
    row = peer.decompose(N, GATHERED, HELD, SLOPE)
    assert row["peer_per_task"] == 1_900.0                 # 190 MB / 100k
    assert row["fixed_per_task"] == 100.0                  # 10 MB / 100k (the gathered run's)
    assert row["gather_per_task"] == 140.0                 # (170 - 156) MB / 100k
    assert row["peak_over_settled"] == 100.0               # (190 - 180) MB / 100k
    assert row["unexplained"] == 60.0                      # 156 MB / 100k - 1,500
    assert row["parts_sum"] == pytest.approx(row["peer_per_task"])
    assert row["slope_vs_peer"] == pytest.approx(1_500 / 1_900)


def test_without_a_gather_its_part_is_zero():
    row = peer.decompose(N, GATHERED, None, SLOPE)
    assert row["gather_per_task"] == 0.0
    assert row["unexplained"] == 1_700.0 - SLOPE
    assert row["parts_sum"] == pytest.approx(row["peer_per_task"])


def _write(tmp_path, document) -> Path:
    path = tmp_path / peer.FILENAME
    path.write_text(json.dumps(document))
    return path


def _good():
    return {"schema": peer.SCHEMA, "schema_version": peer.SCHEMA_VERSION, "sleep_seconds": 10.0,
            "slopes": {"asyncio": {"slope": SLOPE, "r2": 1.0, "grid": [30_000, 100_000, 300_000]}},
            "rows": [
        {"runtime": "asyncio", **peer.decompose(N, GATHERED, HELD, SLOPE)}]}


def test_a_file_of_the_first_spelling_still_loads(tmp_path):
    first = _good()
    del first["schema"], first["schema_version"]
    first["format"] = 1
    assert peer.load(_write(tmp_path, first))["rows"] == _good()["rows"]


def test_a_good_file_loads_and_renders(tmp_path):
    document = peer.load(_write(tmp_path, _good()))
    text = peer.render(document)
    assert "1.86 KiB" in text and "+140 B" in text and "79%" in text


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(schema_version=9), "of schema_version 1, not 9"),
    (lambda d: d.update(schema_version=True), "of schema_version 1, not True"),
    (lambda d: d.update(schema="parkbench-run"), "of schema_version 1, not None"),
    (lambda d: d["rows"][0].update(runtime="../etc"), "rows[0].runtime must be one of"),
    (lambda d: d["rows"][0].update(peer_per_task=float("nan")), "rows[0].peer_per_task must be a finite"),
    (lambda d: d["rows"][0].update(n=True), "rows[0].n must be a finite number"),
    (lambda d: d["rows"][0].update(n=0), "rows[0].n must be at least 1"),
    (lambda d: d.update(rows=[]), "rows must be a non-empty list"),
    (lambda d: d.update(sleep_seconds="10"), "sleep_seconds must be a finite number"),
    (lambda d: d["slopes"].update(java={}), "slopes must map asyncio or go"),
    (lambda d: d["slopes"]["asyncio"].update(grid=[1e99]), "slopes.asyncio.grid must be"),
])
def test_a_hostile_file_is_one_line_error(tmp_path, change, message):
    document = _good()
    change(document)
    path = _write(tmp_path, document)
    with pytest.raises(UserError) as raised:
        peer.load(path)
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.slow
def test_the_whole_program_reports_start_settled_and_peak():
    record = peer.run_program(peer.peer_command("asyncio", "gather", 20_000, 1.0), timeout=60)
    assert record["n"] == 20_000
    assert record["rss_start"] < record["rss_settled"]
    # the kernel's RSS counters are batched per CPU: the peak (hiwater) may trail the
    # settled VmRSS by a few pages, never by more than 1%
    assert record["rss_peak"] >= record["rss_settled"] * 0.99
    # 20k sleeping tasks take well over a KiB each above the start
    assert record["rss_settled"] - record["rss_start"] > 20_000 * 1024


@pytest.mark.parametrize("argv, message", [
    (["--models", "node"], "--models takes asyncio, go"),
    (["--sleep", "0"], "--sleep must be from 1 to 600 seconds"),
    (["--n", "ten"], "N must be a positive whole number"),
])
def test_the_script_refuses_bad_options_in_one_line(argv, message, tmp_path):
    done = subprocess.run([sys.executable, SCRIPT, *argv, "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert not any(tmp_path.iterdir())
