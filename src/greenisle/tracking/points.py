"""From a decoded JT/T 808 location to a track point to store, and the result codes the platform answers.

Pure: no Django, no I/O. The listener (:mod:`greenisle.tracking.server`) decodes frames with
:mod:`greenisle.tracking.jt808.codec`, turns each 0x0200 report and each 0x0704 item into a
:class:`PointIn` here, and hands the points to ``services.track_points_store``.

Rules (protocols.md 2.4; JT/T 808-2019 location report 0x0200 and batch upload 0x0704):

- The terminal's time is Beijing time (GMT+8) with no zone field; the codec converts it to UTC. A time that
  is not a valid date (``000000000000`` without a fix) cannot key a point: the report is refused.
- A time further ahead of the platform's clock than ``max_ahead`` is refused too: a terminal that adds
  the eight hours twice would otherwise sit in the future and hide every real latest position.
- Latitude and longitude are signed decimal degrees (status bits 2 and 3 give south and west) with six
  decimals, as sent (degrees × 10⁶); outside ±90 / ±180 the report is refused.
- Status bit 1 says whether the terminal had a fix; points without one are kept (they carry alarms,
  mileage and cabin temperature) and marked ``positioned=False``.
- Mileage is attachment 0x01 (1/10 km); cabin temperature is attachment 0x06 (2019, whole °C,
  sign-magnitude), decoded by the codec.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from greenisle.tracking.jt808.codec import Location

__all__ = [
    "DEFAULT_MAX_AHEAD",
    "PointIn",
    "PointRefused",
    "RegisterResult",
    "ReplyResult",
    "point_from_location",
]

#: How far ahead of the platform's clock a terminal's time may be.
DEFAULT_MAX_AHEAD: Final = dt.timedelta(hours=1)
_MICRO: Final = Decimal(1).scaleb(-6)
_TENTH: Final = Decimal("0.1")


class ReplyResult(enum.IntEnum):
    """Result of the platform general reply 0x8001 (JT/T 808-2019 8.2)."""

    OK = 0
    FAILURE = 1
    BAD_MESSAGE = 2
    UNSUPPORTED = 3
    ALARM_CONFIRMED = 4


class RegisterResult(enum.IntEnum):
    """Result of the register reply 0x8100 (JT/T 808-2019 8.9); the auth code is sent only with OK."""

    OK = 0
    VEHICLE_REGISTERED = 1
    NO_VEHICLE = 2
    TERMINAL_REGISTERED = 3
    NO_TERMINAL = 4


@dataclass(frozen=True, slots=True)
class PointIn:
    """One track point ready to store: a 0x0200 report, or one item of a 0x0704 batch."""

    terminal_id: uuid.UUID
    vehicle_id: uuid.UUID | None
    recorded_at: dt.datetime
    time_raw: str
    received_at: dt.datetime
    latitude: Decimal
    longitude: Decimal
    altitude_m: int
    speed_kmh: Decimal
    heading: int
    alarm_flags: int
    status_flags: int
    positioned: bool
    mileage_km: Decimal | None = None
    cabin_temp_c: int | None = None
    backfill: bool = False


@dataclass(frozen=True, slots=True)
class PointRefused:
    """Why a location cannot be stored. ``field`` names the part at fault; ``message`` is "中文 / English"."""

    code: str
    field: str
    message: str


def _degrees(raw: int, negative: bool) -> Decimal:
    value = Decimal(raw).scaleb(-6).quantize(_MICRO)
    return -value if negative else value


def point_from_location(
    location: Location,
    *,
    terminal_id: uuid.UUID,
    vehicle_id: uuid.UUID | None,
    received_at: dt.datetime,
    backfill: bool = False,
    max_ahead: dt.timedelta = DEFAULT_MAX_AHEAD,
) -> PointIn | PointRefused:
    """The point to store for ``location``, or why there is none. ``received_at`` is aware (the
    platform's clock); the point's ``recorded_at`` is the terminal's time in UTC."""
    recorded_at = location.time
    if recorded_at is None:
        return PointRefused(
            "bad_time",
            "time",
            f"定位时间无效：{location.time_raw} / location time is not a valid date: {location.time_raw}",
        )
    if recorded_at - received_at > max_ahead:
        return PointRefused(
            "future_time",
            "time",
            f"定位时间超前平台时钟：{location.time_raw}（北京时间）/ "
            f"location time {location.time_raw} (Beijing) is ahead of the platform clock",
        )
    latitude = _degrees(location.lat_raw, location.south_lat)
    longitude = _degrees(location.lng_raw, location.west_lng)
    if abs(latitude) > 90:
        return PointRefused("bad_latitude", "latitude", f"纬度超出范围 / latitude out of range: {latitude}")
    if abs(longitude) > 180:
        return PointRefused(
            "bad_longitude", "longitude", f"经度超出范围 / longitude out of range: {longitude}"
        )
    mileage = location.mileage_km
    return PointIn(
        terminal_id=terminal_id,
        vehicle_id=vehicle_id,
        recorded_at=recorded_at,
        time_raw=location.time_raw,
        received_at=received_at,
        latitude=latitude,
        longitude=longitude,
        altitude_m=location.altitude,
        speed_kmh=Decimal(location.speed_raw).scaleb(-1).quantize(_TENTH),
        heading=location.direction,
        alarm_flags=location.alarm,
        status_flags=location.status,
        positioned=location.positioned,
        # The codec divides the DWORD by 10; repr of that float is the exact tenth.
        mileage_km=None if mileage is None else Decimal(repr(mileage)).quantize(_TENTH),
        cabin_temp_c=location.cabin_temp_c,
        backfill=backfill,
    )
