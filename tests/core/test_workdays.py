"""Working days on the official calendar (办法 Art. 18 and 20 count them)."""

from __future__ import annotations

import datetime as dt

import pytest

from greenisle.core.workdays import add_working_days, is_working_day

D = dt.date

# 2026 国庆 + 中秋 (国务院办公厅 2025 notice): 1–7 October off; Sunday 20 September and Saturday
# 10 October are make-up workdays. 25 September 2026 (Friday) is 中秋节.


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2026, 9, 30), True),  # Wednesday before the holiday
        (D(2026, 10, 1), False),  # National Day (Thursday)
        (D(2026, 10, 5), False),  # Monday inside the holiday
        (D(2026, 10, 7), False),  # last holiday day (Wednesday)
        (D(2026, 10, 8), True),  # back to work
        (D(2026, 10, 10), True),  # Saturday make-up workday (调休)
        (D(2026, 9, 20), True),  # Sunday make-up workday
        (D(2026, 10, 11), False),  # ordinary Sunday
        (D(2026, 10, 17), False),  # ordinary Saturday
        (D(2026, 9, 25), False),  # 中秋节 (Friday)
    ],
)
def test_working_day_follows_the_official_2026_calendar(day, working):
    assert is_working_day(day) is working


def test_adding_working_days_skips_the_national_day_holiday():
    assert add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)


def test_receipt_deadline_across_the_holiday_counts_the_make_up_saturday():
    # Received Tuesday 29 September: 5 working days are 30 Sep, 8 Oct, 9 Oct, Sat 10 Oct, 12 Oct.
    assert add_working_days(D(2026, 9, 29), 5) == D(2026, 10, 12)


def test_adding_working_days_in_an_ordinary_week_skips_the_weekend():
    assert add_working_days(D(2026, 6, 5), 1) == D(2026, 6, 8)  # Friday → Monday
    assert add_working_days(D(2026, 6, 8), 5) == D(2026, 6, 15)


def test_adding_zero_working_days_is_the_same_day():
    assert add_working_days(D(2026, 10, 3), 0) == D(2026, 10, 3)


def test_negative_working_days_are_refused():
    with pytest.raises(ValueError):
        add_working_days(D(2026, 10, 3), -1)


def test_unpublished_years_fall_back_to_monday_to_friday():
    assert is_working_day(D(2030, 1, 7)) is True  # Monday
    assert is_working_day(D(2030, 1, 5)) is False  # Saturday
    assert add_working_days(D(2030, 1, 4), 1) == D(2030, 1, 7)
