"""The one ingest path every transport calls (HTTP JSON now; MQTT and HJ 212 call the same)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from greenisle.core.errors import PermissionDenied, ServiceError, Unauthenticated
from greenisle.devices.models import Bin, hash_device_key
from greenisle.telemetry.models import BinState, Reading

MAX_CLOCK_SKEW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class ReadingIn:
    observed_at: dt.datetime
    fill_pct: Decimal
    net_weight_kg: Decimal | None = None
    temperature_c: Decimal | None = None
    door_open: bool | None = None
    battery_pct: Decimal | None = None
    sequence: int | None = None
    device_time_raw: str = ""


@dataclass(frozen=True)
class IngestOutcome:
    status: str  # accepted | duplicate | rejected
    reading_id: int | None = None
    request_opened: str | None = None
    reason: str = ""
    field: str | None = None


def device_authenticate(raw_key: str | None) -> Bin:
    if not raw_key:
        raise Unauthenticated(
            "缺少设备密钥 / device key missing", field="X-Device-Key", code="device_key_missing"
        )
    device = Bin.objects.select_related("site").filter(key_hash=hash_device_key(raw_key)).first()
    if device is None:
        raise Unauthenticated("未知设备 / unknown device key", field="X-Device-Key", code="unknown_device")
    return device


def _decimal(
    name: str, value: Any, low: float | None, high: float | None, *, required: bool = False
) -> Decimal | None:
    if value is None:
        if required:
            raise ServiceError(f"{name} 必填 / {name} is required", field=name)
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ServiceError(f"{name} 不是数字 / {name} is not a number", field=name) from None
    if not number.is_finite():
        raise ServiceError(f"{name} 不是有限数 / {name} must be finite", field=name)
    if (low is not None and number < Decimal(str(low))) or (high is not None and number > Decimal(str(high))):
        raise ServiceError(f"{name} 超出范围 {low}–{high} / {name} outside {low}–{high}", field=name)
    return number.quantize(Decimal("0.01"))


def reading_validate(
    *,
    observed_at: Any,
    fill_pct: Any,
    net_weight_kg: Any = None,
    temperature_c: Any = None,
    door_open: Any = None,
    battery_pct: Any = None,
    sequence: Any = None,
    device_time_raw: str = "",
    now: dt.datetime | None = None,
) -> ReadingIn:
    """Turn transport input into a ReadingIn, or raise ServiceError naming the first bad field."""
    if not isinstance(observed_at, dt.datetime):
        raise ServiceError(
            "observed_at 必须是带时区的时间 / observed_at must be a datetime", field="observed_at"
        )
    if observed_at.tzinfo is None or observed_at.utcoffset() is None:
        raise ServiceError("observed_at 缺少时区 / observed_at needs a time zone", field="observed_at")
    now = now or timezone.now()
    if observed_at - now > MAX_CLOCK_SKEW:
        raise ServiceError("observed_at 在未来 / observed_at is in the future", field="observed_at")
    if door_open is not None and not isinstance(door_open, bool):
        raise ServiceError("door_open 必须是布尔值 / door_open must be true or false", field="door_open")
    if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0):
        raise ServiceError(
            "sequence 必须是非负整数 / sequence must be a non-negative integer", field="sequence"
        )
    fill = _decimal("fill_pct", fill_pct, 0, 100, required=True)
    assert fill is not None
    return ReadingIn(
        observed_at=observed_at.astimezone(dt.UTC),
        fill_pct=fill,
        net_weight_kg=_decimal("net_weight_kg", net_weight_kg, 0, 100000),
        temperature_c=_decimal("temperature_c", temperature_c, -60, 200),
        door_open=door_open,
        battery_pct=_decimal("battery_pct", battery_pct, 0, 100),
        sequence=sequence,
        device_time_raw=device_time_raw or observed_at.isoformat(),
    )


def reading_ingest(*, device: Bin, reading: ReadingIn, transport: str) -> IngestOutcome:
    """Store one reading once, update the bin's state, and open or close its pickup request.

    Committed before it returns: transports acknowledge (HTTP 2xx, MQTT PUBACK) only afterwards.
    """
    if not device.enabled:
        raise PermissionDenied("设备已停用 / device is disabled", field="device", code="device_disabled")
    with transaction.atomic():
        # One writer per bin at a time, so two readings racing over the threshold open one request.
        # of=("self",): lock the bin only, not its site (shared with other bins) on PostgreSQL.
        locked = Bin.objects.select_for_update(of=("self",)).select_related("site").get(pk=device.pk)
        try:
            with transaction.atomic():
                row = Reading.objects.create(
                    device=locked,
                    observed_at=reading.observed_at,
                    device_time_raw=reading.device_time_raw[:40],
                    transport=transport,
                    fill_pct=reading.fill_pct,
                    net_weight_kg=reading.net_weight_kg,
                    temperature_c=reading.temperature_c,
                    door_open=reading.door_open,
                    battery_pct=reading.battery_pct,
                    sequence=reading.sequence,
                )
        except IntegrityError:
            BinState.objects.filter(device=locked).update(readings_duplicate=F("readings_duplicate") + 1)
            return IngestOutcome(status="duplicate", reason="already stored")
        state = BinState.objects.filter(device=locked).first()
        newest = state is None or reading.observed_at > state.observed_at
        fields = {
            "observed_at": reading.observed_at,
            "fill_pct": reading.fill_pct,
            "net_weight_kg": reading.net_weight_kg,
            "temperature_c": reading.temperature_c,
            "door_open": reading.door_open,
            "battery_pct": reading.battery_pct,
        }
        if state is None:
            BinState.objects.create(device=locked, readings_accepted=1, **fields)
        elif newest:
            BinState.objects.filter(device=locked).update(
                readings_accepted=F("readings_accepted") + 1, **fields
            )
        else:
            # A late reading is stored but does not move the bin's state backwards.
            BinState.objects.filter(device=locked).update(readings_accepted=F("readings_accepted") + 1)
        opened = None
        if newest:
            from greenisle.dispatch.services import request_apply_fill

            opened = request_apply_fill(
                bin=locked, fill_pct=reading.fill_pct, observed_at=reading.observed_at
            )
        return IngestOutcome(status="accepted", reading_id=row.pk, request_opened=opened)


def emptied_level() -> Decimal:
    return Decimal(str(settings.GREENISLE["BIN_EMPTIED_PCT"]))
