"""Published figures keep the unit their source printed: the 2024 "1M tasks" chart is
in MiB (labelled MB), so its per-task figures are 4.9% above the same numbers read as
MB, and every place that quotes them takes the bytes from ``published.py``."""

import pytest

from parkbench.analysis import sizing
from parkbench.core import published
from parkbench.measurement import peer


def test_the_1m_tasks_figures_are_mib_as_the_chart_prints_them():
    chart = {figure.label: figure for figure in published.ONE_MILLION_TASKS}
    assert {figure.unit for figure in chart.values()} == {"MiB"}
    for figure in chart.values():
        kib = figure.value * 1024  # the chart's values: peak RSS in KiB (whole pages) / 1024
        assert kib == int(kib) and int(kib) % 4 == 0, figure.label
        assert figure.waiters == 1_000_000
    per_task = {label: round(figure.per_waiter) for label, figure in chart.items()}
    assert per_task == {"Python 3.13 asyncio": 1_338, "Go": 2_711,
                        "Java virtual threads": 1_148, "Node.js": 591}


def test_every_reader_takes_the_converted_bytes():
    assert peer.PUBLISHED_1M["Python 3.13 asyncio"] == pytest.approx(1_275.71875 * 2**20)
    assert peer.PUBLISHED_1M["Go"] / 1e6 == pytest.approx(2_711.18, abs=0.01)  # not 2,586
    go, jvm = sizing.PUBLISHED
    assert go["bytes_per_waiter"] == pytest.approx(2_711.18, abs=0.01)
    assert go["switch_seconds"] == pytest.approx(200e-9)
    assert jvm["bytes_per_waiter"] == 2**20 and jvm["switch_seconds"] == pytest.approx(3e-6)
    rows = {row["runtime"]: row for row in published.table()}
    assert rows["Go"]["published peak RSS at 1M tasks"] == "2,585.6 MiB"
    assert rows["Go"]["bytes"] == "2,711 MB" and rows["Go"]["per task"] == "2,711 B (2.65 KiB)"


def test_a_figure_without_a_known_unit_is_refused():
    with pytest.raises(ValueError, match="unit must be one of B, KB, KiB"):
        published.Figure("x", 1.0, "Mb", "what", "where")
