"""What the report's plots share: one encoding (colour = model, marker = variant or
primitive), the matplotlib settings, and the helpers that pick a machine's rows, draw byte
axes and name runs. The plots themselves are in ``memoryplots.py`` (memory and capacity),
``timeplots.py`` (hand-off, request and served times), ``churnplots.py`` (spawn and wake
per waiter) and ``sizing_plots.py`` (the maps): each function there takes a machine's
current figures (the frame of ``current.select``) and returns a matplotlib Figure whose
artists carry what they show (series labels, ``gid``s), so tests can read them, and which
names the runs its figures came from (``name_runs``). Nothing there computes a figure the
analysis modules do not return; nothing carries a timestamp, so re-rendering unchanged
results gives the same pictures.
"""

import matplotlib.pyplot as plt

from parkbench.core import registry
from parkbench.core.units import format_bytes

DPI = 110
MODEL_COLOURS = {"threads": "#1f77b4", "asyncio": "#ff7f0e", "uvloop": "#2ca02c",
                 "gevent": "#d62728", "subprocess": "#9467bd", "go": "#111111"}
EXTRA_COLOURS = ("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")

plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "legend.fontsize": 9,
                     "figure.dpi": DPI, "savefig.dpi": DPI, "svg.hashsalt": "parkbench"})


def model_colour(model: str) -> str:
    if model in MODEL_COLOURS:
        return MODEL_COLOURS[model]
    return EXTRA_COLOURS[sum(map(ord, model)) % len(EXTRA_COLOURS)]


def _variant_markers(frame) -> dict:
    """(model, variant) -> marker: variants of one model in registry order get distinct
    markers; together with the model's colour no two series look alike."""
    markers = {}
    for model, rows in frame.groupby("model", sort=True):
        registered = registry.MODELS[model].variants + registry.MODELS[model].primitives \
            if model in registry.MODELS else ()
        variants = sorted(set(rows.variant), key=lambda v: (registered.index(v)
                                                            if v in registered else 99, v))
        for i, variant in enumerate(variants):
            markers[(model, variant)] = MARKERS[i % len(MARKERS)]
    return markers


def _models_in_order(models) -> list:
    order = list(registry.MODELS)
    return sorted(set(models), key=lambda m: (order.index(m) if m in order else 99, m))


def _mine(frame, machine):
    return frame[frame.machine == machine]


def _figure_value(figures, model, variant, metric):
    rows = figures[(figures.model == model) & (figures.variant == variant)
                   & (figures.metric == metric) & figures.n.isna()]
    return float(rows.value.iloc[0]) if len(rows) else None


def _bytes_axis(ax, axis="y"):
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

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


def _labels(rows, column: str = "variant") -> list:
    """``model/variant`` (or ``model/primitive``, by ``column``) of ``rows``, in registry order."""
    order = [(m.name, v) for m in registry.MODELS.values() for v in m.variants + m.primitives]
    keys = {(r.model, getattr(r, column)) for r in rows.itertuples()}
    ordered = sorted(keys, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [f"{model}/{variant}" for model, variant in ordered]


def runs_of(rows) -> list[str]:
    """The run ids ``rows`` (a frame of figures) came from, oldest first."""
    return sorted({str(run) for run in rows.run_id.dropna()})


def name_runs(fig, runs, height: float = 0.3) -> None:
    """A footer line naming the runs a figure's numbers came from, and the figure laid out
    above it (``height``: the inches kept for it)."""
    fig.text(0.01, 0.01, "runs: " + ", ".join(runs), fontsize=8, color="0.3", ha="left",
             va="bottom", gid="runs")
    fig.tight_layout(rect=(0, height / fig.get_figheight(), 1, 1))
