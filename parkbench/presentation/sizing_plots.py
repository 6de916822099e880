"""The maps of the report: the decision map (which model needs the fewest machines for
each workload), the per-model fit maps, and machines side by side. Each function returns
a matplotlib Figure; the encoding (colour = model) is ``plots.py``'s.
"""

import math

import matplotlib.pyplot as plt
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.lines import Line2D

from parkbench.analysis import sizing
from parkbench.core.units import format_bytes, format_seconds
from parkbench.presentation.plots import _bytes_axis, _labels, _models_in_order, model_colour, name_runs

REFERENCE_MARKERS = ("*", "^", "P", "X")
MEASURED_MARKER = "D"  # a reference runtime measured on this machine: filled, in its colour


def _measured_handles(markers):
    return [Line2D([], [], linestyle="none", marker=MEASURED_MARKER, markersize=8,
                   markerfacecolor=model_colour(m["model"]), markeredgecolor="white",
                   label=m["label"]) for m in markers]


def _draw_measured(ax, markers):
    for marker in markers:
        ax.plot(marker["waiters"], marker["rate"], linestyle="none", marker=MEASURED_MARKER,
                markersize=8, markerfacecolor=model_colour(marker["model"]),
                markeredgecolor="white", gid=f"measured:{marker['label']}")


def _reference_handles(markers):
    return [Line2D([], [], linestyle="none", marker=REFERENCE_MARKERS[i % len(REFERENCE_MARKERS)],
                   markersize=9, markerfacecolor="white", markeredgecolor="black",
                   label=marker["label"]) for i, marker in enumerate(markers)]


def _draw_references(ax, markers):
    for i, marker in enumerate(markers):
        ax.plot(marker["waiters"], marker["rate"], linestyle="none",
                marker=REFERENCE_MARKERS[i % len(REFERENCE_MARKERS)], markersize=9,
                markerfacecolor="white", markeredgecolor="black", gid=f"reference:{marker['label']}")


CHECK_MARKERS = {True: ("o", "held"), False: ("X", "not held")}  # the verdict: by shape


def _check_style(row) -> dict:
    """A checked point's look: its shape says held or not, its fill is the checked model's
    colour (green and red read as another model's verdict where they sat on that model's
    region of the decision map), a magenta rim where it disagrees with the map."""
    agrees = row.get("agrees", True)
    return {"linestyle": "none", "marker": CHECK_MARKERS[bool(row["held"])][0], "markersize": 10,
            "markerfacecolor": model_colour(row["model"]),
            "markeredgecolor": "black" if agrees else "#ff00ff", "markeredgewidth": 1.2 if agrees else 2.5}


def _draw_checks(ax, checks) -> list:
    """The measured map points (``map_checks.verdicts`` rows): held or not (by the edge's
    criterion), and whether that agrees with the map; their legend handles, each naming
    the model and variant checked."""
    for row in checks:
        ax.plot(row["waiters"], row["offered"], zorder=5, **_check_style(row),
                gid=f"check:{'held' if row['held'] else 'not-held'}:{row['offered']:.0f}")
    shown = {(row["model"], row["variant"], bool(row["held"]), bool(row.get("agrees", True))) for row in checks}
    return [Line2D([], [], **_check_style({"model": model, "held": held, "agrees": agrees}),
                   label=f"{model}/{variant} checked: {CHECK_MARKERS[held][1]}, "
                         f"{'agrees with' if agrees else 'DISAGREES with'} the map")
            for model, variant, held, agrees in sorted(shown, key=lambda k: (k[0], k[1], not k[2], not k[3]))]


HATCHES = (None, "//", "\\\\", "xx")  # a model's first variant plain, the next hatched
CONTOURS = ((1.5, "-", "more than 1 machine"), (10.5, "--", "more than 10 machines"),
            (100.5, ":", "more than 100 machines"), (1000.5, "-.", "more than 1,000 machines"))


def _winner_hatches(winners) -> list:
    """A model's second, third... variant hatched: a shade alone was hard to tell apart."""
    hatches: list = []
    seen: dict[str, int] = {}
    for profile in winners:
        k = seen[profile.model] = seen.get(profile.model, -1) + 1
        hatches.append(HATCHES[k % len(HATCHES)])
    return hatches


def _draw_mesh(ax, waiters_axis, rate_axis, values, **style):
    """``values`` per grid cell (cell centres, log spaced); the axes limited to what was
    computed, so that no band the colour bar would misread is left blank."""
    mesh = ax.pcolormesh(waiters_axis, rate_axis, values, shading="nearest", **style)
    corners = mesh.get_coordinates()
    ax.set_xlim(corners[..., 0].min(), corners[..., 0].max())
    ax.set_ylim(corners[..., 1].min(), corners[..., 1].max())
    return mesh


def _off_the_map(ax, markers) -> list:
    """``markers`` with "(off the map: ...)" added to the label of each outside the axes."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return [marker if x0 <= marker["waiters"] <= x1 and y0 <= marker["rate"] <= y1
            else {**marker, "label": f"{marker['label']} (off the map: W {marker['waiters']:.3g}, "
                                     f"R {marker['rate']:.3g}/s)"}
            for marker in markers]


def _winner_colours(winners) -> list:
    """Colour = model; a second or third variant of one model (``reuseport`` beside
    ``event``) a darker or lighter shade of it, so no two regions look alike."""
    from matplotlib.colors import to_rgb

    colours: list = []
    seen: dict[str, int] = {}
    for profile in winners:
        k = seen[profile.model] = seen.get(profile.model, -1) + 1
        base = to_rgb(model_colour(profile.model))
        if k == 0:
            colours.append(base)
        elif k % 2:  # darker
            colours.append(tuple(c * (0.55 ** ((k + 1) // 2)) for c in base))
        else:        # lighter
            colours.append(tuple(1 - (1 - c) * (0.5 ** (k // 2)) for c in base))
    return colours


def _published(profiles, memory_bytes: float, cores: int, measured) -> list[dict]:
    """Published runtimes' one-machine corners: their switch time is an in-process
    hand-off, so they belong on the in-process maps only, never on a map of requests."""
    if profiles and profiles[0].serves_requests:
        return []
    return sizing.published_markers(memory_bytes, cores, [m["model"] for m in measured])


def decision_map(profiles, waiters_axis, rate_axis, memory_bytes: float, cores: int, checks=()):
    """For each (W, R) cell the Python model/variant needing the fewest machines,
    coloured by model; contour lines give how many machines that best choice needs. A
    measured reference (go) is a marker at its one-machine corner, not a choice;
    ``checks``, measured map points, are held or not at the SLO."""
    import numpy as np

    everyone = list(profiles)
    measured = sizing.reference_markers(profiles)
    profiles = sizing.candidates(profiles)
    grid = sizing.decision_grid(profiles, waiters_axis, rate_axis)
    winners = sorted({cell[0] for row in grid for cell in row},
                     key=lambda p: (_models_in_order([p.model] + [q.model for q in profiles]).index(p.model),
                                    p.variant, p.interpreter))
    index = {id(p): i for i, p in enumerate(winners)}
    codes = np.array([[index[id(cell[0])] for cell in row] for row in grid])
    machines = np.array([[cell[1] for cell in row] for row in grid], dtype=float)
    fig, ax = plt.subplots(figsize=(12, 6))
    colours = _winner_colours(winners)
    cmap = ListedColormap(colours)
    norm = BoundaryNorm([i - 0.5 for i in range(len(winners) + 1)], cmap.N)
    _draw_mesh(ax, waiters_axis, rate_axis, codes, cmap=cmap, norm=norm, alpha=0.45)
    hatches = _winner_hatches(winners)
    for i, hatch in enumerate(hatches):
        if hatch and (codes == i).any():  # the cells this variant wins, hatched over its shade
            # pcolor, not pcolormesh: a QuadMesh takes the hatch but does not draw it
            ax.pcolor(waiters_axis, rate_axis, np.ma.masked_where(codes != i, codes), shading="nearest",
                      cmap=ListedColormap([(0, 0, 0, 0)]), edgecolor="0.25", linewidth=0, hatch=hatch,
                      gid=f"hatch:{winners[i].model}/{winners[i].variant}")
    # contour lines told apart by line style in the legend: a label written on the map was
    # clipped at its edge or crossed by its own line
    contours = [(level, style, text) for level, style, text in CONTOURS
                if machines.min() < level < machines.max()]
    if contours:
        ax.contour(waiters_axis, rate_axis, machines, levels=[c[0] for c in contours], colors="black",
                   linewidths=1.0, linestyles=[c[1] for c in contours])
    markers = _off_the_map(ax, _published(profiles, memory_bytes, cores, measured))
    measured = _off_the_map(ax, measured)
    _draw_references(ax, markers)
    _draw_measured(ax, measured)
    checked = _draw_checks(ax, checks)
    handles: list = [plt.Rectangle((0, 0), 1, 1, facecolor=colours[i], alpha=0.6, edgecolor="black",
                                   linewidth=0, hatch=hatches[i],
                                   label=f"{p.model}/{p.variant} ({p.interpreter}, "
                                         f"{p.cores} core{'s' if p.cores > 1 else ''})")
                     for i, p in enumerate(winners)]
    handles += [Line2D([], [], color="black", linewidth=1.0, linestyle=style, label=text)  # type: ignore[arg-type]
                for _level, style, text in contours]
    ax.legend(handles=handles + _measured_handles(measured) + _reference_handles(markers) + checked,
              loc="upper left",
              bbox_to_anchor=(1.01, 1), fontsize=8, title="fewest machines",
              handlelength=2.5, handleheight=1.4)  # room for a hatch to show
    ax.set(xscale="log", yscale="log", xlabel="W: concurrent idle waiters",
           ylabel=("R: requests per second (served beside W idle)" if profiles[0].serves_requests
                   else "R: wake-ups per second (one loop, beside W parked)"),
           title=f"{profiles[0].machine}: which model needs the fewest machines")
    name_runs(fig, _profile_runs(everyone))
    return fig


def _profile_runs(profiles) -> list[str]:
    return sorted({run for p in profiles for run in (p.memory_run, p.switch_run, *(e.run for e in p.edge)) if run})


def _draw_edge(ax, profile, waiters_axis, rate_floor: float) -> None:
    """One machine's edge on a model's panel: the measured rate at each W (log-W
    interpolated, dashed where held flat beyond the measured W), its band from the
    knee's spread, the measured points, then down at the capacity; without a measured
    edge, the capacity alone (no rate can be sized by)."""
    import numpy as np

    xs = [w for w in np.geomspace(waiters_axis[0], waiters_axis[-1], 200) if w <= profile.capacity]
    xs.append(min(profile.capacity, waiters_axis[-1]))
    if not profile.edge:
        ax.axvline(profile.capacity, color="black", linewidth=1.2)
        return
    at = [profile.rate_at(w) for w in xs]
    ax.fill_between(xs, [e.low for e in at], [e.high for e in at], color="0.3", alpha=0.25, linewidth=0,
                    gid=f"band:{profile.model}/{profile.variant}")
    for extrapolated, style in ((False, "-"), (True, "--")):
        ys = [e.rate if e.extrapolated == extrapolated else np.nan for e in at]
        ax.plot(xs, ys, color="black", linewidth=1.2, linestyle=style)
    ax.plot([p.waiters for p in profile.edge], [p.rate for p in profile.edge], linestyle="none", marker="s",
            markersize=4, color="black", gid=f"edge:{profile.model}/{profile.variant}")
    ax.plot([xs[-1]] * 2, [at[-1].rate, rate_floor], color="black", linewidth=1.2)


def fit_map(profiles, waiters_axis, rate_axis, memory_bytes: float, cores: int, checks=()):
    """Small multiples over W (idle waiters) and R (wake-ups/s), log axes: white where a
    model fits one machine (scale up), shades for how many it needs (scale out), and
    where published runtimes would sit on this machine (distinct markers, legend);
    ``checks``, measured map points, on their model's panel."""
    count = len(profiles)
    columns = min(count, 3) or 1
    rows_n = math.ceil(count / columns) or 1
    fig, axes = plt.subplots(rows_n, columns, figsize=(4.8 * columns, 4.0 * rows_n + 1.2),
                             squeeze=False, sharex=True, sharey=True, layout="constrained")
    cmap = ListedColormap(["#ffffff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"])
    norm = BoundaryNorm([0.5, 1.5, 10.5, 100.5, 1000.5, 1e18], cmap.N)
    image = None
    measured = sizing.reference_markers(profiles)
    markers = _published(profiles, memory_bytes, cores, measured)
    checked: list = []
    for ax, profile in zip(axes.flat, profiles):
        grid = sizing.grid(profile, waiters_axis, rate_axis)
        image = _draw_mesh(ax, waiters_axis, rate_axis, grid, cmap=cmap, norm=norm)
        _draw_edge(ax, profile, waiters_axis, rate_axis[0])
        _draw_references(ax, markers)
        _draw_measured(ax, measured)
        checked += _draw_checks(ax, [row for row in checks if (row["model"], row["variant"])
                                     == (profile.model, profile.variant)
                                     and row.get("interpreter", profile.interpreter) == profile.interpreter])
        ax.set(xscale="log", yscale="log")
        role = " (reference, measured here)" if sizing.is_reference(profile) else ""
        measured_at = [p.waiters for p in profile.edge]
        rate = (f"{profile.rate_name}: {profile.rate_basis}, W {min(measured_at):,}-{max(measured_at):,} "
                f"({len(measured_at)})" if profile.edge else f"no measured {profile.rate_name}: no rate sized")
        if len({p.interpreter for p in profiles}) > 1:  # free-threaded threads beside the others
            role += f" ({profile.interpreter}, {profile.cores} core{'s' if profile.cores > 1 else ''})"
        ax.set_title(f"{profile.model}/{profile.variant}{role}\ncapacity {profile.capacity:,} "
                     f"({profile.capacity_basis})\n{rate}", fontsize=9)
    for ax in axes.flat[count:]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("W: concurrent idle waiters")
    serving = bool(profiles) and profiles[0].serves_requests
    for ax in axes[:, 0]:
        ax.set_ylabel("R: requests per second" if serving else "R: wake-ups per second")
    if image is not None:
        bar = fig.colorbar(image, ax=axes, ticks=[1, 6, 55.5, 550.5, 5e17], shrink=0.8)
        bar.ax.set_yticklabels(["1 (fits)", "2-10", "11-100", "101-1000", ">1000"])
        bar.set_label("machines needed")
    if count:  # the panels share their axes: the last one's limits are every one's
        measured, markers = _off_the_map(axes.flat[0], measured), _off_the_map(axes.flat[0], markers)
    handles = _measured_handles(measured) + _reference_handles(markers)
    handles += list({handle.get_label(): handle for handle in checked}.values())
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 2),
                   fontsize=8, frameon=False)
    machine = profiles[0].machine if profiles else ""
    fig.suptitle(f"{machine}: machines each model needs (black line: one machine's measured edge, "
                 f"grey its band over rounds, dashed held flat beyond the W measured)\n"
                 f"runs: {', '.join(_profile_runs(profiles))}", gid="runs")
    return fig


def compare_machines(frame, metric: str = "total_per_waiter", unit: str = "bytes"):
    """One figure of ``metric`` per model and variant, machines side by side (each
    machine's current figures, never merged)."""
    rows = frame[(frame.metric == metric) & frame.n.isna()]
    if metric == "switch_latency":
        rows = rows[rows.placement == "same-core"]
    labels = _labels(rows)
    machines = sorted(rows.machine.unique())
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(labels) * max(len(machines), 1) + 1.6))
    height = 0.8 / max(len(machines), 1)
    fmt = {"bytes": format_bytes, "seconds": format_seconds}.get(unit, lambda v: f"{v:,.0f}")
    for i, machine in enumerate(machines):
        values = {f"{r.model}/{r.variant}": r.value for r in rows[rows.machine == machine].itertuples()}
        ys = [y + i * height for y in range(len(labels)) if labels[y] in values]
        widths = [values[label] for label in labels if label in values]
        ax.barh(ys, widths, height, label=machine, color=f"C{i}")
        for y, width in zip(ys, widths):
            ax.text(width, y, f" {fmt(width)}", va="center", fontsize=7)
    ax.set_yticks([y + 0.4 - height / 2 for y in range(len(labels))], labels)
    ax.invert_yaxis()
    title = {"total_per_waiter": "total memory per waiter (PSS + kernel)",
             "pss_per_waiter": "PSS per waiter",
             "switch_latency": "one-way hand-off, same-core (pyperf median)",
             "capacity": "capacity (waiters one machine holds)"}.get(metric, metric)
    ax.set(xscale="log", xlabel=f"{title} (log scale)", title=f"{title}: machines side by side")
    if unit == "bytes":
        _bytes_axis(ax, "x")
    ax.legend(loc="lower right")
    ax.margins(x=0.15)
    fig.tight_layout()
    return fig
