"""From a decoded location to a track point (greenisle.tracking.points): pure, no database."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from greenisle.tracking.jt808.codec import Location, Message, decode, encode, encode_location_body
from greenisle.tracking.points import PointIn, PointRefused, point_from_location

UTC = dt.UTC
BEIJING = dt.timezone(dt.timedelta(hours=8))
TERMINAL = uuid.UUID(int=1)
VEHICLE = uuid.UUID(int=2)
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def location(body: bytes) -> Location:
    message = decode(encode(0x0200, body, phone="13800138000", serial=1))
    assert isinstance(message, Message) and isinstance(message.body, Location)
    return message.body


def point(body: bytes, **kwargs: object) -> PointIn | PointRefused:
    options: dict[str, object] = {"terminal_id": TERMINAL, "vehicle_id": VEHICLE, "received_at": NOW}
    options.update(kwargs)
    return point_from_location(location(body), **options)  # type: ignore[arg-type]


def test_beijing_time_becomes_utc_and_the_raw_digits_are_kept() -> None:
    at = dt.datetime(2026, 11, 22, 8, 30, 15, tzinfo=BEIJING)
    result = point(encode_location_body(latitude=32.0, longitude=120.9, time=at))
    assert isinstance(result, PointIn)
    assert result.recorded_at == dt.datetime(2026, 11, 22, 0, 30, 15, tzinfo=UTC)
    assert result.time_raw == "261122083015"
    assert result.received_at == NOW


def test_values_are_exact_decimals_with_their_units() -> None:
    body = encode_location_body(
        latitude=32.014523,
        longitude=120.861234,
        time=NOW - dt.timedelta(minutes=1),
        altitude=12,
        speed_kmh=36.5,
        direction=271,
        alarm=0b10,
        status=0x0C0003,
        mileage_km=12345.6,
        cabin_temp_c=-7,
    )
    result = point(body)
    assert isinstance(result, PointIn)
    assert (result.latitude, result.longitude) == (Decimal("32.014523"), Decimal("120.861234"))
    assert (result.altitude_m, result.speed_kmh, result.heading) == (12, Decimal("36.5"), 271)
    assert (result.alarm_flags, result.status_flags, result.positioned) == (0b10, 0x0C0003, True)
    assert result.mileage_km == Decimal("12345.6")
    assert result.cabin_temp_c == -7
    assert result.terminal_id == TERMINAL and result.vehicle_id == VEHICLE and not result.backfill


def test_south_and_west_are_negative() -> None:
    result = point(encode_location_body(latitude=-33.5, longitude=-70.25, time=NOW))
    assert isinstance(result, PointIn)
    assert (result.latitude, result.longitude) == (Decimal("-33.500000"), Decimal("-70.250000"))


def test_a_point_without_a_fix_is_kept_and_marked() -> None:
    result = point(encode_location_body(latitude=0, longitude=0, time=NOW, status=0x01))
    assert isinstance(result, PointIn) and not result.positioned
    assert result.mileage_km is None and result.cabin_temp_c is None


def test_a_time_that_is_not_a_date_is_refused() -> None:
    body = bytearray(encode_location_body(latitude=32.0, longitude=120.9, time=NOW))
    body[22:28] = bytes(6)  # 000000000000: no fix yet
    result = point(bytes(body))
    assert isinstance(result, PointRefused)
    assert (result.code, result.field) == ("bad_time", "time")
    assert "000000000000" in result.message


def test_a_time_far_ahead_of_the_platform_clock_is_refused() -> None:
    # A terminal that adds the eight hours twice.
    ahead = point(encode_location_body(latitude=32.0, longitude=120.9, time=NOW + dt.timedelta(hours=8)))
    assert isinstance(ahead, PointRefused) and ahead.code == "future_time"
    slightly = point(encode_location_body(latitude=32.0, longitude=120.9, time=NOW + dt.timedelta(minutes=5)))
    assert isinstance(slightly, PointIn)


def test_coordinates_out_of_range_are_refused_naming_the_field() -> None:
    latitude = point(encode_location_body(latitude=116.307629, longitude=40.0, time=NOW))
    assert isinstance(latitude, PointRefused) and latitude.field == "latitude"
    longitude = point(encode_location_body(latitude=40.0, longitude=181.0, time=NOW))
    assert isinstance(longitude, PointRefused) and longitude.field == "longitude"


def test_backfill_is_carried() -> None:
    result = point(encode_location_body(latitude=32.0, longitude=120.9, time=NOW), backfill=True)
    assert isinstance(result, PointIn) and result.backfill
