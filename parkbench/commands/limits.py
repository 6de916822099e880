"""``parkbench limits``: the OS limits that bound waiters on this machine, then the
capacity of each model and variant: measured where a sweep met the ceiling, else
predicted from this machine's current figures and the limits in force when each run ran
(the figure show, fit and the report give), or with ``--live`` from the limits now
(memory available now: it moves from one call to the next), with the run each figure
came from."""

from pathlib import Path

from parkbench.analysis import current
from parkbench.analysis.current_capacity import describe_check
from parkbench.commands import output
from parkbench.core import registry
from parkbench.core.units import format_bytes
from parkbench.measurement import limits, machine
from parkbench.store import results


def limit_lines(values: dict) -> list[str]:

    def count(value):
        return "unlimited" if value is None else f"{value:,}"

    def size(value):
        return "unlimited" if value is None else format_bytes(value)

    nproc, nofile, stack = values["rlimit_nproc"], values["rlimit_nofile"], values["rlimit_stack"]
    root_note = "  (not enforced for root)" if values["is_root"] else ""
    rows = [
        ("kernel.pid_max", count(values["pid_max"])),
        ("kernel.threads-max", count(values["threads_max"])),
        ("vm.max_map_count", count(values["max_map_count"])),
        ("ulimit -u (processes+threads)", f"{count(nproc['soft'])} soft, {count(nproc['hard'])} hard{root_note}"),
        ("ulimit -n (open files)", f"{count(nofile['soft'])} soft, {count(nofile['hard'])} hard"),
        ("ulimit -s (stack)", f"{size(stack['soft'])} soft, {size(stack['hard'])} hard"),
        ("cgroup pids.max", count(values["cgroup_pids_max"])),
        ("cgroup memory limit", size(values["cgroup_memory_max"])),
        ("memory available", size(values["memory_available"])),
        ("tasks (threads) in use", count(values["tasks_in_use"])),
    ]
    # the connections workload's limits (absent from results stored before it)
    if values.get("nr_open") is not None:
        rows.append(("fs.nr_open (hard ulimit -n ceiling)", count(values["nr_open"])))
    if values.get("ephemeral_ports") is not None:
        rows.append(("ephemeral ports (per client address)", count(values["ephemeral_ports"])))
    if values.get("nf_conntrack_max") is not None:
        rows.append(("net.netfilter.nf_conntrack_max",
                     f"{count(values['nf_conntrack_max'])} ({count(values.get('nf_conntrack_count'))} "
                     f"tracked now)"))
    width = max(len(name) for name, _ in rows)
    return [f"  {name.ljust(width)}  {value}" for name, value in rows]


def capacity_rows(name: str, results_folder: Path, values: dict, live: bool = False) -> tuple[list[dict], list[dict]]:
    """One row per registered model and variant, and per variant with stored figures;
    and the predictions checked against measured ceilings (``current.Current.checks``).
    A prediction from stored figures uses the limits in force when their run ran (as
    every other reader does), or ``values`` (this machine's now) where ``live``; a
    variant without stored figures can only be predicted from ``values``."""
    folder = Path(results_folder) / name
    stored, checks = None, []
    if results.has_runs(folder):
        figures = current.load([folder], limits=values if live else None)
        output.set_aside(figures.set_aside)
        stored, checks = figures.frame, figures.checks
    rows, seen = [], set()
    if stored is not None:
        for row in stored[stored.metric == "capacity"].itertuples():
            seen.add((row.model, row.variant))
            rows.append({"label": f"{row.model}/{row.variant}", "interpreter": row.interpreter,
                         "waiters": int(row.value), "limit": row.limit, "basis": row.basis,
                         "detail": row.detail, "run": row.run_id,
                         "how": limits.HOW_TO_RAISE.get(row.limit, "")})
    if stored is not None:  # memory figures whose run recorded no limits (format 1): nothing to predict by
        memory = stored[stored.metric == "rss_per_waiter"]
        for row in memory.itertuples():
            if (row.model, row.variant) in seen:
                continue
            seen.add((row.model, row.variant))
            rows.append({"label": f"{row.model}/{row.variant}", "interpreter": row.interpreter,
                         "waiters": None, "limit": "-", "basis": "not predicted",
                         "detail": "its memory run recorded no OS limits (format-1 runs did not); "
                                   "--live predicts from the limits now", "run": row.run_id, "how": ""})
    for model in registry.MODELS.values():
        for variant in model.variants:
            if (model.name, variant) in seen:
                continue
            bound = limits.capacity(model.name, variant, values)
            rows.append({"label": f"{model.name}/{variant}", "interpreter": "",
                         "waiters": bound.waiters if bound else None,
                         "limit": bound.limit if bound else "none known",
                         "basis": "predicted, OS only (no memory figures stored; the limits now)",
                         "detail": bound.detail if bound else "", "run": "",
                         "how": bound.how_to_raise if bound else ""})
    order = {f"{m.name}/{v}": i for i, (m, v) in enumerate(
        (model, variant) for model in registry.MODELS.values() for variant in model.variants)}
    return sorted(rows, key=lambda row: (order.get(row["label"], len(order)), row["label"])), checks


def check_lines(checks: list[dict]) -> list[str]:
    """Each prediction checked against a measured ceiling, one line each."""
    if not checks:
        return []
    labels = [f"{c['model']}/{c['variant']}" for c in checks]
    width = max(map(len, labels))
    interpreters = max(len(c["interpreter"]) for c in checks)
    return ["", "predictions checked against measured ceilings (counted figures, limits in force "
                "at the ceiling):",
            *(f"  {label.ljust(width)}  {c['interpreter'].ljust(interpreters)}  {describe_check(c)}"
              for label, c in zip(labels, checks))]


def run(args) -> int:
    values = limits.read()
    name = machine.resolve_name(args.machine)
    rows, checks = capacity_rows(name, Path(args.results), values, live=args.live)
    which = ("the limits above, now (--live: memory available now included, so it moves from one "
             "call to the next; show, fit and the report use the limits in force when each run ran)"
             if args.live else "the limits in force when that run ran, as show, fit and the report "
             "give it (--live: the limits above, now)")
    lines = [f"limits that bound waiters on this machine ({name}):", *limit_lines(values), "",
             f"capacity per model (measured: a sweep met the OS ceiling; predicted: the smallest "
             f"bound from the run's figures and {which}):"]
    widths = [max(len(row["label"]) for row in rows),
              max(len(f"{row['waiters']:,}") if row["waiters"] is not None else 1 for row in rows),
              max(len(row["limit"]) for row in rows)]
    for row in rows:
        waiters = f"{row['waiters']:,}" if row["waiters"] is not None else "-"
        source = f" [{row['interpreter']}, run {row['run']}]" if row["run"] else ""
        how = f"; raise: {row['how']}" if row["how"] else ""
        lines.append(f"  {row['label'].ljust(widths[0])}  {waiters.rjust(widths[1])}  "
                     f"{row['limit'].ljust(widths[2])}  {row['basis']}: {row['detail']}{source}{how}")
    lines += check_lines(checks)
    output.write("\n".join(lines))
    return 0
