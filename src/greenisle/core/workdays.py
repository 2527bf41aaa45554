"""Working-day arithmetic on the official Chinese calendar.

办法 Art. 18 (receipt confirmed within 5 working days) and Art. 20 (paper manifests back-entered
within 10 working days) count working days as the State Council publishes them: weekends and
public holidays are off, make-up workdays (调休) on weekends are on.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar  # type: ignore[import-untyped,unused-ignore]


def is_working_day(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # Years the calendar does not publish yet: fall back to Monday–Friday.
        return day.weekday() < 5


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` working days after ``start`` (``start`` itself is not counted)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    current = start
    remaining = days
    while remaining:
        current += dt.timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` <= ``start``)."""
    count = 0
    current = start
    while current < end:
        current += dt.timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count
