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


def test_a_build_flag_that_is_not_a_boolean_is_refused(tmp_path):
    # truthy: would read as 3.13.1t; refused by the reader's check, which every save runs
    with pytest.raises(UserError, match="interpreter.gil_disabled must be true or false"):
        write_run(tmp_path, "m", "20261126T100000", [memory_record("asyncio", "event", n) for n in GRID],
                  interpreter=dict(GIL, gil_disabled="false"))
