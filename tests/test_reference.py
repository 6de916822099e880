"""Go as the measured reference: each Python model's memory and hand-off as a ratio to
a goroutine's on the same machine, the fit map's choice among Python models only, and
the published Go marker replaced by the measurement."""

import pytest

from parkbench.analysis import current, sizing
from parkbench.presentation import headline, summary
from tests.synthetic import memory_record, switch_record, write_run

# per view (fixed, per waiter): the asyncio task and the goroutine differ in every view
ASYNCIO = {"rss": (30e6, 1300.0), "uss": (20e6, 1100.0), "pss": (25e6, 1200.0),
           "vms": (90e6, 1500.0), "kernel": (0.0, 40.0)}          # total 1,240 B
GO = {"rss": (5e6, 2900.0), "uss": (4e6, 2700.0), "pss": (4.5e6, 2800.0),
      "vms": (80e6, 3300.0), "kernel": (0.0, 300.0)}            # total 3,100 B
GRID = (1_000, 3_000, 12_000, 50_000)


@pytest.fixture
def results(tmp_path):
    records = [memory_record("asyncio", "event", n, ASYNCIO) for n in GRID]
    records += [memory_record("go", "chan", n, GO) for n in GRID]
    records += [switch_record("asyncio", "future", "same-core", "r", 2.0e-6),
                switch_record("asyncio", "future", "cross-core", "r", 2.2e-6),
                switch_record("go", "chan", "same-core", "r", 125e-9),
                switch_record("go", "chan", "cross-core", "r", 25e-6)]
    write_run(tmp_path, "box", "20261126T100000", records)
    return tmp_path


def test_memory_and_hand_off_are_ratios_to_the_goroutine(results):
    frame = current.load(results).frame
    memory = summary.table(frame).set_index("model")
    assert memory.loc["asyncio", "vs_reference"] == pytest.approx(1240 / 3100, rel=1e-6)
    assert memory.loc["go", "vs_reference"] == pytest.approx(1.0)
    latency = summary.latency_table(frame).set_index("model")
    # same-core against same-core: 2 µs / 125 ns, not the cross-core figure of either
    assert latency.loc["asyncio", "vs_reference"] == pytest.approx(16.0, rel=1e-6)
    row = headline.headline(frame, "box").set_index("model/variant").loc["asyncio/event"]
    assert row["vs go: memory, hand-off"] == "0.4x, 16x"


def test_ratio_text():
    assert [summary.format_ratio(v) for v in (0.4387, 1.0, 15.2, 1790.3)] == \
        ["0.44x", "1x", "15x", "1,790x"]


def test_the_fit_map_uses_go_same_core_hand_off_and_chooses_among_python_models(results):
    frame = current.load(results).frame
    profiles = {p.model: p for p in sizing.profiles(frame, {"box": 2})}
    go = profiles["go"]
    # go's wake-ups are same-core switches on each of its cores, not the pinned
    # cross-core worst case; asyncio's are its slower placement on one core
    assert (go.placement, go.switch_seconds, go.cores) == ("same-core", 125e-9, 2)
    assert (profiles["asyncio"].placement, profiles["asyncio"].switch_seconds) == ("cross-core", 2.2e-6)
    assert sizing.candidates(profiles.values()) == [profiles["asyncio"]]
    corner, = sizing.reference_markers(profiles.values())
    assert corner["label"] == "go/chan: measured here (rate: cores / hand-off, an upper bound)"
    assert corner["rate"] == pytest.approx(2 / 125e-9) and corner["waiters"] == go.capacity
    rows = {row["model"]: row for row in sizing.answer(list(profiles.values()), 1_000, 1_000)}
    assert rows["go"]["reference"] and not rows["asyncio"]["reference"]


def test_the_published_go_marker_gives_way_to_the_measurement():
    labels = [m["label"] for m in sizing.published_markers(2.6e9, 1, measured=["go"])]
    assert not any("Go" in label for label in labels) and any("JVM" in label for label in labels)
    assert any("Go" in m["label"] for m in sizing.published_markers(2.6e9, 1))
