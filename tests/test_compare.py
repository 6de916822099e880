"""Comparing two machines through their recorded fixture results."""

import json
import random
import shutil
from pathlib import Path

import pytest

from parkbench.analysis import compare
from parkbench.cli import main

FIXTURES = str(Path(__file__).parent / "fixtures" / "results")


def test_mann_whitney_on_hand_checked_cases():
    same = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert compare.mann_whitney_p(same, same) == pytest.approx(1.0)
    low, high = [float(i) for i in range(10)], [float(i) for i in range(100, 110)]
    # U = 0, n1 = n2 = 10: z = (50 - 0.5) / sqrt(175) = 3.742, p = 0.000183
    assert compare.mann_whitney_p(low, high) == pytest.approx(0.000183, rel=0.01)
    rng = random.Random(3)
    a = [rng.gauss(10, 1) for _ in range(30)]
    b = [rng.gauss(10, 1) for _ in range(30)]
    assert compare.mann_whitney_p(a, b) > 0.05


def test_compare_two_machines_returns_a_table():
    table = compare.compare(compare.resolve("fixture-a", FIXTURES), compare.resolve("fixture-b", FIXTURES))
    assert table.attrs["a"].startswith("fixture-a") and table.attrs["b"].startswith("fixture-b")
    compared = table[table.status.str.match("compared|unstable")]  # unstable: compared, flagged
    assert set(compared.metric) >= {"rss_per_waiter", "pss_per_waiter", "total_per_waiter",
                                    "capacity", "switch_latency"}
    row = compared[(compared.model == "asyncio") & (compared.metric == "rss_per_waiter")].iloc[0]
    assert row.ratio == pytest.approx(row.b / row.a)
    switch = compared[compared.metric == "switch_latency"]
    assert len(switch) == 6  # 3 models x 2 placements
    assert switch.p_value.between(0, 1).all()
    assert set(switch.significant) <= {True, False}
    memory = compared[compared.metric == "rss_per_waiter"]
    assert memory.significant.isna().all()  # one value a side: no test, only the ratio


def test_records_that_cannot_be_compared_are_flagged_not_merged(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "res")
    (run_b,) = (tmp_path / "res" / "fixture-b").glob("2*.json")
    document = json.loads(run_b.read_text())
    for record in document["measurements"] + document["figures"]:  # figures: derived from records
        if record["model"] == "threads" and record.get("variant") == "condition":
            record["variant"] = "stack-64k"
            if "job" in record:  # a format-2 record names its job twice
                record["job"]["variant"] = "stack-64k"
    run_b.write_text(json.dumps(document))
    table = compare.compare(compare.resolve("fixture-a", tmp_path / "res"),
                            compare.resolve(str(run_b), tmp_path / "res"))
    threads = table[(table.model == "threads") & table.variant.isin(["condition", "stack-64k"])]
    assert set(threads[threads.variant == "condition"].status) == {"only in A"}
    assert set(threads[threads.variant == "stack-64k"].status) == {"only in B"}
    assert threads.ratio.isna().all() and len(threads) > 10


def test_compare_command_table_and_json(capsys):
    assert main(["compare", "fixture-a", "fixture-b", "--results", FIXTURES]) == 0
    out = capsys.readouterr().out
    assert "B/A" in out and "switch_latency" in out
    table = compare.compare(compare.resolve("fixture-a", FIXTURES), compare.resolve("fixture-b", FIXTURES))
    row = table[(table.model == "asyncio") & (table.metric == "rss_per_waiter")].iloc[0]
    from parkbench.commands.compare import format_value

    line = next(line for line in out.splitlines() if line.startswith("asyncio/event") and "rss_per_waiter" in line)
    assert format_value(row.a, "bytes") in line and format_value(row.b, "bytes") in line
    assert f"{row.ratio:.3g}" in line and "B" in format_value(row.a, "bytes")
    switch = next(line for line in out.splitlines() if "switch_latency" in line and "asyncio" in line)
    assert "µs" in switch and ("significant (p=" in switch or "apart (p=" in switch)
    assert main(["compare", "fixture-a", "fixture-b", "--results", FIXTURES, "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"model", "variant", "placement", "metric", "a", "b", "ratio", "p_value",
            "significant", "status"} <= set(rows[0])


def test_compare_unknown_machine_is_exit_2(capsys):
    assert main(["compare", "fixture-a", "nosuch", "--results", FIXTURES]) == 2
    assert "'nosuch' is neither a run file nor a machine" in capsys.readouterr().err
