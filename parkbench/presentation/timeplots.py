"""The report's plots of time: the one-way hand-off by CPU placement
(``switch_latency``), its tail while N waiters stay parked (``tail_latency``), a
request's round trip while N connections stay idle (``request_latency``), and latency
against the offered rate (``knee_latency``). Spawn and wake per waiter are
``churnplots.py``'s; the encoding and helpers are ``plots.py``'s.
"""

import math

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from parkbench.core.registry import is_connections
from parkbench.presentation.plots import _labels, _mine, _models_in_order, model_colour, name_runs, runs_of


def switch_latency(frame, machine, values: dict | None = None):
    """One-way hand-off time per model/primitive, same-core and cross-core side by
    side: the pyperf median, whiskers from the 25th to the 75th percentile of its values
    (``values``: (model, primitive, placement) -> seconds). ``None`` where there is nothing to draw."""
    import statistics

    figures = _mine(frame, machine)
    medians = figures[figures.metric == "switch_latency"]
    if medians.empty:
        return None
    labels = _labels(medians, "primitive")
    placements = [p for p in ("same-core", "cross-core") if p in set(medians.placement)]
    fig, ax = plt.subplots(figsize=(10, 0.7 * len(labels) + 1.6))
    height = 0.8 / max(len(placements), 1)
    for i, placement in enumerate(placements):
        rows = {f"{r.model}/{r.primitive}": r for r in medians[medians.placement == placement].itertuples()}
        ys: list[float] = []
        widths: list[float] = []
        low: list[float] = []
        high: list[float] = []
        busy: list[str] = []  # a hand-off timed on a busy machine, kept for want of a quiet one

        for y, label in enumerate(labels):
            if label not in rows:
                continue
            row = rows[label]
            median = row.value * 1e6
            sample = (values or {}).get((row.model, row.primitive, placement)) or []
            if len(sample) >= 4:
                q1, _, q3 = statistics.quantiles(sample, n=4)
                low.append(max(median - q1 * 1e6, 0))
                high.append(max(q3 * 1e6 - median, 0))
            else:
                low.append(0)
                high.append(0)
            ys.append(y + i * height)
            widths.append(median)
            busy.append(" (disturbed)" if getattr(row, "basis", None) == "disturbed" else "")
        ax.barh(ys, widths, height, xerr=[low, high], label=placement, color=f"C{i}",
                error_kw={"elinewidth": 1, "capsize": 2})
        for bar_y, width, whisker, mark in zip(ys, widths, high, busy):
            ax.text(width + whisker, bar_y, f"  {width:.3g} µs{mark}", va="center", fontsize=7,
                    gid=f"disturbed:{bar_y}" if mark else None)
    ax.set_yticks([y + 0.4 - height / 2 for y in range(len(labels))], labels)
    ax.invert_yaxis()
    ax.set(xlabel="one-way hand-off (µs): pyperf median; whisker: 25th to 75th percentile",
           title=f"{machine}: hand-off latency by CPU placement")
    # beside the axes, not on them: inside, it covered go's cross-core bar and its label
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="placement")
    ax.margins(x=0.12)
    name_runs(fig, runs_of(medians))
    return fig


def tail_latency(frame, machine):
    """Tail percentiles of the hand-off against N idle waiters kept parked: one panel
    per model, one line per percentile, the run named in the title. ``None`` where there is nothing to draw."""
    tail = _mine(frame, machine)
    tail = tail[tail.metric.isin(["switch_p50", "switch_p99", "switch_p999"])]
    if tail.empty:
        return None
    keys = sorted({(r.model, r.primitive) for r in tail.itertuples()},
                  key=lambda k: _models_in_order([k[0]] + list(tail.model)).index(k[0]))
    columns = min(len(keys), TAIL_COLUMNS)
    lines = -(-len(keys) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.6 * columns, 3.9 * lines), sharey=True,
                             squeeze=False)
    for ax, (model, primitive) in zip(axes.flat, keys):
        _percentile_panel(ax, tail[(tail.model == model) & (tail.primitive == primitive)], "switch",
                          f"{model}/{primitive}", "N parked")
    return _finish_panels(fig, axes, len(keys), "one-way hand-off (µs)",
                          f"{machine}: does an idle waiter tax the active ones? (tail while N stay parked)")


TAIL_COLUMNS = 3  # six panels in one row made their text unreadably small at a page's width
# a percentile told by its marker as well as its line style
PERCENTILE_STYLES = (("p50", "p50", "-", "o"), ("p99", "p99", "--", "s"), ("p999", "p99.9", ":", "^"))


def _percentile_panel(ax, rows, stem: str, title: str, xlabel: str) -> None:
    """One panel of ``<stem>_p50``, ``_p99`` and ``_p999`` against N (log-log, µs), in the
    model's colour, the median where a point was measured more than once, the run(s)
    named in the title."""
    model = rows.model.iloc[0]
    for suffix, name, style, marker in PERCENTILE_STYLES:
        points = rows[rows.metric == f"{stem}_{suffix}"].groupby("n").value.median().sort_index()
        if len(points):
            ax.plot(points.index.astype(float), points.values * 1e6, marker=marker, markersize=5,
                    linestyle=style, color=model_colour(model), label=name, gid=f"{stem}:{name}")
    ax.set(xscale="log", yscale="log", xlabel=xlabel,
           title=f"{title}\nrun {', '.join(sorted(set(rows.run_id)))}")
    ax.title.set_fontsize(10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)


def _server_panels(rows, width: float, height: float = 3.4):
    """(model, variant) keys of ``rows`` in registry order, and a figure of one panel each,
    up to four a row, sharing the y axis."""
    keys = sorted({(r.model, r.variant) for r in rows.itertuples()},
                  key=lambda k: (_models_in_order([k[0]] + list(rows.model)).index(k[0]), k[1]))
    columns = min(len(keys), 4)
    lines = -(-len(keys) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(width * columns, height * lines), sharey=True,
                             squeeze=False)
    return keys, fig, axes


def _finish_panels(fig, axes, used: int, ylabel: str, title: str):
    """Hide the panels past ``used``, label the first column, title the figure."""
    for ax in list(axes.flat)[used:]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(ylabel)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def request_latency(frame, machine):
    """A one-byte request's round trip against N idle connections held by the same
    server: one panel per connections variant, one line per percentile (p50, p99,
    p99.9), the run named in the title. ``None`` where no connections were measured."""
    held = _mine(frame, machine)
    held = held[held.variant.map(is_connections)
                & held.metric.isin(["request_p50", "request_p99", "request_p999"]) & held.n.notna()]
    if held.empty:
        return None
    keys, fig, axes = _server_panels(held, 3.4)
    for ax, (model, variant) in zip(axes.flat, keys):
        _percentile_panel(ax, held[(held.model == model) & (held.variant == variant)], "request",
                          f"{model}/{variant}", "N idle connections")
    return _finish_panels(fig, axes, len(keys), "request round trip (µs)",
                          f"{machine}: do idle connections tax the active one? (one more "
                          f"connection, one byte and its echo)")


# Each W of a panel its own line style and marker (the server's line in the model's
# colour, the floor's in grey, the knee's vertical line): a W told apart by both, and named
# in the legend. Two W drawn alike (W=100 and W=19,000, both solid) read as one series.
W_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1, 1, 1, 1, 1)), "v"),
            ((0, (1, 1)), "P"))
FLOOR_COLOUR = "0.55"
SLO_STYLE = {"color": "#b8860b", "linewidth": 1.4, "linestyle": (0, (8, 3))}  # no model's colour


def knee_latency(steps, knees, machine, slo_seconds: float | None, what: str = "requests"):
    """Latency from the intended time against the offered rate, per server (or loop):
    the p99 of each open-loop step the knee search ran, a line per W through the median
    over its rounds (each round's step a small hollow marker of that W), beside it the
    machine's floor at the same rates (grey: the generator's null echo server holding the
    same W; a loop has none), the knee found (a vertical line in the W's style), the SLO,
    log axes. Every drawn style is named in the panel's legend, below the axes: the knee's
    rate and basis with its W. ``steps``: ``served_figures.steps`` or
    ``wake_figures.steps``; ``knees``: (model, variant, W) -> (rate, basis label). ``None``
    where nothing was stepped."""
    if steps is None or steps.empty:
        return None
    keys, fig, axes = _server_panels(steps, 4.2, 5.4)
    for ax, (model, variant) in zip(axes.flat, keys):
        mine = steps[(steps.model == model) & (steps.variant == variant)]
        for (style, marker), (w, points) in zip(W_STYLES * 4, sorted(mine.groupby("n"))):
            found = knees.get((model, variant, int(w)))
            for target, colour, width in (("server", model_colour(model), 1.6), ("floor", FLOOR_COLOUR, 1.0)):
                rows = points[points.target == target]
                if rows.empty:
                    continue
                ax.plot(rows.offered, rows.p99 * 1e3, linestyle="none", marker=marker, markersize=3,
                        markerfacecolor="none", color=colour, alpha=0.5, gid=f"round:{target}:{int(w)}")
                median = rows.groupby("offered").p99.median()
                label = f"floor, W={int(w):,}" if target == "floor" else f"W={int(w):,}" + (
                    f", knee {found[0]:,.0f}/s ({found[1]})" if found and found[0] else "")
                ax.plot(median.index, median.values * 1e3, marker=marker, markersize=3.5, linestyle=style,
                        linewidth=width, color=colour, label=label, gid=f"{target}:{model}/{variant}:{int(w)}")
            if found and found[0]:
                ax.axvline(found[0], color=model_colour(model), linestyle=style, linewidth=1.0, alpha=0.8,
                           gid=f"knee:{model}/{variant}:{int(w)}")
        if slo_seconds:
            ax.axhline(slo_seconds * 1e3, label=f"SLO {slo_seconds * 1e3:g} ms", gid="slo", **SLO_STYLE)
        ax.set(xscale="log", yscale="log", xlabel=f"offered rate ({what}/s)",
               title=f"{model}/{variant}\nrun {', '.join(sorted(set(mine.run_id)))}")
        ax.title.set_fontsize(9)
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_minor_formatter(FuncFormatter(_two_and_five))  # every minor label collided
        handles = [line for line in ax.lines if line.get_label() and not line.get_label().startswith("_")]
        handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="none", color="0.3",
                              markersize=3, label="one round's step (hollow; lines: median of rounds)"))
        ax.legend(handles=handles, fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1,
                  frameon=False, title="vertical line: the knee found, in its W's style", title_fontsize=6.5)
    return _finish_panels(fig, axes, len(keys), "p99 from the intended time (ms)",
                          f"{machine}: p99 against the offered rate ({what}; the knee search's steps"
                          + (", the machine's floor in grey)" if (steps.target == "floor").any() else ")"))


def _two_and_five(value: float, _position=None) -> str:
    """A minor tick's label on a log axis: only at 2 and 5 times a power of ten (k, M)."""
    if value <= 0 or round(value / 10 ** math.floor(math.log10(value)), 6) not in (2.0, 5.0):
        return ""
    return f"{value / 1e6:g}M" if value >= 1e6 else f"{value / 1e3:g}k" if value >= 1e3 else f"{value:g}"
