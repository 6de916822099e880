"""The report's tables, as data: formatted strings with units, one row per model and
variant, no index. The notebook only displays them.
"""

from parkbench.analysis import sizing, tidy
from parkbench.analysis.compare import mann_whitney_p
from parkbench.analysis.compare import verdict as compare_verdict
from parkbench.analysis.switch_figures import spreads
from parkbench.core import registry
from parkbench.core.registry import in_registry_order, is_connections
from parkbench.core.units import format_bytes, format_count, format_seconds
from parkbench.measurement.suite import QUICK_VARIANTS
from parkbench.presentation.glossary import limits_key, short_limit
from parkbench.presentation.summary import (
    CONNECTIONS_REFERENCE,
    REFERENCE,
    connections_table,
    format_ratio,
    noise_text,
    stability,
)
from parkbench.store.checker import printable


def _value(rows, model, name, metric, placement=None):
    """The row of ``model``'s ``metric`` whose variant is ``name`` (a hand-off figure's:
    whose primitive is ``name``), at ``placement`` if given, or ``None``."""
    column = rows.primitive if metric.startswith("switch") else rows.variant
    found = rows[(rows.model == model) & (column == name) & (rows.metric == metric)]
    if placement is not None:
        found = found[found.placement == placement]
    return found.iloc[0] if len(found) else None


def _text(row, fmt, noise=None) -> str:
    """A figure with its unit; a cost per waiter within its noise (``noise``, the row of
    its ``<stem>_noise``) or below zero in the one wording every command uses."""
    if row is None or row.value != row.value:
        return "-"
    said = noise_text(row.value, None if noise is None else noise.value, fmt) \
        if fmt is format_bytes else None
    return said or fmt(row.value)


def _spread(spread: dict, key, primitive: str, placement: str) -> str:
    """' ±4%' (or ' ±32% unstable') after a hand-off median (``summary.spreads``)."""
    cv = spread.get((key.machine, key.interpreter, key.model, primitive, placement))
    return "" if cv is None else " " + stability(cv)


def _busy(row) -> str:
    """' disturbed' after a hand-off timed on a busy machine (``current.py``), or ''."""
    return " disturbed" if row is not None and getattr(row, "basis", None) == "disturbed" else ""


def headline(frame, machine: str):
    """Per model/variant of ``machine``'s current figures: bytes per waiter (RSS, PSS,
    kernel, total), the default primitive's hand-off by placement, capacity with its
    binding limit (measured or predicted), and the runs the row came from."""
    import pandas as pd

    mine = frame[(frame.machine == machine) & frame.n.isna()]
    keys = mine[mine.metric == "total_per_waiter"][["machine", "interpreter", "model", "variant"]]
    keys = in_registry_order(keys.drop_duplicates().reset_index(drop=True))
    spread = spreads(mine)

    references = {False: _reference(mine, REFERENCE[1]),
                  True: _reference(mine, CONNECTIONS_REFERENCE[1])}
    rows = []
    for key in keys.itertuples():
        one = mine[mine.interpreter == key.interpreter]
        memory = _value(one, key.model, key.variant, "total_per_waiter")
        capacity = _value(one, key.model, key.variant, "capacity")
        primitive = registry.MODELS[key.model].primitives[0] if key.model in registry.MODELS else "-"
        same = _value(one, key.model, primitive, "switch_latency", "same-core")
        cross = _value(one, key.model, primitive, "switch_latency", "cross-core")
        runs = {memory.run_id} | {r.run_id for r in (same, cross, capacity) if r is not None}
        rows.append({
            "model/variant": f"{key.model}/{key.variant}",
            "interpreter": key.interpreter,
            "RSS/waiter": _text(_value(one, key.model, key.variant, "rss_per_waiter"), format_bytes),
            "PSS/waiter": _text(_value(one, key.model, key.variant, "pss_per_waiter"), format_bytes),
            "kernel/waiter": _text(_value(one, key.model, key.variant, "kernel_per_waiter"), format_bytes,
                                   _value(one, key.model, key.variant, "kernel_noise")),
            "total/waiter": _text(memory, format_bytes, _value(one, key.model, key.variant, "total_noise")),
            "same-core": _text(same, format_seconds) + _spread(spread, key, primitive, "same-core") + _busy(same),
            "cross-core": _text(cross, format_seconds) + _spread(spread, key, primitive, "cross-core") + _busy(cross),
            "vs go: memory, hand-off": _versus(memory, same,
                                               references[is_connections(key.variant)].get(key.interpreter)),
            "capacity": _text(capacity, format_count),
            "binding limit": "-" if capacity is None else f"{short_limit(capacity['limit'])}, {capacity.basis}",
            "runs": ", ".join(sorted(runs)),
        })
    return pd.DataFrame(rows)


def run_key(table, column: str = "runs"):
    """``table`` with each cell of ``column`` (run ids, ", "-separated) replaced by short
    keys ("1, 3"), and the key: a list of (key, run id), oldest run first. A run id is 16
    characters; a row citing three of them made the headline table wider than a screen."""
    ids = sorted({run for cell in table[column] for run in str(cell).split(", ") if run})
    keys = {run: str(i) for i, run in enumerate(ids, start=1)}
    shown = table.assign(**{column: table[column].map(
        lambda cell: ", ".join(keys[run] for run in str(cell).split(", ") if run))})
    return shown, [(keys[run], run) for run in ids]


def _reference(mine, variant: str) -> dict:
    """interpreter -> (total per waiter of go/``variant``, same-core hand-off of go/chan):
    the measured reference (``summary.REFERENCE``: a goroutine on a channel; for a
    connection, ``summary.CONNECTIONS_REFERENCE``), where measured."""
    model, primitive = REFERENCE
    found = {}
    for interpreter in set(mine.interpreter):
        one = mine[mine.interpreter == interpreter]
        memory = _value(one, model, variant, "total_per_waiter")
        same = _value(one, model, primitive, "switch_latency", "same-core")
        if memory is not None and same is not None:
            found[interpreter] = (float(memory.value), float(same.value))
    return found


def _versus(memory, same, reference) -> str:
    """'0.44x, 15x': a row's total per waiter and same-core hand-off over the
    reference's (the column says which is which); '-' without a reference."""
    if reference is None or memory is None:
        return "-"
    text = format_ratio(memory.value / reference[0])
    if same is not None and same.value == same.value:
        text += f", {format_ratio(same.value / reference[1])}"
    return text


def headline_notes(table, frame) -> str:
    """The lines under the headline table: each model's hand-off primitive (the column
    the table leaves out) and the full names of the binding limits it shortens."""
    models = list(dict.fromkeys(label.split("/")[0] for label in table["model/variant"]))
    primitives = "; ".join(f"{model} {registry.MODELS[model].primitives[0]}" for model in models
                           if model in registry.MODELS)
    limits = frame[(frame.metric == "capacity") & frame.n.isna()]["limit"].dropna()
    key = limits_key(sorted(set(limits)))
    return (f"Hand-off timed with each model's default primitive: {primitives}."
            + (f" Binding limits: {key} (see the glossary)." if key else ""))


def primary_interpreter(frame, machine: str) -> str | None:
    """The interpreter a machine's main sections show: the one with the most figures
    (the one its full sweeps ran under), the newer on a tie."""
    labels = frame[frame.machine == machine].interpreter.value_counts()
    if labels.empty:
        return None
    return max(labels.index, key=lambda label: (labels[label], _version_key(label)))


def _version_key(label: str):
    """'CPython 3.12.1' -> (3, 12, 1); anything else after every version."""
    try:
        return tuple(int(part) for part in label.split()[-1].rstrip("t").split("."))
    except ValueError:
        return (10**6,)


def interpreters(frame, machine: str, values: dict):
    """Per model/variant of the default sweep measured under more than one interpreter
    of ``machine``: total per waiter and the default primitive's same-core hand-off by
    interpreter, each as a ratio to the oldest interpreter's, the hand-off with the
    Mann-Whitney test of its pyperf values (``values``: ``switch_figures.switch_values``).
    Empty when the machine has one interpreter."""
    import pandas as pd

    mine = frame[(frame.machine == machine) & frame.n.isna()]
    # a version's GIL build before its free-threaded one (``3.13.1`` < ``3.13.1t``): not
    # the set's order, which changes with the hash seed
    labels = sorted(set(mine.interpreter), key=lambda label: (_version_key(label), label))
    if len(labels) < 2:
        return pd.DataFrame()
    base = labels[0]
    # a free-threaded build against the GIL build of its version (3.13.5t / 3.13.5)
    twins = {label: label[:-1] for label in labels if tidy.is_free_threaded(label) and label[:-1] in labels}
    rows = []
    for model, variants in QUICK_VARIANTS.items():
        primitive = registry.MODELS[model].primitives[0]
        base_rows = mine[mine.interpreter == base]
        base_same = _value(base_rows, model, primitive, "switch_latency", "same-core")
        for variant in variants:
            base_memory = _value(base_rows, model, variant, "total_per_waiter")
            for label in labels:
                one = mine[mine.interpreter == label]
                memory = _value(one, model, variant, "total_per_waiter")
                same = _value(one, model, primitive, "switch_latency", "same-core")
                if memory is None and same is None:
                    continue
                verdict = "-"
                if label != base and same is not None and base_same is not None:
                    p = mann_whitney_p(values.get((machine, base, model, primitive, "same-core"), []),
                                       values.get((machine, label, model, primitive, "same-core"), []))
                    if p == p:
                        verdict = compare_verdict(p, same.value / base_same.value)[1]
                rows.append({
                    "model/variant": f"{model}/{variant}", "interpreter": label,
                    "total/waiter": _text(memory, format_bytes),
                    f"vs {base}": _ratio(memory, base_memory),
                    "same-core hand-off": _text(same, format_seconds) + f" ({primitive})",
                    f"hand-off vs {base}": _ratio(same, base_same),
                    "difference": verdict,
                    **({"free-threaded vs GIL build": _twin_ratios(mine, model, variant, primitive, label, twins)}
                       if twins else {}),
                })
    return pd.DataFrame(rows)


def _twin_ratios(mine, model: str, variant: str, primitive: str, label: str, twins: dict) -> str:
    """A free-threaded build's total per waiter and hand-off over its GIL build's, or -."""
    if label not in twins:
        return "-"
    one, gil = mine[mine.interpreter == label], mine[mine.interpreter == twins[label]]
    memory = _ratio(_value(one, model, variant, "total_per_waiter"), _value(gil, model, variant, "total_per_waiter"))
    same = _ratio(_value(one, model, primitive, "switch_latency", "same-core"),
                  _value(gil, model, primitive, "switch_latency", "same-core"))
    return f"memory {memory}, hand-off {same}"


def _ratio(row, base) -> str:
    if row is None or base is None or not base.value:
        return "-"
    return f"{row.value / base.value:.3f}x"


def workload_points(profiles, points):
    """Machines each model/variant needs at a few (W, R) points, as a table of text."""
    import pandas as pd

    rows = []
    labels = [profile.interpreter for profile in profiles]
    usual = max(set(labels), key=labels.count) if labels else None
    for profile in profiles:
        role = " (reference)" if sizing.is_reference(profile) else ""
        if profile.interpreter != usual:  # free-threaded threads beside the others
            role += f" ({plain(profile.interpreter)}, {profile.cores} cores)"
        row = {"model/variant": f"{profile.model}/{profile.variant}{role}"}
        for waiters, rate in points:
            machines, binding = sizing.machines_needed(profile, waiters, rate)
            count = "-" if binding in ("no served rate", "no wake rate") else (
                "never" if machines == float("inf") else format_count(machines))
            row[f"W {format_count(waiters)}, R {format_count(rate)}/s"] = f"{count} ({binding})"
        rows.append(row)
    return pd.DataFrame(rows)


def sources(current, machine: str):
    """Where each family of figures of ``machine`` came from, and why."""
    import pandas as pd

    rows = []
    for source in current.sources:
        if source["machine"] != machine:
            continue
        run = current.runs.get((machine, source["run_id"]))
        rows.append({"interpreter": run.interpreter if run else "-",
                     "figures": f"{source['family']} {source['what']}",
                     "run": source["run_id"], "why": source["reason"]})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    order = sorted(range(len(table)), key=lambda i: _version_key(table.interpreter.iloc[i]))
    table = table.iloc[order].reset_index(drop=True)  # stable: each interpreter's rows in order
    return table.drop(columns=["interpreter"]) if table.interpreter.nunique() == 1 else table


def connections(frame, machine: str):
    """The connections workload of ``machine``, per model and variant: the server's PSS,
    kernel share and total per connection, the clients' kernel share apart, capacity
    and its limit, and a request's p50/p99 round trip at the smallest and largest N of
    idle connections, formatted for display."""
    import pandas as pd

    mine = frame[frame.machine == machine]
    table = connections_table(mine)
    if table.empty:
        return pd.DataFrame()
    figures = mine[mine.n.isna()]

    def figure(row, metric):
        values = figures[(figures.model == row["model"]) & (figures.variant == row["variant"])
                         & (figures.metric == metric)]
        return values.iloc[0] if not values.empty else None

    rows = []
    for row in table.to_dict("records"):
        pss, bound = figure(row, "pss_per_waiter"), figure(row, "capacity")
        requests = "-"
        if row.get("n_low", float("nan")) == row.get("n_low", float("nan")):
            requests = (f"{format_seconds(row['p50_low'])} / {format_seconds(row['p99_low'])} at "
                        f"{format_count(row['n_low'])}; {format_seconds(row['p50_high'])} / "
                        f"{format_seconds(row['p99_high'])} at {format_count(row['n_high'])}")
        rows.append({
            "model/variant": f"{row['model']}/{row['variant']}",
            "server PSS": format_bytes(pss.value) if pss is not None else "-",
            "server kernel": format_bytes(row["kernel_per_waiter"]),
            "server total": format_bytes(row["total_per_waiter"]),
            "clients' kernel (apart)": format_bytes(row["kernel_client_per_waiter"]),
            "capacity (limit)": (f"{format_count(bound.value)} ({bound['limit']}, {bound.basis})"
                                 if bound is not None else "-"),
            "request p50 / p99 at smallest N; at largest N": requests,
        })
    return pd.DataFrame(rows)


def plain(value) -> str:
    """Text from a results file made safe to put in the report's Markdown: HTML's
    special characters escaped (no tag a file wrote ever reaches the page), Markdown's
    punctuation backslashed, control characters shown as ``\\xNN``. Backslashed first,
    so that the ``#`` of an entity (``&#x27;``, a quote) stays one and shows as a quote
    (``>`` needs no backslash: as ``&gt;`` it starts no quote block)."""
    import html as html_module

    text = "".join("\\" + ch if ch in "\\`*_{}[]()#+!|~-" else ch for ch in printable(value))
    return html_module.escape(text, quote=True)


SET_ASIDE_SHOWN = 20  # lines of set-aside files on the page; 'parkbench check' lists all


def set_aside(refused) -> str | None:
    """Markdown naming the run files the report left out (``run_reader.SetAside``) and
    why, each escaped (a name or reason comes from disk); ``None`` if there is none."""
    if not refused:
        return None
    lines = [f"- {plain(item.text())}" for item in refused[:SET_ASIDE_SHOWN]]
    if len(refused) > SET_ASIDE_SHOWN:
        lines.append(f"- and {len(refused) - SET_ASIDE_SHOWN:,} more")
    return (f"**Set aside:** {len(refused):,} run file{'s' if len(refused) > 1 else ''} in these "
            f"results {'is' if len(refused) == 1 else 'are'} not read, and no figure below comes "
            f"from {'it' if len(refused) == 1 else 'them'} (`parkbench check` lists them):\n\n"
            + "\n".join(lines))


def html(table, text: bool = False) -> str:
    """A table as compact HTML, no index: first column left, the rest right (numbers),
    or every column left (``text``)."""
    return table.to_html(index=False, escape=True, border=0,
                         classes="parkbench text" if text else "parkbench")
