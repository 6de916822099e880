"""The report page as a reader at 1,400 px sees it (issue 27, item 6), checked at the data
level: the headline table's runs column stays narrow and loses no run, the maps draw only
the grid that was computed, contour lines and variants are told apart in the legend, no
legend covers a bar, the tail and churn plots are small multiples a reader can read, and
every plot names the runs its figures came from."""

import dataclasses

import matplotlib
import pytest

matplotlib.use("Agg")

from parkbench.analysis import (  # noqa: E402
    current,
    edges,
    served_figures,
    sizing,
    switch_figures,
    wake_figures,
)
from parkbench.presentation import (  # noqa: E402
    churnplots,
    glossary,
    headline,
    memoryplots,
    rate_tables,
    sizing_plots,
    timeplots,
)
from tests import committed  # noqa: E402

WAITERS = [10 ** (k / 8) for k in range(16, 65)]
RATES = [10 ** (k / 8) for k in range(8, 57)]  # up to 1e7: go's corner (~1.5e7/s) lies above


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def machine():
    figures = current.load(committed.results())
    name = sorted(figures.frame.machine.unique())[0]
    frame = figures.frame[figures.frame.machine == name]
    frame = frame[frame.interpreter == headline.primary_interpreter(frame, name)]
    return figures, name, frame


def _in_process(frame, name):
    """The committed profiles by workload; a layout test needs every in-process model on
    the map, so one without a measured wake rate is given an edge of half its hand-off
    rate here (the page's drawing is under test, not the figure)."""
    profiles = [p if p.edge or p.serves_requests or sizing.is_reference(p) else dataclasses.replace(
        p, edge=(edges.point(1_000, p.handoffs_per_second / 2, 0.1, "SLO: layout", p.switch_run),))
        for p in sizing.profiles(frame, {name: 2})]
    return dict((key, chosen) for key, _title, chosen in sizing.by_workload(profiles))


def _texts(figure) -> str:
    texts = [text.get_text() for text in figure.texts]
    if figure._suptitle is not None:
        texts.append(figure._suptitle.get_text())
    for ax in figure.axes:
        texts += [ax.get_title(), *(text.get_text() for text in ax.texts)]
    return "\n".join(texts)


def test_the_headline_runs_column_is_a_short_key_that_loses_no_run(machine):
    _figures, name, frame = machine
    table = headline.headline(frame, name)
    shown, key = headline.run_key(table)
    numbers = dict(key)
    assert len(key) >= 2
    for full, short in zip(table["runs"], shown["runs"]):
        assert len(short) <= 3 * len(key), short  # "1, 3", never 16-character ids
        assert sorted(numbers[k] for k in short.split(", ")) == sorted(full.split(", "))


# A 1,400 px page: the notebook's body leaves about 1,350 px; a table is kept within 90%
# of it, so that another font (or a row added) does not push its last column off. Widths
# are estimated from characters: 12 px DejaVu Sans averages under 6.5 px a character (the
# old table, 182 characters and 12 columns, measured 1,365 px in Chromium at 1,400 px).
PAGE_PX, CHAR_PX, PADDING_PX, LAST_MIN_PX = 1_350, 6.5, 12, 108


def _estimated_width(table) -> float:
    """A table's width as the notebook's CSS lays it out: each column as wide as its widest
    cell (no wrapping) or the longest word of its header (headers wrap), plus padding; the
    last column at least 9em."""
    widths = [max([len(str(cell)) for cell in table[column]] + [max(map(len, column.split()))]) * CHAR_PX
              + PADDING_PX for column in table.columns]
    widths[-1] = max(widths[-1], LAST_MIN_PX)
    return sum(widths)


def test_the_headline_table_fits_a_1400_px_page_and_keeps_its_facts(machine):
    _figures, name, frame = machine
    table = headline.headline(frame, name).drop(columns=["interpreter"])
    shown, _key = headline.run_key(table)
    assert _estimated_width(shown) <= 0.9 * PAGE_PX, _estimated_width(shown)
    # nothing lost: every binding limit named in full under the table, every primitive said
    notes = headline.headline_notes(shown, frame)
    for limit in set(frame[frame.metric == "capacity"]["limit"]):
        label = glossary.short_limit(limit)
        assert any(cell.startswith(label + ", ") for cell in shown["binding limit"]), limit
        assert label == limit or f"{label} = {limit}" in notes
    assert "threads lock" in notes and "asyncio future" in notes


@pytest.mark.parametrize("kind", ["served", "wakes"])
def test_the_rate_tables_say_words_not_booleans_and_separate_thousands(machine, kind):
    import re

    figures, name, _frame = machine
    analysis = served_figures if kind == "served" else wake_figures
    rows = analysis.table(figures.frame)
    rows = rows[rows.machine == name]
    assert len(rows) >= 4
    shown, key = getattr(rate_tables, kind)(rows)
    cells = [str(cell) for column in shown.columns for cell in shown[column]]
    assert not {"True", "False", "nan"} & set(cells)
    assert not [cell for cell in cells if re.search(r"(?<![\d,.])\d{4,}(?![\d,])", cell)]  # 19000, not 19,000
    w = "W idle" if kind == "served" else "W parked"
    assert {f"{int(n):,}" for n in rows.n} == set(shown[w])
    assert sorted(run for _number, run in key) == sorted(set(rows.run))
    assert _estimated_width(shown) <= PAGE_PX


def _defined() -> set:
    """The words the glossary defines: each term, and each part of 'a / b' and 'name (short)'."""
    import re

    words = set()
    for term in glossary.TERMS:
        words |= {part.strip() for part in re.split(r" / |[()]", term) if part.strip()}
    return words


def test_the_glossary_defines_each_term_the_page_uses(machine):
    figures, name, frame = machine
    defined = _defined()
    # the words issue 37 found unexplained where they were used
    assert {"rlimit_nofile_hard", "max_map_count", "PSS", "USS", "churn", "generator-bound",
            "N^b", "x predicted rate", "floor-bound", "SLO", "saturation", "knee", "round"} <= defined
    # and every one the figures can put on the page: each binding limit, in full and short
    for limit in set(frame[frame.metric == "capacity"]["limit"]) | set(glossary.LIMITS):
        assert limit in defined and glossary.short_limit(limit) in defined, limit
    served = served_figures.table(figures.frame)
    for label in set(served.basis.map(served_figures.basis_label)):
        assert label in defined, label
    assert "x predicted rate" in rate_tables.checks_table(
        [{"model": "m", "variant": "v", "waiters": 1, "offered": 1.0, "share": 0.8, "achieved": 1.0,
          "p99": 0.001, "held": True, "predicted": True, "agrees": True, "run_id": "r"}]).columns
    churn = churnplots.spawn_and_wake(frame, name)
    exponents = [t.get_text() for ax in churn.axes if ax.get_legend() for t in ax.get_legend().get_texts()
                 if "N^" in t.get_text()]
    assert exponents and "N^b" in defined


def _mesh_extent(axis):
    """The edges pcolormesh(shading="nearest") gives cell centres: half a step out."""
    return axis[0] - (axis[1] - axis[0]) / 2, axis[-1] + (axis[-1] - axis[-2]) / 2


@pytest.mark.parametrize("kind", ["decision", "fit"])
def test_the_maps_draw_only_the_computed_grid_and_say_a_marker_is_off_it(machine, kind):
    _figures, name, frame = machine
    chosen = _in_process(frame, name)["in-process"]
    plot = sizing_plots.decision_map if kind == "decision" else sizing_plots.fit_map
    figure = plot(chosen, WAITERS, RATES, 2**34, 2)
    maps = [ax for ax in figure.axes if ax.get_xscale() == "log"]
    assert maps
    for ax in maps:
        assert ax.get_xlim() == pytest.approx(_mesh_extent(WAITERS))
        assert ax.get_ylim() == pytest.approx(_mesh_extent(RATES))
    legend = figure.axes[0].get_legend() if kind == "decision" else figure.legends[0]
    labels = [text.get_text() for text in legend.get_texts()]
    (go,) = [label for label in labels if label.startswith("go/chan")]
    assert "off the map" in go  # its corner is above R = 1e7
    wide = plot(chosen, WAITERS, WAITERS, 2**34, 2)  # R up to 1e8, as the notebook's axis
    legend = wide.axes[0].get_legend() if kind == "decision" else wide.legends[0]
    assert not any("off the map" in text.get_text() for text in legend.get_texts())


def test_contour_lines_are_named_in_the_legend_not_written_on_the_map(machine):
    _figures, name, frame = machine
    chosen = _in_process(frame, name)["connections"]
    figure = sizing_plots.decision_map(chosen, WAITERS, WAITERS, 2**34, 2)
    ax = figure.axes[0]
    assert list(ax.texts) == []  # a label on the map was clipped at its edge and crossed by its line
    handles = [h for h in ax.get_legend().legend_handles if h.get_label().startswith("more than")]
    assert [h.get_label() for h in handles][:2] == ["more than 1 machine", "more than 10 machines"]
    assert len({h.get_linestyle() for h in handles}) == len(handles) >= 3


def test_a_second_variant_of_one_model_is_hatched_on_the_map_and_in_the_legend():
    def profile(variant, total, capacity, seconds, cores):
        return sizing.Profile("m", "uvloop", variant, total, capacity, "memory", seconds, cores,
                              edge=(edges.point(1_000, cores / seconds, 0.1, "SLO: t", "r"),))

    axis = [1e3, 1e5, 1e7]
    figure = sizing_plots.decision_map([profile("connections", 1000.0, 10_000_000, 1e-6, 1),
                                        profile("reuseport", 8000.0, 1_000_000, 1e-6, 2)],
                                       axis, [1e3, 1.5e6, 1e7], 2**30, 2)
    ax = figure.axes[0]
    hatch = {h.get_label().split(" ")[0]: h.get_hatch() for h in ax.get_legend().legend_handles
             if h.get_label().startswith("uvloop/")}
    assert hatch["uvloop/connections"] is None and hatch["uvloop/reuseport"]
    (drawn,) = [c for c in ax.collections if c.get_gid() == "hatch:uvloop/reuseport"]
    assert drawn.get_hatch() == hatch["uvloop/reuseport"]
    # and drawn, not only set: a cell it covers shows more than its flat shade
    import numpy as np

    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[..., :3]
    height = pixels.shape[0]
    cells = [path.transformed(drawn.get_transform()).get_extents() for path in drawn.get_paths()]
    cells = [box for box in cells if box.width > 20 and box.height > 20]  # not a sliver at an edge
    assert cells
    for box in cells:
        inside = pixels[int(height - box.y1) + 3:int(height - box.y0) - 3, int(box.x0) + 3:int(box.x1) - 3]
        assert len(np.unique(inside.reshape(-1, 3), axis=0)) > 1, box


def test_the_hand_off_legend_covers_no_bar_and_no_label(machine):
    figures, name, frame = machine
    values = {key[2:]: v for key, v in switch_figures.switch_values(figures).items() if key[0] == name}
    figure = timeplots.switch_latency(frame, name, values)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    ax = figure.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    covered = [patch for patch in ax.patches if patch.get_window_extent(renderer).overlaps(legend)]
    covered += [text.get_text() for text in ax.texts if text.get_window_extent(renderer).overlaps(legend)]
    assert covered == []


def test_tail_panels_are_a_readable_grid_with_a_marker_per_percentile(machine):
    _figures, name, frame = machine
    figure = timeplots.tail_latency(frame, name)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) >= 4
    columns = {round(ax.get_position().x0, 3) for ax in panels}
    assert len(columns) <= 3
    for ax in panels:
        lines = [line for line in ax.lines if str(line.get_gid()).startswith("switch:")]
        assert len(lines) == 3
        assert len({line.get_marker() for line in lines}) == 3
        assert len({line.get_linestyle() for line in lines}) == 3
        assert ax.title.get_fontsize() >= 10 and ax.xaxis.label.get_fontsize() >= 10


def test_churn_is_one_panel_per_model_with_the_two_phases_apart(machine):
    _figures, name, frame = machine
    figure = churnplots.spawn_and_wake(frame, name)
    models = set(frame[frame.metric.isin(["spawn_seconds", "wake_seconds"])].model)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == len(models) >= 4
    for ax in panels:
        gids = [str(line.get_gid()) for line in ax.lines]
        assert {gid.split(":")[1].split("/")[0] for gid in gids} == {ax.get_title()}
        styles = {gid.split(":")[0]: line.get_linestyle() for gid, line in zip(gids, ax.lines)}
        if len(styles) == 2:
            assert styles["spawn"] != styles["wake"]
        assert len(ax.get_legend().get_texts()) <= 8


def _points_under_legends(figure) -> list:
    """Each data point (a line's vertex, a scatter's offset) that an axes' legend box
    covers, in display coordinates after drawing: (axes title, x, y)."""
    import numpy as np

    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    covered = []
    for ax in figure.axes:
        legend = ax.get_legend()
        if legend is None or not ax.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        drawn = [(np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float),
                  line.get_linestyle() not in ("None", "none", " ", "")) for line in ax.lines]
        drawn += [(np.asarray(c.get_offsets(), float), False) for c in ax.collections if len(c.get_offsets())]
        for points, joined in drawn:
            points = points[np.isfinite(points).all(axis=1)]
            if not len(points):
                continue
            shown = ax.transData.transform(points)
            if joined and len(shown) > 1:  # a line's segments too, sampled in display space
                steps = np.linspace(0, 1, 12)[:, None]
                shown = np.vstack([a + (b - a) * steps for a, b in zip(shown[:-1], shown[1:])])
            for x, y in shown:
                if box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1:
                    covered.append((ax.get_title(), round(x), round(y)))
    return covered


@pytest.mark.parametrize("plot", ["memory_vs_n", "views_per_waiter", "spawn_and_wake"])
def test_no_legend_covers_a_data_point(machine, plot):
    _figures, name, frame = machine
    module = churnplots if plot == "spawn_and_wake" else memoryplots
    figure = getattr(module, plot)(frame, name)
    assert _points_under_legends(figure) == []


def test_each_w_of_a_served_panel_has_its_own_style_and_every_style_is_in_the_legend(machine):
    """W=100 and W=19,000 were drawn alike (solid), the knee and SLO lines and the rounds'
    dots had no legend entry, and the SLO's label sat where the lines crossed it."""
    from matplotlib.colors import to_hex

    figures, name, _frame = machine
    primary = headline.primary_interpreter(figures.frame[figures.frame.machine == name], name)
    table = served_figures.table(figures.frame)
    figure = timeplots.knee_latency(served_figures.steps(figures, name, primary),
                                    served_figures.knees(table[(table.machine == name) & (table.interpreter == primary)]),
                                    name, 0.005)

    def style(line):
        return (to_hex(line.get_color()), str(line.get_linestyle()), line.get_marker())

    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) >= 4
    for ax in panels:
        servers = [line for line in ax.lines if str(line.get_gid()).startswith("server:")]
        assert len(servers) >= 3
        assert len({(to_hex(line.get_color()), str(line.get_linestyle())) for line in servers}) == len(servers)
        assert len({line.get_marker() for line in servers}) == len(servers)
        handles = ax.get_legend().legend_handles
        shown = {style(handle) for handle in handles}
        assert len(shown) == len(handles)  # one entry per style
        for line in ax.lines:  # every drawn style named: a knee by its W's colour and line style
            if str(line.get_gid()).startswith("knee:"):
                assert (to_hex(line.get_color()), str(line.get_linestyle())) in {s[:2] for s in shown}
            elif str(line.get_gid()).startswith("round:"):
                assert any(s[1] == "None" for s in shown)
            else:
                assert style(line) in shown, line.get_gid()
        assert list(ax.texts) == []  # the SLO and the knees named in the legend, not written on the lines
    assert _points_under_legends(figure) == []


def test_every_plot_names_the_runs_its_figures_came_from(machine):
    figures, name, frame = machine
    values = {key[2:]: v for key, v in switch_figures.switch_values(figures).items() if key[0] == name}
    chosen = _in_process(frame, name)
    plots = {
        "memory against N": (memoryplots.memory_vs_n(frame, name),
                             frame[(frame.metric == "total") & frame.n.notna()]),
        "bytes by view": (memoryplots.views_per_waiter(frame, name),
                          frame[frame.metric.isin([m for m, _ in memoryplots.VIEWS]) & frame.n.isna()]),
        "capacity": (memoryplots.capacity(frame, name), frame[frame.metric == "capacity"]),
        "churn": (churnplots.spawn_and_wake(frame, name),
                  frame[frame.metric.isin(["spawn_seconds", "wake_seconds"]) & frame.n.notna()]),
        "hand-off": (timeplots.switch_latency(frame, name, values), frame[frame.metric == "switch_latency"]),
        "tail": (timeplots.tail_latency(frame, name), frame[frame.metric.str.startswith("switch_p")]),
    }
    for key, profiles in chosen.items():
        runs = {run for p in profiles for run in (p.memory_run, p.switch_run, *(e.run for e in p.edge)) if run}
        plots[f"decision map {key}"] = (sizing_plots.decision_map(profiles, WAITERS, WAITERS, 2**34, 2), runs)
        plots[f"fit map {key}"] = (sizing_plots.fit_map(profiles, WAITERS, WAITERS, 2**34, 2), runs)
    for what, (figure, rows) in plots.items():
        runs = set(rows) if isinstance(rows, set) else set(rows.run_id)
        assert runs, what
        missing = [run for run in runs if run not in _texts(figure)]
        assert missing == [], what
