"""A machine folder's identity is stable, and each run names its host (issue 37, item 5):
machine.json holds only the machine kind and is never rewritten by a run (a clone stays
clean after a sweep); a run on another host, or a machine of another kind under the same
name, is told so with the ``--machine`` that keeps them apart; show, fit and the report
say when a machine's current figures come from more than one host."""

import json

import pytest

from parkbench.analysis import current, host_mix
from parkbench.cli import build_parser, main
from parkbench.commands import run as run_command
from parkbench.core.errors import UserError
from parkbench.measurement import limits, machine
from parkbench.store import results
from tests import synthetic
from tests.damage import COMMITTED_MACHINE, FIXTURES, committed_copy, edit, refused_after

HOST_A = {"hostname": "vm", "id": "3d1219c7c4c5"}
HOST_B = {"hostname": "box-2", "id": "a1b2c3d4e5f6"}


def _new_run(tmp_path, monkeypatch, host=HOST_A, available=20 * 2**30, cpu="AMD EPYC"):
    """``run``'s set-up alone (no child runs): the run file and machine.json, on ``host``
    with ``available`` bytes free; returns (run file, stderr lines)."""
    monkeypatch.setattr(machine, "host", lambda: dict(host))
    monkeypatch.setattr(machine, "_cpu_model", lambda: cpu)
    real = limits.read
    monkeypatch.setattr(machine.limits, "read", lambda: {**real(), "memory_available": available,
                                                         "tasks_in_use": available % 997})
    args = build_parser().parse_args(["run", "--output", str(tmp_path), "--machine", "m",
                                      "--models", "asyncio", "--n", "1,2,3"])
    run_file, _plan = run_command._new_run(args)
    run_file.let_go()
    return run_file


def test_machine_json_holds_the_kind_alone_and_no_later_run_rewrites_it(tmp_path, monkeypatch, capsys):
    first = _new_run(tmp_path, monkeypatch, available=20 * 2**30)
    path = tmp_path / "m" / "machine.json"
    before = path.read_bytes()
    stored = json.loads(before)
    assert set(stored) == {"schema", "schema_version", "name", *results.KIND_FIELDS, "first_host"}
    assert stored["first_host"] == HOST_A and stored["schema_version"] == 3
    second = _new_run(tmp_path, monkeypatch, available=11 * 2**30)  # the machine's state moved
    assert path.read_bytes() == before
    # the changing state is each run's own
    documents = [json.loads(run.path.read_text()) for run in (first, second)]
    assert [d["machine_description"]["limits"]["memory_available"] for d in documents] == [20 * 2**30, 11 * 2**30]
    assert [d["host"] for d in documents] == [HOST_A, HOST_A]
    assert "note:" not in capsys.readouterr().err  # the same host, the same kind: nothing to say


def test_an_older_machine_json_is_brought_to_its_own_kind_once(tmp_path, monkeypatch, capsys):
    """A version-2 file held the latest run's description: its kind is kept (not this
    run's), and no first host is invented for it; a later run is compared by kind."""
    (tmp_path / "m").mkdir()
    old = json.loads((FIXTURES / "fixture-a" / "machine.json").read_text())
    assert old["schema_version"] < 3 and "limits" in old
    (tmp_path / "m" / "machine.json").write_text(json.dumps({**old, "name": "m", "cpu_model": "AMD EPYC",
                                                             "memory_total": 25276502016}))
    _new_run(tmp_path, monkeypatch, cpu="Intel Xeon")
    path = tmp_path / "m" / "machine.json"
    upgraded = path.read_bytes()
    assert {key: value for key, value in json.loads(upgraded).items() if key != "physical_cpus"} == {
        "schema": "parkbench-machine", "schema_version": 3, "name": "m", "architecture": old["architecture"],
        "cpu_model": "AMD EPYC", "logical_cpus": old["logical_cpus"], "memory_gib": 24, "first_host": None}
    assert "cpu_model 'Intel Xeon' here, 'AMD EPYC' there" in capsys.readouterr().err
    _new_run(tmp_path, monkeypatch, host=HOST_B, cpu="AMD EPYC", available=3 * 2**30)
    assert path.read_bytes() == upgraded
    assert "note:" not in capsys.readouterr().err  # no first host to differ from, the same kind


def test_another_host_is_told_which_and_given_a_name_of_its_own(tmp_path, monkeypatch, capsys):
    _new_run(tmp_path, monkeypatch, host=HOST_A)
    capsys.readouterr()
    _new_run(tmp_path, monkeypatch, host=HOST_B)
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert "this host, box-2 (a1b2c3d4e5f6), files its runs under machine 'm', whose results host vm (3d1219c7c4c5) filed first:" in line
    assert line.endswith("run with --machine m-box-2")
    assert json.loads((tmp_path / "m" / "machine.json").read_text())["first_host"] == HOST_A


@pytest.mark.parametrize("later, told", [
    ({**HOST_A, "hostname": "vm-renamed"}, False),       # one machine id: one host, renamed
    ({**HOST_A, "id": "ffffffffffff"}, True),            # one name, another machine id
    ({"hostname": "vm", "id": None}, False),             # no machine id: by name
])
def test_a_host_is_known_by_its_machine_id_first(tmp_path, monkeypatch, capsys, later, told):
    _new_run(tmp_path, monkeypatch, host=HOST_A)
    capsys.readouterr()
    _new_run(tmp_path, monkeypatch, host=later)
    assert ("note:" in capsys.readouterr().err) == told


def test_another_machine_kind_under_the_name_is_told_what_differs(tmp_path, monkeypatch, capsys):
    _new_run(tmp_path, monkeypatch, cpu="AMD EPYC")
    capsys.readouterr()
    _new_run(tmp_path, monkeypatch, cpu="Intel Xeon")
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert "this host, vm (3d1219c7c4c5), files its runs under machine 'm', whose machine kind differs" in line and "cpu_model 'Intel Xeon' here, 'AMD EPYC' there" in line


def test_a_host_id_is_a_short_hash_of_the_machine_id_never_the_id(tmp_path):
    (tmp_path / "machine-id").write_text("3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    named = machine.host(tmp_path / "machine-id")
    assert named["id"] == "0035969ec53f" and "3d1219c7" not in json.dumps(named)
    assert machine.host(tmp_path / "absent")["id"] is None


def test_a_run_started_on_another_host_is_not_resumed_here(tmp_path, monkeypatch):
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [synthetic.memory_record("asyncio", "event", 10)],
                               complete=False, host=HOST_B)
    monkeypatch.setattr(machine, "host", lambda: dict(HOST_A))
    args = build_parser().parse_args(["run", "--output", str(tmp_path), "--resume", str(path)])
    with pytest.raises(UserError, match=r"started on host box-2 \(a1b2c3d4e5f6\), not this one"):
        run_command._reopen_run(args)


@pytest.mark.parametrize("host, said", [
    ({"hostname": "vm", "id": "3D1219C7C4C5"}, "host.id must be 12 lowercase hex digits"),
    ({"hostname": "vm", "id": "3d1219c7c4c5404aaa1f6d2a48adfda4"}, "host.id must be 12"),
    ({"hostname": "", "id": None}, "host.hostname must not be empty"),
    ({"hostname": 7, "id": None}, "host.hostname must be text"),
    ("vm", "host must be an object"),
])
def test_a_bad_host_record_is_refused(tmp_path, host, said):
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [synthetic.memory_record("asyncio", "event", 10)])
    refused_after(path, lambda document: document.update(host=host), said)


def test_a_bad_first_host_in_machine_json_is_refused(tmp_path):
    path = tmp_path / "machine.json"
    path.write_text(json.dumps({"schema": "parkbench-machine", "schema_version": 3, "name": "m",
                                "first_host": {"hostname": "vm", "id": "zz"}}))
    with pytest.raises(UserError, match="first_host.id must be 12"):
        results.read_machine(path)


N = (10, 100, 1_000, 3_000)


def _runs(folder, hosts, cpus=("EPYC", "EPYC", "EPYC")):
    """Two runs of machine m, each the current one of its own model, on ``hosts``; a
    third, of a third model, records no host; their CPU models ``cpus``."""
    for when, model, host, cpu in zip(("20260101T000000", "20260102T000000"), ("asyncio", "gevent"), hosts, cpus):
        synthetic.write_run(folder, "m", when, [synthetic.memory_record(model, "event", n) for n in N],
                            host=host, cpu_model=cpu)
    synthetic.write_run(folder, "m", "20260103T000000", [synthetic.memory_record("uvloop", "event", n) for n in N],
                        cpu_model=cpus[2])


def test_figures_of_two_hosts_under_one_name_are_said_by_show_fit_and_json(tmp_path, capsys):
    _runs(tmp_path, (HOST_A, HOST_B))
    figures = current.load(tmp_path)
    assert host_mix.speaking(figures)["m"] == [
        {"host": "vm (3d1219c7c4c5)", "cpu_model": "EPYC", "runs": ["20260101T000000Z"]},
        {"host": "box-2 (a1b2c3d4e5f6)", "cpu_model": "EPYC", "runs": ["20260102T000000Z"]},
        {"host": "not recorded", "cpu_model": "EPYC", "runs": ["20260103T000000Z"]}]
    said = ("m: current figures come from 2 hosts under one machine name: vm (3d1219c7c4c5), EPYC: run "
            "20260101T000000Z; box-2 (a1b2c3d4e5f6), EPYC: run 20260102T000000Z; host not recorded, EPYC: "
            "run 20260103T000000Z; give each its own name")
    assert main(["show", str(tmp_path)]) == 0
    assert said in capsys.readouterr().out
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["host"], r["runs"]) for r in records if r.get("kind") == "hosts" and r["machine"] == "m"] == [
        ("vm (3d1219c7c4c5)", ["20260101T000000Z"]), ("box-2 (a1b2c3d4e5f6)", ["20260102T000000Z"]),
        ("not recorded", ["20260103T000000Z"])]


def test_a_host_without_a_machine_id_is_the_one_of_its_name_that_has_one(tmp_path):
    """A helper's attack: 'vm (0035969ec53f)' and 'vm (no machine id)' were counted as two
    hosts, where run's own rule (``hosts.same``) takes them for one."""
    _runs(tmp_path, (HOST_A, {"hostname": "vm", "id": None}))
    figures = current.load(tmp_path)
    assert host_mix.mixed(figures) == {}
    assert [e["host"] for e in host_mix.speaking(figures)["m"]] == ["vm (3d1219c7c4c5)", "not recorded"]


@pytest.mark.parametrize("name", ["evil\u202egnp.exe", "a\x1b[31mred", "two\nlines", "nul\x00"])
def test_a_hostname_the_writer_never_writes_is_refused(tmp_path, name):
    path = synthetic.write_run(tmp_path, "m", "20260101T000000", [synthetic.memory_record("asyncio", "event", 10)])
    refused_after(path, lambda document: document.update(host={"hostname": name, "id": None}),
                  "host.hostname must be printable text")


def test_one_host_and_runs_that_recorded_none_are_not_a_mix(tmp_path, capsys):
    _runs(tmp_path, (HOST_A, {**HOST_A, "hostname": "vm-renamed"}))  # one machine id: one host
    figures = current.load(tmp_path)
    assert host_mix.mixed(figures) == {}
    assert not [note for note in figures.notes if "hosts under one machine name" in note]
    assert main(["show", str(tmp_path), "--format", "json"]) == 0
    assert not [line for line in capsys.readouterr().out.splitlines() if '"kind": "hosts"' in line]


def test_runs_of_one_host_on_two_cpu_models_are_a_mix_too(tmp_path):
    """Runs that recorded no host (format 5 and older) still name their CPU model: the
    committed folder's runs came from an AMD EPYC and an Intel Xeon under one name."""
    _runs(tmp_path, (None, None), cpus=("AMD EPYC", "AMD EPYC", "Intel Xeon"))
    (line,) = host_mix.notes(current.load(tmp_path))
    assert line.startswith("m: current figures come from 2 CPU models under one machine name: host not "
                           "recorded, AMD EPYC: runs 20260101T000000Z, 20260102T000000Z; host not recorded, "
                           "Intel Xeon: run 20260103T000000Z")


def test_fit_says_the_hosts_of_a_mixed_machine(tmp_path, capsys):
    committed_copy(tmp_path)
    folder = tmp_path / COMMITTED_MACHINE
    speaking = sorted({source["run_id"] for source in current.load(folder).sources})
    for path in folder.glob("2*.json"):  # one run that speaks came from another host
        edit(path, lambda document, run=path.stem: document.update(
            host=HOST_B if run == speaking[-1] else HOST_A))
    assert main(["fit", "--results", str(tmp_path), "--waiters", "10k", "--rate", "100k"]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("hosts:")]
    assert line.startswith(f"hosts: {COMMITTED_MACHINE}: current figures come from 2 hosts and 2 CPU "
                           f"models under one machine name: vm (3d1219c7c4c5), AMD EPYC: ")
    assert f"box-2 (a1b2c3d4e5f6), Intel(R) Xeon(R) Processor: run {speaking[-1]};" in line
