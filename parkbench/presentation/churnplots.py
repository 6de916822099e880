"""The report's plot of churn: the time per waiter to create and park N waiters, and to
wake N and see them finish, against N (``spawn_and_wake``). Small multiples, one panel per
model: about 28 series in one panel could not be told apart. The encoding (colour = model,
marker = variant) and helpers are ``plots.py``'s.
"""

import math

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from parkbench.presentation import plots

COLUMNS = 3
# the two phases kept apart in every panel: line style, and filled or open markers
PHASES = (("spawn_seconds", "spawn", "create and park", "-", True),
          ("wake_seconds", "wake", "wake and finish", "--", False))


def spawn_and_wake(frame, machine):
    """Time per waiter to create-and-park and to wake-and-finish N waiters, against N
    (log-log), one panel per model: a flat line is a cost linear in N; a rising one is a
    curve, and its exponent (N^b) is in the legend wherever a straight line would
    mislead. ``None`` where there is nothing to draw."""
    mine = plots._mine(frame, machine)
    raw = mine[mine.metric.isin([phase[0] for phase in PHASES]) & mine.n.notna()]
    if raw.empty:
        return None
    markers = plots._variant_markers(raw)
    models = plots._models_in_order(raw.model)
    columns = min(len(models), COLUMNS)
    lines = math.ceil(len(models) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.6 * columns, 5.2 * lines + 0.6), sharex=True,
                             sharey=True, squeeze=False)
    for ax, model in zip(axes.flat, models):
        handles = []
        for variant in sorted({v for v in raw[raw.model == model].variant},
                              key=lambda v: (list(markers).index((model, v)), v)):
            notes = []
            for metric, stem, _title, style, filled in PHASES:
                points = raw[(raw.model == model) & (raw.variant == variant) & (raw.metric == metric)]
                if points.empty:
                    continue
                points = points.groupby("n").value.median().sort_index()
                ns = points.index.astype(float)
                colour = plots.model_colour(model)
                ax.plot(ns, points.values / ns * 1e6, marker=markers[(model, variant)], linestyle=style,
                        color=colour, markerfacecolor=colour if filled else "white", markersize=5,
                        gid=f"{stem}:{model}/{variant}")
                if plots._figure_value(mine, model, variant, f"{stem}_nonlinear") == 1:
                    notes.append(f"{stem} N^{plots._figure_value(mine, model, variant, f'{stem}_exponent'):.2f}")
            handles.append(Line2D([], [], linestyle="none", marker=markers[(model, variant)],
                                  color=plots.model_colour(model),
                                  label=variant + (f" ({', '.join(notes)})" if notes else "")))
        ax.set(xscale="log", yscale="log", title=model)
        ax.grid(True, which="major", alpha=0.3)
        # below the axes: inside ("best"), it covered the threads' points at N 10^4
        ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17),
                  title="variant", title_fontsize=8, frameon=False, ncol=2)
    for ax in list(axes.flat)[len(models):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("µs per waiter (time for N / N)")
    for ax in axes.flat:
        if ax.get_visible():
            ax.set_xlabel("N waiters")
            ax.xaxis.set_tick_params(labelbottom=True)
    fig.legend(handles=[Line2D([], [], color="0.3", linestyle=style, marker="o",
                               markerfacecolor="0.3" if filled else "white", label=title)
                        for _metric, _stem, title, style, filled in PHASES],
               loc="upper right", ncol=2, fontsize=9, frameon=False)
    fig.suptitle(f"{machine}: churn cost per waiter against N (flat: linear in N; a variant "
                 f"without a dashed line was not woken)", x=0.02, ha="left")
    plots.name_runs(fig, plots.runs_of(raw))
    return fig
