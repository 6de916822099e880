"""A busy machine's figures: a disturbed or unsound kernel view never replaces a sound
one, and no command shows a negative cost per waiter (one wording for noise)."""


import pytest

from parkbench.analysis import current
from parkbench.cli import main
from parkbench.core import stats
from parkbench.core.units import format_bytes
from parkbench.presentation import summary
from tests import synthetic
from tests.damage import mutated

NS = (100, 300, 1_000, 3_000)


def _threads(kernel_per, disturbed_at=(), kernel_jitter=None):
    """threads/condition records: RSS, PSS and kernel with different slopes; ``kernel_jitter``
    adds per-N scatter to the kernel view."""
    records = []
    for i, n in enumerate(NS):
        record = synthetic.memory_record("threads", "condition", n,
                                         dict(synthetic.VIEWS, kernel=(5e6, kernel_per)))
        if kernel_jitter:
            record["memory"]["kernel"] += kernel_jitter[i]
        record["interference"] = {"window_seconds": 1.0, "other_cpu_seconds": 0.9 if n in disturbed_at else 0.0,
                                  "other_threads": 0, "running": 2, "disturbed": n in disturbed_at,
                                  "why": "other processes used 0.90 CPU-s" if n in disturbed_at else ""}
        records.append(record)
    return records


def _figure(figures, metric):
    frame = figures.frame
    rows = frame[(frame.model == "threads") & (frame.metric == metric)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_a_disturbed_newer_run_does_not_replace_a_sound_one(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", _threads(27_000.0))
    synthetic.write_run(tmp_path, "m", "20260102T000000", _threads(-2_540.0, disturbed_at=(1_000, 3_000)))
    figures = current.load(tmp_path)
    kernel = _figure(figures, "kernel_per_waiter")
    assert (kernel.run_id, kernel.value) == ("20260101T000000Z", pytest.approx(27_000.0))
    assert _figure(figures, "total_per_waiter").value == pytest.approx(27_000.0 + 1_200.0)
    note, = [n for n in figures.notes if "20260102T000000Z" in n]
    assert "2 point(s) disturbed by the rest of the machine (others used 0.90 CPU-s)" in note


def test_a_newer_kernel_below_zero_beyond_its_noise_does_not_replace_a_sound_one(tmp_path):
    synthetic.write_run(tmp_path, "m", "20260101T000000", _threads(27_000.0))
    # undisturbed by the record's own account (an older probe, or activity it missed)
    synthetic.write_run(tmp_path, "m", "20260102T000000", _threads(-2_540.0, kernel_jitter=(3e3, -2e3, 1e3, 0)))
    figures = current.load(tmp_path)
    assert _figure(figures, "kernel_per_waiter").run_id == "20260101T000000Z"
    assert any("below zero beyond its noise" in n for n in figures.notes)


def test_a_kernel_within_its_noise_is_sound_and_said_to_be_noise(tmp_path):
    # -8 B per waiter with ±200 KiB of scatter: cannot be told from zero, and is no fault
    synthetic.write_run(tmp_path, "m", "20260101T000000", _threads(27_000.0))
    synthetic.write_run(tmp_path, "m", "20260102T000000",
                        _threads(-8.0, kernel_jitter=(2e5, -2e5, 1e5, -1e5)))
    figures = current.load(tmp_path)
    kernel = _figure(figures, "kernel_per_waiter")
    noise = _figure(figures, "kernel_noise")
    assert kernel.run_id == noise.run_id == "20260102T000000Z"
    assert noise.value > 8.0
    assert summary.noise_text(kernel.value, noise.value, format_bytes) == f"noise, under {format_bytes(noise.value)}"


def test_the_slope_noise_is_half_its_95_percent_interval():
    # slope 0.8, residuals -0.3, 0.9, -0.9, 0.3: s² = 1.8 / 2, SE = sqrt(0.9 / 5), t(2) = 4.303
    assert stats.slope_noise([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4.303 * (0.9 / 5) ** 0.5)
    assert stats.slope_noise([1, 2, 3], [2, 4, 6]) == 0.0
    assert stats.slope_noise([1, 2], [1, 2]) != stats.slope_noise([1, 2], [1, 2])   # nan


@pytest.mark.parametrize("value, noise, shown", [
    (27_000.0, 50.0, None), (40.0, 50.0, "noise, under 50 B"), (-40.0, 50.0, "noise, under 50 B"),
    (-2_540.0, 50.0, "unsound, below zero"), (-3.0, None, "unsound, below zero"), (3.0, None, None)])
def test_one_wording_for_noise_and_never_a_negative_cost(value, noise, shown):
    assert summary.noise_text(value, noise, format_bytes) == shown


def test_show_and_compare_never_print_a_negative_cost(tmp_path, capsys):
    # the only run of this machine: disturbed and below zero; shown, but not as a number
    synthetic.write_run(tmp_path, "m", "20260101T000000", _threads(-2_540.0, disturbed_at=NS))
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    row, = [line for line in out.splitlines() if line.startswith("threads")]
    assert "unsound, below zero" in row and "-2.48 KiB" not in row and "-" + format_bytes(2_540) not in out
    synthetic.write_run(tmp_path / "b", "m", "20260101T000000", _threads(27_000.0))
    assert main(["compare", str(tmp_path / "m"), str(tmp_path / "b" / "m")]) == 0
    out = capsys.readouterr().out
    kernel, = [line for line in out.splitlines() if "kernel_per_waiter" in line]
    assert "unsound, below zero" in kernel and "noise in A: not compared" in kernel
    assert "-2" not in kernel.split("kernel_per_waiter")[1]


def test_the_report_says_noise_and_draws_no_negative_bar(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from parkbench.presentation import headline, memoryplots

    synthetic.write_run(tmp_path, "m", "20260101T000000", _threads(-2_540.0, disturbed_at=NS))
    frame = current.load(tmp_path).frame
    row = headline.headline(frame, "m").iloc[0]
    assert row["kernel/waiter"] == "unsound, below zero"
    figure = memoryplots.views_per_waiter(frame, "m")
    texts = [text for text in figure.axes[0].texts]
    said = {t.get_gid(): t.get_text().strip() for t in texts if str(t.get_gid()).startswith("said:")}
    # kernel and total (PSS 1.2 KiB less 2.5 KiB) are below zero: said, not dropped
    assert said == {"said:threads/condition:kernel": "unsound, below zero",
                    "said:threads/condition:total = PSS + kernel": "unsound, below zero"}
    assert not [t.get_text() for t in texts if t.get_text().strip().startswith("-")]
    xs = [x for line in figure.axes[0].lines for x in line.get_xdata()]
    assert all(x > 0 for x in xs if x == x)
    assert sum(x != x for x in xs) == 2      # kernel's and total's: no dot drawn
    plt.close("all")


def test_a_noisy_negative_total_still_gets_an_answer(tmp_path, capsys):
    def change(document):
        for figure in document["figures"]:
            if figure["metric"] == "total_per_waiter" and figure["model"] == "asyncio":
                figure["value"] = -12.0
    folder = mutated(tmp_path, change)
    assert main(["fit", "--waiters", "1k", "--rate", "0", "--results", str(folder)]) == 0
    assert "asyncio/event" in capsys.readouterr().out
