"""OS limits from fixture trees, capacity arithmetic, and real runs into a lowered limit."""

import json
import subprocess
import sys

import pytest

from parkbench.cli import main
from parkbench.measurement import limits
from parkbench.store import results


def _tree(root, files):
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


BASE = {
    "proc/sys/kernel/pid_max": "32768\n",
    "proc/sys/kernel/threads-max": "192729\n",
    "proc/sys/vm/max_map_count": "65530\n",
    "proc/meminfo": "MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n",
    "proc/1/task/1/stat": "",
    "proc/1/task/2/stat": "",
    "proc/77/task/77/stat": "",
}


def test_cgroup_v2_limits_take_the_tightest_ancestor(tmp_path):
    root = _tree(tmp_path, {**BASE,
        "proc/self/cgroup": "0::/user.slice/session-1.scope\n",
        "sys/fs/cgroup/user.slice/pids.max": "5000\n",
        "sys/fs/cgroup/user.slice/session-1.scope/pids.max": "max\n",
        "sys/fs/cgroup/user.slice/session-1.scope/memory.max": "8589934592\n",
    })
    values = limits.read(str(root))
    assert values["pid_max"] == 32768 and values["threads_max"] == 192729
    assert values["max_map_count"] == 65530
    assert values["cgroup_pids_max"] == 5000
    assert values["cgroup_memory_max"] == 8 * 2**30
    assert values["memory_available"] == 20000000 * 1024
    assert values["tasks_in_use"] == 3


def test_cgroup_v1_limits_and_unlimited_markers(tmp_path):
    root = _tree(tmp_path, {**BASE,
        "proc/self/cgroup": "8:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n",
        "sys/fs/cgroup/pids/docker/abc/pids.max": "1024\n",
        "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "9223372036854771712\n",
        "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
    })
    values = limits.read(str(root))
    assert values["cgroup_pids_max"] == 1024
    assert values["cgroup_memory_max"] is None  # v1's "no limit" is a huge number


def test_no_cgroup_files_means_unlimited(tmp_path):
    values = limits.read(str(_tree(tmp_path, BASE)))
    assert values["cgroup_pids_max"] is None and values["cgroup_memory_max"] is None


LIMITS = {
    "pid_max": 32768, "threads_max": 192729, "max_map_count": 65530, "tasks_in_use": 168,
    "rlimit_nproc": {"soft": 96364, "hard": 96364}, "rlimit_nofile": {"soft": 1024, "hard": 20000},
    "cgroup_pids_max": None, "cgroup_memory_max": None, "memory_available": 16 * 2**30,
    "is_root": False,
}


def test_capacity_picks_the_memory_bound_for_tasks():
    bound = limits.capacity("asyncio", "event", LIMITS, total_per_waiter=1024)
    assert (bound.limit, bound.waiters) == ("memory", 16 * 2**20)


def test_capacity_picks_the_map_count_for_threads_when_it_binds():
    bound = limits.capacity("threads", "condition", LIMITS, total_per_waiter=43_000, maps_per_waiter=3)
    assert (bound.limit, bound.waiters) == ("max_map_count", 21843)
    assert "vm.max_map_count" in bound.how_to_raise


def test_capacity_picks_pid_max_when_maps_are_few():
    bound = limits.capacity("threads", "condition", LIMITS, total_per_waiter=43_000, maps_per_waiter=1)
    assert (bound.limit, bound.waiters) == ("pid_max", 32768 - 168)


def test_capacity_of_workers_is_bound_by_the_soft_descriptor_limit_and_sockets_by_the_hard():
    assert limits.capacity("subprocess", "fork", LIMITS, 900_000).limit == "rlimit_nofile"
    assert limits.capacity("subprocess", "fork", LIMITS, 900_000).waiters == 1024
    sockets = limits.capacity("asyncio", "socket", LIMITS, 2_000)
    assert (sockets.limit, sockets.waiters) == ("rlimit_nofile", 10000)


def test_cgroup_pids_and_nproc_bind_when_lowest():
    tight = {**LIMITS, "cgroup_pids_max": 500}
    assert limits.capacity("threads", "condition", tight, 43_000, 3).limit == "cgroup_pids_max"
    user = {**LIMITS, "rlimit_nproc": {"soft": 300, "hard": 300}}
    assert limits.capacity("subprocess", "exec", user, 5e6).limit == "rlimit_nproc"
    assert limits.capacity("subprocess", "exec", {**user, "is_root": True}, 5e6).limit != "rlimit_nproc"


def test_limits_command_names_the_binding_limit_per_model(tmp_path, capsys):
    assert main(["limits", "--results", str(tmp_path), "--machine", "x"]) == 0
    out = capsys.readouterr().out
    assert "vm.max_map_count" in out and "kernel.pid_max" in out
    for model in ("threads/condition", "subprocess/fork", "subprocess/exec"):
        line = next(line for line in out.splitlines() if line.strip().startswith(model))
        assert "raise:" in line


def _capacity_of(out: str, label: str, interpreter: str = "CPython 3.11.7") -> str:
    line = next(line for line in out.splitlines()
                if line.strip().startswith(label + " ") and f"[{interpreter}," in line)
    return line.split()[1]


def test_limits_gives_the_capacity_show_and_fit_give_and_live_says_it_is_now(tmp_path, capsys, monkeypatch):
    """issue 37.3: limits gave asyncio/event 14.1M, then 14.3M a minute later (the memory
    free at that moment), where show and fit gave 20.8M (the memory free when the run ran)."""
    from parkbench.analysis import current
    from tests.damage import COMMITTED_MACHINE, committed_copy

    committed_copy(tmp_path)
    real = limits.read
    monkeypatch.setattr(limits, "read", lambda *a: {**real(*a), "memory_available": 2**30})  # 1 GiB free now
    frame = current.load(tmp_path / COMMITTED_MACHINE).frame
    shown = frame[(frame.metric == "capacity") & (frame.model == "asyncio") & (frame.variant == "event")
                  & (frame.interpreter == "CPython 3.11.7")].value.iloc[0]
    assert main(["limits", "--results", str(tmp_path), "--machine", COMMITTED_MACHINE]) == 0
    out = capsys.readouterr().out
    assert _capacity_of(out, "asyncio/event") == f"{int(shown):,}"
    assert "the limits in force when that run ran, as show, fit and the report give it" in out
    assert main(["limits", "--results", str(tmp_path), "--machine", COMMITTED_MACHINE, "--live"]) == 0
    live = capsys.readouterr().out
    now = current.load(tmp_path / COMMITTED_MACHINE, limits=limits.read()).frame
    predicted_now = now[(now.metric == "capacity") & (now.model == "asyncio") & (now.variant == "event")
                        & (now.interpreter == "CPython 3.11.7")].value.iloc[0]
    assert predicted_now < 10**6 < shown   # 1 GiB free now, some 24 GiB when the run ran
    assert _capacity_of(live, "asyncio/event") == f"{int(predicted_now):,}"
    assert "the limits above, now (--live" in live
    # a variant whose memory run recorded no limits is not predicted from today's
    line = next(line for line in out.splitlines() if line.strip().startswith("threads/stack-256k"))
    assert "not predicted: its memory run recorded no OS limits" in line


@pytest.mark.slow
def test_to_limit_against_a_lowered_descriptor_limit_stops_cleanly(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", "--to-limit", "subprocess:fork", "--child-rlimit", "nofile=64",
                 "--machine", "lim", "--output", str(out)]) == 0
    (path,) = (out / "lim").glob("2*.json")
    document = results.read_run(path)
    (failure,) = document["failures"]
    assert failure["failure"] == "limit"
    assert "Too many open files" in failure["reason"]
    assert 20 <= failure["reached"] < 64
    (reached,) = [f for f in document["figures"] if f["metric"] == "limit_reached"]
    assert (reached["value"], reached["limit"]) == (failure["reached"], "rlimit_nofile")
    assert "reached" in capsys.readouterr().out


@pytest.mark.slow
def test_to_limit_threads_against_a_lowered_address_space(tmp_path):
    """RLIMIT_AS holds threads back even for root (RLIMIT_NPROC does not): each thread
    reserves its stack. The runner survives and records the refusal."""
    baseline = subprocess.run(
        [sys.executable, "-m", "parkbench.measurement.probe_child", "--model", "threads", "--variant", "condition",
         "--n", "1"], capture_output=True, text=True, timeout=60)

    vms = json.loads(baseline.stdout.strip().splitlines()[-1])["memory"]["vms"]
    # 2 GiB more: 8 MiB stacks, and up to 8 per CPU of glibc's 64 MiB per-thread arenas.
    room = vms + 2 * 2**30
    out = tmp_path / "res"
    assert main(["run", "--models", "threads:condition", "--n", "10,100,1000", "--only", "memory",
                 "--child-rlimit", f"as={room}", "--machine", "lim", "--output", str(out)]) == 0
    (path,) = (out / "lim").glob("2*.json")
    document = results.read_run(path)
    (failure,) = document["failures"]
    assert failure["failure"] == "limit" and failure["n"] == 1000
    assert "can't start new thread" in failure["reason"]
    assert 100 <= failure["reached"] < 1000


@pytest.mark.parametrize("argv, message", [
    (["run", "--to-limit", "threads,asyncio"], "--to-limit takes one model"),
    (["run", "--to-limit", "threads", "--n", "1,2,3"], "do not pass --models or --n"),
    (["run", "--child-rlimit", "cpu=5"], "--child-rlimit takes NAME=VALUE"),
    (["run", "--child-rlimit", "nofile"], "--child-rlimit takes NAME=VALUE"),
])
def test_bad_limit_options_are_exit_2(tmp_path, capsys, argv, message):
    assert main(argv + ["--output", str(tmp_path / "res")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "res").exists()


def test_the_limits_of_connections_are_read_too(tmp_path):
    root = _tree(tmp_path, {**BASE,
        "proc/sys/fs/nr_open": "1048576\n",
        "proc/sys/net/ipv4/ip_local_port_range": "32768\t60999\n",
        "proc/sys/net/netfilter/nf_conntrack_max": "262144\n",
        "proc/sys/net/netfilter/nf_conntrack_count": "17\n",
    })
    values = limits.read(str(root))
    assert values["memory_total"] == 24000000 * 1024
    assert (values["nr_open"], values["ephemeral_ports"]) == (1048576, 60999 - 32768 + 1)
    assert (values["nf_conntrack_max"], values["nf_conntrack_count"]) == (262144, 17)
    assert values["is_root"] is False  # a fixture tree is never this machine's root
    bounds = {b.limit: b for b in limits.bounds("asyncio", "reuseport", values, 9000.0)}
    assert bounds["ephemeral_ports"].waiters == (28232 - limits.PORTS_KEPT_FREE) * limits.CLIENT_SOURCES
    assert bounds["ephemeral_ports"].detail == ("28,232 ports (8 kept free) x 250 loopback client "
                                                "addresses (one client host: 28,232)")
    assert bounds["nf_conntrack_max"].waiters == 262144 - 17
    assert bounds["nf_conntrack_max"].detail == "262,144 tracked connections - 17 in use"
    missing = limits.read(str(_tree(tmp_path / "bare", BASE)))
    assert missing["ephemeral_ports"] is None and missing["nr_open"] is None
    assert "ephemeral_ports" not in {b.limit for b in limits.bounds("asyncio", "connections", missing, 9000.0)}


def test_the_limits_listing_shows_the_connection_limits_where_known():
    from parkbench.commands.limits import limit_lines

    values = limits.read("/")
    values.update(nr_open=1048576, ephemeral_ports=28232, nf_conntrack_max=262144, nf_conntrack_count=7)
    text = "\n".join(limit_lines(values))
    assert "fs.nr_open (hard ulimit -n ceiling)   1,048,576" in text
    assert "ephemeral ports (per client address)  28,232" in text
    assert "net.netfilter.nf_conntrack_max        262,144 (7 tracked now)" in text
    values.update(nr_open=None, ephemeral_ports=None, nf_conntrack_max=None)
    assert "nr_open" not in "\n".join(limit_lines(values))  # a results file from before them


def test_a_tighter_parent_cgroup_binds_the_child(tmp_path):
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text("0::/parent/child\n")
    base = tmp_path / "sys/fs/cgroup"
    (base / "parent/child").mkdir(parents=True)
    (base / "parent/pids.max").write_text("300\n")          # tighter, in the parent
    (base / "parent/child/pids.max").write_text("5000\n")   # looser, in the child
    (base / "pids.max").write_text("max\n")
    (base / "parent/memory.max").write_text("max\n")
    (base / "parent/child/memory.max").write_text("1073741824\n")
    found = limits.read(str(tmp_path))
    assert found["cgroup_pids_max"] == 300
    assert found["cgroup_memory_max"] == 2**30
