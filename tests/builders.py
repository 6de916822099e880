"""What the tests build and share: records of every kind a probe child sends, the load
generator's output, a served run file, a run's plan, and a store that keeps what a sweep
hands it. Test modules import these from here, never from one another."""
import json
import math
import warnings
from pathlib import Path

from parkbench.core.protocol import Job
from parkbench.measurement import knee, suite
from parkbench.measurement.plan import RunPlan
from parkbench.store import loadgen_output
from tests import synthetic


def step_record(offered, achieved=None, p99=0.001, errors=0, timeouts=0, unsent=0, seconds=2.0, p50=None):
    scheduled = math.ceil(offered * seconds)
    count = scheduled - errors - timeouts - unsent
    return {"offered": offered, "seconds": seconds, "count": count,
            "achieved": count / seconds if achieved is None else achieved,
            "errors": errors, "timeouts": timeouts, "p50": min(p99, 0.0001) if p50 is None else p50,
            "p90": p99 / 2, "p99": p99,
            "p999": 0.2, "max": 0.3, "interval_seconds": seconds / 2,
            "interval_rates": [count / seconds] * 2, "cpu_seconds": max(0.5, count / 200_000), "scheduled": scheduled,
            "unsent": unsent, "send_lag_p50": 0.00001, "send_lag_p99": 0.0001}


def document(*steps):
    closed = {key: value for key, value in step_record(50_000).items()
              if key not in ("offered", "scheduled", "unsent", "send_lag_p50", "send_lag_p99")}
    return {"format": 1, "address": "127.0.0.1:4000", "connections": 16, "timeout_seconds": 1.0,
            "go_version": "go1.27.3", "gomaxprocs": 1,
            "warmup": {"seconds": 1.0, "offered": None, "count": 1000, "errors": 0, "timeouts": 0},
            "steps": list(steps), "closed": closed, "cpu_user_seconds": 1.5, "cpu_system_seconds": 2.5,
            "wall_seconds": 12.0, "complete": True, "stopped": None}


def connections_check(rates=(12_383, 19_349), waiters=9_968, criterion="slo"):
    return {"model": "asyncio", "variant": "connections", "waiters": waiters, "rates": list(rates),
            "predicted_rate": 15_479.0, "predicted_capacity": 19_937, "criterion": criterion, "basis": "b"}


def checked_record(knee_rate, waiters=9_968, rates=(12_383, 19_349), **search):
    """A connections map check's record of format 5: the fake server of ``fake_step``
    (its knee ``knee_rate``) run in rounds at the check's rates beside the floor."""
    record = searched_record("asyncio", "connections", waiters, 80_000, knee_rate, 12e-6, rates=tuple(rates),
                             **search)
    record["rates"] = list(rates)
    return record


def checked_wakes_record(knee_rate, waiters=7_905_500, rates=(109_589, 171_233), **search):
    """An in-process map check's record of format 5: a fake loop (its knee ``knee_rate``)
    run in rounds at the check's rates (no floor)."""
    record = wakes_record([], waiters, rates)
    del record["wakes"]["steps"]
    record["wakes"]["search"] = search_trials(rates[0], knee_rate, 2e-6, rates=tuple(rates), served=False,
                                              **search)
    return record


def connections_check_record(steps, waiters=9_968, rates=(12_383, 19_349)):
    record = served_record("asyncio", "connections", waiters, 80_000, steps, 12e-6)
    record["rates"] = list(rates)
    return record


def wakes_record(steps, waiters=7_905_500, rates=(109_589, 171_233)):
    """A wakes record as the probe child sends it: ``steps`` (offered, p99[, achieved])."""
    shaped = [step_record(s[0], p99=s[1], seconds=6.0, achieved=s[2] if len(s) > 2 else None)
              for s in steps]
    proof = {"method": "m", "blocked_before": waiters, "blocked_after": waiters, "settle_polls": 0,
             "before": {}, "after": {}}
    return {"kind": "wakes", "model": "asyncio", "variant": "event", "n": waiters, "parked": waiters,
            "spawn_seconds": 1.0, "wake_seconds": None, "parks_on": "asyncio.Event.wait",
            "proof": proof, "wakes": {"active": 16, "warmup_seconds": 0.5, "samples_cap": 10**6,
                                      "steps": shaped},
            "rates": list(rates), "repeat": 0, "wall_seconds": 14.0}


def plan_of(**settings) -> RunPlan:
    """A plan for the runner alone (it reads the timeout and the child settings); the
    fields every stored plan has take the command line's defaults unless given."""
    from parkbench.measurement import placement, switchbench

    required = {"timeout_seconds": suite.DEFAULT_TIMEOUT_SECONDS, "placements": placement.PLACEMENTS,
                "tail_loops": switchbench.TAIL_LOOPS, "memory_budget_bytes": 0, "memory_floor_bytes": 0,
                "guard_margin": 1.5, "selection": (), "grids": {}}
    return RunPlan(**{**required, **settings})


def a_record(job: Job, pss: int = 10_000_000, folder: str = "run") -> dict:
    """A record of ``job`` that the results format takes (switch files under ``folder``,
    the run's id)."""
    record = {**job.as_record(), "wall_seconds": 0.5}
    if job.kind == "memory":
        record.update(memory={"rss": pss, "uss": pss, "pss": pss, "vms": pss, "kernel": 0},
                      spawn_seconds=0.1, wake_seconds=0.1)
    elif job.kind == "tail":
        record.update(tail={key: 1e-6 for key in ("switch_p50", "switch_p99", "switch_p999", "switch_max")})
    else:
        record.update(median=1e-6, mean=1e-6,
                      stdev=0.0, values=5, file=f"{folder}/switch.json")
    return record


class ListStore:
    def __init__(self):
        self.measurements, self.failures, self.skipped, self.round_files = [], [], [], []

    def add_measurement(self, record):
        self.measurements.append(record)

    def add_switch_round(self, record, round_file):
        self.measurements.append(record)
        self.round_files.append(round_file)

    def add_failure(self, record):
        self.failures.append(record)

    def add_skip(self, record):
        self.skipped.append(record)


def held_record(n, kernel_client_per, p50, p99):
    record = synthetic.memory_record("asyncio", "connections", n)
    record["kernel_client"] = 5000 + kernel_client_per * n
    record["wake_seconds"] = None
    record["connections"] = {"processes": 1, "request_p50": p50, "request_p999": 3 * p99,
                             "request_p99": p99, "request_max": 4 * p99}
    return record


def tail_record(model, variant, primitive, n, p50):
    return {"kind": "tail", "model": model, "variant": variant, "primitive": primitive,
            "placement": "os", "n": n, "parked": n, "repeat": 0,
            "tail": {"switch_p50": p50, "switch_p99": 2 * p50, "switch_p999": 3 * p50,
                     "switch_max": 4 * p50, "samples": 1000}}


CEILING = 150_000.0


def closed_run(peak: float) -> dict:
    doc = document()
    doc["closed"].update(count=int(peak), achieved=peak, seconds=1.0, interval_seconds=0.5,
                         interval_rates=[peak, peak], cpu_seconds=max(0.5, peak / 400_000))
    return doc


def served_record(model, variant, w, peak, steps, cpu_per_request, round_=0, server_cpus=(1,)):
    """A served record: the closed-loop peak, open-loop ``steps`` (offered, p99) and the
    server CPU that makes ``cpu_per_request``."""
    requests = int(peak)
    opened = document(*[step_record(offered, p99=p99, seconds=1.0) for offered, p99 in steps])
    return {"kind": "served", "model": model, "variant": variant, "n": w, "parked": w,
            "repeat": round_, "spawn_seconds": 0.1, "wake_seconds": None, "parks_on": "p",
            "served": {"settings": {}, "placement": {"generator_cpus": [0], "server_cpus": list(server_cpus)},
                       "warmup_rates": [peak * 0.5, peak], "closed_run": closed_run(peak), "open_run": opened,
                       "server_cpu_seconds": cpu_per_request * requests, "server_cpu_requests": requests}}


def fake_step(rate: float, knee_rate: float, p99_at=lambda rate: 0.001, seconds: float = 0.1) -> dict:
    """One open-loop step of a fake server that keeps up to ``knee_rate`` (p99 from
    ``p99_at``) and queues beyond it (achieved held at its knee, the median up by 50 ms)."""
    if rate <= knee_rate:
        return step_record(rate, p99=p99_at(rate), seconds=seconds, p50=0.0002)
    return step_record(rate, achieved=knee_rate, p99=0.2, seconds=seconds, p50=0.05)


def search_trials(start, knee_rate, cpu_per_request, p99_at=lambda rate: 0.001, floor_p99=0.001, slo=0.005,
                  judge_slo=True, ceiling=None, rates=(), served=True, floor_always=False):
    """The stored search of a fake server (``fake_step``) beside a quiet floor (p99
    ``floor_p99``), run by the real search (``knee.py``): what a probe stores."""
    search = knee.Search(start, slo, ceiling * knee.GENERATOR_SHARE if ceiling else None, floor=served,
                         judge_slo=judge_slo, floor_always=floor_always, rates=rates)
    trials = []
    while (asked := search.next()) is not None:
        rate, round_, target = asked
        step = (fake_step(rate, knee_rate, p99_at) if target == knee.SERVER
                else step_record(rate, p99=floor_p99, seconds=0.1, p50=0.0001))
        requests = step["count"] if target == knee.SERVER else 0
        cpu = cpu_per_request * requests if target == knee.SERVER else None
        trials.append({"rate": rate, "round": round_, "target": target, "step": step, "cpu_seconds": cpu,
                       "requests": requests})
        search.record(knee.Trial(rate, round_, target, loadgen_output.parse_steps([step])[0], cpu, requests))
    return {"start": float(start), "generator_ceiling": ceiling, "judge_slo": judge_slo,
            "floor_every_round": floor_always, "rates": list(rates), "trials": trials,
            **({"floor_connections": 0} if served else {})}


def wake_search_record(model, variant, w, knee_rate, start=64_000, **search):
    """A wakes record of format 5 without rates: the wake rate's knee search of a fake
    loop whose knee is ``knee_rate``."""
    record = wakes_record([], w, ())
    del record["wakes"]["steps"], record["rates"]
    record.update(model=model, variant=variant)
    record["wakes"]["search"] = search_trials(start, knee_rate, 2.5e-6, served=False, **search)
    return record


def searched_record(model, variant, w, peak, knee_rate, cpu_per_request, round_=0, server_cpus=(1,),
                    closed_cpu_per_request=None, **search):
    """A served record of format 5: the closed-loop peak (its CPU per request
    ``closed_cpu_per_request``, default the open loop's) and the knee search of a fake
    server whose knee is ``knee_rate`` (``search_trials`` takes the rest)."""
    record = served_record(model, variant, w, peak, [], closed_cpu_per_request or cpu_per_request, round_,
                           server_cpus)
    del record["served"]["open_run"]
    record["served"]["search"] = search_trials(peak * 0.5, knee_rate, cpu_per_request, **search)
    return record


def served_run(folder, records, ceiling=CEILING, slo=0.005, when="20260101T000000"):
    import json

    path = synthetic.write_run(folder, "m", when, records)
    doc = json.loads(path.read_text())
    doc["parameters"]["slo_seconds"] = slo
    doc["generator_ceiling"] = {"settings": {}, "placement": {"generator_cpus": [0], "server_cpus": [1]},
                                "closed_run": closed_run(ceiling), "server_cpu_seconds": 1.0,
                                "server_cpu_requests": 150_000}
    path.write_text(json.dumps(doc))  # its figures are derived from the records when read
    return path


ASYNCIO = [served_record("asyncio", "connections", w, 80_000, [(20_000, 0.001), (40_000, 0.002),
                                                               (60_000, 0.009), (80_000, 0.001)], 20e-6)
           for w in (100, 10_000)]


NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "report.ipynb"


def run_notebook(results_dir: Path) -> list:
    """Every code cell of the report, as ``parkbench report`` runs them; what it displayed."""
    import IPython.display

    shown: list = []
    namespace = {"__name__": "report"}
    cells = [cell for cell in json.loads(NOTEBOOK.read_text())["cells"] if cell["cell_type"] == "code"]
    original = IPython.display.display
    IPython.display.display = lambda *items, **_: shown.extend(items)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for cell in cells:
                source = "".join(line for line in cell["source"] if not line.startswith("%"))
                if "parameters" in cell.get("metadata", {}).get("tags", []):
                    source += f"\nresults_dir = {str(results_dir)!r}\n"
                exec(compile(source, "report", "exec"), namespace)
    finally:
        IPython.display.display = original
    return shown


def fake_interpreter(path: Path, identity: dict) -> Path:
    """An executable that answers the identity question as ``identity`` describes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{json.dumps(identity)}'\n")
    path.chmod(0o755)
    return path


def interpreter_identity(version="3.13.0", implementation="CPython", gil_disabled=False):
    major, minor = (int(part) for part in version.split(".")[:2])
    return {"version": version, "implementation": implementation, "build": "b", "compiler": "c",
            "abi": f"cpython-{major}{minor}{'t' if gil_disabled else ''}-x86_64-linux-gnu",
            "gil_disabled": gil_disabled, "version_info": [major, minor]}
