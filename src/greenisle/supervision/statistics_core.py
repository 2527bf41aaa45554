"""The plain arithmetic behind the regulator's statistics: reading the filter form, the period's
months, fill bands, tonnes and rates. No ORM: the selectors in :mod:`greenisle.supervision.statistics`
turn these into SQL (the fill bands become one CASE expression) and the pages and the Excel export
label their output with them.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from greenisle.core.errors import ServiceError

# A period longer than this is refused: the data are kept ten years (办法 Art. 20 retention), and a
# longer span would only make a month axis nobody reads.
MAX_PERIOD_DAYS: Final = 3660

_DIVISION: Final = re.compile(r"[1-9]\d{5}")
_CATEGORY: Final = re.compile(r"HW\d{2}")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")

KG: Final = Decimal("0.01")
TONNE: Final = Decimal("0.001")


@dataclass(frozen=True)
class Band:
    """A fill band: ``low`` ≤ fill < ``high`` (``high`` None: no upper bound)."""

    key: str
    low: Decimal
    high: Decimal | None
    label: str


# Bins by fill (%). 80 % is also the platform's default threshold (DESIGN.md core loop); bins with
# their own threshold are counted "over threshold" separately.
FILL_BANDS: Final = (
    Band("0-20", Decimal(0), Decimal(20), "0–20%"),
    Band("20-40", Decimal(20), Decimal(40), "20–40%"),
    Band("40-60", Decimal(40), Decimal(60), "40–60%"),
    Band("60-80", Decimal(60), Decimal(80), "60–80%"),
    Band("80+", Decimal(80), None, "≥80%"),
)
NO_READING: Final = "none"


def band_of(fill_pct: Decimal | None) -> str:
    """The key of the band ``fill_pct`` falls in (``none`` without a reading)."""
    if fill_pct is None:
        return NO_READING
    for band in FILL_BANDS:
        if fill_pct >= band.low and (band.high is None or fill_pct < band.high):
            return band.key
    # Below 0 cannot be stored (readings are validated to 0–100); keep it visible if it ever is.
    return FILL_BANDS[0].key


# --- the filter form --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawFilters:
    """What the form or the query string gave, validated for shape (not yet against the database)."""

    date_from: dt.date
    date_to: dt.date
    division: str | None
    collector: uuid.UUID | None
    category: str | None


def _text(value: object) -> str:
    return str(value).strip() if value is not None else ""


def parse_date(value: object, field: str) -> dt.date | None:
    text = _text(value)
    if not text:
        return None
    if not _DATE.fullmatch(text):
        raise ServiceError("日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD", field=field)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ServiceError("日期无效 / not a calendar date", field=field) from None


def parse_filters(
    *,
    today: dt.date,
    date_from: object = None,
    date_to: object = None,
    division: object = None,
    collector: object = None,
    category: object = None,
) -> RawFilters:
    """Read the filters; the period defaults to this year up to today. Raises ServiceError naming
    the field for anything malformed."""
    start = parse_date(date_from, "date_from")
    end = parse_date(date_to, "date_to")
    if start is None:
        start = dt.date((end or today).year, 1, 1)
    if end is None:
        end = max(today, start) if start.year == today.year else dt.date(start.year, 12, 31)
    if end < start:
        raise ServiceError("结束日期早于开始日期 / date_to is before date_from", field="date_to")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ServiceError(
            f"统计期间不超过 {MAX_PERIOD_DAYS} 天 / the period is at most {MAX_PERIOD_DAYS} days",
            field="date_to",
        )
    division_code = _text(division) or None
    if division_code is not None and not _DIVISION.fullmatch(division_code):
        raise ServiceError(
            "行政区划代码应为6位数字 / division must be a 6-digit code (GB/T 2260)", field="division"
        )
    collector_text = _text(collector)
    collector_id: uuid.UUID | None = None
    if collector_text:
        try:
            collector_id = uuid.UUID(collector_text)
        except ValueError:
            raise ServiceError(
                "收集单位标识无效 / collector must be an organisation id", field="collector"
            ) from None
    category_code = _text(category).upper() or None
    if category_code is not None and not _CATEGORY.fullmatch(category_code):
        raise ServiceError("危险废物类别应为 HWnn / category must look like HW08", field="category")
    return RawFilters(start, end, division_code, collector_id, category_code)


# --- periods, units, rates --------------------------------------------------------------------------


def months_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first day of every month from ``start``'s to ``end``'s, both included."""
    months: list[dt.date] = []
    current = start.replace(day=1)
    while current <= end:
        months.append(current)
        current = dt.date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    return months


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def kg(value: Decimal | int | float | None) -> Decimal:
    """A weight from an aggregate (None when nothing was summed) to the hundredth of a kilogram."""
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(KG, rounding=ROUND_HALF_UP)


def tonnes(kilograms: Decimal) -> Decimal:
    return (kilograms / 1000).quantize(TONNE, rounding=ROUND_HALF_UP)


def rate_pct(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in per cent to one decimal; None when there is nothing to count."""
    if whole <= 0:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
