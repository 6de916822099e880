"""Many run files: choosing a machine's current figures from k runs does work linear in
k (counted in rows that boolean filters scan, never timed). Filtering the whole table
once per run made 10,000 nightly runs take minutes (issue 28, item 10);
A folder of issue 37's mix (a tenth served runs) is read once per file and scanned
linearly too. ``benchmarks/checks/many_runs.py`` prints the time itself."""

from datetime import UTC, datetime, timedelta

import pandas as pd

from parkbench.analysis import current, tidy
from tests import synthetic


def _rows_scanned(tmp_path, runs: int, monkeypatch, served: bool = False) -> int:
    """Rows that boolean masks scan while ``current.select`` chooses from ``runs`` runs
    of one model (each sound, three N); with ``served``, each run has a served record
    too, and only the scans of choosing its served run are counted."""
    from tests.builders import searched_record

    folder = tmp_path / f"{runs}-runs{'-served' if served else ''}"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(runs):
        records = [synthetic.memory_record("asyncio", "event", n) for n in (1_000, 10_000, 100_000)]
        if served:
            records.append(searched_record("asyncio", "event", 1_000, 90_000, 60_000, 20e-6))
        synthetic.write_run(folder, "m", start + timedelta(hours=index), records)
    frame, found = tidy.load_runs(folder)
    scanned = [0]
    counting_now = [not served]  # served: only while the served (and wake) run is chosen
    real = pd.DataFrame.__getitem__

    def counting(self, key):
        if counting_now[0] and (isinstance(key, (pd.Series, list)) or str(getattr(key, "dtype", "")) == "bool"):
            scanned[0] += len(self)
        return real(self, key)

    def choosing(*args, **kwargs):
        counting_now[0] = True
        try:
            return real_choose(*args, **kwargs)
        finally:
            counting_now[0] = False

    real_choose = current.choose_served
    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "__getitem__", counting)
        if served:
            patch.setattr(current, "choose_served", choosing)
        chosen = current.select(frame, found)
    assert set(chosen.frame[chosen.frame.metric == "rss_per_waiter"].run_id) == {
        (start + timedelta(hours=runs - 1)).strftime("%Y%m%dT%H%M%SZ")}  # the newest sound one
    return scanned[0]


def test_choosing_from_k_runs_scans_rows_linear_in_k(tmp_path, monkeypatch):
    few, many = _rows_scanned(tmp_path, 8, monkeypatch), _rows_scanned(tmp_path, 32, monkeypatch)
    # 4x the runs: 4x the rows to scan, plus slack for per-key work; one filter of the
    # whole table per run would scan 16x
    assert many <= 5 * few, (few, many)


def test_choosing_served_figures_from_k_runs_scans_rows_linear_in_k(tmp_path, monkeypatch):
    # served_figures.choose filtered the key's rows once per run (issue 37, item 9)
    few = _rows_scanned(tmp_path, 16, monkeypatch, served=True)
    many = _rows_scanned(tmp_path, 64, monkeypatch, served=True)
    assert many <= 5 * few, (few, many)


def _work_of_a_mix(tmp_path, runs: int, monkeypatch) -> tuple[int, int]:
    """(run files read, rows that boolean masks scan) while ``current.load`` answers for
    a folder of ``runs`` run files, a tenth of them served runs (a served and a wakes
    search), the rest memory runs of one model (three N): issue 37's mix."""
    from parkbench.store import results
    from tests.builders import searched_record, wake_search_record

    folder = tmp_path / f"{runs}-mixed"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(runs):
        if index % 10 == 9:
            records = [searched_record("asyncio", "connections", 1_000, 90_000, 60_000, 20e-6),
                       wake_search_record("asyncio", "event", 1_000, 200_000)]
        else:
            records = [synthetic.memory_record("asyncio", "event", n) for n in (1_000, 10_000, 100_000)]
        synthetic.write_run(folder, "m", start + timedelta(hours=index), records)
    reads, scanned = [0], [0]
    real_read, real_getitem = results.read_run, pd.DataFrame.__getitem__

    def reading(path):
        reads[0] += 1
        return real_read(path)

    def counting(self, key):
        if isinstance(key, (pd.Series, list)) or str(getattr(key, "dtype", "")) == "bool":
            scanned[0] += len(self)
        return real_getitem(self, key)

    with monkeypatch.context() as patch:
        patch.setattr(results, "read_run", reading)
        patch.setattr(pd.DataFrame, "__getitem__", counting)
        chosen = current.load(folder)
    newest = {family: max(s["run_id"] for s in chosen.sources if s["family"] == family)
              for family in ("memory", "served", "wakes")}
    last = runs - 1
    assert newest == {"memory": (start + timedelta(hours=last - (last % 10 == 9))).strftime("%Y%m%dT%H%M%SZ"),
                      "served": (start + timedelta(hours=last - (last + 1) % 10)).strftime("%Y%m%dT%H%M%SZ"),
                      "wakes": (start + timedelta(hours=last - (last + 1) % 10)).strftime("%Y%m%dT%H%M%SZ")}
    return reads[0], scanned[0]


def test_a_mixed_folder_costs_work_linear_in_its_run_files(tmp_path, monkeypatch):
    # issue 37's "done when": show over 10,000 run files, a tenth of them served runs,
    # 1,000 -> 10,000 at most 12x (many_runs.py --served-share 0.1 times it); here the
    # work is counted: each file read once, and rows scanned 4x for 4x the files
    few_reads, few = _work_of_a_mix(tmp_path, 20, monkeypatch)
    many_reads, many = _work_of_a_mix(tmp_path, 80, monkeypatch)
    assert (few_reads, many_reads) == (20, 80)
    assert many <= 5 * few, (few, many)
