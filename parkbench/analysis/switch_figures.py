"""Switch-latency figures beyond the median: how much each median can be trusted (its
spread over values and over interleaved rounds) and the pyperf values behind it, for the
significance of a comparison and for the plots."""

from parkbench.store import pyperf_files

# A hand-off median whose spread (``spreads``) is above this is marked unstable.
UNSTABLE_CV = 0.10


def spreads(frame) -> dict:
    """(machine, interpreter, model, primitive, placement) -> the spread of each switch
    median: the larger of its pyperf values' standard deviation over mean and, where the
    benchmark ran in interleaved rounds, its rounds' medians' (a benchmark can be tight
    within each round and still move between rounds). The one place it is computed."""
    rows = frame[frame["metric"].isin(["switch_latency_mean", "switch_latency_stdev",
                                       "switch_latency_round_cv"])]
    found: dict = {}
    for row in rows.itertuples():
        key = (row.machine, row.interpreter, row.model, row.primitive, row.placement)
        found.setdefault(key, {})[row.metric] = row.value
    return {key: max(stats["switch_latency_stdev"] / stats["switch_latency_mean"],
                     stats.get("switch_latency_round_cv", 0.0))
            for key, stats in found.items()
            if stats.get("switch_latency_mean") and "switch_latency_stdev" in stats}


def switch_values(current) -> dict:
    """(machine, interpreter, model, primitive, placement) -> the pyperf values (seconds)
    behind each current switch median (``current.select``), read from the run's pyperf
    files. A missing or malformed file is a ``UserError``."""
    frame = current.frame
    medians = frame[frame.metric == "switch_latency"]
    found = {}
    for row in medians.itertuples():
        run = current.runs[(row.machine, row.run_id)]
        file = run.switch_files.get((row.model, row.primitive, row.placement))
        if file is None:
            continue  # a median without its benchmark record (a hand-edited file): no values
        found[(row.machine, row.interpreter, row.model, row.primitive, row.placement)] = \
            pyperf_files.values(run.path.parent / file)
    return found
