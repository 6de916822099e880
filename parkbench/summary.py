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
    ("rss_fit_r2", "R² (RSS)", lambda v: "-" if v != v else f"{v:.4f}"),
    ("spawn_per_waiter", "spawn/waiter", format_seconds),
    ("wake_per_waiter", "wake/waiter", format_seconds),
)

KEYS = ["machine", "run_id", "model", "variant"]


def table(frame):
    """One row per (machine, run_id, model, variant), one column per summary figure."""
    import pandas as pd

    metrics = [metric for metric, _, _ in COLUMNS]
    figures = frame[frame["metric"].isin(metrics) & frame["n"].isna()]
    if figures.empty:
        return pd.DataFrame(columns=KEYS + metrics)
    wide = figures.pivot_table(index=KEYS, columns="metric", values="value", aggfunc="first", sort=False)
    return wide.reindex(columns=metrics).reset_index()


def render(wide, notes=()) -> str:
    """Fixed-width text of a ``table``: a block per (machine, run)."""
    if wide.empty:
        return "\n".join(["no figures (every measurement failed or was skipped, or too few N to fit)", *notes])
    blocks = []
    for (machine, run_id), group in wide.groupby(["machine", "run_id"], sort=False):
        headings = ["model", "variant"] + [heading for _, heading, _ in COLUMNS]
        rows = [
            [row["model"], row["variant"]]
            + [fmt(row[metric]) for metric, _, fmt in COLUMNS]
            for _, row in group.iterrows()
        ]
        widths = [max(len(str(cell)) for cell in column) for column in zip(headings, *rows)]
        lines = [f"machine {machine}, run {run_id}"]
        for cells in [headings] + rows:
            lines.append("  ".join(
                str(cell).ljust(width) if i < 2 else str(cell).rjust(width)
                for i, (cell, width) in enumerate(zip(cells, widths))
            ))
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks)
    legend = (
        "per-waiter figures are slopes of a line fitted over N, each N in a fresh process;\n"
        "subprocess RSS/waiter is the naive sum over processes (counts shared pages once per\n"
        "worker): use PSS/waiter for what a worker really costs. kernel/waiter is the growth of\n"
        "KernelStack + SUnreclaim + PageTables, system-wide and so noisier; total = PSS + kernel."
    )
    return "\n".join([text, "", legend, *notes])
