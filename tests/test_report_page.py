"""The report page as a reader at 1,400 px sees it (issue 27, item 6), checked at the data
level: the headline table's runs column stays narrow and loses no run, the maps draw only
the grid that was computed, contour lines and variants are told apart in the legend, no
legend covers a bar, the tail and churn plots are small multiples a reader can read, and
every plot names the runs its figures came from."""

import matplotlib
import pytest

matplotlib.use("Agg")

from parkbench import (  # noqa: E402
    current,
    headline,
)
from tests import committed  # noqa: E402

WAITERS = [10 ** (k / 8) for k in range(16, 65)]
RATES = [10 ** (k / 8) for k in range(8, 57)]  # up to 1e7: go's corner (~1.5e7/s) lies above


@pytest.fixture(scope="module")
def machine():
    figures = current.load(committed.results())
    name = sorted(figures.frame.machine.unique())[0]
    frame = figures.frame[figures.frame.machine == name]
    frame = frame[frame.interpreter == headline.primary_interpreter(frame, name)]
    return figures, name, frame


def test_the_headline_runs_column_is_a_short_key_that_loses_no_run(machine):
    _figures, name, frame = machine
    table = headline.headline(frame, name)
    shown, key = headline.run_key(table)
    numbers = dict(key)
    assert len(key) >= 2
    for full, short in zip(table["runs"], shown["runs"]):
        assert len(short) <= 3 * len(key), short  # "1, 3", never 16-character ids
        assert sorted(numbers[k] for k in short.split(", ")) == sorted(full.split(", "))
