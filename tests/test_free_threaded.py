"""A free-threaded build is its own interpreter: a ``3.13t`` run and a ``3.13`` run of
one machine stay two interpreters from the identity a run records to the frame, the
current figures, ``show``, ``compare`` and the interpreters table. Merged, the
free-threaded figures would replace or average with the GIL build's."""

import pytest

from parkbench.analysis import compare, current, tidy
from parkbench.cli import main
from parkbench.core.errors import UserError
from parkbench.measurement import machine
from tests.synthetic import INTERPRETER, VIEWS, memory_record, switch_record, write_run

GIL = dict(INTERPRETER, version="3.13.1", executable="python3.13", gil_disabled=False)
FREE = dict(GIL, executable="python3.13t", gil_disabled=True)
GRID = (1_000, 3_000, 12_000, 50_000)


@pytest.fixture
def two_builds(tmp_path):
    """One machine, the same sweep under 3.13.1 and 3.13.1t, each with its own slope
    and hand-off (the free-threaded run is the newer: merged, it would win)."""
    free_views = dict(VIEWS, pss=(25e6, 1500.0))
    write_run(tmp_path, "m", "20261126T100000",
              [memory_record("asyncio", "event", n) for n in GRID]
              + [switch_record("asyncio", "future", "same-core", "r", 2.0e-6)], interpreter=GIL)
    write_run(tmp_path, "m", "20261126T110000",
              [memory_record("asyncio", "event", n, free_views) for n in GRID]
              + [switch_record("asyncio", "future", "same-core", "r", 3.0e-6)], interpreter=FREE)
    return tmp_path


def test_the_label_says_free_threaded_from_the_recorded_identity(monkeypatch):
    import sysconfig

    real = sysconfig.get_config_var
    monkeypatch.setattr(sysconfig, "get_config_var",
                        lambda name: 1 if name == "Py_GIL_DISABLED" else real(name))
    identity = machine.python_info()
    assert identity["gil_disabled"] is True
    assert tidy.interpreter_key(identity).endswith(f"{identity['version']}t")
    assert tidy.interpreter_key(GIL) == "CPython 3.13.1"
    assert tidy.interpreter_key(FREE) == "CPython 3.13.1t"


def test_two_builds_stay_two_interpreters_in_the_frame_and_the_current_figures(two_builds):
    assert set(tidy.load(two_builds).interpreter) == {"CPython 3.13.1", "CPython 3.13.1t"}
    frame = current.load(two_builds).frame
    pss = frame[frame.metric == "pss_per_waiter"].set_index("interpreter").value
    assert pss.to_dict() == pytest.approx({"CPython 3.13.1": 1200.0, "CPython 3.13.1t": 1500.0})
    switch = frame[frame.metric == "switch_latency"].set_index("interpreter").value
    assert switch.to_dict() == pytest.approx({"CPython 3.13.1": 2.0e-6, "CPython 3.13.1t": 3.0e-6})


def test_show_prints_each_build_on_its_own(two_builds, capsys):
    assert main(["show", str(two_builds)]) == 0
    out = capsys.readouterr().out
    assert "machine m, CPython 3.13.1t\n" in out and "machine m, CPython 3.13.1\n" in out


def test_compare_picks_either_build_and_never_both(two_builds):
    with pytest.raises(UserError, match=r"several interpreters \(CPython 3.13.1, CPython 3.13.1t\)"):
        compare.resolve("m", two_builds)
    free = compare.resolve("m", two_builds, "3.13.1t")
    assert set(free.current.frame.interpreter) == {"CPython 3.13.1t"}
    for spec in ("3.13.1", "CPython 3.13.1"):  # the GIL build alone: an exact version or label
        gil = compare.resolve("m", two_builds, spec)
        assert set(gil.current.frame.interpreter) == {"CPython 3.13.1"}, spec
        assert gil.label == f"m, interpreter {spec} (CPython 3.13.1)"
    assert free.label == "m, interpreter 3.13.1t (CPython 3.13.1t)"


def test_the_interpreters_table_has_a_row_for_each_build(two_builds):
    from parkbench.presentation import headline

    frame = current.load(two_builds).frame
    values = {("m", label, "asyncio", "future", "same-core"): [base + i * 1e-9 for i in range(20)]
              for label, base in (("CPython 3.13.1", 2.0e-6), ("CPython 3.13.1t", 3.0e-6))}
    table = headline.interpreters(frame, "m", values).set_index("interpreter")
    assert list(table.index) == ["CPython 3.13.1", "CPython 3.13.1t"]
    assert table.loc["CPython 3.13.1t", "hand-off vs CPython 3.13.1"] == "1.500x"
    # the free-threaded build against the GIL build of its version, memory and hand-off
    total = frame[(frame.metric == "total_per_waiter") & frame.n.isna()].set_index("interpreter").value
    memory = total["CPython 3.13.1t"] / total["CPython 3.13.1"]
    assert memory != pytest.approx(1.0)   # the fixture's two builds differ in memory
    assert table.loc["CPython 3.13.1t", "free-threaded vs GIL build"] == f"memory {memory:.3f}x, hand-off 1.500x"
    assert table.loc["CPython 3.13.1", "free-threaded vs GIL build"] == "-"


def test_a_build_flag_that_is_not_a_boolean_is_refused(tmp_path):
    # truthy: would read as 3.13.1t; refused by the reader's check, which every save runs
    with pytest.raises(UserError, match="interpreter.gil_disabled must be true or false"):
        write_run(tmp_path, "m", "20261126T100000", [memory_record("asyncio", "event", n) for n in GRID],
                  interpreter=dict(GIL, gil_disabled="false"))


def _served_document(interpreter, model, variant, server_cpus):
    from tests.builders import searched_record

    record = searched_record(model, variant, 1_000, 90_000, 60_000, 20e-6, server_cpus=server_cpus)
    return {"parameters": {}, "measurements": [record], "interpreter": interpreter}


@pytest.mark.parametrize("interpreter, model, variant, cores", [
    (FREE, "threads", "connections", 3),      # no GIL: a thread per connection on every server CPU
    (GIL, "threads", "connections", 1),       # the GIL: one core however many it was given
    (FREE, "asyncio", "connections", 1),      # one event loop is one thread, GIL or not
    (FREE, "subprocess", "connections", 3),   # worker processes: every core either way
])
def test_threads_serve_on_every_server_cpu_only_without_the_gil(interpreter, model, variant, cores):
    from parkbench.analysis import served_figures

    document = _served_document(interpreter, model, variant, server_cpus=(1, 2, 3))
    rows = served_figures.rows(document, {"machine": "m", "run_id": "r",
                                          "interpreter": tidy.interpreter_key(interpreter)})
    found = {row["metric"]: row["value"] for row in rows}
    assert found["served_cores"] == cores
    rate = next(row["value"] for row in rows if row["metric"] == "served_saturation")
    assert found["served_rate_per_core"] == pytest.approx(rate / cores)


def test_sizing_gives_free_threaded_threads_every_core_of_the_machine(tmp_path):
    from parkbench.analysis import sizing

    for when, interpreter in (("20261126T100000", GIL), ("20261126T110000", FREE)):
        write_run(tmp_path, "m", when,
                  [memory_record(model, variant, n) for model, variant in
                   (("threads", "condition"), ("asyncio", "event")) for n in GRID]
                  + [switch_record("threads", "condition", "cross-core", "r", 5.0e-6),
                     switch_record("asyncio", "future", "same-core", "r", 2.0e-6)],
                  interpreter=interpreter)
    found = {(p.interpreter, p.model): p.cores
             for p in sizing.profiles(current.load(tmp_path).frame, {"m": 8})}
    assert found == {("CPython 3.13.1", "threads"): 1, ("CPython 3.13.1", "asyncio"): 1,
                     ("CPython 3.13.1t", "threads"): 8, ("CPython 3.13.1t", "asyncio"): 1}


def test_only_a_label_that_ends_in_t_is_free_threaded():
    assert tidy.is_free_threaded("CPython 3.13.1t") and tidy.is_free_threaded(tidy.interpreter_key(FREE))
    assert not any(tidy.is_free_threaded(label) for label in
                   ("CPython 3.13.1", tidy.interpreter_key(GIL), "unknown", "CPython 3.14.0rc1"))


def _profiles_of_two_builds(tmp_path):
    """Threads, asyncio and worker-process connections servers under 3.13.1 and 3.13.1t."""
    from parkbench.analysis import sizing
    from tests.builders import searched_record

    for when, interpreter in (("20261126T100000", GIL), ("20261126T110000", FREE)):
        write_run(tmp_path, "m", when,
                  [memory_record(model, "connections", n) for model in ("threads", "asyncio", "subprocess")
                   for n in GRID]
                  + [searched_record(model, "connections", w, 90_000, 60_000, 20e-6)
                     for model in ("threads", "asyncio", "subprocess") for w in (100, 1_000)],
                  interpreter=interpreter)
    return sizing.profiles(current.load(tmp_path).frame, {"m": 2})


def test_the_decision_map_adds_free_threaded_threads_and_nothing_else_of_that_build(tmp_path):
    from parkbench.analysis import sizing

    profiles = _profiles_of_two_builds(tmp_path)
    assert len(profiles) == 6
    chosen = sizing.with_free_threaded(profiles, "CPython 3.13.1")
    # worker processes use every core under either build: the GIL build's row speaks for them
    assert sorted((p.interpreter, p.model, p.cores) for p in chosen) == [
        ("CPython 3.13.1", "asyncio", 1), ("CPython 3.13.1", "subprocess", 2), ("CPython 3.13.1", "threads", 1),
        ("CPython 3.13.1t", "threads", 2)]
    # the free-threaded build as the primary: no other build's rows join it
    assert {p.interpreter for p in sizing.with_free_threaded(profiles, "CPython 3.13.1t")} == {"CPython 3.13.1t"}


def test_the_workload_table_names_the_build_of_a_row_from_another_interpreter(tmp_path):
    from parkbench.analysis import sizing
    from parkbench.presentation import headline

    chosen = sizing.with_free_threaded(_profiles_of_two_builds(tmp_path), "CPython 3.13.1")
    table = headline.workload_points(chosen, [(1_000, 100)])
    assert sorted(table["model/variant"]) == ["asyncio/connections", "subprocess/connections",
                                              "threads/connections",
                                              "threads/connections (CPython 3.13.1t, 2 cores)"]


def test_the_served_plot_of_one_interpreter_has_none_of_another_s_steps(tmp_path):
    from parkbench.analysis import served_figures

    _profiles_of_two_builds(tmp_path)
    figures = current.load(tmp_path)
    both = served_figures.steps(figures, "m")
    assert set(both.run_id) == {"20261126T100000Z", "20261126T110000Z"}
    gil = served_figures.steps(figures, "m", "CPython 3.13.1")
    assert set(gil.run_id) == {"20261126T100000Z"} and len(gil) == len(both) / 2


def test_fit_lists_free_threaded_threads_with_every_core_and_what_binds(tmp_path, capsys):
    from parkbench.cli import main

    _profiles_of_two_builds(tmp_path)
    assert main(["fit", "--waiters", "1k", "--rate", "100k", "--results", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("machine") and "requests/s at W" in line)
    assert header.split()[3:5] == ["cores", "machines"]
    rows = {tuple(line.split()[1:4]): line.split()[4:7] for line in lines if line.startswith("m ")}
    # 60,000/s per core: one machine for the free-threaded build (two cores), two with the GIL
    assert rows[("CPython", "3.13.1t", "threads/connections")][:2] == ["2", "1"]
    assert rows[("CPython", "3.13.1", "threads/connections")] == ["1", "2", "request"]
    assert rows[("CPython", "3.13.1t", "asyncio/connections")][0] == "1"
