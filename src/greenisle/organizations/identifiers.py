"""Chinese registry identifiers: 统一社会信用代码 (GB 32100-2015) and division codes (GB/T 2260)."""

from __future__ import annotations

import re

from stdnum.cn import uscc as _uscc
from stdnum.exceptions import ValidationError as _StdnumError

_DIVISION = re.compile(r"^[1-9]\d{5}$")


class IdentifierError(ValueError):
    pass


def validate_uscc(value: str) -> str:
    """Return the compact USCC, or raise IdentifierError saying what is wrong (length, format, check digit)."""
    try:
        return str(_uscc.validate(value))
    except _StdnumError as exc:
        raise IdentifierError(f"统一社会信用代码无效 / invalid USCC: {exc}") from exc


def uscc_with_check_digit(first17: str) -> str:
    """Complete 17 characters with the GB 32100 check digit."""
    if len(first17) != 17:
        raise IdentifierError("need exactly 17 characters")
    return first17 + str(_uscc.calc_check_digit(first17))


def validate_division_code(value: str) -> str:
    if not _DIVISION.match(value or ""):
        raise IdentifierError("行政区划代码应为6位数字 / division code must be 6 digits (GB/T 2260)")
    return value


def division_prefix(code: str) -> str:
    """The prefix shared by all codes inside a division: 320000 → 32, 320600 → 3206, 320602 → 320602."""
    validate_division_code(code)
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def province_city(code: str) -> str:
    """The 4 digits (province + city) a division code belongs to: 办法 Art. 15 numbers manifests per city."""
    validate_division_code(code)
    return code[:4]
