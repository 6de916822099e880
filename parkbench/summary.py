"""The summary table: derived figures per (machine, run, model, variant).

``table`` returns data (a wide DataFrame of numbers); ``render`` turns it into text for
the terminal. The CLI's ``run`` and ``show`` both print through here.
"""

from parkbench.sizes import format_bytes, format_count, format_seconds

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
    ("rss_fit_r2", "R² (RSS)", lambda v: "-" if v != v else f"{v:.4f}"),
    ("spawn_per_waiter", "spawn/waiter", format_seconds),
    ("wake_per_waiter", "wake/waiter", format_seconds),
)

KEYS = ["machine", "run_id", "model", "variant"]


def latency_table(frame):
    """One row per (machine, run_id, model, primitive): the pyperf median one-way
    hand-off per placement, and tail percentiles at the largest N of parked waiters."""
    import pandas as pd

    keys = ["machine", "run_id", "model", "variant"]
    switch = frame[frame["metric"] == "switch_latency"]
    wide = switch.pivot_table(index=keys, columns="placement", values="value",
                              aggfunc="first", sort=False)
    wide = wide.rename(columns=lambda placement: f"switch {placement}")
    tail = frame[frame["metric"].isin(["switch_p50", "switch_p99", "switch_p999", "switch_max"])]
    if not tail.empty:
        largest = tail[tail["n"] == tail.groupby(keys)["n"].transform("max")]
        tail_wide = largest.pivot_table(index=keys, columns="metric", values="value",
                                        aggfunc="median", sort=False)
        tail_wide["tail N"] = largest.groupby(keys)["n"].max()
        wide = wide.join(tail_wide, how="outer") if not wide.empty else tail_wide
    if wide.empty:
        return pd.DataFrame(columns=keys)
    return wide.astype(float).reset_index()


LATENCY_COLUMNS = (
    ("switch same-core", "same-core", format_seconds),
    ("switch cross-core", "cross-core", format_seconds),
    ("tail N", "tail at N", format_count),
    ("switch_p50", "p50", format_seconds),
    ("switch_p99", "p99", format_seconds),
    ("switch_p999", "p99.9", format_seconds),
    ("switch_max", "max", format_seconds),
)


def table(frame):
    """One row per (machine, run_id, model, variant), one column per summary figure."""
    import pandas as pd

    metrics = [metric for metric, _, _ in COLUMNS]
    figures = frame[frame["metric"].isin(metrics) & frame["n"].isna()]
    if figures.empty:
        return pd.DataFrame(columns=KEYS + metrics)
    wide = figures.pivot_table(index=KEYS, columns="metric", values="value", aggfunc="first", sort=False)
    return wide.reindex(columns=metrics).astype(float).reset_index()


def _text_table(group, columns, second: str) -> list[str]:
    headings = ["model", second] + [heading for _, heading, _ in columns]
    rows = [
        [row["model"], row["variant"]]
        + [fmt(row[metric]) if metric in row else "-" for metric, _, fmt in columns]
        for _, row in group.iterrows()
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headings, *rows)]
    return [
        "  ".join(str(cell).ljust(width) if i < 2 else str(cell).rjust(width)
                  for i, (cell, width) in enumerate(zip(cells, widths)))
        for cells in [headings] + rows
    ]


def render(wide, notes=(), latency=None) -> str:
    """Fixed-width text of a ``table`` (and a ``latency_table``): a block per run."""
    latency = latency if latency is not None else wide.iloc[0:0]
    if wide.empty and latency.empty:
        return "\n".join(["no figures (every measurement failed or was skipped, or too few N to fit)", *notes])
    blocks = []
    runs = dict.fromkeys(
        [tuple(key) for key in wide[["machine", "run_id"]].values.tolist()]
        + [tuple(key) for key in latency[["machine", "run_id"]].values.tolist()]
    )
    for machine, run_id in runs:
        lines = [f"machine {machine}, run {run_id}"]
        memory = wide[(wide["machine"] == machine) & (wide["run_id"] == run_id)]
        if not memory.empty:
            lines += ["memory per idle waiter:"] + _text_table(memory, COLUMNS, "variant")
        timing = latency[(latency["machine"] == machine) & (latency["run_id"] == run_id)]
        if not timing.empty:
            lines += ["", "one-way hand-off (pyperf median by placement; tail while N waiters "
                          "stay parked):"] + _text_table(timing, LATENCY_COLUMNS, "primitive")
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks)
    legend = (
        "per-waiter figures are slopes of a line fitted over N, each N in a fresh process;\n"
        "subprocess RSS/waiter is the naive sum over processes (counts shared pages once per\n"
        "worker): use PSS/waiter for what a worker really costs. kernel/waiter is the growth of\n"
        "KernelStack + SUnreclaim + PageTables, system-wide and so noisier; total = PSS + kernel."
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
