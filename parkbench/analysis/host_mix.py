"""Which hosts, and which machine kinds, speak for a machine's current figures: a
machine folder names a machine kind, and two hosts of one shape get one derived name
(``machine.py``). Where a machine's current figures come from more than one recorded
host, or from runs whose CPU models differ, every reader says so (``show`` and the
report in their notes, ``fit`` in a ``hosts:`` line, ``show --format json`` in its
``hosts`` records). A run that recorded no host (results format 5 and older) is "host
not recorded", never a host of its own; its CPU model is in its machine description.
Returns data; prints nothing.
"""

from parkbench.store import hosts
from parkbench.store.results import run_order


def _key(host: dict | None, ids_by_name: dict) -> str:
    """One key per host as ``hosts.same`` tells them apart: by machine id, and a host
    without one by its name, or as the one host of that name that has an id."""
    if not host:
        return ""
    if host.get("id"):
        return f"id:{host['id']}"
    ids = ids_by_name.get(host.get("hostname"), set())
    return f"id:{next(iter(ids))}" if len(ids) == 1 else f"name:{host.get('hostname')}"


def speaking(current) -> dict[str, list[dict]]:
    """Per machine, who speaks for its current figures (``current``'s sources): one entry
    per host and CPU model, ``{"host": label, "cpu_model": ..., "runs": [run ids, oldest
    first]}``, in the order of their oldest runs."""
    grouped: dict[str, dict[tuple, dict]] = {}
    speakers = [(machine, run_id, current.runs.get((machine, run_id)))
                for machine, run_id in sorted({(s["machine"], s["run_id"]) for s in current.sources})]
    ids_by_name: dict[str, dict] = {}  # per machine: hostname -> the machine ids it was seen with
    for machine, _, run in speakers:
        if run is not None and run.host and run.host.get("id"):
            ids_by_name.setdefault(machine, {}).setdefault(run.host.get("hostname"), set()).add(run.host["id"])
    for machine, run_id, run in speakers:
        host, cpu = (run.host, run.cpu_model) if run is not None else (None, None)
        key = _key(host, ids_by_name.get(machine, {}))
        named = {**host, "id": key[3:]} if host and key.startswith("id:") else host  # one host, one label
        entry = grouped.setdefault(machine, {}).setdefault(
            (key, cpu), {"host": hosts.label(named), "cpu_model": cpu, "runs": []})
        entry["runs"].append(run_id)
    result = {}
    for machine, entries in grouped.items():
        for entry in entries.values():
            entry["runs"].sort(key=run_order)
        result[machine] = sorted(entries.values(), key=lambda entry: run_order(entry["runs"][0]))
    return result


def _counts(entries: list[dict]) -> tuple[int, int]:
    """(recorded hosts, CPU models) among ``entries``."""
    recorded = {entry["host"] for entry in entries if entry["host"] != hosts.label(None)}
    return len(recorded), len({entry["cpu_model"] for entry in entries if entry["cpu_model"]})


def mixed(current) -> dict[str, list[dict]]:
    """``speaking``, only for machines whose figures come from two or more hosts or CPU models."""
    return {machine: entries for machine, entries in speaking(current).items()
            if max(_counts(entries)) > 1}


def _runs_text(run_ids: list[str]) -> str:
    if len(run_ids) <= 3:
        return f"run{'s' if len(run_ids) > 1 else ''} {', '.join(run_ids)}"
    return f"{len(run_ids)} runs, {run_ids[0]} to {run_ids[-1]}"


def note(machine: str, entries: list[dict]) -> str:
    """The line that says a machine's figures come from more than one host or CPU model."""
    count_hosts, count_cpus = _counts(entries)
    what = " and ".join(text for count, text in ((count_hosts, f"{count_hosts} hosts"),
                                                 (count_cpus, f"{count_cpus} CPU models")) if count > 1)
    return (f"{machine}: current figures come from {what} under one machine name: "
            + "; ".join(f"{'host ' if entry['host'] == hosts.label(None) else ''}{entry['host']}"
                        f"{', ' + entry['cpu_model'] if entry['cpu_model'] else ''}: {_runs_text(entry['runs'])}"
                        for entry in entries)
            + "; give each its own name (parkbench run --machine NAME) to keep them apart")


def notes(current) -> list[str]:
    """One line per machine whose current figures come from more than one host or CPU model."""
    return [note(machine, entries) for machine, entries in mixed(current).items()]
