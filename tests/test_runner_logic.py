"""The runner's decisions without starting a child: the command of each job, what a
switch round's result becomes, which jobs a sweep runs, skips or stops, and the failure
record. (``test_runner.py`` starts real children.)"""

import sys

import pytest

from parkbench.core.protocol import FailureKind, Job, JobKind
from parkbench.measurement import runner, switchbench
from parkbench.measurement.runner import Failure, Sweep, probe_command
from tests.builders import (
    ListStore,
    a_record,
    plan_of,
)


def test_a_memory_job_runs_the_probe_child_under_the_chosen_interpreter():
    job = Job(JobKind.MEMORY, "gevent", "event", 600_000)
    assert probe_command(job) == [sys.executable, "-m", "parkbench.measurement.probe_child", "--model", "gevent",
                                  "--variant", "event", "--n", "600000"]
    assert probe_command(job, python="/x/python")[0] == "/x/python"
    # above the wake cap the child exits without waking; at the cap it still wakes
    assert probe_command(job, wake_max_n={"gevent": 500_000})[-1] == "--no-wake"
    assert "--no-wake" not in probe_command(Job(JobKind.MEMORY, "gevent", "event", 500_000),
                                            wake_max_n={"gevent": 500_000})
    assert "--no-wake" not in probe_command(job, wake_max_n={"asyncio": 10})


def test_a_tail_job_names_its_primitive_and_loops_and_never_skips_the_wake_flag_wrongly():
    job = Job(JobKind.TAIL, "asyncio", "event", 1_000, 0, "future", "os")
    command = probe_command(job, tail_loops=20_000, wake_max_n={"asyncio": 10})
    assert command[-4:] == ["--primitive", "future", "--tail-loops", "20000"]
    assert "--no-wake" not in command  # only memory jobs skip the wake


def _switch(round_, placement="same-core", primitive="future", model="asyncio"):
    return Job(JobKind.SWITCH, model, None, 0, round_, primitive, placement)


def test_a_switch_round_writes_its_own_file_which_the_store_merges_into_the_benchmark(tmp_path, monkeypatch):
    import pyperf

    from parkbench.store import pyperf_files
    from parkbench.store.run_file import RunFile

    folder = tmp_path / "m" / "20261126T000000Z"
    rigorous = plan_of(timeout_seconds=10.0, latency_mode="rigorous", rigorous_primitives={"asyncio": ("future",)})
    sweep = Sweep([], rigorous, ListStore(), switch_folder=folder, python="/venv/python")
    command, round_file, adds = sweep._child(_switch(1))
    assert round_file == folder / switchbench.round_filename("asyncio", "future", "same-core", 1)
    assert command[0] == "/venv/python"
    assert command[command.index("--output") + 1] == str(round_file)
    assert command[command.index("--processes") + 1] == "14"  # rigorous, per round
    assert "PARKBENCH_GO,PARKBENCH_CACHE" in command
    merged = folder / switchbench.switch_filename("asyncio", "future", "same-core")
    assert adds == {"mode": "rigorous", "file": f"{folder.name}/{merged.name}"}
    run = pyperf.Run([2e-6, 3e-6], warmups=[(1, 2e-6)], metadata={"name": "b", "loops": 4},
                     collect_metadata=False)
    pyperf.Benchmark([run]).dump(str(round_file))
    summary = pyperf_files.summary(pyperf.Benchmark.load(str(round_file)))  # what the benchmark sends
    assert summary["value_list"] == [2e-6, 3e-6] and "round" not in summary
    assert summary["median"] == pytest.approx(2.5e-6) and summary["loops"] == 4
    # the store merges the round into the benchmark's file, then stores the record
    store = RunFile.create(tmp_path, "m", {"repeat": 1}, {}, {}, now=None)
    record = {**_switch(1).as_record(), **summary, **adds, "wall_seconds": 1.0}
    record["file"] = f"{store.run_id}/{merged.name}"
    (tmp_path / "m" / store.run_id).mkdir()
    moved = tmp_path / "m" / store.run_id / round_file.name
    round_file.rename(moved)
    store.add_switch_round(record, moved)
    assert (tmp_path / "m" / record["file"]).is_file() and not moved.exists()
    assert store.records()["measurements"] == [record]


def test_a_first_round_run_again_keeps_the_merged_file_and_other_primitives_run_quick(tmp_path):
    """A resumed run that runs round 1 again keeps the other rounds' runs in the merged
    file (merge_round replaces round 1's own: test_rounds)."""
    folder = tmp_path / "run"
    folder.mkdir()
    merged = folder / switchbench.switch_filename("asyncio", "queue", "cross-core")
    merged.write_text("rounds 2 and 3")
    rigorous = plan_of(timeout_seconds=10.0, latency_mode="rigorous", rigorous_primitives={"asyncio": ("future",)})
    sweep = Sweep([], rigorous, ListStore(), switch_folder=folder)
    command, _, _ = sweep._child(_switch(0, "cross-core", "queue"))
    assert merged.read_text() == "rounds 2 and 3"
    assert command[command.index("--processes") + 1] == "2"  # queue is not rigorous: quick
    assert command[0] == sys.executable


def _fake_children(monkeypatch, outcomes, folder: str = "run"):
    """run_child answers from ``outcomes`` (job -> a Failure), else with a good record."""
    ran = []

    def run_child(job, timeout, command=None, memory_floor=None, parse=None, env=None):
        ran.append((job, env))
        return outcomes.get(job) or a_record(job, folder=folder)

    monkeypatch.setattr(runner, "run_child", run_child)
    return ran


def test_a_failure_stops_its_series_and_nothing_else(monkeypatch):
    a = [Job(JobKind.MEMORY, "asyncio", "event", n) for n in (10, 20, 40)]
    b = [Job(JobKind.MEMORY, "gevent", "event", n) for n in (10, 20, 40)]
    failure = Failure(a[1], FailureKind.EXIT, "boom", 3, 0.5)
    ran = _fake_children(monkeypatch, {a[1]: failure})
    store, seen = ListStore(), []
    Sweep(a + b, plan_of(timeout_seconds=10.0, child_rlimits="nofile=64"), store,
          progress=lambda i, total, job, outcome: seen.append((i, total, outcome))).run()
    assert [job for job, _ in ran] == [a[0], a[1]] + b          # a[2] never runs
    assert all(env == {"PARKBENCH_CHILD_RLIMITS": "nofile=64"} for _, env in ran)
    assert store.failures == [failure.as_record()]
    assert [m["n"] for m in store.measurements] == [10, 10, 20, 40]
    # every planned job is accounted for: a[2] is skipped, saying why
    assert [(i, total) for i, total, _ in seen] == [(0, 6), (1, 6), (2, 6), (3, 6), (4, 6), (5, 6)]
    assert [(s["n"], s["reason"]) for s in store.skipped] == [
        (40, "not run: its series stopped at n=20 (exit failure)")]


def test_tail_beyond_the_largest_n_parked_is_skipped_with_why(monkeypatch):
    memory = [Job(JobKind.MEMORY, "threads", "condition", n) for n in (100, 200)]
    tail = [Job(JobKind.TAIL, "threads", "condition", n, 0, "lock", "os") for n in (100, 400)]
    ran = _fake_children(monkeypatch, {})
    store = ListStore()
    Sweep(memory + tail, plan_of(timeout_seconds=10.0), store).run()
    assert [job for job, _ in ran] == memory + tail[:1]
    (skip,) = store.skipped
    assert skip["reason"] == "beyond the largest N parked for memory (200)"
    assert (skip["model"], skip["variant"], skip["n"]) == ("threads", "condition", 400)


def test_the_guard_is_asked_before_memory_and_tail_children_but_not_switch(monkeypatch, tmp_path):
    class Guard:
        floor_bytes = 123
        asked = []

        def refuse(self, model, n, measured, per_waiter=None):
            self.asked.append((model, n, len(measured)))
            return "too big" if n > 20 else None

    jobs = [Job(JobKind.MEMORY, "asyncio", "event", n) for n in (10, 20, 40, 80)] + [_switch(0)]
    ran = _fake_children(monkeypatch, {}, folder=tmp_path.name)
    store, guard = ListStore(), Guard()
    Sweep(jobs, plan_of(timeout_seconds=10.0), store, guard=guard, switch_folder=tmp_path).run()
    assert [job.n for job, _ in ran] == [10, 20, 0]
    assert guard.asked == [("asyncio", 10, 0), ("asyncio", 20, 1), ("asyncio", 40, 2)]
    assert [s["reason"] for s in store.skipped] == [  # 80 is in the stopped series: said so
        "too big", "not run: its series stopped at n=40 (skipped)"]


def test_a_resumed_sweep_runs_only_what_is_missing(monkeypatch):
    jobs = [Job(JobKind.MEMORY, "asyncio", "event", n) for n in (10, 20, 40)]
    done = jobs[0].as_record()
    failed = Job(JobKind.MEMORY, "gevent", "event", 10)
    previous = {"measurements": [done], "failures": [failed.as_record()]}
    ran = _fake_children(monkeypatch, {})
    Sweep(jobs + [failed, Job(JobKind.MEMORY, "gevent", "event", 20)], plan_of(timeout_seconds=10.0),
          ListStore(), previous=previous).run()
    assert [job for job, _ in ran] == jobs[1:]  # gevent's series had stopped


def test_a_failure_record_keeps_every_field():
    job = Job(JobKind.MEMORY, "threads", "condition", 30_000)
    record = Failure(job, FailureKind.LIMIT, "can't start new thread", 4, 12.5, reached=22_141).as_record()
    assert record == {"kind": "memory", "model": "threads", "variant": "condition", "n": 30_000,
                      "repeat": 0, "failure": "limit", "reached": 22_141,
                      "reason": "can't start new thread", "exit_code": 4, "wall_seconds": 12.5}


# run_child with tiny real children (a few milliseconds each): every way a child ends.

def _child(code: str, **kw):
    job = kw.pop("job", Job(JobKind.MEMORY, "asyncio", "event", 10, 2))
    return job, runner.run_child(job, kw.pop("timeout", 20.0), [sys.executable, "-c", code], **kw)


SEND = ("import os, json\nfd = int(os.environ['PARKBENCH_RECORD_FD'])\n"
        "os.write(fd, json.dumps({record}).encode())\nos.close(fd)\n")
OWN = '"kind": "memory", "model": "asyncio", "variant": "event", "n": 10'  # _child's job


def test_a_record_sent_on_the_channel_comes_back_with_its_job():
    job, record = _child(SEND.format(record='{' + OWN + ', "parked": 10}')
                         + "import sys\nprint('noise on stdout')\n")
    assert record["parked"] == 10 and "job" not in record
    assert {key: record[key] for key in job.as_record()} == job.as_record()
    assert record["repeat"] == 2 and record["wall_seconds"] > 0


def test_a_child_env_carries_what_the_sweep_gives_and_the_runner_pid():
    import os

    code = SEND.format(record='{' + OWN + ', "env": [os.environ["X_GIVEN"], os.environ["PARKBENCH_RUNNER_PID"]]}')
    _, record = _child(code, env={"X_GIVEN": "yes"})
    assert record["env"] == ["yes", str(os.getpid())]


@pytest.mark.parametrize("other, said", [
    ('"kind": "tail"', "a record of kind 'tail' for a job of kind 'memory'"),
    ('"model": "gevent"', "a record of model 'gevent' for a job of model 'asyncio'"),
    ('"variant": "queue"', "a record of variant 'queue' for a job of variant 'event'"),
    ('"n": 11', "a record of n 11 for a job of n 10"),  # off by one
])
def test_a_record_of_another_job_is_bad_output(other, said):
    key = other.split(":")[0]
    fields = ", ".join(part for part in OWN.split(", ") if not part.startswith(key))
    _, outcome = _child(SEND.format(record='{' + fields + ", " + other + '}'))
    assert isinstance(outcome, Failure) and outcome.kind == FailureKind.BAD_OUTPUT
    assert said in outcome.reason and outcome.exit_code == 0


def test_a_failing_child_gives_its_last_stderr_line_and_status():
    _, outcome = _child("import sys\nprint('first', file=sys.stderr)\nprint('ValueError: last', file=sys.stderr)\n"
                        "sys.exit(3)")
    assert (outcome.kind, outcome.reason, outcome.exit_code) == (FailureKind.EXIT, "ValueError: last", 3)
    _, outcome = _child("import sys\nsys.exit(7)")
    assert outcome.reason == "exit status 7"


def test_an_orphaned_child_says_so():
    from parkbench.core import protocol

    _, outcome = _child(f"import sys\nsys.exit({protocol.EXIT_ORPHANED})")
    assert outcome.reason == "the child found its runner gone before it started"


def test_a_limit_record_gives_how_far_it_got():
    from parkbench.core import protocol

    code = SEND.format(record='{"kind": "limit", "reached": 7, "error": "EAGAIN"}') + \
        f"import sys\nprint('RuntimeError: cannot', file=sys.stderr)\nsys.exit({protocol.EXIT_LIMIT_REACHED})"
    _, outcome = _child(code)
    assert (outcome.kind, outcome.reached, outcome.reason) == (FailureKind.LIMIT, 7, "RuntimeError: cannot")
    code = SEND.format(record='{"kind": "limit", "reached": 10, "error": "EAGAIN"}') + \
        f"import sys\nsys.exit({protocol.EXIT_LIMIT_REACHED})"
    assert _child(code)[1].reason == "EAGAIN"  # no stderr: the record's error
    assert _child(code)[1].reached == 10         # all of its N (the job's is 10)


@pytest.mark.parametrize("record", ['{"kind": "limit", "reached": 11, "error": "x"}',
                                    '{"kind": "limit", "reached": -1, "error": "x"}'])
def test_a_limit_past_the_job_s_n_is_no_limit(record):
    """More waiters than the job asked for (or fewer than none) is no measurement of a
    ceiling: the job fails as it exited, and the store would take a limit record."""
    from parkbench.core import protocol

    code = SEND.format(record=record) + f"import sys\nsys.exit({protocol.EXIT_LIMIT_REACHED})"
    _, outcome = _child(code)
    assert outcome.kind == FailureKind.EXIT and outcome.reached is None


def test_a_failure_s_reason_is_one_line_the_results_file_takes():
    from parkbench.core import protocol

    code = SEND.format(record='{"kind": "limit", "reached": 3, "error": {"a": 1}}') + \
        f"import sys\nsys.exit({protocol.EXIT_LIMIT_REACHED})"
    assert _child(code)[1].reason == "{'a': 1}"
    _, outcome = _child("import sys\nprint('x' * 5000, file=sys.stderr)\nsys.exit(3)")
    assert outcome.reason == "x" * 1000


def test_a_killed_child_names_the_signal():
    _, outcome = _child("import os, signal, sys\nprint('dying', file=sys.stderr, flush=True)\n"
                        "os.kill(os.getpid(), signal.SIGABRT)")
    assert outcome.kind == FailureKind.SIGNAL and outcome.reason == "killed by SIGABRT after: dying"
    assert outcome.exit_code == -6


def test_a_child_past_its_timeout_is_killed():
    _, outcome = _child("import time\ntime.sleep(30)", timeout=0.3)
    assert outcome.kind == FailureKind.TIMEOUT and outcome.reason == "no result within 0.3 s"
    assert 0.3 <= outcome.wall_seconds < 5


def test_the_watchdog_ends_a_child_below_the_memory_floor():
    _, outcome = _child("import time\ntime.sleep(30)", memory_floor=1000, available=lambda: 10)
    assert outcome.kind == FailureKind.MEMORY_FLOOR
    assert outcome.reason == "ended by the watchdog: available memory 10 B fell below the floor of 1,000 B"
    _, fine = _child(SEND.format(record='{' + OWN + '}'), memory_floor=1000, available=lambda: 10_000)
    assert not isinstance(fine, Failure)


def test_a_switch_benchmark_sends_its_record_on_the_same_channel():
    job = Job(JobKind.SWITCH, "asyncio", None, 0, 0, "future", "same-core")
    sent = '{"kind": "switch", "model": "asyncio", "n": 0, "median": 1e-06}'
    _, record = _child("print('hello')\n" + SEND.format(record=sent), job=job)
    assert record == {**job.as_record(), "median": 1e-6, "wall_seconds": record["wall_seconds"]}
    _, stdout_only = _child("print(" + repr(sent) + ")", job=job)  # stdout is never the record
    assert stdout_only.kind == FailureKind.BAD_OUTPUT


def test_the_sweep_builds_each_probe_command_from_its_own_settings(tmp_path):
    sweep = Sweep([], plan_of(timeout_seconds=10.0, tail_loops=77, wake_max_n={"asyncio": 5}), ListStore(),
                  python="/p/python", switch_folder=tmp_path)
    memory, _, _ = sweep._child(Job(JobKind.MEMORY, "asyncio", "event", 6))
    assert memory[0] == "/p/python" and memory[-1] == "--no-wake"
    tail, round_file, adds = sweep._child(Job(JobKind.TAIL, "asyncio", "event", 6, 0, "future", "os"))
    assert tail[-2:] == ["--tail-loops", "77"] and round_file is None and adds == {}


def test_the_sweep_gives_each_child_its_timeout_and_the_guard_floor(monkeypatch):
    seen = []

    def run_child(job, timeout, command=None, memory_floor=None, parse=None, env=None):
        seen.append((timeout, memory_floor))
        return a_record(job)

    class Guard:
        floor_bytes = 4096

        def refuse(self, model, n, measured, per_waiter=None):
            return None

    monkeypatch.setattr(runner, "run_child", run_child)
    jobs = [Job(JobKind.MEMORY, "asyncio", "event", n) for n in (10, 20)]
    Sweep(jobs, plan_of(timeout_seconds=42.0), ListStore(), guard=Guard()).run()
    Sweep(jobs, plan_of(timeout_seconds=7.0), ListStore()).run()
    assert seen == [(42.0, 4096), (42.0, 4096), (7.0, None), (7.0, None)]


def test_a_series_skipped_before_stays_stopped_on_resume(monkeypatch):
    skipped = Job(JobKind.MEMORY, "asyncio", "event", 20)
    ran = _fake_children(monkeypatch, {})
    Sweep([Job(JobKind.MEMORY, "asyncio", "event", 10), skipped,
           Job(JobKind.MEMORY, "asyncio", "event", 40)], plan_of(timeout_seconds=10.0), ListStore(),
          previous={"skipped": [skipped.as_record()]}).run()
    assert ran == []  # the whole series had stopped at the guard's skip


def test_every_planned_job_ends_measured_failed_or_skipped_exactly_once(monkeypatch):
    """run --n 1k,10k,100k --timeout 1: the 10k job timed out and the 100k one vanished."""
    series = [Job(JobKind.MEMORY, "asyncio", "event", n) for n in (1_000, 10_000, 100_000)]
    other = [Job(JobKind.MEMORY, "gevent", "event", n) for n in (1_000, 10_000, 100_000)]
    timeout = Failure(series[1], FailureKind.TIMEOUT, "no result within 1 s", None, 1.0)
    _fake_children(monkeypatch, {series[1]: timeout})
    store = ListStore()
    Sweep(series + other, plan_of(timeout_seconds=1.0), store).run()

    def ended(records):
        return [Job.from_record(record) for record in records]

    accounted = ended(store.measurements) + ended(store.failures) + ended(store.skipped)
    assert sorted(accounted, key=repr) == sorted(series + other, key=repr)  # each exactly once
    assert ended(store.skipped) == [series[2]]
    assert store.skipped[0]["reason"] == "not run: its series stopped at n=10,000 (timeout failure)"
    # a resumed sweep records nothing twice, and accounts for a job an older run let vanish
    older = {"measurements": store.measurements[:1], "failures": store.failures, "skipped": []}
    again = ListStore()
    Sweep(series, plan_of(timeout_seconds=1.0), again, previous=older).run()
    assert again.measurements == [] and again.failures == []
    assert ended(again.skipped) == [series[2]]
    Sweep(series, plan_of(timeout_seconds=1.0), again, previous={**older, "skipped": again.skipped}).run()
    assert ended(again.skipped) == [series[2]]


def test_a_job_survives_its_record():
    """A job's record names it once (its fields, ``protocol.JOB_FIELDS``) and is read
    back as the same job."""
    job = Job(JobKind.SERVED, "asyncio", "connections", 100, 1, rates=(10, 20))
    assert Job.from_record(job.as_record()) == job and "primitive" not in job.as_record()


def test_the_runner_keeps_no_job_field_a_child_adds():
    import sys

    from parkbench.core.protocol import Job, JobKind
    from parkbench.measurement import runner

    job = Job(JobKind.MEMORY, "asyncio", "event", 10)
    code = ("import os, json\nfd = int(os.environ['PARKBENCH_RECORD_FD'])\n"
            "os.write(fd, json.dumps({'kind': 'memory', 'model': 'asyncio', 'variant': 'event', 'n': 10,"
            " 'primitive': 'lock', 'placement': 'same-core', 'rates': [5]}).encode())\nos.close(fd)\n")
    record = runner.run_child(job, 20.0, [sys.executable, "-c", code])
    assert not {"primitive", "placement", "rates"} & set(record)
    assert Job.from_record(record) == job  # so --resume counts it done
