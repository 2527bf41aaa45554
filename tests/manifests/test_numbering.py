"""Manifest numbers (办法 Art. 15): year (4) + province (2) + city (2) + serial (6)."""

from __future__ import annotations

import pytest

from greenisle.manifests.numbering import MAX_SERIAL, ManifestNumber, NumberError, format_number, parse_number


def test_number_is_year_province_city_and_six_digit_serial():
    number = format_number(2026, "3206", 42)
    assert number == "20263206000042"
    assert len(number) == 14 and number.isdigit()


def test_number_round_trips_through_parse():
    parsed = parse_number("20263206000042")
    assert parsed == ManifestNumber(year=2026, province_city="3206", serial=42)
    assert str(parsed) == "20263206000042"


def test_last_serial_of_the_year_is_allowed():
    assert format_number(2026, "3206", MAX_SERIAL) == "20263206999999"


@pytest.mark.parametrize("serial", [MAX_SERIAL + 1, 0, -1])
def test_serial_outside_range_is_refused(serial):
    with pytest.raises(NumberError, match="serial"):
        format_number(2026, "3206", serial)


@pytest.mark.parametrize(
    ("year", "region"), [(999, "3206"), (10000, "3206"), (2026, "326"), (2026, "32a6"), (2026, "320602")]
)
def test_year_and_region_must_be_four_digits(year, region):
    with pytest.raises(NumberError):
        format_number(year, region, 1)


@pytest.mark.parametrize(
    "value",
    ["2026320600004", "202632060000420", "2026320600004a", "", "2026-3206-000042", "20263206000042\n"],
)
def test_parse_refuses_anything_but_fourteen_digits(value):
    with pytest.raises(NumberError):
        parse_number(value)
