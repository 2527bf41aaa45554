"""Writes of the tracking app: what the JT/T 808 listener does to the database.

- ``terminal_register`` answers a 0x0100 register (JT/T 808-2019 8.8/8.9): a known, enabled terminal gets
  a new auth code; an unknown one is refused with result 4, unless auto-registration is on and the plate
  it reports is a vehicle of the platform that has no terminal yet.
- ``terminal_authenticate`` checks the code of a 0x0102 (8.11) and returns the session the listener
  keeps for the connection; ``terminal_logout`` (0x0003, 8.10) withdraws the code.
- ``track_points_store`` stores a flush of points from all connections in one transaction; the listener
  answers the reports only after it returned (the commit), as the telemetry listeners do.
- ``terminal_provision`` creates the terminal row of a truck before its terminal first connects (what an
  installer does; the truck simulator does it for trucks without one).
- ``truck_alerts_sweep`` judges the day's tracks against the day's plans (``tracking.alerts``) and opens
  and clears ``TruckAlert`` rows, each step with its audit event in the same transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, Q, Value, When
from django.utils import timezone

from greenisle.audit.services import event_record
from greenisle.core.errors import ServiceError, Unauthenticated
from greenisle.dispatch.models import Trip, Vehicle
from greenisle.dispatch.planning import LOCAL, day_origin
from greenisle.tracking.alerts import AlertFound, Rules, alerts_evaluate
from greenisle.tracking.jt808.codec import normalise_phone
from greenisle.tracking.models import ProtocolVersion, Terminal, TrackPoint, TruckAlert, phone_validator
from greenisle.tracking.points import PointIn, RegisterResult
from greenisle.tracking.selectors import track_fixes, trip_planned_path, trips_published_on

__all__ = [
    "RegisterOutcome",
    "SweepReport",
    "TerminalSession",
    "rules_from_settings",
    "terminal_authenticate",
    "terminal_logout",
    "terminal_provision",
    "terminal_register",
    "track_points_store",
    "truck_alerts_sweep",
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


@transaction.atomic
def terminal_provision(*, vehicle: Vehicle, phone: str, source: str = "", actor: Any = None) -> Terminal:
    """The terminal row of ``vehicle``: its SIM's phone number (digits, leading zeros dropped), bound to
    the truck, as an installer records it before the terminal first connects. A truck that already has a
    terminal keeps it (returned as it is). Raises ``ServiceError`` naming ``phone`` when the number is not
    valid or belongs to another terminal."""
    existing = Terminal.objects.select_for_update().filter(vehicle=vehicle).first()
    if existing is not None:
        return existing
    identity = normalise_phone(phone)
    try:
        phone_validator(identity)
    except ValidationError as exc:
        raise ServiceError(f"终端手机号无效 / not a terminal phone number: {phone!r}", field="phone") from exc
    try:
        with transaction.atomic():
            terminal = Terminal.objects.create(phone=identity, vehicle=vehicle)
    except IntegrityError as exc:
        raise ServiceError(
            f"手机号 {identity} 已属于其他终端 / {identity} belongs to another terminal", field="phone"
        ) from exc
    collector = vehicle.collector
    event_record(
        action="tracking.terminal.created",
        obj=terminal,
        actor=actor,
        organization=collector,
        division_code=collector.division_id,
        payload={"phone": identity, "vehicle": str(vehicle.pk), "plate": vehicle.plate, "source": source},
    )
    return terminal


# --------------------------------------------------------------------------------------------------------
# Truck alerts


@dataclass
class SweepReport:
    """What one sweep did: trucks judged, alerts opened, cleared, and open ones whose figures moved."""

    trucks: int = 0
    opened: int = 0
    cleared: int = 0
    updated: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def rules_from_settings() -> Rules:
    """The thresholds of ``GREENISLE["TRUCK_…"]`` (the defaults of :class:`~greenisle.tracking.alerts.Rules`
    for keys that are not set)."""
    configured: Mapping[str, Any] = getattr(settings, "GREENISLE", {}) or {}
    base = Rules()
    return dataclasses.replace(
        base,
        off_route_m=float(configured.get("TRUCK_OFF_ROUTE_M", base.off_route_m)),
        off_route_s=float(configured.get("TRUCK_OFF_ROUTE_S", base.off_route_s)),
        stop_s=float(configured.get("TRUCK_STOP_S", base.stop_s)),
        stop_radius_m=float(configured.get("TRUCK_STOP_RADIUS_M", base.stop_radius_m)),
        cabin_limit_c=float(configured.get("TRUCK_CABIN_LIMIT_C", base.cabin_limit_c)),
    )


def _alert_event(alert: TruckAlert, vehicle: Vehicle, action: str, payload: dict[str, Any]) -> None:
    collector = vehicle.collector
    event_record(
        action=action,
        obj=alert,
        organization=collector,
        subject_organization=collector,
        division_code=collector.division_id,
        payload={
            "plate": vehicle.plate,
            "kind": alert.kind,
            "trip": str(alert.trip_id) if alert.trip_id else None,
            "started_at": alert.started_at.isoformat(),
            **payload,
        },
    )


def _alert_open(vehicle: Vehicle, trip: Trip | None, found: AlertFound) -> TruckAlert | None:
    try:
        with transaction.atomic():
            alert = TruckAlert.objects.create(
                vehicle=vehicle,
                trip=trip,
                kind=str(found.kind),
                started_at=found.started_at,
                latitude=Decimal(repr(found.latitude)),
                longitude=Decimal(repr(found.longitude)),
                detail=found.detail,
            )
    except IntegrityError:
        return None  # another sweep recorded it meanwhile
    _alert_event(
        alert,
        vehicle,
        "tracking.truck_alert.opened",
        {"latitude": found.latitude, "longitude": found.longitude, "detail": found.detail},
    )
    return alert


def _alert_clear(alert: TruckAlert, vehicle: Vehicle, *, at: dt.datetime, reason: str) -> bool:
    """Clear ``alert`` at ``at`` unless it is cleared already; ``reason``: ``ended`` (the condition
    ended), ``not_found`` (the rules no longer find it), ``no_trip`` (the truck has no trip today)."""
    if not TruckAlert.objects.filter(pk=alert.pk, cleared_at__isnull=True).update(cleared_at=at):
        return False
    alert.cleared_at = at
    _alert_event(
        alert,
        vehicle,
        "tracking.truck_alert.cleared",
        {"cleared_at": at.isoformat(), "reason": reason, "detail": alert.detail},
    )
    return True


def _trip_at(trips: Sequence[Trip], at: dt.datetime) -> Trip | None:
    """The trip under way at ``at``: the last one planned to start by then, else the first."""
    chosen = trips[0] if trips else None
    for trip in trips:
        if trip.planned_start_at is not None and trip.planned_start_at <= at:
            chosen = trip
    return chosen


@transaction.atomic
def _alerts_apply(
    *,
    vehicle: Vehicle,
    trips: Sequence[Trip],
    found: Sequence[AlertFound],
    now: dt.datetime,
    day_start: dt.datetime,
    report: SweepReport,
) -> None:
    # Sweeps of one truck take turns (two maintenance processes, or a sweep and a manual run).
    list(Vehicle.objects.select_for_update().filter(pk=vehicle.pk).values_list("pk", flat=True))
    rows = list(
        TruckAlert.objects.filter(vehicle=vehicle).filter(
            Q(cleared_at__isnull=True) | Q(started_at__gte=day_start)
        )
    )
    keyed = {(row.kind, row.started_at): row for row in rows}
    wanted = {(str(alert.kind), alert.started_at) for alert in found}
    for row in rows:
        if row.cleared_at is None and (row.kind, row.started_at) not in wanted:
            # An alert of an earlier day ends with that day; one of today that the rules no longer find
            # (the thresholds changed, a back-filled point filled a gap) ends now.
            at = now if row.started_at >= day_start else day_start
            if _alert_clear(row, vehicle, at=at, reason="not_found"):
                report.cleared += 1
    for alert in found:
        row = keyed.get((str(alert.kind), alert.started_at))
        trip = _trip_at(trips, alert.started_at)
        if row is None:
            row = _alert_open(vehicle, trip, alert)
            if row is None:
                continue
            report.opened += 1
        elif row.cleared_at is not None:
            continue  # recorded and over: history does not change
        else:
            changes: dict[str, Any] = {}
            latitude, longitude = Decimal(repr(alert.latitude)), Decimal(repr(alert.longitude))
            if row.detail != alert.detail:
                changes["detail"] = alert.detail
            if row.latitude != latitude or row.longitude != longitude:
                changes["latitude"], changes["longitude"] = latitude, longitude
            if changes:
                TruckAlert.objects.filter(pk=row.pk).update(**changes)
                for name, value in changes.items():
                    setattr(row, name, value)
                report.updated += 1
        if alert.cleared_at is not None and _alert_clear(row, vehicle, at=alert.cleared_at, reason="ended"):
            report.cleared += 1


def truck_alerts_sweep(*, now: dt.datetime, rules: Rules | None = None) -> SweepReport:
    """Judge every truck with a trip today (the local day of ``now``: trips of published plans and trips
    assigned by hand) against its plan: its planned path (all its trips of the day in order), its shift
    end and the day's track up to ``now`` (``tracking.alerts``). Alerts found are opened, those whose
    condition ended are cleared, each with its audit event (``tracking.truck_alert.opened`` /
    ``.cleared``) in the transaction of the change. An episode that started and ended between two sweeps
    is recorded opened and cleared. Open alerts of trucks without a trip today are cleared (at midnight
    when they began on an earlier day). Each truck is one transaction."""
    rules = rules or rules_from_settings()
    day = now.astimezone(LOCAL).date()
    day_start = day_origin(day)
    day_end = day_origin(day + dt.timedelta(days=1))
    shifts: dict[uuid.UUID, list[Trip]] = {}
    for trip in trips_published_on(day):
        shifts.setdefault(trip.vehicle_id, []).append(trip)
    report = SweepReport()
    for vehicle_id, trips in shifts.items():
        vehicle = trips[0].vehicle
        path = [point for trip in trips for point in trip_planned_path(trip)]
        depot = vehicle.depot
        home = (float(depot.latitude), float(depot.longitude)) if depot is not None else None
        shift_end = dt.datetime.combine(day, vehicle.shift_end, tzinfo=LOCAL)
        fixes = track_fixes(vehicle_id, day_start, min(now + dt.timedelta(seconds=1), day_end))
        found = alerts_evaluate(path=path, track=fixes, shift_end=shift_end, now=now, rules=rules, home=home)
        _alerts_apply(vehicle=vehicle, trips=trips, found=found, now=now, day_start=day_start, report=report)
        report.trucks += 1
    stale = (
        TruckAlert.objects.open()
        .exclude(vehicle_id__in=list(shifts))
        .select_related("vehicle__collector")
        .order_by("started_at")
    )
    for alert in stale:
        with transaction.atomic():
            at = now if alert.started_at >= day_start else day_start
            if _alert_clear(alert, alert.vehicle, at=at, reason="no_trip"):
                report.cleared += 1
    return report
