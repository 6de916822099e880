"""Run files -> one tidy DataFrame, one row per (machine, interpreter, run, model,
variant, primitive, placement, metric, n).

``load(paths)`` reads any mix of results folders, machine folders and run files.
``load_runs(paths)`` also returns what each run needs for its interpretation (whether
it is complete, the OS limits in force, its parameters and failures), which the
current-figures rule (``current.py``) uses.

Raw memory measurements have metric ``rss``, ``uss``, ``pss``, ``vms``, ``kernel``,
``total`` (bytes), ``maps``, ``maps_added`` (mappings, and those added over the probe's
baseline), ``spawn_seconds``, ``wake_seconds`` (seconds) and their N; a connections
probe adds ``kernel_client`` (the clients' share, bytes) and ``request_p50`` ...
``request_max`` (a request's round trip under load, seconds); tail latency has
``switch_p50`` ... ``switch_max`` (seconds) with the N of parked waiters, ``variant``
the variant parked and ``primitive`` the hand-off timed; figures (``rss_per_waiter``,
``switch_latency`` ...: ``figures``) have no N, and a switch figure names its
``primitive`` and ``placement`` (no variant: the benchmark parks none); ``capacity``
and ``limit_reached`` rows name the limit in ``limit``. ``primitive`` is empty on every
other row.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from parkbench.analysis import served_figures, slopes, wake_figures
from parkbench.analysis.slopes import FITTED, measurement_value
from parkbench.store import record_schema, run_reader
from parkbench.store.checker import printable

COLUMNS = ("machine", "interpreter", "run_id", "model", "variant", "primitive", "placement", "metric", "n",
           "value", "unit", "repeat", "limit")
TAIL_METRICS = ("switch_p50", "switch_p99", "switch_p999", "switch_max")


@dataclass
class Run:
    """What interpreting one run needs beside its rows."""

    path: Path
    machine: str
    run_id: str
    interpreter: str
    complete: bool
    parameters: dict
    limits: dict | None
    logical_cpus: int | None
    failures: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    upgraded_from: int | None = None
    # (model, primitive, placement) -> its pyperf file, relative to the machine folder
    switch_files: dict = field(default_factory=dict)
    calibration: dict | None = None   # calibration.py's measurements at start and end
    host: dict | None = None          # the host it ran on (store/hosts.py); None: not recorded
    cpu_model: str | None = None      # from its machine description


def interpreter_key(interpreter: dict | None) -> str:
    """The label of an interpreter: ``CPython 3.11.7`` (``t`` for free-threaded)."""
    if not interpreter:
        return "unknown"
    suffix = "t" if interpreter.get("gil_disabled") else ""
    return printable(f"{interpreter.get('implementation', '?')} {interpreter.get('version', '?')}{suffix}")


def is_free_threaded(label: str) -> bool:
    """Whether an interpreter's label (``interpreter_key``) names a build without the GIL
    (``CPython 3.13.5t``): its threads run Python on every core."""
    return str(label).endswith("t")


def _run_info(path: Path, document: dict) -> Run:
    description = document.get("machine_description") or {}
    return Run(path=Path(path), machine=document["machine"], run_id=document["run_id"],
               interpreter=interpreter_key(document.get("interpreter")),
               complete=document["complete"], parameters=document["parameters"],
               limits=description.get("limits"), logical_cpus=description.get("logical_cpus"),
               failures=document["failures"], skipped=document.get("skipped", []),
               upgraded_from=document.get("upgraded_from"),
               switch_files={(r["model"], r["primitive"], r["placement"]): r["file"]
                             for r in document["measurements"] if r["kind"] == "switch"},
               calibration=document.get("calibration"), host=document.get("host"),
               cpu_model=description.get("cpu_model"))


def tidy_rows(document: dict) -> list[dict]:
    """The tidy rows of one (checked) run document: raw measurements, then figures."""
    base = {"machine": document["machine"], "run_id": document["run_id"],
            "interpreter": interpreter_key(document.get("interpreter"))}
    rows = []
    for record in document["measurements"]:
        if record["kind"] == "memory":
            common = {**base, "model": record["model"], "variant": record["variant"],
                      "placement": None, "n": record["n"], "repeat": record.get("repeat")}
            for key, _stem, unit in FITTED:
                value = measurement_value(record, key)
                if value is None:
                    continue  # no mappings before they were counted; no wake where not timed
                rows.append({**common, "metric": key, "value": value, "unit": unit})
            held = record.get("connections") or {}
            rows += [{**common, "metric": metric, "value": held[metric], "unit": "seconds"}
                     for metric in record_schema.REQUEST_METRICS if metric in held]
            baseline_maps = (record.get("baseline") or {}).get("maps")
            if record["memory"].get("maps") is not None and baseline_maps is not None:
                rows.append({**common, "metric": "maps_added", "unit": "mappings",
                             "value": record["memory"]["maps"] - baseline_maps})
        elif record["kind"] == "tail":
            common = {**base, "model": record["model"], "variant": record["variant"],
                      "primitive": record["primitive"], "placement": record.get("placement"),
                      "n": record["n"], "repeat": record.get("repeat")}
            rows += [{**common, "metric": metric, "value": record["tail"][metric], "unit": "seconds"}
                     for metric in TAIL_METRICS]
            activity = record.get("interference")
            if activity is not None:  # the rest of the machine while it timed (runner.py)
                rows.append({**common, "metric": "tail_disturbed", "unit": "flag",
                             "value": float(bool(activity.get("disturbed")))})
    rows += served_figures.rows(document, base) + wake_figures.rows(document, base)
    for figure in figures(document):
        rows.append({
            **base, "model": figure["model"], "variant": figure["variant"],
            "primitive": figure.get("primitive"),
            "placement": figure.get("placement"), "metric": figure["metric"],
            "n": None, "value": figure["value"], "unit": figure["unit"],
            "repeat": None, "limit": figure.get("limit"),
        })
    return rows


def figures(document: dict) -> list[dict]:
    """The figures of one (checked) run document: those derived from its records,
    whenever it is read (memory fits, switch latency, the served rate: one source for
    every run, whatever code stored it), once it is complete; then those it stored as
    it ended (``record_schema.STORED_FIGURES``: they depend on the limits in force then)."""
    derived = []
    if document["complete"]:  # an interrupted run speaks for nothing
        derived = slopes.derive(document["measurements"])
    return derived + [figure for figure in document["figures"] if figure["metric"] in record_schema.STORED_FIGURES]


def frame_of(rows):
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["n"] = frame["n"].astype("Int64")
    frame["repeat"] = frame["repeat"].astype("Int64")
    frame["value"] = frame["value"].astype(float)
    return frame


def load_runs(paths, set_aside: list | None = None):
    """(tidy DataFrame of every run, {(machine, run_id): Run}) of the given targets.
    With ``set_aside`` a list, a bad run file in a folder is added to it (a
    ``run_reader.SetAside``), and so is a second file of a run already read (a run
    counts once); the rest are read. Without, either is an error."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows, runs = [], {}
    first = run_reader.FirstOfEachRun()  # a second file of one run is set aside, not counted
    for target in paths:
        for path, document in run_reader.each_run(target, set_aside, first):
            runs[(document["machine"], document["run_id"])] = _run_info(path, document)
            rows.extend(tidy_rows(document))
    return frame_of(rows), runs


def load(paths):
    """Any mix of results folders, machine folders and run files -> tidy DataFrame
    (columns ``COLUMNS``; every row of every run, before the current-figures rule)."""
    return load_runs(paths)[0]
