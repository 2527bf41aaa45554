"""Writes of the tracking app: what the JT/T 808 listener does to the database.

- ``terminal_register`` answers a 0x0100 register (JT/T 808-2019 8.8/8.9): a known, enabled terminal gets
  a new auth code; an unknown one is refused with result 4, unless auto-registration is on and the plate
  it reports is a vehicle of the platform that has no terminal yet.
- ``terminal_authenticate`` checks the code of a 0x0102 (8.11) and returns the session the listener
  keeps for the connection; ``terminal_logout`` (0x0003, 8.10) withdraws the code.
- ``track_points_store`` stores a flush of points from all connections in one transaction; the listener
  answers the reports only after it returned (the commit), as the telemetry listeners do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, Value, When
from django.utils import timezone

from greenisle.audit.services import event_record
from greenisle.core.errors import Unauthenticated
from greenisle.dispatch.models import Vehicle
from greenisle.tracking.jt808.codec import normalise_phone
from greenisle.tracking.models import ProtocolVersion, Terminal, TrackPoint
from greenisle.tracking.points import PointIn, RegisterResult

__all__ = [
    "RegisterOutcome",
    "TerminalSession",
    "terminal_authenticate",
    "terminal_logout",
    "terminal_register",
    "track_points_store",
]

# 危险货物运输车 plates are often recorded with the 危 mark; terminals report the plate alone.
_DANGEROUS_GOODS_MARK = "危"


@dataclass(frozen=True)
class RegisterOutcome:
    """What to answer in the 0x8100: ``auth_code`` (raw, sent once) only when ``result`` is OK."""

    result: RegisterResult
    reason: str = ""
    auth_code: str | None = None
    terminal_id: uuid.UUID | None = None


@dataclass(frozen=True)
class TerminalSession:
    """An authenticated terminal, as the listener keeps it for the connection."""

    terminal_id: uuid.UUID
    vehicle_id: uuid.UUID | None
    phone: str


def _plate_key(plate: str) -> str:
    return "".join(plate.split()).upper().removesuffix(_DANGEROUS_GOODS_MARK)


def _vehicle_by_plate(plate_color: int, plate: str) -> Vehicle | None:
    """The vehicle whose plate is the one reported. Plate colour 0 means ``plate`` is a VIN (8.8), which the
    platform does not record."""
    if plate_color == 0 or not plate.strip():
        return None
    key = _plate_key(plate)
    return Vehicle.objects.filter(plate__in=[key, key + _DANGEROUS_GOODS_MARK]).first()


def _refused(result: RegisterResult, zh: str, en: str) -> RegisterOutcome:
    return RegisterOutcome(result=result, reason=f"{zh} / {en}")


@transaction.atomic
def terminal_register(
    *,
    phone: str,
    plate_color: int,
    plate: str,
    manufacturer: str = "",
    model_number: str = "",
    terminal_number: str = "",
    province_code: int | None = None,
    city_code: int | None = None,
    protocol_version: int = ProtocolVersion.V2013,
    auto_register: bool = False,
    now: dt.datetime | None = None,
) -> RegisterOutcome:
    """Register the terminal with this phone number (raw BCD digits or already normalised) and issue it a
    new auth code. Refusals are results of the 0x8100, not exceptions: 4 unknown or disabled terminal, 2 no
    vehicle with the reported plate, 1 that vehicle already has another terminal (JT/T 808-2019 8.9)."""
    identity = normalise_phone(phone)
    now = now or timezone.now()
    terminal = Terminal.objects.select_for_update().filter(phone=identity).first()
    created = terminal is None
    if terminal is None:
        if not auto_register:
            return _refused(RegisterResult.NO_TERMINAL, "平台无此终端", "no such terminal on the platform")
        terminal = Terminal(phone=identity)
    elif not terminal.enabled:
        return _refused(RegisterResult.NO_TERMINAL, "终端已停用", "terminal is disabled")
    if terminal.vehicle_id is None:
        vehicle = _vehicle_by_plate(plate_color, plate)
        if vehicle is None:
            return _refused(
                RegisterResult.NO_VEHICLE,
                f"平台无此车辆：{plate}",
                f"no vehicle with plate {plate!r} on the platform",
            )
        if Terminal.objects.filter(vehicle=vehicle).exclude(pk=terminal.pk).exists():
            return _refused(
                RegisterResult.VEHICLE_REGISTERED,
                f"车辆 {vehicle.plate} 已绑定其他终端",
                f"vehicle {vehicle.plate} is bound to another terminal",
            )
        terminal.vehicle = vehicle
    terminal.manufacturer = manufacturer[:40]
    terminal.model_number = model_number[:60]
    terminal.terminal_number = terminal_number[:60]
    terminal.plate_color = plate_color
    terminal.reported_plate = plate[:40]
    terminal.province_code = province_code
    terminal.city_code = city_code
    terminal.protocol_version = protocol_version
    terminal.registered_at = now
    terminal.last_seen_at = now
    auth_code = terminal.issue_auth_code()
    try:
        with transaction.atomic():
            terminal.save(force_insert=created)
    except IntegrityError:
        # Another connection registered the same phone, or bound the vehicle, since the checks above.
        if created and Terminal.objects.filter(phone=identity).exists():
            return _refused(RegisterResult.TERMINAL_REGISTERED, "终端已被注册", "terminal already registered")
        return _refused(
            RegisterResult.VEHICLE_REGISTERED, "车辆已绑定其他终端", "vehicle is bound to another terminal"
        )
    vehicle = terminal.vehicle
    collector = vehicle.collector if vehicle is not None else None
    event_record(
        action="tracking.terminal.created" if created else "tracking.terminal.registered",
        obj=terminal,
        organization=collector,
        division_code=collector.division_id if collector is not None else "",
        payload={
            "phone": identity,
            "vehicle": str(terminal.vehicle_id) if terminal.vehicle_id else None,
            "reported_plate": terminal.reported_plate,
            "plate_color": plate_color,
            "manufacturer": terminal.manufacturer,
            "model_number": terminal.model_number,
            "terminal_number": terminal.terminal_number,
            "protocol_version": protocol_version,
        },
    )
    return RegisterOutcome(result=RegisterResult.OK, auth_code=auth_code, terminal_id=terminal.pk)


def terminal_authenticate(
    *,
    phone: str,
    auth_code: str,
    imei: str | None = None,
    software_version: str | None = None,
    protocol_version: int = ProtocolVersion.V2013,
    now: dt.datetime | None = None,
) -> TerminalSession:
    """Check a 0x0102 auth code (JT/T 808-2019 8.11). Raises ``Unauthenticated`` naming the field at fault
    for an unknown or disabled terminal and for a wrong code."""
    identity = normalise_phone(phone)
    terminal = Terminal.objects.filter(phone=identity).first()
    if terminal is None:
        raise Unauthenticated("平台无此终端 / no such terminal", field="phone", code="unknown_terminal")
    if not terminal.enabled:
        raise Unauthenticated("终端已停用 / terminal is disabled", field="phone", code="terminal_disabled")
    if not terminal.check_auth_code(auth_code):
        raise Unauthenticated("鉴权码错误 / wrong auth code", field="auth_code", code="bad_auth_code")
    changes: dict[str, object] = {"last_seen_at": now or timezone.now(), "protocol_version": protocol_version}
    if imei:
        changes["imei"] = imei[:20]
    if software_version:
        changes["software_version"] = software_version[:40]
    Terminal.objects.filter(pk=terminal.pk).update(**changes)
    return TerminalSession(terminal_id=terminal.pk, vehicle_id=terminal.vehicle_id, phone=identity)


def terminal_logout(*, terminal_id: uuid.UUID) -> None:
    """A 0x0003 logout (JT/T 808-2019 8.10) from an authenticated terminal: its auth code stops working,
    and it must register again before it reconnects."""
    Terminal.objects.filter(pk=terminal_id).update(auth_code_hash="", last_seen_at=timezone.now())


@transaction.atomic
def track_points_store(
    *, points: Sequence[PointIn], seen: Mapping[uuid.UUID, dt.datetime] | None = None
) -> int:
    """Store ``points`` in one transaction, each (terminal, recorded_at) once: a point already stored (a
    resend, a back-fill of a point that did arrive) is skipped. ``seen`` moves terminals' ``last_seen_at``
    forward (heartbeats and reports of the flush). Returns how many distinct points were offered."""
    rows: dict[tuple[uuid.UUID, dt.datetime], TrackPoint] = {}
    for point in points:
        rows.setdefault(
            (point.terminal_id, point.recorded_at),
            TrackPoint(
                terminal_id=point.terminal_id,
                vehicle_id=point.vehicle_id,
                recorded_at=point.recorded_at,
                time_raw=point.time_raw,
                received_at=point.received_at,
                latitude=point.latitude,
                longitude=point.longitude,
                altitude_m=point.altitude_m,
                speed_kmh=point.speed_kmh,
                heading=point.heading,
                alarm_flags=point.alarm_flags,
                status_flags=point.status_flags,
                positioned=point.positioned,
                mileage_km=point.mileage_km,
                cabin_temp_c=point.cabin_temp_c,
                backfill=point.backfill,
            ),
        )
    if rows:
        TrackPoint.objects.bulk_create(rows.values(), ignore_conflicts=True, batch_size=500)
    if seen:
        ids = sorted(seen)
        Terminal.objects.filter(pk__in=ids).update(
            last_seen_at=Case(
                *(When(pk=pk, then=Value(seen[pk])) for pk in ids), output_field=DateTimeField()
            )
        )
    return len(rows)
