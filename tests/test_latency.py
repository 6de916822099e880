"""Hand-off latency: ping-pongs of every model, placement, pyperf files, tail records.

Ping-pongs that pin or import a model's library run in a fresh interpreter, so the test
process is never pinned and never imports gevent.
"""

import json
import os
import random
import subprocess
import sys

import pyperf
import pytest

from parkbench.analysis import tidy
from parkbench.cli import main
from parkbench.core import registry
from parkbench.measurement.handoff import one_way_percentiles
from parkbench.store import results

pytestmark = pytest.mark.slow  # real probe children, pyperf or a notebook kernel

ALL_PRIMITIVES = [(m.name, p) for m in registry.MODELS.values() for p in m.primitives]
TWO_CPUS = len(os.sched_getaffinity(0)) >= 2


def _in_child(code: str, preexec_fn=None) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, preexec_fn=preexec_fn)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pingpong(model, primitive, loops, cpus):
    module = registry.get(model).module
    return _in_child(
        f"import json, importlib\n"
        f"m = importlib.import_module({module!r})\n"
        f"observed = {{}}\n"
        f"seconds = m.pingpong({primitive!r}, {loops}, {cpus!r}, observed=observed)\n"
        f"print(json.dumps({{'seconds': seconds, 'observed': observed}}))\n"
    )


def test_registry_primitives_match_the_probe_modules():
    code = ("import json, importlib\nfrom parkbench.core import registry\n"
            "print(json.dumps({m.name: list(importlib.import_module(m.module).HANDOFF_PRIMITIVES) "
            "for m in registry.MODELS.values()}))")
    modules = _in_child(code)
    assert modules == {m.name: list(m.primitives) for m in registry.MODELS.values()}


@pytest.mark.parametrize("model, primitive", ALL_PRIMITIVES)
def test_pingpong_time_grows_with_loops(model, primitive):
    few = _pingpong(model, primitive, 100, (0, 0))["seconds"]
    many = _pingpong(model, primitive, 5000, (0, 0))["seconds"]
    assert 0 < few < many


@pytest.mark.skipif(not TWO_CPUS, reason="cross-core needs two CPUs")
@pytest.mark.parametrize("model, primitive", [("threads", "lock"), ("subprocess", "pipe")])
def test_cross_core_pins_the_two_waiters_to_different_cpus(model, primitive):
    cpus = sorted(os.sched_getaffinity(0))[:2]
    observed = _pingpong(model, primitive, 50, tuple(cpus))["observed"]
    assert observed == {"a": [cpus[0]], "b": [cpus[1]]}
    same = _pingpong(model, primitive, 50, (cpus[1], cpus[1]))["observed"]
    assert same == {"a": [cpus[1]], "b": [cpus[1]]}


def test_one_thread_models_record_the_thread_affinity():
    observed = _pingpong("asyncio", "future", 50, (0, 0))["observed"]
    assert observed == {"a": [0], "b": [0]}


def test_percentiles_are_ordered_and_halve_round_trips():
    rng = random.Random(7)
    round_trips = [int(rng.lognormvariate(9, 0.6)) for _ in range(5000)]
    tail = one_way_percentiles(round_trips)
    assert tail["switch_p50"] <= tail["switch_p99"] <= tail["switch_p999"] <= tail["switch_max"]
    assert tail["switch_max"] == max(round_trips) / 2e9
    assert tail["samples"] == 5000


def test_latency_run_stores_pyperf_files_and_tidy_records(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", "--models", "uvloop", "--only", "latency", "--n", "10,100,1000",
                 "--output", str(out), "--machine", "lat"]) == 0
    printed = capsys.readouterr().out
    assert "one-way hand-off" in printed and "uvloop" in printed
    (run_path,) = (out / "lat").glob("2*.json")
    document = results.read_run(run_path)
    switch = [m for m in document["measurements"] if m["kind"] == "switch"]
    expected = {"same-core", "cross-core"} if TWO_CPUS else {"same-core"}
    assert {m["placement"] for m in switch} == expected
    frame = tidy.load(out)
    for record in switch:
        # one record per interleaved round, all naming the benchmark's merged file
        rounds = [m for m in switch if m["placement"] == record["placement"]]
        assert sorted(m["repeat"] for m in rounds) == [0, 1, 2]
        path = out / "lat" / record["file"]
        suite = pyperf.BenchmarkSuite.load(str(path))
        (benchmark,) = suite.get_benchmarks()
        assert sorted(benchmark.get_values()) == sorted(v for m in rounds for v in m["value_list"])
        figure = frame[(frame.metric == "switch_latency") & (frame.placement == record["placement"])]
        assert benchmark.median() == pytest.approx(float(figure.value.iloc[0]))
        metadata = benchmark.get_metadata()
        assert metadata["parkbench_placement"] == record["placement"]
        assert metadata["parkbench_primitive"] == "future"
        stats = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(path)],
                               capture_output=True, text=True, timeout=60)
        assert stats.returncode == 0 and "Median" in stats.stdout

    medians = frame[frame.metric == "switch_latency"]
    assert set(medians["placement"]) == expected
    assert (medians["unit"] == "seconds").all() and (medians["value"] > 0).all()
    assert set(frame[frame.metric == "switch_latency_values"]["value"]) == {30.0}
    tail = frame[frame.metric.str.match(r"switch_(p|max)")]
    assert sorted(set(tail["n"])) == [10, 100, 1000]
    for _, group in tail.groupby("n"):
        value = dict(zip(group["metric"], group["value"]))
        assert value["switch_p50"] <= value["switch_p99"] <= value["switch_p999"] <= value["switch_max"]


def test_cross_core_on_one_cpu_is_skipped_with_a_reason(tmp_path):
    out = tmp_path / "res"
    done = subprocess.run(
        [sys.executable, "-m", "parkbench", "run", "--models", "asyncio", "--only", "latency",
         "--n", "10,20,40", "--output", str(out), "--machine", "one"],
        capture_output=True, text=True, timeout=300,
        preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}),
    )
    assert done.returncode == 0, done.stderr
    assert "cross-core needs two CPUs" in done.stdout
    (run_path,) = (out / "one").glob("2*.json")
    document = results.read_run(run_path)
    assert [s["placement"] for s in document["skipped"]] == ["cross-core"]
    assert {m["placement"] for m in document["measurements"] if m["kind"] == "switch"} == {"same-core"}


def test_unknown_primitive_is_exit_2_with_accepted_values(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", "--models", "threads", "--primitives", "spinlock", "--output", str(out)]) == 2
    assert "unknown hand-off primitive 'spinlock' for the selected models; accepted primitives: lock, queue" \
        in capsys.readouterr().err
    assert not out.exists()


def test_switch_script_rejects_unknown_primitive():
    from parkbench.measurement.switchbench import SWITCH_SCRIPT

    done = subprocess.run([sys.executable, str(SWITCH_SCRIPT), "--model", "gevent", "--primitive",
                           "lock", "--placement", "same-core"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "accepted primitives: event, channel, greenlet" in done.stderr


@pytest.mark.slow
def test_the_switch_benchmark_counts_two_hand_offs_per_round_trip(tmp_path):
    """pyperf's metadata says inner_loops = 2, and its median agrees (within a loose
    factor: a shared machine) with a direct ping-pong timed here at the same placement
    (unpinned, the two threads may land on two busy cores: ten times slower)."""
    import pyperf

    from parkbench.measurement import placement, switchbench
    from parkbench.measurement.probes import threads

    path = tmp_path / "switch.json"
    command = switchbench.switch_command("threads", "lock", "same-core", path, "quick")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    benchmark = pyperf.Benchmark.load(str(path))
    assert benchmark.get_metadata()["inner_loops"] == 2
    loops = 20_000
    one_way = threads.pingpong("lock", loops, placement.cpus_for("same-core")) / loops / 2
    ratio = benchmark.median() / one_way
    assert 0.25 < ratio < 4, (benchmark.median(), one_way)
