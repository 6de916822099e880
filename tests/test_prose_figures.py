"""Figures quoted in prose come from the committed files: each claim below finds its
numbers in README.md or docs/ and computes them again from the committed results (a
fixed snapshot, ``tests/committed.py``), formatted as the prose gives them. A new run that
moves a figure fails here until the prose says the new one."""

import functools
import json
import re

import pytest

from parkbench.analysis import current
from parkbench.presentation import summary
from tests import committed

ROOT = committed.ROOT
MACHINE = "x86_64-2cpu-24gib"
PY = "CPython 3.11.7"


@functools.cache
def _figures():
    return current.load([committed.results() / MACHINE])


def _value(model, variant, metric, interpreter=PY) -> float:
    frame = _figures().frame
    named = frame.primitive if metric.startswith("switch") else frame.variant
    rows = frame[(frame.model == model) & (named == variant) & (frame.metric == metric)
                 & (frame.interpreter == interpreter) & frame.n.isna()]
    assert len(rows) == 1, (model, variant, metric, len(rows))
    return float(rows.value.iloc[0])


def _ratio(model, variant, latency=False) -> str:
    frame = _figures().frame
    table = summary.latency_table(frame) if latency else summary.table(frame)
    named = table.primitive if latency else table.variant  # a hand-off's row names its primitive
    row = table[(table.interpreter == PY) & (table.model == model) & (named == variant)]
    return summary.format_ratio(float(row.vs_reference.iloc[0]))


def _run_figure(run_id, model, variant, metric) -> float:
    from parkbench.analysis import tidy

    frame, _ = tidy.load_runs([committed.results() / MACHINE / f"{run_id}.json"])
    rows = frame[(frame.model == model) & (frame.variant == variant) & (frame.metric == metric) & frame.n.isna()]
    return float(rows.value.iloc[0])


def _ceilings() -> list[int]:
    from parkbench.analysis import tidy

    frame, _ = tidy.load_runs([committed.results() / MACHINE])
    rows = frame[(frame.metric == "limit_reached") & (frame.model == "threads")
                 & (frame.variant == "condition") & (frame.interpreter == PY)]
    return sorted(int(v) for v in rows.value)


def _peer(runtime, n) -> dict:
    document = json.loads((committed.results() / MACHINE / "peer-style.json").read_text())
    row, = [r for r in document["rows"] if r["runtime"] == runtime and r["n"] == n]
    return row


def _thread_check(interpreter) -> dict:
    check, = [c for c in _figures().checks if (c["interpreter"], c["model"], c["variant"])
              == (interpreter, "threads", "condition")]
    return check


def _thread_checks() -> tuple:
    """The methodology's thread predictions: counted at N 3,000 under 3.12 and 3.13, how
    far over the 3.11 ceiling, the ceiling, the predictions taken at it, and 3.11's own."""
    newer = [_thread_check(f"CPython {v}") for v in ("3.12.1", "3.13.0")]
    own = _thread_check(PY)
    return (*(f"{c['predicted']:,}" for c in newer), *(f"{(c['ratio'] - 1) * 100:.1f}" for c in newer),
            f"{newer[0]['measured']:,}",
            *(f"{_value('threads', 'condition', 'capacity', f'CPython {v}'):,.0f}" for v in ("3.12.1", "3.13.0")),
            f"{own['predicted']:,}", f"{(own['ratio'] - 1) * 100:.1f}")


DEFAULT_SERVED_RUNS = ("20261207T000245Z", "20261207T000344Z", "20261207T000445Z")  # three in a row, quiet


def _rates(run_ids, metric) -> dict:
    """Each (model, variant, W)'s rate per core in every one of the runs."""
    from parkbench.analysis import tidy

    frame, _ = tidy.load_runs([committed.results() / MACHINE / f"{run}.json" for run in run_ids])
    found: dict = {}
    for row in frame[frame.metric == metric].itertuples():
        found.setdefault((row.model, row.variant, int(row.n)), []).append(float(row.value))
    assert found, metric
    return found


def _spread(values) -> str:
    return f"{max(values) / min(values):.2f}"


def _served_repeats() -> tuple:
    rates = _rates(DEFAULT_SERVED_RUNS, "served_rate_per_core")
    assert all(len(values) == len(DEFAULT_SERVED_RUNS) for values in rates.values()), rates
    others = [_spread(v) for (model, _, _), v in rates.items() if model != "threads"]
    return (max(others), _spread(rates["threads", "connections", 100]),
            _spread(rates["threads", "connections", 1000]))


FULL_SERVED_RUNS = ("20261207T000835Z", "20261207T003745Z")  # two --full --only served in a row, quiet


def _full_repeats() -> tuple:
    rates = _rates(FULL_SERVED_RUNS, "served_rate_per_core")
    others = [_spread(v) for (model, _, _), v in rates.items() if model != "go" and len(v) == 2]
    return max(others), max(_spread(v) for (model, _, _), v in rates.items() if model == "go")


def _floor_shares() -> tuple:
    from parkbench.analysis import served_figures

    shares = []
    for run in FULL_SERVED_RUNS:
        over, steps = served_figures.floor_misses(json.loads((committed.results() / MACHINE / f"{run}.json").read_text()),
                                                  0.005)
        shares.append(f"{over / steps * 100:.0f}")
    return tuple(sorted(shares, key=float))


def _wake_repeats() -> tuple:
    rates = _rates(DEFAULT_SERVED_RUNS, "wake_rate_per_core")
    assert all(len(values) == len(DEFAULT_SERVED_RUNS) for values in rates.values()), rates
    by_model = {model: [x for (m, _, _), v in rates.items() if m == model for x in v] for model in ("asyncio", "uvloop")}
    return (max(_spread(v) for v in rates.values()),
            *(f"{bound / 1000:.0f}" for model in ("asyncio", "uvloop")
              for bound in (min(by_model[model]), max(by_model[model]))))


FREE, GIL13 = "CPython 3.13.5t", "CPython 3.13.5"   # both built by scripts/build_python.py
FREE_RUNS = {"sweep": ("20261207T014159Z", "20261207T014410Z"),   # default sweeps, 3.13t then 3.13
             "full served": ("20261207T022042Z", "20261207T022242Z")}  # --full --only served, threads


def _per_w(run_id, model, variant, metric, w) -> float:
    from parkbench.analysis import tidy

    frame, _ = tidy.load_runs([committed.results() / MACHINE / f"{run_id}.json"])
    rows = frame[(frame.model == model) & (frame.variant == variant) & (frame.metric == metric) & (frame.n == w)]
    assert len(rows) == 1, (run_id, model, variant, metric, w, len(rows))
    return float(rows.value.iloc[0])


def _handoff(interpreter, primitive, placement) -> float:
    frame = _figures().frame
    rows = frame[(frame.model == "threads") & (frame.primitive == primitive) & (frame.placement == placement)
                 & (frame.metric == "switch_latency") & (frame.interpreter == interpreter) & frame.n.isna()]
    assert len(rows) == 1, (interpreter, primitive, placement, len(rows))
    return float(rows.value.iloc[0])


def _checked(name) -> dict:
    return json.loads((committed.results() / MACHINE / name).read_text())


def _independent(interpreter) -> dict:
    row, = [r for r in _checked("interpreter-check.json")["rows"]
            if (r["interpreter"], r["model"]) == (interpreter, "threads")]
    return row


def _thread(metric, interpreter) -> float:
    return _value("threads", "condition", metric, interpreter)


def _free_readme() -> tuple:
    return (FREE.split()[1], f"{_thread('rss_per_waiter', FREE) / KIB:.1f}",
            f"{_thread('rss_per_waiter', FREE) / _thread('rss_per_waiter', GIL13):.1f}",
            f"{_thread('rss_per_waiter', GIL13) / KIB:.1f}", f"{_thread('total_per_waiter', FREE) / KIB:.0f}",
            f"{_thread('vms_per_waiter', FREE) / MIB:.1f}", f"{_thread('capacity', FREE):,.0f}",
            f"{_thread('capacity', GIL13):,.0f}")


def _free_table() -> tuple:
    found = []
    for metric, unit in (("rss_per_waiter", KIB), ("independent", KIB), ("vms_per_waiter", MIB),
                         ("kernel_per_waiter", KIB), ("total_per_waiter", KIB)):
        for interpreter in (GIL13, FREE):
            value = (_independent(interpreter)["independent_rss_per_waiter"] if metric == "independent"
                     else _thread(metric, interpreter))
            found.append(_three_figures(value / unit))
    return (*found, *(f"{_thread('capacity', i):,.0f}" for i in (GIL13, FREE)))


def _three_figures(value: float) -> str:
    """As format_bytes prints a figure: three significant digits (16.1, 8.02, 109)."""
    return f"{value:.3g}" if value >= 100 else (f"{value:.2f}" if value < 10 else f"{value:.1f}")


def _free_agreement() -> tuple:
    found = []
    for interpreter in (FREE, GIL13):
        row = _independent(interpreter)
        difference = row["parkbench_rss_per_waiter"] / row["independent_rss_per_waiter"] - 1
        found.append(f"{abs(difference) * 100:.1f}% {'under' if difference < 0 else 'over'}")
    return tuple(found)


def cause_table() -> str:
    """The methodology's table of thread_memory_cause.py's settings, from its file."""
    lines = ["| setting | interpreter | RSS per thread | VMS per thread | GIL on when read |",
             "| --- | --- | ---: | ---: | --- |"]
    for row in _checked("thread-memory-cause.json")["rows"]:
        lines.append(f"| {row['setting']} | {row['interpreter']} | {row['rss_per_thread'] / KIB:.1f} KiB | "
                     f"{row['vms_per_thread'] / MIB:.2f} MiB | {', '.join(map(str, row['gil_enabled'])).lower()} |")
    return "\n".join(lines)


def _cause(setting) -> dict:
    row, = [r for r in _checked("thread-memory-cause.json")["rows"] if r["setting"] == setting]
    return row


def _cause_figures() -> tuple:
    rss = {name: _cause(name)["rss_per_thread"] for name in (
        "free-threaded", "free-threaded, K=1,000 objects", "GIL build", "GIL build, K=1,000 objects",
        "free-threaded, woken by each arrival", "GIL build, woken by each arrival")}
    return (f"{(rss['free-threaded, K=1,000 objects'] - rss['free-threaded']) / KIB:.0f} KiB",
            f"{(rss['GIL build, K=1,000 objects'] - rss['GIL build']) / KIB:.0f} KiB",
            f"{rss['free-threaded, woken by each arrival'] / KIB:.1f} KiB",
            f"{rss['GIL build, woken by each arrival'] / KIB:.1f} KiB",
            f"{(_cause('free-threaded, 256 KiB stacks')['vms_per_thread'] - _cause('GIL build, 256 KiB stacks')['vms_per_thread']) / MIB:.1f} MiB",
            f"{_thread('capacity', FREE) / _thread('capacity', GIL13):.2f}")


def _free_handoffs() -> tuple:
    from parkbench.core.units import format_seconds

    figures = [format_seconds(_handoff(i, p, where)) for p in ("lock", "queue") for i in (FREE, GIL13)
               for where in ("same-core", "cross-core")]
    return (*figures, f"{_handoff(FREE, 'lock', 'same-core') / _handoff(GIL13, 'lock', 'same-core'):.1f}")


def _free_served() -> tuple:
    from parkbench.analysis import sizing
    from parkbench.commands.fit import machine_cores

    full_free, full_gil = FREE_RUNS["full served"]
    threads = [f"{_per_w(run, 'threads', 'connections', 'served_rate_per_core', 10_000):,.0f}"
               for run in (full_free, full_gil)]
    free, gil = FREE_RUNS["sweep"]
    served = {model: [_per_w(run, model, "connections", "served_rate_per_core", 1000) for run in (free, gil)]
              for model in ("asyncio", "uvloop")}
    wakes = [_per_w(run, "asyncio", "event", "wake_rate_per_core", 1000) for run in (free, gil)]
    profile, = [p for p in sizing.profiles(_figures().frame, machine_cores(_figures()))
                if (p.interpreter, p.model, p.variant) == (FREE, "threads", "connections")]
    machines, bound = sizing.machines_needed(profile, 10_000, 100_000)
    return (*threads, *(f"{(1 - a / b) * 100:.0f}" for a, b in served.values()),
            *(f"{v:,.0f}" for pair in served.values() for v in pair),
            f"{(1 - wakes[0] / wakes[1]) * 100:.0f}", *(f"{v:,.0f}" for v in wakes),
            f"{profile.cores}", f"{profile.rate_at(10_000).rate:,.0f}", f"{machines:,}", bound)


KIB, MIB = 1024.0, 1024.0**2
WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def _task():
    return _value("asyncio", "event", "total_per_waiter")


CLAIMS = {
    "free-threaded threads in the README": (
        "README.md", r"\(free-threaded CPython ([\d.]+t)\) a parked thread costs ([\d.]+) KiB of RSS, ([\d.]+) times "
                     r"the ([\d.]+)\s+KiB of the GIL build of the same version, (\d+) KiB in all, and reserves "
                     r"([\d.]+) MiB of address\s+space; threads stop at ([\d,]+) there, ([\d,]+) with the GIL",
        _free_readme),
    "free-threaded threads table": (
        "docs/methodology.md", r"\| RSS per parked thread \| ([\d.]+) KiB \| ([\d.]+) KiB \|\n"
                               r"\| an independent probe \(`interpreter_check.py`\) \| ([\d.]+) KiB \| ([\d.]+) KiB \|\n"
                               r"\| VMS per thread \(address space reserved\) \| ([\d.]+) MiB \| ([\d.]+) MiB \|\n"
                               r"\| kernel memory per thread \| ([\d.]+) KiB \| ([\d.]+) KiB \|\n"
                               r"\| total per thread \(PSS \+ kernel\) \| ([\d.]+) KiB \| ([\d.]+) KiB \|\n"
                               r"\| thread ceiling \(`vm.max_map_count`, measured\) \| ([\d,]+) \| ([\d,]+) \|",
        _free_table),
    "free-threaded independent probe": (
        "docs/methodology.md", r"parkbench is ([\d.]+% \w+) it on 3.13t, ([\d.]+% \w+) on 3.13", _free_agreement),
    "why a free-threaded thread costs more": (
        "docs/methodology.md", r"objects and keeps them costs\s+(\d+ KiB) more, against (\d+ KiB) with.*?"
                               r"a\s+thread costs ([\d.]+ KiB) \(([\d.]+ KiB) on the GIL build\).*?"
                               r"what remains on 3.13t, ([\d.]+ MiB) per thread.*?threads, ([\d.]+)x",
        _cause_figures),
    "free-threaded hand-offs": (
        "docs/methodology.md", r"`lock` (\S+ µs) same-core and (\S+ µs) cross-core on 3.13t, (\S+ µs)\s+and (\S+ µs) on "
                               r"3.13 \(`queue` (\S+ µs) and (\S+ µs), against (\S+ µs) and (\S+ µs);.*?"
                               r"same-core hand-off is ([\d.]+)x\s+slower",
        _free_handoffs),
    "free-threaded served": (
        "docs/methodology.md", r"at W = 10,000\s+([\d,]+) requests/s on 3.13t and ([\d,]+) on 3.13.*?"
                               r"asyncio and uvloop serve (\d+)% and (\d+)% less.*?asyncio ([\d,]+) against ([\d,]+) "
                               r"requests/s, uvloop ([\d,]+) against\s+([\d,]+)\), and an asyncio loop wakes (\d+)% "
                               r"fewer tasks \(([\d,]+) against ([\d,]+) wake-ups/s,\s+W = 1,000\).*?\((\d+) here: ([\d,]+) "
                               r"requests/s at\s+W = 10,000 in `fit --waiters 10k --rate 100k`, (\d+) machine, bound "
                               r"by `(\w+)`, the descriptors\)",
        _free_served),
    "an asyncio and a uvloop task": (
        "README.md", r"A parked asyncio or uvloop task costs about ([\d.]+) KiB",
        lambda: (f"{_task() / KIB:.1f}",)),
    "a greenlet": ("README.md", r"a gevent greenlet about ([\d.]+) KiB",
                   lambda: (f"{_value('gevent', 'event', 'total_per_waiter') / KIB:.1f}",)),
    "a thread's RSS and kernel": (
        "README.md", r"an OS thread (\d+) KiB of RSS \*\*plus (\d+) KiB of kernel memory",
        lambda: (f"{_value('threads', 'condition', 'rss_per_waiter') / KIB:.0f}",
                 f"{_value('threads', 'condition', 'kernel_per_waiter') / KIB:.0f}")),
    "a thread in all": (
        "README.md", r"(\d+) KiB in all, (\d+) times a task",
        lambda: (f"{_value('threads', 'condition', 'total_per_waiter') / KIB:.0f}",
                 f"{_value('threads', 'condition', 'total_per_waiter') / _task():.0f}")),
    "a worker process": (
        "README.md", r"looks like (\d+) MiB by RSS but really costs ([\d.]+) MiB \(PSS \+\s+kernel\); "
                     r"a fresh interpreter ([\d.]+) MiB",
        lambda: (f"{_value('subprocess', 'fork', 'rss_per_waiter') / MIB:.0f}",
                 f"{_value('subprocess', 'fork', 'total_per_waiter') / MIB:.1f}",
                 f"{_value('subprocess', 'exec', 'total_per_waiter') / MIB:.1f}")),
    "a goroutine": ("README.md", r"A goroutine, measured beside them, ([\d.]+) KiB in\s+all",
                    lambda: (f"{_value('go', 'chan', 'total_per_waiter') / KIB:.2f}",)),
    "vs go": (
        "README.md", r"an asyncio task costs ([\d.]+x) a goroutine's memory\s+and (\d+x) its hand-off, "
                     r"an OS thread (\d+x) and (\d+x)",
        lambda: (_ratio("asyncio", "event"), _ratio("asyncio", "future", latency=True),
                 _ratio("threads", "condition"), _ratio("threads", "lock", latency=True))),
    "the thread ceilings": (
        "README.md", r"Threads stop at ([\d,]+) to ([\d,]+) on this machine\s+\((\w+) measured ceilings\)",
        lambda: (f"{_ceilings()[0]:,}", f"{_ceilings()[-1]:,}", WORDS.get(len(_ceilings()), str(len(_ceilings()))))),
    "an asyncio connection": (
        "README.md", r"an asyncio connection costs ([\d.]+) KiB, ([\d.]+)\s+times its bare task, ([\d.]+) KiB "
                     r"of it in the kernel; ([\d.]+x) a Go connection, where a thread\s+per connection is ([\d.]+x)",
        lambda: (f"{_value('asyncio', 'connections', 'total_per_waiter') / KIB:.1f}",
                 f"{_value('asyncio', 'connections', 'total_per_waiter') / _task():.1f}",
                 f"{_value('asyncio', 'connections', 'kernel_per_waiter') / KIB:.1f}",
                 _ratio("asyncio", "connections"), _ratio("threads", "connections"))),
    "the 1M-tasks gap in the README": (
        "README.md", r"gives ([\d,]+) B\s+per asyncio task here, (\d+)% more than the ([\d.]+) KiB slope",
        lambda: (f"{_peer('asyncio', 1_000_000)['peer_per_task']:,.0f}",
                 f"{(_peer('asyncio', 1_000_000)['peer_per_task'] / _task() - 1) * 100:.0f}",
                 f"{_task() / KIB:.2f}")),
    "other interpreters": (
        "README.md", r"Under CPython 3.12 and 3.13 a task is ([\d.]+) and ([\d.]+) KiB",
        lambda: (f"{_value('asyncio', 'event', 'total_per_waiter', 'CPython 3.12.1') / KIB:.2f}",
                 f"{_value('asyncio', 'event', 'total_per_waiter', 'CPython 3.13.0') / KIB:.2f}")),
    "a convoy": (
        "docs/methodology.md", r"N\^([\d.]+) up to 12,800 threads in the full sweep of\s+14:56 \(`20261126T145655Z`\)",
        lambda: (f"{_run_figure('20261126T145655Z', 'threads', 'condition', 'wake_exponent'):.2f}",)),
    "a ceiling of 13:57": (
        "docs/methodology.md", r"sweep of 13:57 \(`20261126T135709Z`\).*?vm.max_map_count, at ([\d,]+)\.",
        lambda: (f"{_run_figure('20261126T135709Z', 'threads', 'condition', 'limit_reached'):,.0f}",)),
    "the ceiling alone": (
        "docs/methodology.md", r"`20261126T155350Z`: ([\d,]+) threads, ([\d.]+) KiB of\s+kernel memory each",
        lambda: (f"{_run_figure('20261126T155350Z', 'threads', 'condition', 'limit_reached'):,.0f}",
                 f"{_run_figure('20261126T155350Z', 'threads', 'condition', 'kernel_per_waiter') / KIB:.1f}")),
    "thread predictions checked against the ceiling": (
        "docs/methodology.md", r"3\.13 predicted ([\d,]+) and ([\d,]+)\s+threads, ([\d.]+)% and ([\d.]+)% over the "
                               r"([\d,]+) that.*?they predict ([\d,]+) and ([\d,]+)\..*?would have said "
                               r"([\d,]+) \(([\d.]+)% over\)",
        _thread_checks),
    "the headline task": (
        "docs/methodology.md", r"headline asyncio figure \(([\d.]+) KiB, ([\d,]+) B",
        lambda: (f"{_task() / KIB:.2f}", f"{_task():,.0f}")),
    "the sleep variant's parts": (
        "docs/methodology.md", r"add about (\d+) B per task \(([\d,]+) B against\s+([\d,]+) B\)",
        lambda: (f"{round(_peer('asyncio', 1_000_000)['parkbench_slope']) - round(_task())}",
                 f"{_peer('asyncio', 1_000_000)['parkbench_slope']:,.0f}", f"{_task():,.0f}")),
    "the 1M-tasks gap in the methodology": (
        "docs/methodology.md", r"gives ([\d,]+) B per asyncio task, (\d+)% more than parkbench's headline\s+([\d,]+) B",
        lambda: (f"{_peer('asyncio', 1_000_000)['peer_per_task']:,.0f}",
                 f"{(_peer('asyncio', 1_000_000)['peer_per_task'] / _task() - 1) * 100:.0f}",
                 f"{_task():,.0f}")),
    "served rates repeat": (
        "docs/methodology.md", r"each W within ([\d.]+)x of itself over the three, except one: threads/connections, "
                               r"([\d.]+)x at\s+W = 100 and ([\d.]+)x at W = 1,000",
        _served_repeats),
    "full served rates repeat": (
        "docs/methodology.md", r"each W\s+within ([\d.]+)x of the other run, except go/connections \(up to ([\d.]+)x:",
        _full_repeats),
    "the floor's misses": (
        "docs/methodology.md", r"the floor missed a 5 ms p99 in (\d+)% and (\d+)% of its 0.5-s steps", _floor_shares),
    "wake rates repeat": (
        "docs/methodology.md", r"The wake rates repeat within ([\d.]+)x", lambda: _wake_repeats()[:1]),
    "wake rates measured": (
        "docs/methodology.md", r"Measured \(three quiet default runs, 2026-12-07\): asyncio (\d+)-(\d+)k/s,\s+"
                               r"uvloop (\d+)-(\d+)k/s at W = 1,000 and 10,000",
        lambda: _wake_repeats()[1:]),
}


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_a_figure_in_prose_is_the_committed_files(name):
    page, pattern, compute = CLAIMS[name]
    text = (ROOT / page).read_text()
    found = re.search(pattern, text, re.S)
    assert found, f"{page}: the sentence of {name!r} is gone (or reworded): update CLAIMS"
    assert found.groups() == compute(), f"{page}: {name}: the prose says {found.groups()}, the files {compute()}"


def test_the_readme_fit_example_is_what_fit_prints_from_the_committed_results(capsys):
    from parkbench.cli import main

    readme = (ROOT / "README.md").read_text()
    block = readme.split("$ parkbench fit --waiters 200k --rate 50k\n", 1)[1].split("```", 1)[0]
    shown = [line for line in block.splitlines() if line and line != "..."]
    assert len(shown) >= 8
    assert main(["fit", "--waiters", "200k", "--rate", "50k", "--results", str(committed.results())]) == 0
    printed = capsys.readouterr().out.splitlines()
    # each line shown is the start of a printed line (the README cuts the widest columns), in order
    where = [next((i for i, line in enumerate(printed) if line.startswith(row)), None) for row in shown]
    assert None not in where, [row for row, i in zip(shown, where) if i is None]
    assert where == sorted(where)


def test_the_thread_memory_cause_table_is_the_committed_file():
    text = (ROOT / "docs" / "methodology.md").read_text()
    assert cause_table() in text, "docs/methodology.md: regenerate the cause table from thread-memory-cause.json"


@pytest.mark.parametrize("interpreter", [FREE, GIL13])
def test_a_thread_s_rss_agrees_with_the_independent_probe_run_beside_it(interpreter):
    row = _independent(interpreter)
    # the check compared the figure the machine shows now, not an older one
    assert row["parkbench_rss_per_waiter"] == pytest.approx(_thread("rss_per_waiter", interpreter))
    assert abs(row["parkbench_rss_per_waiter"] / row["independent_rss_per_waiter"] - 1) <= 0.05
