"""HJ 1259-2022 Appendix B batch codes: ``HW`` + record-type letters + YYYYMMDD + serial.

Tables B.1–B.5 give e.g. HWCS20211031001 (产生), HWRK… (入库), HWCK… (出库), HWZXLY/HWZXCZ
(自行利用/处置), HWWWLY/HWWWCZ (委外利用/处置). The standard fixes neither the serial width nor
its scope; we use 3 digits by default (its examples) and count per site, record type and date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

PREFIXES: dict[str, str] = {
    "production": "CS",
    "storage_in": "RK",
    "storage_out": "CK",
    "own_utilisation": "ZXLY",
    "own_disposal": "ZXCZ",
    "outsourced_utilisation": "WWLY",
    "outsourced_disposal": "WWCZ",
    # B.5 export to a receiver outside the PRC (出口利用/处置).
    "export_utilisation": "CKLY",
    "export_disposal": "CKCZ",
}
_BY_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}
# Longest prefixes first: CK (storage-out) is a prefix of the export codes CKLY/CKCZ.
_CODE_RE = re.compile(r"HW(ZXLY|ZXCZ|WWLY|WWCZ|CKLY|CKCZ|CS|RK|CK)(\d{8})(\d{3,})")


class BatchCodeError(ValueError):
    pass


@dataclass(frozen=True)
class BatchCode:
    record_type: str
    day: dt.date
    serial: int


def format_batch_code(record_type: str, day: dt.date, serial: int, *, width: int = 3) -> str:
    try:
        prefix = PREFIXES[record_type]
    except KeyError:
        raise BatchCodeError(f"unknown ledger record type {record_type!r}") from None
    if serial < 1:
        raise BatchCodeError(f"serial {serial} must be positive")
    # A busy warehouse may pass 999 containers a day: the serial then grows a digit rather than wrap.
    return f"HW{prefix}{day:%Y%m%d}{serial:0{width}d}"


def parse_batch_code(code: str) -> BatchCode:
    match = _CODE_RE.fullmatch(code)
    if not match:
        raise BatchCodeError(f"{code!r} is not an HJ 1259 batch code")
    try:
        day = dt.datetime.strptime(match[2], "%Y%m%d").date()
    except ValueError:
        raise BatchCodeError(f"{code!r} has an invalid date") from None
    return BatchCode(_BY_PREFIX[match[1]], day, int(match[3]))
