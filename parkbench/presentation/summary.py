"""The summary table: a machine's current figures per (machine, interpreter, model,
variant), each row naming the run its figures came from.

``table`` and ``latency_table`` take the frame of ``current.select`` and return data
(wide DataFrames of numbers); ``render`` turns them into text for the terminal. The
CLI's ``run`` and ``show`` both print through here.
"""

from parkbench.analysis.switch_figures import UNSTABLE_CV, spreads
from parkbench.core.registry import in_registry_order, is_connections
from parkbench.core.units import format_bytes, format_count, format_seconds

# (figure metric, column heading, formatter)
COLUMNS = (
    ("max_n", "max N", format_count),
    ("rss_per_waiter", "RSS/waiter", format_bytes),
    ("uss_per_waiter", "USS/waiter", format_bytes),
    ("pss_per_waiter", "PSS/waiter", format_bytes),
    ("vms_per_waiter", "VMS/waiter", format_bytes),
    ("kernel_per_waiter", "kernel/waiter", format_bytes),
    ("total_per_waiter", "total/waiter", format_bytes),
    ("capacity", "capacity", format_count),
    ("capacity_limit", "binding limit", str),
    ("rss_fit_r2", "R² (RSS)", lambda v: "-" if v != v else f"{v:.4f}"),
    ("spawn_per_waiter", "spawn/waiter", format_seconds),
    ("wake_per_waiter", "wake/waiter", format_seconds),
    ("vs_reference", "vs go", lambda v: format_ratio(v)),
    ("run", "run", str),
)

KEYS = ["machine", "interpreter", "model", "variant"]
LATENCY_KEYS = ["machine", "interpreter", "model", "primitive"]   # a hand-off is a primitive's


def latency_table(frame, pipes=None):
    """One row per (machine, run_id, model, primitive): the pyperf median one-way
    hand-off per placement, and tail percentiles at the largest N of parked waiters;
    with ``pipes`` ((machine, run id) -> the run's calibration pipe hand-off, seconds), the
    same-core median over it (``vs_pipe``)."""
    import pandas as pd

    keys = LATENCY_KEYS
    switch = frame[frame["metric"] == "switch_latency"]
    wide = switch.pivot_table(index=keys, columns="placement", values="value",
                              aggfunc="first", sort=False)
    wide = wide.rename(columns=lambda placement: f"switch {placement}")
    for (machine, interpreter, model, primitive, placement), cv in spreads(frame).items():
        wide.loc[(machine, interpreter, model, primitive), f"cv {placement}"] = cv
    timed = pd.concat([switch, frame[frame["metric"].isin(TAIL)]])
    if "basis" in timed:  # a run kept for want of a quiet one (current.py) says so
        timed = timed.assign(run_id=[run + (" (disturbed)" if basis == "disturbed" else "")
                                     for run, basis in zip(timed.run_id, timed.basis)])
    runs = timed.groupby(keys, sort=False).run_id.agg(lambda ids: ", ".join(sorted(set(ids))))
    tail = frame[frame["metric"].isin(["switch_p50", "switch_p99", "switch_p999", "switch_max"])]
    if not tail.empty:
        largest = tail[tail["n"] == tail.groupby(keys)["n"].transform("max")]
        tail_wide = largest.pivot_table(index=keys, columns="metric", values="value",
                                        aggfunc="median", sort=False)
        tail_wide["tail N"] = largest.groupby(keys)["n"].max()
        wide = wide.join(tail_wide, how="outer") if not wide.empty else tail_wide
    if wide.empty:
        return pd.DataFrame(columns=keys + ["run"])
    wide = wide.astype(float)
    wide["run"] = runs
    wide = with_reference_ratio(in_registry_order(wide.reset_index(), "primitive"), "switch same-core",
                                "primitive")
    if pipes and "switch same-core" in wide:
        switch_runs = switch.groupby(keys, sort=False).run_id.first()
        wide["vs_pipe"] = [
            row["switch same-core"] / pipes[key]
            if (key := (row["machine"], switch_runs.get(tuple(row[k] for k in keys)))) in pipes
            else float("nan")
            for _, row in wide.iterrows()]
    return wide


TAIL = ("switch_p50", "switch_p99", "switch_p999", "switch_max")


# pyperf's own check warns when the standard deviation exceeds 10% of the mean.
def stability(cv) -> str:
    """The spread of a median's pyperf values: '±4%', or '±32% unstable'."""
    if cv is None or cv != cv:
        return ""
    return f"±{cv * 100:.0f}%" + (" unstable" if cv > UNSTABLE_CV else "")


LATENCY_COLUMNS = (
    ("switch same-core", "same-core", format_seconds),
    ("cv same-core", "spread", stability),
    ("switch cross-core", "cross-core", format_seconds),
    ("cv cross-core", "spread", stability),
    ("tail N", "tail at N", format_count),
    ("switch_p50", "p50", format_seconds),
    ("switch_p99", "p99", format_seconds),
    ("switch_p999", "p99.9", format_seconds),
    ("switch_max", "max", format_seconds),
    ("vs_reference", "vs go", lambda v: format_ratio(v)),
    ("vs_pipe", "vs pipe", lambda v: format_ratio(v)),
    ("run", "run", str),
)

# The measured reference the Python models are set against: a goroutine receiving on a
# channel (its default variant and primitive), on the same machine and interpreter row.
REFERENCE = ("go", "chan")
CONNECTIONS_REFERENCE = ("go", "connections")  # what a connection is set against


def format_ratio(value: float) -> str:
    """0.44 -> '0.44x', 15.2 -> '15x', 1790.3 -> '1,790x'."""
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.0f}x"
    return f"{value:.2g}x"


def with_reference_ratio(wide, column: str, by: str = "variant"):
    """``wide`` with ``vs_reference``: each row's ``column`` over the reference row's
    (``REFERENCE``: go/chan, named in column ``by``: a variant or a primitive) of the same
    machine and interpreter; NaN where there is none."""
    if wide.empty or column not in wide:
        return wide

    bases = {}
    for model, variant in (REFERENCE, CONNECTIONS_REFERENCE):
        reference = wide[(wide["model"] == model) & (wide[by] == variant)]
        bases[variant] = {(row["machine"], row["interpreter"]): row[column]
                          for _, row in reference.iterrows()}
    wide = wide.copy()
    ratios = []
    for _, row in wide.iterrows():
        # a connection is set against a goroutine's connection, a waiter against a goroutine
        base = bases[CONNECTIONS_REFERENCE[1] if is_connections(row.get(by)) else REFERENCE[1]]
        key = (row["machine"], row["interpreter"])
        ratios.append(row[column] / base[key] if key in base and base[key] and base[key] == base[key]
                      else float("nan"))
    wide["vs_reference"] = ratios
    return wide


def table(frame):
    """One row per (machine, run_id, model, variant), one column per summary figure."""
    import pandas as pd

    shown = [metric for metric, _, _ in COLUMNS if metric not in ("capacity_limit", "run")]
    metrics = shown + [f"{metric[:-len('_per_waiter')]}_{extra}" for metric in shown
                       if metric.endswith("_per_waiter") for extra in CURVE_EXTRAS] + ["min_n"]
    figures = frame[frame["metric"].isin(metrics) & frame["n"].isna()]
    if figures.empty:
        return pd.DataFrame(columns=KEYS + metrics + ["capacity_limit", "run"])
    wide = figures.pivot_table(index=KEYS, columns="metric", values="value", aggfunc="first", sort=False)
    wide = wide.reindex(columns=metrics).astype(float)
    capacity = frame[frame["metric"] == "capacity"].set_index(KEYS)
    wide["capacity_limit"] = [
        f"{capacity.loc[key, 'limit']} ({capacity.loc[key, 'basis']})" if key in capacity.index else "-"
        for key in wide.index]
    memory = figures[figures["metric"] == "rss_per_waiter"].set_index(KEYS)["run_id"]
    wide["run"] = [memory.get(key, "-") for key in wide.index]
    return with_reference_ratio(in_registry_order(wide.reset_index()), "total_per_waiter")


CURVE_EXTRAS = ("nonlinear", "exponent", "at_min_n", "at_max_n", "noise")


def curve_text(row, metric: str, fmt) -> str | None:
    """``N^1.75: 71 µs → 6 ms`` for a per-waiter figure that is a curve (its exponent and
    the cost per waiter at the smallest and largest N measured), else ``None``."""
    if not metric.endswith("_per_waiter"):
        return None
    stem = metric[: -len("_per_waiter")]
    if row.get(f"{stem}_nonlinear") != 1:
        return None
    return (f"N^{row[f'{stem}_exponent']:.2f}: {fmt(row[f'{stem}_at_min_n'])} → "
            f"{fmt(row[f'{stem}_at_max_n'])}")


def noise_text(value, noise, fmt) -> str | None:
    """The one wording for a per-waiter cost that cannot be told from zero: ``noise, under
    40 B`` where it lies within its noise (``stats.slope_noise``), ``unsound, below zero``
    where it lies below zero beyond it (a disturbed run's kernel view); else ``None``. No
    command shows a negative cost per waiter."""
    if value is None or value != value:
        return None
    if noise is not None and noise == noise and abs(value) < noise:
        return f"noise, under {fmt(noise)}"
    if value < 0:
        return "unsound, below zero"
    return None


def cost_text(row, metric: str, fmt) -> str | None:
    """``noise_text`` of a summary row's per-waiter figure (``None`` for others)."""
    if not metric.endswith("_per_waiter") or fmt is not format_bytes:
        return None
    return noise_text(row.get(metric), row.get(f"{metric[:-len('_per_waiter')]}_noise"), fmt)


def _text_table(group, columns, second: str) -> list[str]:
    """Fixed-width rows of ``group``: model, its ``second`` column (a variant or a
    primitive), then ``columns``."""
    headings = ["model", second] + [heading for _, heading, _ in columns]
    left = {0, 1} | {i + 2 for i, (_, _, fmt) in enumerate(columns) if fmt in (str, stability)}
    rows = [
        [row["model"], row[second]]
        + [curve_text(row, metric, fmt) or cost_text(row, metric, fmt)
           or (_cell(row[metric], fmt) if metric in row else "-")
           for metric, _, fmt in columns]
        for _, row in group.iterrows()
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headings, *rows)]
    return [
        "  ".join(str(cell).ljust(width) if i in left else str(cell).rjust(width)
                  for i, (cell, width) in enumerate(zip(cells, widths))).rstrip()
        for cells in [headings] + rows
    ]


def _cell(value, fmt) -> str:
    if value is None or (not isinstance(value, str) and value != value):
        return "-"
    return fmt(value)


REQUEST_QUANTILES = (("request_p50", "p50"), ("request_p99", "p99"))


def connections_table(frame):
    """One row per (machine, interpreter, model, variant) of the connections workload:
    the server's total, its kernel share and the clients' per connection (slopes), and
    request round trips (p50, p99) at the smallest and largest N of idle connections."""
    import pandas as pd

    held = frame[frame.variant.map(is_connections)]
    if held.empty:
        return pd.DataFrame()
    rows = []
    for key, group in held.groupby(KEYS, sort=False):
        figures = group[group.n.isna()].set_index("metric")["value"]
        row = dict(zip(KEYS, key))
        for metric in ("total_per_waiter", "kernel_per_waiter", "kernel_client_per_waiter"):
            row[metric] = float(figures.get(metric, float("nan")))
            noise = f"{metric[:-len('_per_waiter')]}_noise"
            row[noise] = float(figures.get(noise, float("nan")))
        measured = group[group.metric.isin([m for m, _ in REQUEST_QUANTILES]) & group.n.notna()]
        if not measured.empty:
            low, high = int(measured.n.min()), int(measured.n.max())
            row["n_low"], row["n_high"] = low, high
            for metric, label in REQUEST_QUANTILES:
                for side, n in (("low", low), ("high", high)):
                    values = measured[(measured.metric == metric) & (measured.n == n)].value
                    row[f"{label}_{side}"] = float(values.median()) if not values.empty else float("nan")
        rows.append(row)
    return in_registry_order(pd.DataFrame(rows))


def _connection_lines(rows) -> list[str]:
    lines = []
    for row in rows.to_dict("records"):
        shown = {metric: noise_text(row[metric], row.get(f"{metric[:-len('_per_waiter')]}_noise"), format_bytes)
                 or format_bytes(row[metric])
                 for metric in ("total_per_waiter", "kernel_per_waiter", "kernel_client_per_waiter")}
        text = (f"  {row['model']}/{row['variant']}: server {shown['total_per_waiter']}"
                f" per connection (kernel {shown['kernel_per_waiter']}); clients' "
                f"kernel {shown['kernel_client_per_waiter']}")
        if row.get("n_low", float("nan")) == row.get("n_low", float("nan")):  # requests timed
            text += (f"; request p50/p99 {format_seconds(row['p50_low'])}/"
                     f"{format_seconds(row['p99_low'])} at {format_count(row['n_low'])} idle, "
                     f"{format_seconds(row['p50_high'])}/{format_seconds(row['p99_high'])} at "
                     f"{format_count(row['n_high'])}")
        lines.append(text)
    return lines


def render(wide, notes=(), latency=None, connections=None) -> str:
    """Fixed-width text of a ``table`` (and a ``latency_table``): a block per run."""
    latency = latency if latency is not None else wide.iloc[0:0]
    if wide.empty and latency.empty:
        return "\n".join(["no figures (every measurement failed or was skipped, or too few N "
                          "to fit)", *notes])
    blocks = []
    groups = dict.fromkeys(
        [tuple(key) for key in wide[["machine", "interpreter"]].values.tolist()]
        + [tuple(key) for key in latency[["machine", "interpreter"]].values.tolist()]
    )
    for machine, interpreter in groups:
        lines = [f"machine {machine}, {interpreter}"]
        memory = wide[(wide["machine"] == machine) & (wide["interpreter"] == interpreter)]
        if not memory.empty:
            lines += ["memory per idle waiter:"] + _text_table(memory, COLUMNS, "variant")
        if connections is not None and not connections.empty:
            held = connections[(connections["machine"] == machine)
                               & (connections["interpreter"] == interpreter)]
            if not held.empty:
                lines += ["", "idle TCP connections (server side; the clients' kernel share "
                              "apart):"] + _connection_lines(held)
        timing = latency[(latency["machine"] == machine) & (latency["interpreter"] == interpreter)]
        if not timing.empty:
            lines += ["", "one-way hand-off (pyperf median by placement; tail while N waiters "
                          "stay parked):"] + _text_table(timing, LATENCY_COLUMNS, "primitive")
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks)
    legend = (
        "per-waiter figures are slopes of a line fitted over N, each N in a fresh process;\n"
        "subprocess RSS/waiter is the naive sum over processes (counts shared pages once per\n"
        "worker): use PSS/waiter for what a worker really costs. kernel/waiter is the growth of\n"
        "KernelStack + SUnreclaim + PageTables, system-wide and so noisier; total = PSS + kernel.\n"
        "Each row shows the newest complete run that measured it (column run); capacity is\n"
        "measured where a sweep met the OS ceiling, else predicted from the figures.\n"
        "N^b: a figure that does not grow linearly (exponent b of cost against N), shown as\n"
        "its cost per waiter at the smallest and the largest N measured, never as one slope.\n"
        "spread: standard deviation over mean of a hand-off's pyperf values, or of the medians\n"
        "of its three interleaved rounds if larger; unstable above 10% (pyperf's own\n"
        "threshold): compare such figures only as ratios in one run. A run marked (disturbed)\n"
        "timed its hand-offs while the rest of the machine was busy: kept only where no quiet\n"
        "run timed them, never replacing one.\n"
        "vs go: total/waiter, and same-core hand-off, over a goroutine's (go/chan, the measured\n"
        "reference; a connection over go/connections) on the same machine and interpreter. vs pipe: the same-core hand-off over\n"
        "its run's calibration (a one-byte pipe hand-off between two processes on one CPU,\n"
        "measured at the run's start and end): it travels across days and machines better.\n"
        "connections: N loopback TCP connections opened by a separate client process; the\n"
        "server's kernel share is the pair's growth less the clients' sockets (slab counts);\n"
        "a request is one byte and its echo on one more connection, timed by the client."
    )
    return "\n".join([text, "", legend, *notes])


def limit_notes(frame) -> list[str]:
    """A line per sweep that an OS limit stopped: how far it got and which limit."""
    rows = frame[frame["metric"] == "limit_reached"]
    return [
        f"{row['machine']} {row['run_id']}: {row['model']}/{row['variant']} reached "
        f"{format_count(row['value'])} waiters before the OS refused one more; binding "
        f"limit: {row['limit']}"
        for _, row in rows.iterrows()
    ]
