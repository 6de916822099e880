"""Every command tells a planner the same thing (issue 37, item 3): over the committed
results, fit's capacity and its rate at each W measured are show's (the current
figures' capacity, and its served or wake rate per core times the cores the model can
use), with the same basis; no model show lists with a measured rate is "no rate" in fit."""

import pytest

from parkbench.analysis import current, sizing
from parkbench.analysis.served_figures import basis_label
from parkbench.commands.fit import machine_cores
from tests import committed
from tests.damage import COMMITTED_MACHINE


@pytest.fixture(scope="module")
def figures():
    return current.load(committed.results() / COMMITTED_MACHINE)


def _rates(frame, metric: str) -> dict:
    rows = frame[frame.metric == metric]
    return {(r.interpreter, r.model, r.variant, int(r.n)): (r.value, r.limit) for r in rows.itertuples()}


def test_fit_s_rate_at_each_measured_w_is_show_s_per_core_rate_times_its_cores(figures):
    profiles = sizing.profiles(figures.frame, machine_cores(figures))
    by_key = {(p.interpreter, p.model, p.variant): p for p in profiles}
    shown = {**_rates(figures.frame, "served_rate_per_core"), **_rates(figures.frame, "wake_rate_per_core")}
    assert len(shown) > 50   # the committed results hold served and wake rates at many W
    for (interpreter, model, variant, w), (per_core, basis) in shown.items():
        profile = by_key[(interpreter, model, variant)]
        (row,) = [r for r in sizing.answer([profile], w, 1) if r["model"] == model]
        assert row["rate_at"] == pytest.approx(per_core * profile.cores), (interpreter, model, variant, w)
        assert row["rate_basis"] == basis_label(basis), (interpreter, model, variant, w)
        assert row["bound_by"] not in ("no served rate", "no wake rate")


def test_fit_s_capacity_is_show_s(figures):
    profiles = sizing.profiles(figures.frame, machine_cores(figures))
    capacity = figures.frame[figures.frame.metric == "capacity"]
    shown = {(r.interpreter, r.model, r.variant): int(r.value) for r in capacity.itertuples()}
    assert profiles and all(shown[(p.interpreter, p.model, p.variant)] == p.capacity for p in profiles)


def test_fit_names_every_variant_it_cannot_size_and_why(figures, capsys):
    """A helper's attack: fit left out threads/stack-256k and five more without a word,
    where show lists them and limits --live predicts their capacity."""
    from parkbench.cli import main

    assert main(["fit", "--waiters", "10k", "--rate", "100k", "--results", str(committed.results())]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("not sized (no capacity")]
    assert "CPython 3.11.7 threads/stack-256k" in line and "CPython 3.11.7 subprocess/spawn" in line
    totals = figures.frame[(figures.frame.metric == "total_per_waiter") & figures.frame.n.isna()]
    for row in totals.itertuples():   # each variant is a row of fit's tables, or named as not sized
        label = f"{row.interpreter} {row.model}/{row.variant}"
        assert label in out or f"{row.interpreter:<15} {row.model}/{row.variant}" in out, label
