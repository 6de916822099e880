
import pytest

from parkbench.core.errors import UserError
from parkbench.core.units import (
    format_bytes,
    format_seconds,
    parse_count,
    parse_count_list,
    parse_seconds,
    parse_size,
)


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("100", 100), ("10k", 10_000), ("10K", 10_000), ("1M", 1_000_000),
    ("1.5m", 1_500_000), (" 2k ", 2_000), ("1g", 10**9),
])
def test_parse_count_accepts_plain_and_suffixed_counts(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["0", "-5", "1.5", "ten", "", "1e3", "10x", "0.0001k", "1,000"])
def test_parse_count_rejects_what_is_not_a_positive_whole_number(text):
    with pytest.raises(UserError, match="positive whole number"):
        parse_count(text)


def test_parse_count_list_keeps_order():
    assert parse_count_list("10k,1k,100") == [10_000, 1_000, 100]


def test_parse_count_list_rejects_empty():
    with pytest.raises(UserError):
        parse_count_list(",,")


def test_formatters_pick_readable_units():
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(512) == "512 B"
    # three significant figures never turn into an exponent below the next unit
    assert format_bytes(1009.8 * 1024) == "1,010 KiB"
    assert format_bytes(998 * 1024) == "998 KiB"
    assert format_seconds(2.5e-6) == "2.5 µs"
    assert format_seconds(0.25) == "250 ms"


@pytest.mark.parametrize("text, value", [
    ("16GiB", 16 * 2**30), ("16G", 16 * 2**30), ("512MiB", 512 * 2**20), ("512m", 512 * 2**20),
    ("4096", 4096), ("1.5GiB", int(1.5 * 2**30)), ("2 KiB", 2048),
])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "16 GB of RAM", "1e9", "12X"])
def test_parse_size_rejects_malformed(text):
    with pytest.raises(UserError, match="a size must be"):
        parse_size(text)


def test_sizes_follow_si_and_iec_exactly():
    from parkbench.core.units import parse_size

    assert parse_size("4GB") == 4 * 10**9
    assert parse_size("4GiB") == 4 * 2**30
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("4096") == 4096


@pytest.mark.parametrize("parse, text", [
    (parse_seconds, "٥ms"),    # an Arabic-Indic five: int() and \d take it, the options must not
    (parse_seconds, "５ms"),    # a fullwidth five
    (parse_count, "１０k"),
    (parse_size, "٤GiB"),
])
def test_digits_of_other_scripts_are_refused_not_read_as_numbers(parse, text):
    with pytest.raises(UserError, match="not '"):
        parse(text)


def test_a_run_id_of_other_digits_is_no_run_id():
    from parkbench.store.schema import RUN_ID

    assert RUN_ID.fullmatch("20261207T014159Z") and not RUN_ID.fullmatch("٢٠٢٦١٢٠٧T014159Z")


def test_a_set_aside_file_s_line_has_its_colon_after_skipped(capsys):
    # "skipped /r/m/x.json is 209,726,151 bytes" read as one clause (issue 37)
    from pathlib import Path

    from parkbench.commands import output
    from parkbench.store.run_reader import SetAside

    output.set_aside([SetAside(Path("/r/m/x.json"), "/r/m/x.json is 209,726,151 bytes, more than a run file")])
    assert capsys.readouterr().err == "parkbench: skipped: /r/m/x.json is 209,726,151 bytes, more than a run file\n"
