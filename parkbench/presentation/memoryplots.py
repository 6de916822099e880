"""The report's plots of memory and capacity: memory of the process tree against N with
its fitted line (``memory_vs_n``), bytes per waiter by memory view (``views_per_waiter``),
and the waiters one machine holds with the binding limit (``capacity``). The encoding
and helpers are ``plots.py``'s.
"""

import math

import matplotlib.pyplot as plt

from parkbench.core.units import format_bytes
from parkbench.presentation.plots import (
    _bytes_axis,
    _figure_value,
    _labels,
    _mine,
    _models_in_order,
    _variant_markers,
    model_colour,
    name_runs,
    runs_of,
)
from parkbench.presentation.summary import noise_text

VIEWS = (("rss_per_waiter", "RSS"), ("pss_per_waiter", "PSS"),
         ("kernel_per_waiter", "kernel"), ("total_per_waiter", "total = PSS + kernel"))


def memory_vs_n(frame, machine, view: str = "total"):
    """Memory (``view``) of the process tree against N, one panel per model: the
    measured points and the fitted line (fixed + slope x N) evaluated at many N, so it
    is a true line on log-log axes; slope and R² on the panel. ``None`` where there is nothing to draw."""
    mine = _mine(frame, machine)
    raw = mine[(mine.metric == view) & mine.n.notna()]
    if raw.empty:
        return None
    models = _models_in_order(raw.model)
    markers = _variant_markers(raw)
    columns = min(len(models), 3) or 1
    rows_n = math.ceil(len(models) / columns) or 1
    fig, axes = plt.subplots(rows_n, columns, figsize=(4.6 * columns, 4.9 * rows_n), squeeze=False)
    for ax, model in zip(axes.flat, models):
        notes = {}
        for variant, points in raw[raw.model == model].groupby("variant", sort=False):
            label = f"{model}/{variant}"
            ns = points.n.astype(float)
            colour, marker = model_colour(model), markers[(model, variant)]
            ax.scatter(ns, points.value, s=22, color=colour, marker=marker, label=label,
                       gid=f"points:{label}", zorder=3)
            slope = _figure_value(mine, model, variant, f"{view}_per_waiter")
            fixed = _figure_value(mine, model, variant, f"{view}_fixed")
            r2 = _figure_value(mine, model, variant, f"{view}_fit_r2")
            notes[label] = variant
            if slope is not None and fixed is not None:
                low, high = ns.min(), ns.max()
                xs = [low * (high / low) ** (k / 60) for k in range(61)]
                ax.plot(xs, [fixed + slope * x for x in xs], color=colour, linewidth=1.2,
                        linestyle="-" if marker == "o" else "--", label=f"{label} fit",
                        gid=f"fit:{label}")
                notes[label] = (f"{variant}: {_per(slope)}/waiter, R² {r2:.4f}" if r2 is not None
                                else f"{variant}: {_per(slope)}/waiter")
        ax.set(xscale="log", yscale="log", title=model, xlabel="N parked waiters")
        _bytes_axis(ax)
        ax.grid(True, which="major", alpha=0.3)
        # below the axes, the slope and R² in each entry: inside, the legend and a text box
        # of slopes covered points (asyncio, uvloop, subprocess at N 10^2-10^3)
        points = [c for c in ax.collections if str(c.get_gid()).startswith("points:")]
        ax.legend(handles=points, labels=[notes[c.get_label()] for c in points], loc="upper center",
                  bbox_to_anchor=(0.5, -0.2), fontsize=8, title="points (lines: fits), slope per waiter",
                  title_fontsize=7, frameon=False)
    for ax in axes.flat[len(models):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{view} memory")
    fig.suptitle(f"{machine}: {view} memory against N (points: one fresh process per N; "
                 f"line: the fitted straight line)")
    name_runs(fig, runs_of(raw))
    return fig


def _per(value: float) -> str:
    return format_bytes(value)


VIEW_MARKERS = ("o", "s", "^", "D")


def views_per_waiter(frame, machine):
    """Bytes per waiter by view (RSS, PSS, kernel, total) per model/variant: a dot per
    view on a log axis (a bar on a log axis made 41 B look like 40% of 8 KiB: its length
    measured the axis's start, not the value), with the value written beside it. ``None``
    where there is nothing to draw."""
    figures = _mine(frame, machine)
    figures = figures[figures.n.isna()]
    labels = _labels(figures[figures.metric == "total_per_waiter"])
    if not labels:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.75 * len(labels) + 1.8))
    step = 0.8 / len(VIEWS)
    drawn = []
    for i, (metric, name) in enumerate(VIEWS):
        values = {f"{r.model}/{r.variant}": r.value for r in figures[figures.metric == metric].itertuples()}
        noises = {f"{r.model}/{r.variant}": r.value for r in
                  figures[figures.metric == metric.replace("_per_waiter", "_noise")].itertuples()}
        said = {label: noise_text(value, noises.get(label), format_bytes) for label, value in values.items()}
        # a cost within its noise or below zero has no place on a log axis: it is said instead
        xs = [math.nan if said.get(label) else max(values.get(label, math.nan), 1.0) for label in labels]
        ys = [y + i * step for y in range(len(labels))]
        ax.plot(xs, ys, linestyle="none", marker=VIEW_MARKERS[i], markersize=6, color=f"C{i}", label=name,
                gid=f"view:{name}")
        drawn += [x for x in xs if x == x]
        for x, y, label in zip(xs, ys, labels):
            if label in values:
                ax.text(x, y, f" {said.get(label) or format_bytes(values[label])}", va="center", fontsize=7,
                        gid=f"said:{label}:{name}" if said.get(label) else f"value:{label}:{name}")
    low = min(drawn) / 2 if drawn else 0.5
    for text in ax.texts:  # a said cost, at the axis's start
        if text.get_position()[0] != text.get_position()[0]:
            text.set_x(low)
    ax.set_yticks([y + 0.4 - step / 2 for y in range(len(labels))], labels)
    ax.set_ylim(len(labels) - 0.1, -0.2)
    ax.grid(True, axis="x", which="major", alpha=0.3)
    ax.set(xscale="log", xlabel="bytes per parked waiter (slope over N; log scale: read the values)",
           title=f"{machine}: what one idle waiter costs, by memory view")
    # explicit limits: values clamped to 1 B, or none drawn (every cost noise), are no error
    ax.set_xlim(low, max(drawn) * 8 if drawn else 10.0)
    _bytes_axis(ax, "x")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="view")  # beside: no point under it
    name_runs(fig, runs_of(figures[figures.metric.isin([metric for metric, _name in VIEWS])]))
    return fig


def capacity(frame, machine):
    """Waiters one machine holds per model/variant: a dot each on a log axis (filled:
    measured, open: predicted), labelled with its own value, the binding limit and
    whether it was measured or predicted. ``None`` where there is nothing to draw."""
    rows = _mine(frame, machine)
    rows = rows[rows.metric == "capacity"].sort_values(["value", "model", "variant"])
    if rows.empty:
        return None
    labels = [f"{r.model}/{r.variant}" for r in rows.itertuples()]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(labels) + 1.6))
    for y, (row, label) in enumerate(zip(rows.itertuples(), labels)):
        colour = model_colour(row.model)
        ax.plot([row.value], [y], linestyle="none", marker="o", markersize=8, color=colour,
                markerfacecolor=colour if row.basis == "measured" else "white", markeredgewidth=1.5,
                gid=f"point:{label}")
        ax.text(row.value, y, f"  {int(row.value):,} ({row.limit}, {row.basis})", va="center", fontsize=8,
                gid=f"label:{label}")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.grid(True, axis="x", which="major", alpha=0.3)
    ax.set(xscale="log", xlabel="idle waiters one machine holds (log scale); "
                                "filled: measured ceiling, open: predicted",
           title=f"{machine}: capacity and the binding limit")
    ax.set_xlim(rows.value.min() / 3, rows.value.max() * 60)
    name_runs(fig, runs_of(rows))
    return fig
