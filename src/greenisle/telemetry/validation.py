"""Reading validation: transport input → ``ReadingIn``, or a ``ServiceError`` naming the field.

The rules are written so that PostgreSQL can apply exactly the same ones to a whole batch
(``telemetry.ingest_pg``): a time is RFC 3339 (``T`` or a space, seconds and up to six decimals
optional, ``Z`` or ±hh[:mm]); a number is a JSON number or a decimal string; rounding to cents is
half away from zero, as PostgreSQL's numeric does. ``MESSAGES`` holds every reason a reading is
refused for, which both paths report in the same words.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from greenisle.core.errors import ServiceError
from greenisle.telemetry.models import Quality

MAX_CLOCK_SKEW = dt.timedelta(minutes=10)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ReadingIn:
    """One validated reading, not yet tied to a device."""

    observed_at: dt.datetime
    fill_pct: Decimal | None
    net_weight_kg: Decimal | None = None
    temperature_c: Decimal | None = None
    door_open: bool | None = None
    battery_pct: Decimal | None = None
    sequence: int | None = None
    device_time_raw: str = ""
    quality: str = Quality.NORMAL


TIME_RE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]"
    r"(?::[0-5][0-9](?:\.[0-9]{1,6})?)?(Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?$"
)
NUMBER_STRING_RE = r"^[ \t\n\r]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\r]*$"
QUALITY_RE = r"^[A-Za-z]$"
_TIME = re.compile(TIME_RE)
_NUMBER_STRING = re.compile(NUMBER_STRING_RE)

# Bounds per numeric field: (low, high).
NUMERIC_BOUNDS: dict[str, tuple[int, int]] = {
    "fill_pct": (0, 100),
    "net_weight_kg": (0, 100000),
    "temperature_c": (-60, 200),
    "battery_pct": (0, 100),
}


def _messages() -> dict[str, tuple[str, str | None, str]]:
    """Every reason a reading is refused for: key → (public code, field, message)."""
    table: dict[str, tuple[str, str | None, str]] = {
        "not_object": ("invalid", "reading", "读数必须是 JSON 对象 / a reading must be a JSON object"),
        "required:observed_at": ("required", "observed_at", "observed_at 必填 / observed_at is required"),
        "not_a_time": (
            "bad_time",
            "observed_at",
            "observed_at 必须是带时区的时间 / observed_at must be a datetime",
        ),
        "bad_time": (
            "bad_time",
            "observed_at",
            "observed_at 不是 ISO 8601 时间 / observed_at is not an ISO 8601 time",
        ),
        "no_time_zone": (
            "no_time_zone",
            "observed_at",
            "observed_at 缺少时区 / observed_at needs a time zone",
        ),
        "future": ("future", "observed_at", "observed_at 在未来 / observed_at is in the future"),
        "too_old": (
            "too_old",
            "observed_at",
            "observed_at 早于原始数据保存期 / observed_at is older than the raw retention period",
        ),
        "not_boolean": (
            "not_boolean",
            "door_open",
            "door_open 必须是布尔值 / door_open must be true or false",
        ),
        "bad_sequence": (
            "bad_sequence",
            "sequence",
            "sequence 必须是非负整数 / sequence must be a non-negative integer",
        ),
        "bad_quality": (
            "bad_quality",
            "quality",
            "quality 必须是一个字母（HJ 212 数据标记）/ quality must be one letter (HJ 212 data flag)",
        ),
        "not_json": ("invalid", "payload", "消息不是 JSON / payload is not JSON"),
        "unknown_device": ("unknown_device", "device", "未知设备 / unknown device"),
        "device_disabled": ("device_disabled", "device", "设备已停用 / device is disabled"),
        "serial_unknown": (
            "invalid",
            "serial",
            "serial 缺失或不是贵单位的云仓 / serial missing or not one of your bins",
        ),
        "serial_other": ("invalid", "serial", "serial 不是本设备 / serial is not this device"),
    }
    for name, (low, high) in NUMERIC_BOUNDS.items():
        table[f"required:{name}"] = ("required", name, f"{name} 必填 / {name} is required")
        table[f"not_a_number:{name}"] = ("not_a_number", name, f"{name} 不是数字 / {name} is not a number")
        table[f"not_finite:{name}"] = ("not_finite", name, f"{name} 必须是有限数 / {name} must be finite")
        table[f"out_of_range:{name}"] = (
            "out_of_range",
            name,
            f"{name} 超出范围 {low}–{high} / {name} outside {low}–{high}",
        )
    return table


MESSAGES = _messages()


def refused(key: str) -> ServiceError:
    code, field_name, message = MESSAGES[key]
    return ServiceError(message, field=field_name, code=code)


def _decimal(name: str, value: Any, *, required: bool = False) -> Decimal | None:
    if value is None:
        if required:
            raise refused(f"required:{name}")
        return None
    if isinstance(value, bool):
        raise refused(f"not_a_number:{name}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise refused(f"not_finite:{name}")
        number = Decimal(repr(value))
    elif isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str) and _NUMBER_STRING.match(value):
        number = Decimal(value.strip(" \t\n\r"))
    else:
        raise refused(f"not_a_number:{name}")
    if not number.is_finite():
        raise refused(f"not_finite:{name}")
    low, high = NUMERIC_BOUNDS[name]
    if number < low or number > high:
        raise refused(f"out_of_range:{name}")
    return number.quantize(_CENT, rounding=ROUND_HALF_UP)


def raw_retention() -> dt.timedelta:
    return dt.timedelta(days=settings.GREENISLE["READINGS_RAW_RETENTION_DAYS"])


def reading_validate(
    *,
    observed_at: Any,
    fill_pct: Any = None,
    net_weight_kg: Any = None,
    temperature_c: Any = None,
    door_open: Any = None,
    battery_pct: Any = None,
    sequence: Any = None,
    quality: Any = None,
    device_time_raw: str = "",
    now: dt.datetime | None = None,
    require_fill: bool = True,
) -> ReadingIn:
    """Turn transport input into a ReadingIn, or raise ServiceError naming the first bad field.

    ``observed_at`` may be an aware datetime or an RFC 3339 string with a time zone. A reading older
    than the raw retention period is refused (it could never be kept); one more than ten minutes in
    the future is refused (a device clock gone wrong).
    """
    raw_time = device_time_raw
    if isinstance(observed_at, str):
        raw_time = raw_time or observed_at
        match = _TIME.match(observed_at)
        if match is None:
            raise refused("bad_time")
        try:
            observed_at = dt.datetime.fromisoformat(observed_at)
        except ValueError:
            raise refused("bad_time") from None
    if not isinstance(observed_at, dt.datetime):
        raise refused("not_a_time")
    if observed_at.tzinfo is None or observed_at.utcoffset() is None:
        raise refused("no_time_zone")
    now = now or timezone.now()
    if observed_at - now > MAX_CLOCK_SKEW:
        raise refused("future")
    if now - observed_at > raw_retention():
        raise refused("too_old")
    if door_open is not None and not isinstance(door_open, bool):
        raise refused("not_boolean")
    if isinstance(sequence, float) and sequence.is_integer():
        sequence = int(sequence)  # 5.0 and 5e0 are the integer 5, as JSON has only numbers
    if sequence is not None and (
        not isinstance(sequence, int) or isinstance(sequence, bool) or not 0 <= sequence < 2**63
    ):
        raise refused("bad_sequence")
    if quality is None:
        quality = Quality.NORMAL
    elif not isinstance(quality, str) or len(quality) != 1 or not quality.isascii() or not quality.isalpha():
        raise refused("bad_quality")
    fill = _decimal("fill_pct", fill_pct, required=require_fill)
    return ReadingIn(
        observed_at=observed_at.astimezone(dt.UTC),
        fill_pct=fill,
        net_weight_kg=_decimal("net_weight_kg", net_weight_kg),
        temperature_c=_decimal("temperature_c", temperature_c),
        door_open=door_open,
        battery_pct=_decimal("battery_pct", battery_pct),
        sequence=sequence,
        device_time_raw=(raw_time or observed_at.isoformat())[:40],
        quality=quality,
    )


JSON_FIELDS = (
    "observed_at",
    "fill_pct",
    "net_weight_kg",
    "temperature_c",
    "door_open",
    "battery_pct",
    "sequence",
    "quality",
)


def reading_from_json(item: Any, *, now: dt.datetime) -> ReadingIn:
    """One JSON object from HTTP or MQTT → ReadingIn. Unknown keys are ignored (newer firmware)."""
    if not isinstance(item, dict):
        raise refused("not_object")
    if "observed_at" not in item:
        raise refused("required:observed_at")
    return reading_validate(now=now, **{k: item[k] for k in JSON_FIELDS if k in item})
