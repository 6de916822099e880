"""The summary table: figures in units, curves as curves, rows in registry order, the
run of each row named."""


from parkbench.analysis import current
from parkbench.presentation import summary
from tests import committed, synthetic


def _wide(tmp_path, records, runs=1):
    synthetic.write_run(tmp_path, "m", "20260101T000000", records)
    return summary.table(current.load(tmp_path).frame)


def test_rows_follow_the_registry_and_name_their_run(tmp_path):
    records = [synthetic.memory_record(model, variant, n) for model, variant in
               (("subprocess", "fork"), ("asyncio", "event"), ("threads", "condition"))
               for n in (100, 350, 2_000)]
    wide = _wide(tmp_path, records)
    assert list(zip(wide.model, wide.variant)) == [("threads", "condition"), ("asyncio", "event"),
                                                   ("subprocess", "fork")]
    assert set(wide.run) == {"20260101T000000Z"}
    text = summary.render(wide)
    line = next(line for line in text.splitlines() if line.startswith("asyncio"))
    assert "1.27 KiB" in line      # RSS: 1,300 B per waiter
    assert "1.17 KiB" in line      # PSS + kernel: 1,240 B
    assert "20260101T000000Z" in line


def test_a_curve_shows_its_exponent_and_its_ends(tmp_path):
    records = [synthetic.memory_record("gevent", "event", n) for n in (100, 1_000, 10_000)]
    for record in records:
        record["wake_seconds"] = 1e-9 * record["n"] ** 2  # quadratic
    wide = _wide(tmp_path, records)
    row = wide.iloc[0]
    text = summary.curve_text(row, "wake_per_waiter", lambda v: f"{v * 1e6:.3g} µs")
    assert text == "N^2.00: 0.1 µs → 10 µs"
    assert summary.curve_text(row, "spawn_per_waiter", str) is None  # linear: a slope
    assert "N^2.00: 100 ns → 10 µs" in summary.render(wide)


def test_an_empty_frame_says_so_and_keeps_the_notes():
    import pandas as pd

    text = summary.render(pd.DataFrame(columns=summary.KEYS), notes=["a note"])
    assert text.startswith("no figures") and text.endswith("a note")


def test_the_committed_results_render():
    text = summary.render(summary.table(current.load(committed.results()).frame))
    assert "threads     condition" in text and "(measured)" in text
