"""Plots of the report: each function takes a machine's current figures (the frame of
``current.select``) and returns a matplotlib Figure whose artists carry what they show
(series labels, ``gid``s), so tests can read them. One encoding throughout: colour =
model, marker = variant (or primitive). Nothing here computes a figure the analysis
modules do not return; nothing carries a timestamp, so re-rendering unchanged results
gives the same pictures.
"""

import math

import matplotlib.pyplot as plt

DPI = 110
MODEL_COLOURS = {"threads": "#1f77b4", "asyncio": "#ff7f0e", "uvloop": "#2ca02c",
                 "gevent": "#d62728", "subprocess": "#9467bd", "go": "#111111"}
EXTRA_COLOURS = ("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
VIEWS = (("rss_per_waiter", "RSS"), ("pss_per_waiter", "PSS"),
         ("kernel_per_waiter", "kernel"), ("total_per_waiter", "total = PSS + kernel"))

plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "legend.fontsize": 9,
                     "figure.dpi": DPI, "savefig.dpi": DPI, "svg.hashsalt": "parkbench"})


def model_colour(model: str) -> str:
    if model in MODEL_COLOURS:
        return MODEL_COLOURS[model]
    return EXTRA_COLOURS[sum(map(ord, model)) % len(EXTRA_COLOURS)]


def _variant_markers(frame) -> dict:
    """(model, variant) -> marker: variants of one model in registry order get distinct
    markers; together with the model's colour no two series look alike."""
    from parkbench import probes

    markers = {}
    for model, rows in frame.groupby("model", sort=True):
        registered = probes.MODELS[model].variants + probes.MODELS[model].primitives \
            if model in probes.MODELS else ()
        variants = sorted(set(rows.variant), key=lambda v: (registered.index(v)
                                                            if v in registered else 99, v))
        for i, variant in enumerate(variants):
            markers[(model, variant)] = MARKERS[i % len(MARKERS)]
    return markers


def _models_in_order(models) -> list:
    from parkbench import probes

    order = list(probes.MODELS)
    return sorted(set(models), key=lambda m: (order.index(m) if m in order else 99, m))


def _mine(frame, machine):
    return frame[frame.machine == machine]


def _figure_value(figures, model, variant, metric):
    rows = figures[(figures.model == model) & (figures.variant == variant)
                   & (figures.metric == metric) & figures.n.isna()]
    return float(rows.value.iloc[0]) if len(rows) else None


def _bytes_axis(ax, axis="y"):
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    from parkbench.units import format_bytes

    formatter = FuncFormatter(lambda value, _pos: format_bytes(value) if value > 0 else "0")
    target = ax.yaxis if axis == "y" else ax.xaxis
    low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
    ticks = []
    for step in (10, 5, 1):  # the coarsest powers of two that give three ticks or more
        ticks = [2.0 ** power for power in range(0, 61, step) if low <= 2.0 ** power <= high]
        if len(ticks) >= 3:
            break
    if len(ticks) > 9:
        ticks = ticks[::2]
    if len(ticks) >= 2:  # 1 KiB, 32 KiB, 1 MiB ... or 16 MiB, 32 MiB, 64 MiB ...
        target.set_major_locator(FixedLocator(ticks))
        target.set_minor_locator(NullLocator())
    target.set_major_formatter(formatter)
    target.set_minor_formatter(NullFormatter())


def memory_vs_n(frame, machine, view: str = "total"):
    """Memory (``view``) of the process tree against N, one panel per model: the
    measured points and the fitted line (fixed + slope x N) evaluated at many N, so it
    is a true line on log-log axes; slope and R² on the panel."""
    mine = _mine(frame, machine)
    raw = mine[(mine.metric == view) & mine.n.notna()]
    models = _models_in_order(raw.model)
    markers = _variant_markers(raw)
    columns = min(len(models), 3) or 1
    rows_n = math.ceil(len(models) / columns) or 1
    fig, axes = plt.subplots(rows_n, columns, figsize=(4.6 * columns, 3.6 * rows_n), squeeze=False)
    for ax, model in zip(axes.flat, models):
        notes = []
        for variant, points in raw[raw.model == model].groupby("variant", sort=False):
            label = f"{model}/{variant}"
            ns = points.n.astype(float)
            colour, marker = model_colour(model), markers[(model, variant)]
            ax.scatter(ns, points.value, s=22, color=colour, marker=marker, label=label,
                       gid=f"points:{label}", zorder=3)
            slope = _figure_value(mine, model, variant, f"{view}_per_waiter")
            fixed = _figure_value(mine, model, variant, f"{view}_fixed")
            r2 = _figure_value(mine, model, variant, f"{view}_fit_r2")
            if slope is not None and fixed is not None:
                low, high = ns.min(), ns.max()
                xs = [low * (high / low) ** (k / 60) for k in range(61)]
                ax.plot(xs, [fixed + slope * x for x in xs], color=colour, linewidth=1.2,
                        linestyle="-" if marker == "o" else "--", label=f"{label} fit",
                        gid=f"fit:{label}")
                notes.append(f"{variant}: {_per(slope)}/waiter, R² {r2:.4f}" if r2 is not None
                             else f"{variant}: {_per(slope)}/waiter")
        ax.set(xscale="log", yscale="log", title=model, xlabel="N parked waiters")
        _bytes_axis(ax)
        ax.text(0.02, 0.98, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
        ax.grid(True, which="major", alpha=0.3)
        if len(set(raw[raw.model == model].variant)) > 1:
            points = [c for c in ax.collections if str(c.get_gid()).startswith("points:")]
            ax.legend(handles=points, labels=[c.get_label() for c in points], loc="lower right",
                      fontsize=8, title="points; lines: fits", title_fontsize=7)
    for ax in axes.flat[len(models):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{view} memory")
    fig.suptitle(f"{machine}: {view} memory against N (points: one fresh process per N; "
                 f"line: the fitted straight line)")
    fig.tight_layout()
    return fig


def _per(value: float) -> str:
    from parkbench.units import format_bytes

    return format_bytes(value)


def views_per_waiter(frame, machine):
    """Bytes per waiter by view (RSS, PSS, kernel, total), grouped bars per
    model/variant, with the value written at each bar."""
    from parkbench.units import format_bytes

    figures = _mine(frame, machine)
    figures = figures[figures.n.isna()]
    labels = _labels(figures[figures.metric == "total_per_waiter"])
    fig, ax = plt.subplots(figsize=(10, 0.75 * len(labels) + 1.8))
    height = 0.8 / len(VIEWS)
    drawn = []
    for i, (metric, name) in enumerate(VIEWS):
        values = {f"{r.model}/{r.variant}": r.value for r in figures[figures.metric == metric].itertuples()}
        ys = [y + i * height for y in range(len(labels))]
        widths = [max(values.get(label, math.nan), 1.0) for label in labels]
        drawn += [width for width in widths if width == width]
        bars = ax.barh(ys, widths, height, label=name, color=f"C{i}")
        for bar, label in zip(bars, labels):
            value = values.get(label)
            if value is not None:
                ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {format_bytes(value)}",
                        va="center", fontsize=7)
    ax.set_yticks([y + 0.4 - height / 2 for y in range(len(labels))], labels)
    ax.invert_yaxis()
    ax.set(xscale="log", xlabel="bytes per parked waiter (slope over N; log scale)",
           title=f"{machine}: what one idle waiter costs, by memory view")
    if drawn:  # explicit limits: bars all clamped to 1 B (noise-level slopes) are no error
        ax.set_xlim(min(drawn) / 2, max(drawn) * 4)
    _bytes_axis(ax, "x")
    ax.legend(loc="upper right")
    ax.margins(x=0.15)
    fig.tight_layout()
    return fig


def _labels(rows) -> list:
    from parkbench import probes

    order = [(m.name, v) for m in probes.MODELS.values() for v in m.variants + m.primitives]
    keys = {(r.model, r.variant) for r in rows.itertuples()}
    ordered = sorted(keys, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [f"{model}/{variant}" for model, variant in ordered]


def switch_latency(frame, machine, values: dict | None = None):
    """One-way hand-off time per model/primitive, same-core and cross-core side by
    side: the pyperf median, whiskers from the 25th to the 75th percentile of its values
    (``values``: (model, primitive, placement) -> seconds)."""
    import statistics

    figures = _mine(frame, machine)
    medians = figures[figures.metric == "switch_latency"]
    labels = _labels(medians)
    placements = [p for p in ("same-core", "cross-core") if p in set(medians.placement)]
    fig, ax = plt.subplots(figsize=(10, 0.7 * len(labels) + 1.6))
    height = 0.8 / max(len(placements), 1)
    for i, placement in enumerate(placements):
        rows = {f"{r.model}/{r.variant}": r for r in medians[medians.placement == placement].itertuples()}
        ys: list[float] = []
        widths: list[float] = []
        low: list[float] = []
        high: list[float] = []

        for y, label in enumerate(labels):
            if label not in rows:
                continue
            row = rows[label]
            median = row.value * 1e6
            sample = (values or {}).get((row.model, row.variant, placement)) or []
            if len(sample) >= 4:
                q1, _, q3 = statistics.quantiles(sample, n=4)
                low.append(max(median - q1 * 1e6, 0))
                high.append(max(q3 * 1e6 - median, 0))
            else:
                low.append(0)
                high.append(0)
            ys.append(y + i * height)
            widths.append(median)
        ax.barh(ys, widths, height, xerr=[low, high], label=placement, color=f"C{i}",
                error_kw={"elinewidth": 1, "capsize": 2})
        for bar_y, width, whisker in zip(ys, widths, high):
            ax.text(width + whisker, bar_y, f"  {width:.3g} µs", va="center", fontsize=7)
    ax.set_yticks([y + 0.4 - height / 2 for y in range(len(labels))], labels)
    ax.invert_yaxis()
    ax.set(xlabel="one-way hand-off (µs): pyperf median; whisker: 25th to 75th percentile",
           title=f"{machine}: hand-off latency by CPU placement")
    ax.legend(loc="lower right")
    ax.margins(x=0.12)
    fig.tight_layout()
    return fig


def tail_latency(frame, machine):
    """Tail percentiles of the hand-off against N idle waiters kept parked: one panel
    per model, one line per percentile, the run named in the title."""
    tail = _mine(frame, machine)
    tail = tail[tail.metric.isin(["switch_p50", "switch_p99", "switch_p999"])]
    keys = sorted({(r.model, r.variant) for r in tail.itertuples()},
                  key=lambda k: _models_in_order([k[0]] + list(tail.model)).index(k[0]))
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(3.4 * max(len(keys), 1), 3.6),
                             sharey=True, squeeze=False)
    for ax, (model, primitive) in zip(axes[0], keys):
        _percentile_panel(ax, tail[(tail.model == model) & (tail.variant == primitive)], "switch",
                          f"{model}/{primitive}", "N parked")
    axes[0][0].set_ylabel("one-way hand-off (µs)")
    fig.suptitle(f"{machine}: does an idle waiter tax the active ones? (tail while N stay parked)")
    fig.tight_layout()
    return fig


PERCENTILE_STYLES = (("p50", "p50", "-"), ("p99", "p99", "--"), ("p999", "p99.9", ":"))


def _percentile_panel(ax, rows, stem: str, title: str, xlabel: str) -> None:
    """One panel of ``<stem>_p50``, ``_p99`` and ``_p999`` against N (log-log, µs), in the
    model's colour, the median where a point was measured more than once, the run(s)
    named in the title."""
    model = rows.model.iloc[0]
    for suffix, name, style in PERCENTILE_STYLES:
        points = rows[rows.metric == f"{stem}_{suffix}"].groupby("n").value.median().sort_index()
        if len(points):
            ax.plot(points.index.astype(float), points.values * 1e6, marker="o", linestyle=style,
                    color=model_colour(model), label=name)
    ax.set(xscale="log", yscale="log", xlabel=xlabel,
           title=f"{title}\nrun {', '.join(sorted(set(rows.run_id)))}")
    ax.title.set_fontsize(9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


def request_latency(frame, machine):
    """A one-byte request's round trip against N idle connections held by the same
    server: one panel per connections variant, one line per percentile (p50, p99,
    p99.9), the run named in the title. ``None`` where no connections were measured."""
    from parkbench.probes import is_connections

    held = _mine(frame, machine)
    held = held[held.variant.map(is_connections)
                & held.metric.isin(["request_p50", "request_p99", "request_p999"]) & held.n.notna()]
    if held.empty:
        return None
    keys = sorted({(r.model, r.variant) for r in held.itertuples()},
                  key=lambda k: (_models_in_order([k[0]] + list(held.model)).index(k[0]), k[1]))
    columns = min(len(keys), 4)
    rows = -(-len(keys) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.4 * rows), sharey=True,
                             squeeze=False)
    for ax, (model, variant) in zip(axes.flat, keys):
        _percentile_panel(ax, held[(held.model == model) & (held.variant == variant)], "request",
                          f"{model}/{variant}", "N idle connections")
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("request round trip (µs)")
    fig.suptitle(f"{machine}: do idle connections tax the active one? (one more connection, "
                 f"one byte and its echo)")
    fig.tight_layout()
    return fig


def spawn_and_wake(frame, machine):
    """Time per waiter to create-and-park and to wake-and-finish N waiters, against N
    (log-log): a flat line is a cost linear in N; a rising one is a curve, and its
    exponent (N^b) is in the legend wherever a straight line would mislead."""
    mine = _mine(frame, machine)
    raw = mine[mine.metric.isin(["spawn_seconds", "wake_seconds"]) & mine.n.notna()]
    markers = _variant_markers(raw)
    fig, axes = plt.subplots(1, 2, figsize=(13, 6.5), sharey=True)
    for ax, (metric, stem, title) in zip(axes, (("spawn_seconds", "spawn", "create and park"),
                                                 ("wake_seconds", "wake", "wake and finish"))):
        rows = raw[raw.metric == metric]
        for (model, variant), points in sorted(rows.groupby(["model", "variant"]),
                                               key=lambda item: (_models_in_order([item[0][0]] + list(rows.model)).index(item[0][0]), item[0][1])):
            points = points.groupby("n").value.median().sort_index()
            label = f"{model}/{variant}"
            if _figure_value(mine, model, variant, f"{stem}_nonlinear") == 1:
                label += f" N^{_figure_value(mine, model, variant, f'{stem}_exponent'):.2f}"
            ns = points.index.astype(float)
            ax.plot(ns, points.values / ns * 1e6, marker=markers[(model, variant)],
                    color=model_colour(model), label=label, gid=f"{stem}:{model}/{variant}")
        ax.set(xscale="log", yscale="log", xlabel="N waiters", title=title)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    axes[0].set_ylabel("µs per waiter (time for N / N)")
    fig.suptitle(f"{machine}: churn cost per waiter against N (flat: linear in N)")
    fig.tight_layout()
    return fig


def _micro(value: float) -> str:
    return f"{value:,.0f} µs" if value >= 100 else f"{value:.3g} µs"


def capacity(frame, machine):
    """Waiters one machine holds per model/variant: one bar each, labelled with its own
    value, the binding limit and whether it was measured or predicted."""
    rows = _mine(frame, machine)
    rows = rows[rows.metric == "capacity"].sort_values(["value", "model", "variant"])
    labels = [f"{r.model}/{r.variant}" for r in rows.itertuples()]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(labels) + 1.6))
    bars = ax.barh(range(len(labels)), rows.value.tolist(),
                   color=[model_colour(m) for m in rows.model],
                   hatch=None)
    for bar, row, label in zip(bars, rows.itertuples(), labels):
        bar.set_gid(f"bar:{label}")
        if row.basis == "predicted":
            bar.set_alpha(0.55)
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                f"  {int(row.value):,} ({row.limit}, {row.basis})", va="center", fontsize=8,
                gid=f"label:{label}")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xscale="log", xlabel="idle waiters one machine holds (log scale); "
                                "solid: measured ceiling, pale: predicted",
           title=f"{machine}: capacity and the binding limit")
    ax.set_xlim(right=rows.value.max() * 60 if len(rows) else None)
    fig.tight_layout()
    return fig
