"""The report's plots checked at the data level: each label on its own bar, each
fitted line through its points, no two series alike, the right hand-off in the fit map.

Fixture: two runs of one machine (the second a copy with other figures), so that a plot
that mixes runs, or places labels by row index, shows it.
"""

import json
import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from parkbench.analysis import current, edges, sizing  # noqa: E402
from parkbench.presentation import memoryplots, plots, sizing_plots
from tests import (
    committed,
    synthetic,  # noqa: E402
)

FIXTURES = Path(__file__).parent / "fixtures" / "results"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """fixture-a, plus a newer run whose capacities differ (x3) and whose asyncio memory
    fit is sound: the current figures take the newer capacities."""
    folder = tmp_path_factory.mktemp("results")
    shutil.copytree(FIXTURES / "fixture-a", folder / "fixture-a")
    (old,) = (folder / "fixture-a").glob("2*.json")
    document = json.loads(old.read_text())
    document["run_id"] = "20261127T000000Z"
    for figure in document["figures"]:
        if figure["metric"] == "capacity":
            figure["value"] *= 3
    for record in document["measurements"]:
        if record.get("kind") == "switch":
            record["file"] = record["file"].replace(old.stem, "20261127T000000Z")
    (folder / "fixture-a" / "20261127T000000Z.json").write_text(json.dumps(document))
    shutil.copytree(old.with_suffix(""), folder / "fixture-a" / "20261127T000000Z")
    return folder


def test_each_capacity_label_sits_on_its_own_point_and_states_its_value(two_runs):
    frame = current.load(two_runs).frame
    figure = memoryplots.capacity(frame, "fixture-a")
    ax = figure.axes[0]
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    points = {str(line.get_gid())[6:]: line for line in ax.lines if str(line.get_gid()).startswith("point:")}
    capacity = frame[frame.metric == "capacity"]
    assert len(ax.texts) == len(capacity) == len(points)
    for text in ax.texts:
        label = labels[round(text.get_position()[1])]
        model, variant = label.split("/")
        value = capacity[(capacity.model == model) & (capacity.variant == variant)].value.iloc[0]
        assert f"{int(value):,}" in text.get_text(), (label, text.get_text())
        assert list(points[label].get_xdata()) == [pytest.approx(value)]
        assert list(points[label].get_ydata()) == [text.get_position()[1]]


def test_no_bar_stands_on_a_log_axis_and_every_value_is_written():
    """A bar on a log axis measures from where the axis starts, not from zero: 41 B of
    kernel drew as 40% of 8.34 KiB. The per-view and capacity plots draw dots, each value
    written beside its dot."""
    frame = current.load(committed.results()).frame
    machine = sorted(frame.machine.unique())[0]
    views, held = memoryplots.views_per_waiter(frame, machine), memoryplots.capacity(frame, machine)
    for figure in (views, held):
        for ax in figure.axes:
            if ax.get_xscale() == "log" or ax.get_yscale() == "log":
                assert [patch for patch in ax.patches if patch.get_visible()] == []
    ax = views.axes[0]
    dots = {str(line.get_gid())[5:]: line for line in ax.lines if str(line.get_gid()).startswith("view:")}
    assert set(dots) == {name for _metric, name in memoryplots.VIEWS}
    written = {str(text.get_gid()) for text in ax.texts}
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    for name, line in dots.items():
        for label, x in zip(labels, line.get_xdata()):
            assert f"value:{label}:{name}" in written or f"said:{label}:{name}" in written, (label, name)
            assert (x == x) == (f"value:{label}:{name}" in written)


def _points_and_lines(figure):
    points, lines = {}, {}
    for ax in figure.axes:
        for collection in ax.collections:
            gid = str(collection.get_gid())
            if gid.startswith("points:"):
                points[gid[7:]] = (ax, collection)
        for line in ax.lines:
            gid = str(line.get_gid())
            if gid.startswith("fit:"):
                lines[gid[4:]] = line
    return points, lines


def test_each_fitted_line_passes_through_its_points(tmp_path):
    """Exactly linear data over uneven N: the drawn line meets every point within 1%
    (a line drawn straight between its end points on log-log axes misses them)."""
    import numpy as np

    records = [synthetic.memory_record(model, variant, n)
               for model, variant in (("asyncio", "event"), ("asyncio", "socket"), ("threads", "condition"))
               for n in (100, 350, 2_000, 30_000)]
    synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    figure = memoryplots.memory_vs_n(current.load(tmp_path).frame, "m")
    points, lines = _points_and_lines(figure)
    assert set(points) == set(lines) == {"asyncio/event", "asyncio/socket", "threads/condition"}
    for label, (_ax, collection) in points.items():
        line = lines[label]
        xs, ys = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        for n, value in collection.get_offsets():
            # the line as drawn on log-log axes: straight segments in log space
            drawn = np.exp(np.interp(np.log(n), np.log(xs), np.log(ys)))
            assert drawn == pytest.approx(value, rel=0.01), (label, n)


def test_no_two_series_share_colour_and_marker():
    """Every (colour, marker) pair of the committed results' memory plot is unique."""
    results = committed.results()
    frame = current.load(results).frame
    machine = sorted(frame.machine.unique())[0]
    figure = memoryplots.memory_vs_n(frame, machine)
    points, _ = _points_and_lines(figure)
    assert len(points) >= 10
    seen = {}
    for label, (_ax, collection) in points.items():
        colour = tuple(round(c, 3) for c in collection.get_facecolor()[0][:3])
        marker = collection.get_paths()[0].vertices.round(3).tobytes()
        assert (colour, marker) not in seen, f"{label} looks like {seen.get((colour, marker))}"
        seen[(colour, marker)] = label


def test_fit_map_uses_the_primitive_that_wakes_a_parked_waiter(tmp_path):
    """gevent's hand-off rate comes from its event hand-off, not the raw greenlet.switch
    that no parked waiter uses, and the slower placement of it."""
    frame = current.load(committed.results()).frame
    frame = frame[frame.interpreter == frame.interpreter.value_counts().index[0]]  # one interpreter
    (gevent,) = [p for p in sizing.profiles(frame) if p.model == "gevent" and p.variant == "event"]
    event = frame[(frame.model == "gevent") & (frame.primitive == "event")
                  & (frame.metric == "switch_latency")]
    assert gevent.primitive == "event"
    assert gevent.switch_seconds == pytest.approx(event.value.max())
    greenlet = frame[(frame.primitive == "greenlet") & (frame.metric == "switch_latency")].value.max()
    assert gevent.switch_seconds > 3 * greenlet


def test_decision_map_colours_the_model_needing_fewest_machines():
    def profile(model, total, capacity, rate):
        return sizing.Profile("m", model, "v", total, capacity, "memory", 1e-6, 1,
                              edge=(edges.point(1_000, rate, 0.1, "SLO: measured", "r"),))

    small = profile("asyncio", 1000.0, 1_000_000, 100_000)   # holds many, wakes few
    fast = profile("uvloop", 5000.0, 100_000, 1_000_000)     # holds fewer, wakes many
    grid = sizing.decision_grid([small, fast], [1e3, 1e6], [1e3, 1e6])
    # few waiters, many wake-ups: uvloop (1 machine vs 10); many waiters, few wake-ups: asyncio
    assert grid[1][0] == (fast, 1)
    assert grid[0][1] == (small, 1)
    figure = sizing_plots.decision_map([small, fast], [1e3, 1e4, 1e5, 1e6], [1e3, 1e4, 1e5, 1e6], 2**30, 1)
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert any("asyncio/v" in text for text in legend) and any("uvloop/v" in text for text in legend)
    assert sum("published" in text for text in legend) == 2


def test_noise_level_slopes_draw_without_a_singular_axis(tmp_path):
    """Tiny N give slopes at noise level, negative in every view: each bar is clamped to
    1 B, and the axis still has a width (matplotlib would warn, and the report refuse)."""
    import warnings

    from tests.synthetic import memory_record, write_run

    views = {"rss": (30e6, -2400.0), "uss": (20e6, -3300.0), "pss": (25e6, -2600.0),
             "vms": (90e6, 0.0), "kernel": (0.0, -8000.0)}
    write_run(tmp_path, "m", "20261126T100000", [memory_record("asyncio", "event", n, views)
                                                 for n in (5, 10, 20)])
    frame = current.load(tmp_path).frame
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = memoryplots.views_per_waiter(frame, "m")
    low, high = figure.axes[0].get_xlim()
    assert low < 1.0 < high


def test_two_variants_of_one_model_in_the_decision_map_get_different_shades():
    def profile(variant, total, capacity, seconds, cores):
        return sizing.Profile("m", "uvloop", variant, total, capacity, "memory", seconds, cores,
                              edge=(edges.point(1_000, cores / seconds, 0.1, "SLO: measured", "r"),))

    one_loop = profile("connections", 1000.0, 10_000_000, 1e-6, 1)  # holds more
    every_core = profile("reuseport", 8000.0, 1_000_000, 1e-6, 2)   # serves twice as many
    axis = [1e3, 1e5, 1e7]
    figure = sizing_plots.decision_map([one_loop, every_core], axis, [1e3, 1.5e6, 1e7], 2**30, 2)
    handles = figure.axes[0].get_legend().legend_handles
    shades = {handle.get_label().split(" ")[0]: tuple(round(c, 3) for c in handle.get_facecolor()[:3])
              for handle in handles if "/" in handle.get_label() and "uvloop" in handle.get_label()}
    assert set(shades) == {"uvloop/connections", "uvloop/reuseport"}
    assert shades["uvloop/connections"] != shades["uvloop/reuseport"]
    from matplotlib.colors import to_rgb
    assert shades["uvloop/connections"] == tuple(round(c, 3) for c in to_rgb(plots.model_colour("uvloop")))
