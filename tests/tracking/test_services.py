"""Registering and authenticating terminals, storing track points, and reading the tracks back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from factories import VehicleFactory

from greenisle.audit.models import Event
from greenisle.core.errors import Unauthenticated
from greenisle.dispatch.models import Vehicle
from greenisle.tracking.jt808.codec import Location, Message, decode, encode, encode_location_body
from greenisle.tracking.models import ProtocolVersion, Terminal, TrackPoint
from greenisle.tracking.points import PointIn, RegisterResult, point_from_location
from greenisle.tracking.selectors import track_of_vehicle, vehicle_positions_latest
from greenisle.tracking.services import (
    TerminalSession,
    terminal_authenticate,
    terminal_logout,
    terminal_register,
    track_points_store,
)
from tracking.factories import TerminalFactory

pytestmark = pytest.mark.django_db

PHONE = "13800138000"


def register(phone: str = PHONE, plate: str = "苏F12345", **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "phone": phone,
        "plate_color": 2,
        "plate": plate,
        "manufacturer": "HWCAB",
        "model_number": "WASTE-TRUCK-T1",
        "terminal_number": "T0001",
        "province_code": 32,
        "city_code": 600,
    }
    options.update(kwargs)
    return terminal_register(**options)


def a_point(session: TerminalSession, at: dt.datetime, **fields: Any) -> PointIn:
    body = encode_location_body(
        latitude=fields.pop("latitude", 32.0145),
        longitude=fields.pop("longitude", 120.8612),
        time=at,
        **fields,
    )
    message = decode(encode(0x0200, body, phone=session.phone, serial=1))
    assert isinstance(message, Message) and isinstance(message.body, Location)
    point = point_from_location(
        message.body,
        terminal_id=session.terminal_id,
        vehicle_id=session.vehicle_id,
        received_at=timezone.now(),
    )
    assert isinstance(point, PointIn), point
    return point


@pytest.fixture
def terminal(vehicle: Vehicle) -> Terminal:
    """The collector's truck 苏F12345危 with its terminal, known to the platform before it first connects."""
    return TerminalFactory(phone=PHONE, vehicle=vehicle)


@pytest.fixture
def base() -> dt.datetime:
    return timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)


# --- register and authenticate ------------------------------------------------------------------------


def test_a_known_terminal_registers_authenticates_and_its_points_are_stored(terminal, vehicle, base):
    outcome = register(protocol_version=ProtocolVersion.V2019)
    assert outcome.result == RegisterResult.OK and outcome.auth_code
    terminal.refresh_from_db()
    assert terminal.registered_at is not None
    assert (terminal.manufacturer, terminal.model_number, terminal.terminal_number) == (
        "HWCAB",
        "WASTE-TRUCK-T1",
        "T0001",
    )
    assert (terminal.reported_plate, terminal.plate_color, terminal.protocol_version) == ("苏F12345", 2, 2019)
    assert outcome.auth_code not in terminal.auth_code_hash  # only the hash is kept

    session = terminal_authenticate(
        phone="00000000013800138000",
        auth_code=outcome.auth_code,
        imei="862000000000001",
        software_version="v1",
    )
    assert session == TerminalSession(terminal_id=terminal.pk, vehicle_id=vehicle.pk, phone=PHONE)
    terminal.refresh_from_db()
    assert (terminal.imei, terminal.software_version) == ("862000000000001", "v1")

    points = [a_point(session, base + dt.timedelta(seconds=30 * i), speed_kmh=40 + i) for i in range(3)]
    assert track_points_store(points=points, seen={terminal.pk: timezone.now()}) == 3
    stored = list(TrackPoint.objects.filter(terminal=terminal).order_by("recorded_at"))
    assert [p.recorded_at for p in stored] == [base + dt.timedelta(seconds=30 * i) for i in range(3)]
    assert [p.speed_kmh for p in stored] == [Decimal("40.0"), Decimal("41.0"), Decimal("42.0")]
    assert all(p.vehicle_id == vehicle.pk for p in stored)
    assert stored[0].latitude == Decimal("32.014500") and stored[0].longitude == Decimal("120.861200")


def test_a_repeated_point_is_stored_once(terminal, base):
    session = TerminalSession(terminal.pk, terminal.vehicle_id, terminal.phone)
    first = a_point(session, base, speed_kmh=30)
    track_points_store(points=[first, first])
    track_points_store(
        points=[a_point(session, base, speed_kmh=99), a_point(session, base + dt.timedelta(seconds=5))]
    )
    rows = TrackPoint.objects.filter(terminal=terminal)
    assert rows.count() == 2
    assert rows.get(recorded_at=base).speed_kmh == Decimal("30.0")  # the first one stays


def test_both_header_layouts_of_one_phone_number_are_one_terminal(terminal):
    assert register(phone="013800138000").result == RegisterResult.OK
    outcome = register(phone="00000000013800138000", protocol_version=ProtocolVersion.V2019)
    assert outcome.result == RegisterResult.OK
    assert Terminal.objects.count() == 1
    assert terminal_authenticate(phone="013800138000", auth_code=outcome.auth_code).terminal_id == terminal.pk


def test_an_unknown_phone_is_refused(vehicle):
    outcome = register(phone="13900000000")
    assert outcome.result == RegisterResult.NO_TERMINAL and outcome.auth_code is None
    assert "no such terminal" in outcome.reason
    assert not Terminal.objects.exists()
    with pytest.raises(Unauthenticated) as refused:
        terminal_authenticate(phone="13900000000", auth_code="whatever")
    assert refused.value.field == "phone" and refused.value.code == "unknown_terminal"


def test_a_bad_auth_code_is_refused(terminal):
    with pytest.raises(Unauthenticated) as refused:
        terminal_authenticate(phone=PHONE, auth_code="not-the-code")
    assert refused.value.field == "auth_code" and refused.value.code == "bad_auth_code"
    terminal.refresh_from_db()
    assert terminal.last_seen_at is None
    assert terminal_authenticate(phone=PHONE, auth_code=terminal.auth_code).terminal_id == terminal.pk


def test_a_disabled_terminal_cannot_register_or_authenticate(terminal):
    Terminal.objects.filter(pk=terminal.pk).update(enabled=False)
    assert register().result == RegisterResult.NO_TERMINAL
    with pytest.raises(Unauthenticated) as refused:
        terminal_authenticate(phone=PHONE, auth_code=terminal.auth_code)
    assert refused.value.code == "terminal_disabled"


def test_registering_again_issues_a_new_code_and_the_old_one_stops_working(terminal):
    old = terminal.auth_code
    outcome = register()
    assert outcome.result == RegisterResult.OK and outcome.auth_code != old
    with pytest.raises(Unauthenticated):
        terminal_authenticate(phone=PHONE, auth_code=old)
    terminal_authenticate(phone=PHONE, auth_code=outcome.auth_code)


def test_registration_is_audited(terminal, collector):
    register()
    event = Event.objects.get(action="tracking.terminal.registered")
    assert event.object_id == str(terminal.pk)
    assert event.organization_id == collector.pk
    assert event.payload["phone"] == PHONE and event.payload["reported_plate"] == "苏F12345"


def test_logout_withdraws_the_auth_code(terminal):
    terminal_logout(terminal_id=terminal.pk)
    with pytest.raises(Unauthenticated):
        terminal_authenticate(phone=PHONE, auth_code=terminal.auth_code)


def test_a_known_terminal_without_a_vehicle_is_bound_by_its_reported_plate(vehicle):
    unbound = TerminalFactory(phone=PHONE, vehicle=None)
    assert register(plate="苏F 12345").result == RegisterResult.OK
    unbound.refresh_from_db()
    assert unbound.vehicle_id == vehicle.pk


# --- auto-registration ---------------------------------------------------------------------------------


def test_auto_registration_binds_a_new_terminal_to_the_vehicle_with_its_plate(vehicle, collector):
    # The platform records the plate with the 危 mark; the terminal reports the plate alone.
    outcome = register(auto_register=True)
    assert outcome.result == RegisterResult.OK
    terminal = Terminal.objects.get(phone=PHONE)
    assert terminal.vehicle_id == vehicle.pk and terminal.pk == outcome.terminal_id
    assert Event.objects.get(action="tracking.terminal.created").organization_id == collector.pk
    assert terminal_authenticate(phone=PHONE, auth_code=outcome.auth_code).vehicle_id == vehicle.pk


def test_auto_registration_refuses_a_plate_the_platform_does_not_know(vehicle):
    assert register(plate="苏F99999", auto_register=True).result == RegisterResult.NO_VEHICLE
    assert (
        register(plate_color=0, plate="LSVAU2180N2183294", auto_register=True).result
        == RegisterResult.NO_VEHICLE
    )
    assert not Terminal.objects.exists()


def test_auto_registration_refuses_a_vehicle_that_has_another_terminal(terminal, vehicle):
    outcome = register(phone="13911112222", auto_register=True)
    assert outcome.result == RegisterResult.VEHICLE_REGISTERED
    assert Terminal.objects.count() == 1


# --- last seen -------------------------------------------------------------------------------------------


def test_a_flush_moves_last_seen_forward(terminal):
    other = TerminalFactory()
    at = timezone.now().replace(microsecond=0)
    track_points_store(points=[], seen={terminal.pk: at, other.pk: at + dt.timedelta(seconds=1)})
    terminal.refresh_from_db()
    other.refresh_from_db()
    assert terminal.last_seen_at == at and other.last_seen_at == at + dt.timedelta(seconds=1)


# --- selectors -------------------------------------------------------------------------------------------


def test_the_latest_position_of_each_vehicle_of_a_collector(terminal, vehicle, collector, collector_b, base):
    second = TerminalFactory(vehicle=VehicleFactory(collector=collector, plate="苏F00001危"))
    rival = TerminalFactory(vehicle=VehicleFactory(collector=collector_b, plate="苏F00002危"))
    idle = VehicleFactory(collector=collector, plate="苏F00003危")  # no terminal, no points
    sessions = [TerminalSession(t.pk, t.vehicle_id, t.phone) for t in (terminal, second, rival)]
    points = [a_point(sessions[0], base + dt.timedelta(minutes=m), latitude=32 + m / 100) for m in range(3)]
    # The newest report of the first truck has no fix: its position is the one before.
    points.append(a_point(sessions[0], base + dt.timedelta(minutes=5), latitude=0, longitude=0, status=0))
    points.append(a_point(sessions[1], base, latitude=31.5))
    points.append(a_point(sessions[2], base + dt.timedelta(minutes=9), latitude=31.9))
    track_points_store(points=points)

    latest = vehicle_positions_latest(collector)
    assert [(p.vehicle.plate, p.latitude) for p in latest] == [
        ("苏F00001危", Decimal("31.500000")),
        ("苏F12345危", Decimal("32.020000")),
    ]
    assert idle.pk not in {p.vehicle_id for p in latest}
    assert vehicle_positions_latest(collector_b.pk)[0].terminal_id == rival.pk


def test_the_track_of_a_vehicle_is_the_half_open_interval_oldest_first(terminal, vehicle, base):
    session = TerminalSession(terminal.pk, vehicle.pk, terminal.phone)
    # Stored out of order, as a blind-area back-fill arrives after newer points.
    track_points_store(points=[a_point(session, base + dt.timedelta(minutes=m)) for m in (4, 1, 3, 0, 2)])
    track = track_of_vehicle(vehicle, base + dt.timedelta(minutes=1), base + dt.timedelta(minutes=4))
    assert [p.recorded_at for p in track] == [base + dt.timedelta(minutes=m) for m in (1, 2, 3)]
    assert track_of_vehicle(vehicle.pk, base, base).count() == 0
