"""Synthetic run files whose figures are known exactly: every memory view with its own
slope and intercept, uneven N, so that a figure taken from the wrong view, a wrong
formula or the wrong run shows in a test."""

from datetime import UTC, datetime

from parkbench.analysis import capacity
from parkbench.store import run_file

INTERPRETER = {"implementation": "CPython", "version": "3.11.7", "executable": "python3.11"}
LIMITS = {"pid_max": 32768, "threads_max": 192729, "max_map_count": 65530,
          "rlimit_nproc": {"soft": 96364, "hard": 96364},
          "rlimit_nofile": {"soft": 20000, "hard": 20000},
          "rlimit_stack": {"soft": 8388608, "hard": None}, "cgroup_pids_max": None,
          "cgroup_memory_max": None, "memory_available": 24 * 2**30,
          "memory_total": 25 * 2**30, "tasks_in_use": 100, "is_root": True}
# per view: (fixed bytes, bytes per waiter); total = PSS + kernel
VIEWS = {"rss": (30e6, 1300.0), "uss": (20e6, 1100.0), "pss": (25e6, 1200.0),
         "vms": (90e6, 1500.0), "kernel": (0.0, 40.0)}


def memory_record(model, variant, n, views=VIEWS, maps_per_waiter=0.0, repeat=0):
    memory = {view: fixed + per * n for view, (fixed, per) in views.items()}
    memory["maps"] = 200 + maps_per_waiter * n
    memory["processes"] = 1
    return {"kind": "memory", "model": model, "variant": variant, "n": n, "parked": n,
            "spawn_seconds": 2e-5 * n, "wake_seconds": 5e-6 * n, "parks_on": "p",
            "memory": memory, "baseline": {"maps": 200}, "repeat": repeat}


def switch_record(model, primitive, placement, run_id, median):
    return {"kind": "switch", "model": model, "variant": None, "n": 0, "repeat": 0,
            "primitive": primitive, "placement": placement,
            "mode": "quick", "file": f"{run_id}/switch-{model}-{primitive}-{placement}.json",
            "median": median, "mean": median, "stdev": 0.0, "values": 30}


def write_run(folder, machine, when, records, failures=(), limits=LIMITS, complete=True,
              interpreter=INTERPRETER, calibration=None, host=None, cpu_model=None):
    """A run file of ``records`` started at ``when`` (a datetime or 'YYYYmmddTHHMMSS'),
    its figures derived as ``parkbench run`` derives them."""
    if isinstance(when, str):
        when = datetime.strptime(when, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    run = run_file.RunFile.create(folder, machine, {"repeat": 1, "grids": {}}, interpreter,
                                 {"logical_cpus": 2, "limits": limits,
                                  **({"cpu_model": cpu_model} if cpu_model else {})}, now=when, host=host)
    records = [dict(record) for record in records]
    for record in records:
        if record["kind"] == "switch":
            record["file"] = f"{run.run_id}/{record['file'].split('/', 1)[1]}"
        run.add_measurement(record)
    for failure in failures:
        run.add_failure(failure)
    for when, measured in (calibration or {}).items():
        run.set_calibration(when, measured)
    figures = capacity.at_finish(records, limits, list(failures)) if limits is not None else []
    if complete:
        run.finish(figures)
    else:  # an interrupted run with figures (a hand-edited or hostile file): still not used
        run._document["figures"] = figures
        run.save()
    run._lock.close()
    return run.path
