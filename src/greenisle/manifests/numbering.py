"""Manifest numbers (办法 Art. 15): 14 digits = year (4) + province (2) + city (2) + serial (6).

The serial is per city and year and comes from a row-locked counter, never from a count of rows
(a count races and reuses numbers after deletions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER_RE = re.compile(r"^(?P<year>\d{4})(?P<province>\d{2})(?P<city>\d{2})(?P<serial>\d{6})$")
MAX_SERIAL = 999_999


class NumberError(ValueError):
    pass


@dataclass(frozen=True)
class ManifestNumber:
    year: int
    province_city: str
    serial: int

    def __str__(self) -> str:
        return format_number(self.year, self.province_city, self.serial)


def format_number(year: int, province_city: str, serial: int) -> str:
    if not (1000 <= year <= 9999):
        raise NumberError(f"year {year} is not 4 digits")
    if not re.fullmatch(r"\d{4}", province_city):
        raise NumberError(f"province+city {province_city!r} is not 4 digits")
    if not (1 <= serial <= MAX_SERIAL):
        raise NumberError(
            f"serial {serial} is outside 1..{MAX_SERIAL}: the city's numbers for {year} are used up"
        )
    return f"{year:04d}{province_city}{serial:06d}"


def parse_number(value: str) -> ManifestNumber:
    match = NUMBER_RE.fullmatch(value)
    if not match:
        raise NumberError("manifest number must be 14 digits: year + province + city + serial")
    return ManifestNumber(int(match["year"]), match["province"] + match["city"], int(match["serial"]))
