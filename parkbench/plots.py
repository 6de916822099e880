"""Plots of the report notebook: each function takes the tidy DataFrame (or fit-map
profiles) and returns a matplotlib Figure. No data is computed here that the analysis
modules do not already return, and nothing carries a timestamp, so re-rendering
unchanged results gives the same pictures.
"""

import math

import matplotlib.pyplot as plt
from matplotlib.colors import BoundaryNorm, ListedColormap

from parkbench import fitmap

VIEWS = (("rss_per_waiter", "RSS"), ("pss_per_waiter", "PSS"),
         ("kernel_per_waiter", "kernel"), ("total_per_waiter", "total = PSS + kernel"))


def _label(row) -> str:
    return f"{row.model}/{row.variant}"


def _grouped_bars(ax, labels, groups) -> None:
    """Horizontal bars, one group of bars per label: ``groups`` is a list of
    (legend name, {label: value}, {label: error} or None)."""
    height = 0.8 / max(len(groups), 1)
    for i, (name, values, errors) in enumerate(groups):
        ax.barh([y + i * height for y in range(len(labels))],
                [values.get(label, math.nan) for label in labels], height,
                xerr=None if errors is None else [errors.get(label, 0) for label in labels],
                label=name)
    ax.set_yticks([y + 0.4 - height / 2 for y in range(len(labels))], labels)
    ax.legend(fontsize=8)


def _figures(frame, machine):
    rows = frame[(frame.machine == machine) & frame.n.isna()]
    return rows


def memory_vs_n(frame, machine, view: str = "total"):
    """Memory (``view``) against N on log-log axes, each model with its fitted line."""
    fig, ax = plt.subplots(figsize=(8, 5))
    raw = frame[(frame.machine == machine) & (frame.metric == view)]
    figures = _figures(frame, machine)
    for (model, variant), points in raw.groupby(["model", "variant"], sort=True):
        ns = points.n.astype(float)
        marker = ax.scatter(ns, points.value, s=14, label=f"{model}/{variant}")
        slope = figures[(figures.model == model) & (figures.variant == variant)
                        & (figures.metric == f"{view}_per_waiter")].value
        fixed = figures[(figures.model == model) & (figures.variant == variant)
                        & (figures.metric == f"{view}_fixed")].value
        if len(slope) and len(fixed):
            xs = [ns.min(), ns.max()]
            ax.plot(xs, [fixed.iloc[0] + slope.iloc[0] * x for x in xs],
                    color=marker.get_facecolor()[0], linewidth=1)
    ax.set(xscale="log", yscale="log", xlabel="N parked waiters (each N a fresh process)",
           ylabel=f"{view} memory of the process tree (bytes)",
           title=f"{machine}: {view} memory against N, with fitted lines")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def views_per_waiter(frame, machine):
    """Bytes per waiter by view (RSS, PSS, kernel, total) per model and variant."""
    figures = _figures(frame, machine)
    labels = sorted({_label(r) for r in figures[figures.metric == "total_per_waiter"].itertuples()})
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.5))
    _grouped_bars(ax, labels, [
        (name, {_label(r): max(r.value, 1) for r in figures[figures.metric == metric].itertuples()}, None)
        for metric, name in VIEWS])
    ax.set(xscale="log", xlabel="bytes per parked waiter (slope over N)",
           title=f"{machine}: what one idle waiter costs, by memory view")
    fig.tight_layout()
    return fig


def switch_latency(frame, machine):
    """One-way hand-off time (pyperf median, bar = ± standard deviation) by placement."""
    figures = _figures(frame, machine)
    medians = figures[figures.metric == "switch_latency"]
    stdevs = {(r.model, r.variant, r.placement): r.value
              for r in figures[figures.metric == "switch_latency_stdev"].itertuples()}
    labels = sorted({_label(r) for r in medians.itertuples()})
    placements = sorted(medians.placement.dropna().unique())
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.5))
    groups = []
    for placement in placements:
        rows = list(medians[medians.placement == placement].itertuples())
        groups.append((placement, {_label(r): r.value * 1e6 for r in rows},
                       {_label(r): stdevs.get((r.model, r.variant, r.placement), 0) * 1e6 for r in rows}))
    _grouped_bars(ax, labels, groups)
    ax.set(xlabel="one-way hand-off (µs, pyperf median ± std dev)",
           title=f"{machine}: hand-off latency by CPU placement")
    fig.tight_layout()
    return fig


def tail_latency(frame, machine):
    """Tail percentiles of the hand-off against N idle waiters kept parked."""
    tail = frame[(frame.machine == machine) & frame.metric.isin(
        ["switch_p50", "switch_p99", "switch_p999"])]
    models = sorted(tail.model.unique())
    fig, axes = plt.subplots(1, max(len(models), 1), figsize=(3.2 * max(len(models), 1), 3.4),
                             sharey=True, squeeze=False)
    for ax, model in zip(axes[0], models):
        for metric, points in tail[tail.model == model].groupby("metric", sort=True):
            points = points.sort_values("n")
            ax.plot(points.n.astype(float), points.value * 1e6, marker="o", label=metric[7:])
        ax.set(xscale="log", yscale="log", title=model, xlabel="N parked")
    axes[0][0].set_ylabel("one-way hand-off (µs)")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(f"{machine}: does an idle waiter tax the active ones?")
    fig.tight_layout()
    return fig


def spawn_and_wake(frame, machine):
    """Time to create-and-park, and to wake-and-finish, one more waiter."""
    figures = _figures(frame, machine)
    labels = sorted({_label(r) for r in figures[figures.metric == "spawn_per_waiter"].itertuples()})
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(labels) + 1.5))
    _grouped_bars(ax, labels, [
        (name, {_label(r): r.value * 1e6 for r in figures[figures.metric == metric].itertuples()}, None)
        for metric, name in (("spawn_per_waiter", "spawn + park"), ("wake_per_waiter", "wake + finish"))])
    ax.set(xscale="log", xlabel="µs per waiter (slope over N)",
           title=f"{machine}: churn cost per waiter")
    fig.tight_layout()
    return fig


def capacity(frame, machine):
    """Waiters one machine holds, labelled with the limit that binds."""
    rows = _figures(frame, machine)
    rows = rows[rows.metric == "capacity"].sort_values("value")
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.5))
    ax.barh([_label(r) for r in rows.itertuples()], rows.value)
    for y, r in enumerate(rows.itertuples()):
        ax.text(r.value, y, f"  {int(r.value):,} ({r.limit})", va="center", fontsize=7)
    ax.set(xscale="log", xlabel="idle waiters one machine holds",
           title=f"{machine}: capacity and the binding limit")
    fig.tight_layout()
    return fig


def fit_map(profiles, waiters_axis, rate_axis, memory_bytes: float, cores: int):
    """Small multiples over W (idle waiters) and R (wake-ups/s), log axes: white where a
    model fits one machine (scale up), shades for how many it needs (scale out), grey
    labelled markers where published runtimes would sit on this machine."""
    count = len(profiles)
    columns = min(count, 3) or 1
    rows_n = math.ceil(count / columns) or 1
    fig, axes = plt.subplots(rows_n, columns, figsize=(4.2 * columns, 3.6 * rows_n),
                             squeeze=False, sharex=True, sharey=True)
    levels = [1, 2, 11, 101, 1001, math.inf]
    cmap = ListedColormap(["#ffffff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"])
    norm = BoundaryNorm([0.5, 1.5, 10.5, 100.5, 1000.5, 1e18], cmap.N)
    image = None
    markers = fitmap.published_markers(memory_bytes, cores)
    for ax, profile in zip(axes.flat, profiles):
        grid = fitmap.grid(profile, waiters_axis, rate_axis)
        image = ax.pcolormesh(waiters_axis, rate_axis, grid, cmap=cmap, norm=norm, shading="nearest")
        ax.plot([waiters_axis[0], profile.capacity, profile.capacity],
                [profile.handoffs_per_second] * 2 + [rate_axis[0]], color="black", linewidth=1)
        for marker in markers:
            ax.plot(marker["waiters"], marker["rate"], marker="x", color="grey")
        ax.set(xscale="log", yscale="log", title=f"{profile.model}/{profile.variant}")
    for ax in axes.flat[count:]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("W: concurrent idle waiters")
    for ax in axes[:, 0]:
        ax.set_ylabel("R: wake-ups per second")
    if image is not None:
        bar = fig.colorbar(image, ax=axes, ticks=[1, 6, 55, 550, 5000], shrink=0.8)
        bar.ax.set_yticklabels(["1 (fits)", "2-10", "11-100", "101-1000", ">1000"])
        bar.set_label("machines needed")
    labels = "; ".join(f"x = {m['label']}" for m in markers)
    machine = profiles[0].machine if profiles else ""
    fig.suptitle(f"{machine}: fit map (black line: one machine's edge)\n{labels}", fontsize=8)
    return fig


def compare_machines(frame, metric: str = "total_per_waiter"):
    """One figure of ``metric`` per model and variant, machines side by side."""
    rows = frame[(frame.metric == metric) & frame.n.isna()]
    newest = rows.groupby("machine").run_id.transform("max")
    rows = rows[rows.run_id == newest]
    labels = sorted({_label(r) for r in rows.itertuples()})
    machines = sorted(rows.machine.unique())
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.5))
    _grouped_bars(ax, labels, [
        (machine, {_label(r): r.value for r in rows[rows.machine == machine].itertuples()}, None)
        for machine in machines])
    ax.set(xscale="log", xlabel=metric, title=f"{metric}: machines side by side")
    fig.tight_layout()
    return fig
