"""The JT/T 808 TCP listener (greenisle.tracking.server) against a real socket and the test database.

The listener runs in a background thread on its own event loop, with its own database connections, so
these tests are transactional: what the test writes must be committed for the listener to see it, and
what the listener commits is visible to the test. A simulated terminal speaks through the codec's
encoders. "No answer" is asserted without sleeping: the terminal sends another message afterwards, and
the next frame it receives must be the answer to that one (a connection's answers are written in order).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from greenisle.dispatch.models import Vehicle
from greenisle.tracking.jt808.codec import (
    Deframer,
    Message,
    PlatformReply,
    RegisterReply,
    ServerTime,
    check_code,
    decode,
    encode,
    encode_authenticate_body,
    encode_location_batch_body,
    encode_location_body,
    encode_register_body,
)
from greenisle.tracking.models import Terminal, TrackPoint
from greenisle.tracking.server import ListenerConfig, ListenerThread, _store
from tracking.factories import TerminalFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHONE = "13800138000"
VECTORS = {
    item["id"]: item
    for item in json.loads((Path(__file__).parent / "vectors" / "jt808.json").read_text(encoding="utf-8"))[
        "vectors"
    ]
}
REGISTER, AUTHENTICATE, HEARTBEAT, LOGOUT, QUERY_TIME = 0x0100, 0x0102, 0x0002, 0x0003, 0x0004
LOCATION, BATCH = 0x0200, 0x0704
OK, FAILURE, BAD_MESSAGE, UNSUPPORTED = 0, 1, 2, 3


def vector(vector_id: str) -> bytes:
    return bytes.fromhex(VECTORS[vector_id]["raw_hex"])


# --- a terminal ---------------------------------------------------------------------------------------


class Truck:
    """A blocking TCP client standing in for a truck's terminal (2013 header unless ``version`` is set)."""

    def __init__(self, port: int, phone: str = PHONE, version: int | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.phone = phone
        self.version = version
        self.serial = 0
        self.deframer = Deframer()
        self.frames: collections.deque[bytes] = collections.deque()

    def frame(self, msg_id: int, body: bytes = b"") -> tuple[int, bytes]:
        """An encoded message with the terminal's next serial number: (serial, frame)."""
        serial = self.serial
        self.serial += 1
        return serial, encode(msg_id, body, phone=self.phone, serial=serial, version=self.version)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> Message:
        """The next message the platform sent (fails after 10 s, or if the connection closes)."""
        while not self.frames:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection")
            for frame in self.deframer.feed(chunk):
                assert isinstance(frame, bytes), frame
                self.frames.append(frame)
        message = decode(self.frames.popleft())
        assert isinstance(message, Message), message
        return message

    def ask(self, msg_id: int, body: bytes = b"") -> Message:
        """Send one message and return the platform's answer, checking that it echoes serial and id."""
        serial, data = self.frame(msg_id, body)
        self.send(data)
        answer = self.receive()
        assert answer.body.reply_serial == serial  # type: ignore[union-attr]
        if isinstance(answer.body, PlatformReply):
            assert answer.body.reply_id == msg_id
        return answer

    def result(self, msg_id: int, body: bytes = b"") -> int:
        answer = self.ask(msg_id, body)
        assert isinstance(answer.body, PlatformReply), answer
        return answer.body.result

    def authenticate(self, code: str) -> int:
        return self.result(AUTHENTICATE, encode_authenticate_body(code))

    def closed(self) -> bool:
        """Whether the listener closed the connection (waits up to 10 s)."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionError, TimeoutError):
            return True

    def close(self) -> None:
        self.sock.close()


def location(at: dt.datetime, **fields: Any) -> bytes:
    fields.setdefault("latitude", 32.0145)
    fields.setdefault("longitude", 120.8612)
    return encode_location_body(time=at, **fields)


# --- fixtures -------------------------------------------------------------------------------------------


def _config(**overrides: Any) -> ListenerConfig:
    base: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "stats_interval": 0}
    base.update(overrides)
    return ListenerConfig(**base)


@pytest.fixture
def terminal(vehicle: Vehicle) -> Terminal:
    return TerminalFactory(phone=PHONE, vehicle=vehicle)


@pytest.fixture
def listener() -> Any:
    thread = ListenerThread(_config())
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def truck(listener: ListenerThread) -> Any:
    client = Truck(listener.listener.port or 0)
    yield client
    client.close()


@pytest.fixture
def base() -> dt.datetime:
    return timezone.now().replace(microsecond=0) - dt.timedelta(minutes=30)


def at(base: dt.datetime, seconds: int) -> dt.datetime:
    return base + dt.timedelta(seconds=seconds)


def points_of(terminal: Terminal) -> list[TrackPoint]:
    return list(TrackPoint.objects.filter(terminal=terminal).order_by("recorded_at"))


# --- the session ----------------------------------------------------------------------------------------


def test_a_terminal_registers_authenticates_heartbeats_and_reports(terminal, vehicle, truck, base, listener):
    serial, data = truck.frame(
        REGISTER,
        encode_register_body(
            province=32,
            city=600,
            maker="HWCAB",
            model="WASTE-TRUCK-T1",
            terminal_id="T0001",
            plate_color=2,
            plate="苏F12345",
        ),
    )
    truck.send(data)
    answer = truck.receive()
    assert isinstance(answer.body, RegisterReply)
    assert (answer.body.reply_serial, answer.body.result) == (serial, 0)
    code = answer.body.auth_code
    assert code
    # The answer is in the terminal's layout, with its phone digits, and the platform's own serial.
    assert (answer.header.phone, answer.header.protocol_version, answer.header.serial) == (
        "013800138000",
        None,
        0,
    )

    assert truck.authenticate(code) == OK
    assert truck.result(HEARTBEAT) == OK
    answer = truck.ask(LOCATION, location(at(base, 0), speed_kmh=42.5, mileage_km=1234.5))
    assert answer.body.result == OK
    assert answer.header.serial == 3  # 0x8100, then three 0x8001: the counter goes up per connection

    # Answered after the commit: the point is there the moment the answer arrives.
    (point,) = points_of(terminal)
    assert point.recorded_at == at(base, 0)
    assert point.vehicle_id == vehicle.pk
    assert (point.speed_kmh, point.mileage_km, point.backfill) == (Decimal("42.5"), Decimal("1234.5"), False)
    assert point.time_raw == at(base, 0).astimezone(dt.timezone(dt.timedelta(hours=8))).strftime(
        "%y%m%d%H%M%S"
    )
    terminal.refresh_from_db()
    assert terminal.registered_at is not None and terminal.last_seen_at is not None
    assert (terminal.reported_plate, terminal.manufacturer) == ("苏F12345", "HWCAB")
    assert listener.stats.registered == 1 and listener.stats.authenticated == 1


def test_a_2019_terminal_is_answered_in_the_2019_layout(vehicle, listener):
    # The QuecPython captures: a 2019 register and authentication, then a location with a 2013 header
    # (phone 013800138000): one terminal, whatever the layout.
    terminal = TerminalFactory(phone=PHONE, vehicle=vehicle, auth_code="AUTH123")
    truck = Truck(listener.listener.port or 0)
    truck.send(vector("jt-quecpython-0102-2019-capture"))
    answer = truck.receive()
    assert answer.header.protocol_version == 1 and answer.header.phone == "00000000013800138000"
    assert answer.body == PlatformReply(reply_serial=1, reply_id=AUTHENTICATE, result=OK)
    terminal.refresh_from_db()
    assert (terminal.imei, terminal.software_version, terminal.protocol_version) == (
        "862000000000001",
        "v1.0.0",
        2019,
    )

    truck.send(vector("jt-quecpython-0200-2013-capture"))
    answer = truck.receive()
    assert answer.header.protocol_version is None and answer.header.phone == "013800138000"
    assert answer.body == PlatformReply(reply_serial=3, reply_id=LOCATION, result=OK)
    (point,) = points_of(terminal)
    # 2026-11-22 13:48:48 in Beijing is 05:48:48 UTC.
    assert point.recorded_at == dt.datetime(2026, 11, 22, 5, 48, 48, tzinfo=dt.UTC)
    assert (point.latitude, point.longitude) == (Decimal("31.230416"), Decimal("121.473701"))
    assert (point.speed_kmh, point.heading, point.mileage_km) == (Decimal("36.5"), 90, Decimal("100.0"))

    truck.send(vector("jt-quecpython-0100-2019-capture"))
    answer = truck.receive()
    assert isinstance(answer.body, RegisterReply) and answer.body.result == 0 and answer.body.auth_code
    assert answer.header.protocol_version == 1
    terminal.refresh_from_db()
    assert (terminal.reported_plate, terminal.terminal_number) == ("沪A12345", "T0001")
    truck.close()


def test_query_server_time_is_answered_in_utc(truck):
    truck.version = 1
    truck.phone = "00000000013800138000"
    before = timezone.now().replace(microsecond=0)
    serial, data = truck.frame(QUERY_TIME)
    truck.send(data)
    answer = truck.receive()
    assert isinstance(answer.body, ServerTime) and answer.header.protocol_version == 1
    assert answer.body.time is not None and before <= answer.body.time <= timezone.now()


# --- the stream -----------------------------------------------------------------------------------------


def _last_plain_body_byte(frame: bytearray) -> int:
    """The index of the frame's last body byte that is not part of an escape (0x7d 0x01 / 0x7d 0x02)
    and stays a plain byte when bit 0 flips (not 0x7c–0x7f): flipping it spoils the check code and
    nothing else. Flipping the check code itself could make or break an escape, which the listener
    rightly counts as a bad frame instead, depending on the report's time."""
    check = len(frame) - 2  # frame = 0x7e … check 0x7e; an escaped check code takes two bytes
    j = check - 2 if frame[check - 1] == 0x7D else check - 1
    while frame[j - 1] == 0x7D or 0x7C <= frame[j] <= 0x7F:
        j -= 2 if frame[j - 1] == 0x7D else 1
    return j


def test_split_frames_sticky_frames_and_a_corrupt_frame_in_between(terminal, truck, base, listener):
    assert truck.authenticate(terminal.auth_code) == OK

    # Three reports in one write.
    sent = [truck.frame(LOCATION, location(at(base, i))) for i in range(3)]
    truck.send(b"".join(data for _, data in sent))
    for serial, _ in sent:
        assert truck.receive().body == PlatformReply(serial, LOCATION, OK)

    # One report across several writes.
    serial, data = truck.frame(LOCATION, location(at(base, 10)))
    for start in range(0, len(data), 7):
        truck.send(data[start : start + 7])
        time.sleep(0.01)
    assert truck.receive().body == PlatformReply(serial, LOCATION, OK)

    # A report with a wrong check code between two good ones, all in one write, the last one split.
    before, corrupt, after = (truck.frame(LOCATION, location(at(base, s))) for s in (20, 21, 22))
    broken = bytearray(corrupt[1])
    broken[_last_plain_body_byte(broken)] ^= 0x01
    stream = before[1] + bytes(broken) + after[1]
    truck.send(stream[: len(stream) - 5])
    time.sleep(0.02)
    truck.send(stream[len(stream) - 5 :])
    assert truck.receive().body == PlatformReply(before[0], LOCATION, OK)
    assert truck.receive().body == PlatformReply(after[0], LOCATION, OK)  # nothing for the corrupt one
    assert listener.stats.bad_check == 1

    # Garbage outside frames, and a frame whose declared body length is wrong (check code right):
    # answered "bad message"; the connection goes on.
    truck.send(b"\x01\x02garbage")
    # (A frame whose bytes need no escaping, so that editing one byte keeps it a frame: the time
    # and the check code decide that.)
    for second in range(30, 90):
        serial, good = truck.frame(LOCATION, location(at(base, second)))
        raw = bytearray(good[1:-1])
        raw[3] += 1  # body length + 1, check code recomputed
        raw[-1] = check_code(bytes(raw[:-1]))
        if 0x7D not in raw and 0x7E not in raw:
            break
    assert 0x7D not in raw and 0x7E not in raw
    truck.send(b"\x7e" + bytes(raw) + b"\x7e")
    assert truck.receive().body == PlatformReply(serial, LOCATION, BAD_MESSAGE)
    assert truck.result(HEARTBEAT) == OK

    assert [p.recorded_at for p in points_of(terminal)] == [at(base, s) for s in (0, 1, 2, 10, 20, 22)]


def test_a_batch_is_stored_in_one_answer_and_a_point_already_stored_stays_once(terminal, truck, base):
    assert truck.authenticate(terminal.auth_code) == OK
    assert truck.result(LOCATION, location(at(base, 60), speed_kmh=10)) == OK
    # A blind-area back-fill (0x0704 type 1) after reconnecting: the first item did arrive already.
    items = [
        location(at(base, 60), speed_kmh=10),
        location(at(base, 0)),
        location(at(base, 30), cabin_temp_c=-3),
    ]
    assert truck.result(BATCH, encode_location_batch_body(items, kind=1)) == OK
    stored = points_of(terminal)
    assert [p.recorded_at for p in stored] == [at(base, 0), at(base, 30), at(base, 60)]
    assert [p.backfill for p in stored] == [True, True, False]
    assert stored[1].cabin_temp_c == -3
    # A normal batch (type 0) of fresh points.
    normal = [location(at(base, 90 + i)) for i in range(5)]
    assert truck.result(BATCH, encode_location_batch_body(normal)) == OK
    assert TrackPoint.objects.filter(terminal=terminal, backfill=False).count() == 6


def test_the_same_report_twice_is_stored_once_and_answered_twice(terminal, truck, base):
    assert truck.authenticate(terminal.auth_code) == OK
    body = location(at(base, 0))
    assert truck.result(LOCATION, body) == OK
    assert truck.result(LOCATION, body) == OK
    assert len(points_of(terminal)) == 1


def test_a_report_that_cannot_be_stored_is_answered_bad_message(terminal, truck, base):
    assert truck.authenticate(terminal.auth_code) == OK
    no_time = bytearray(location(at(base, 0)))
    no_time[22:28] = bytes(6)  # 000000000000: no fix yet
    assert truck.result(LOCATION, bytes(no_time)) == BAD_MESSAGE
    assert truck.result(LOCATION, location(timezone.now() + dt.timedelta(hours=8))) == BAD_MESSAGE
    # In a batch the good items are stored and answered.
    assert truck.result(BATCH, encode_location_batch_body([bytes(no_time), location(at(base, 5))])) == OK
    assert [p.recorded_at for p in points_of(terminal)] == [at(base, 5)]


# --- authentication -----------------------------------------------------------------------------------


def test_nothing_is_stored_before_authentication(terminal, truck, base, listener):
    assert truck.result(LOCATION, location(at(base, 0))) == FAILURE
    assert truck.result(HEARTBEAT) == FAILURE
    assert truck.result(BATCH, encode_location_batch_body([location(at(base, 1))])) == FAILURE
    assert truck.authenticate("not-the-code") == FAILURE
    assert truck.result(LOCATION, location(at(base, 2))) == FAILURE
    assert not TrackPoint.objects.exists()
    assert listener.stats.auth_refused == 1 and listener.stats.unauthenticated == 4
    # Authenticated as one terminal, it cannot report for another.
    assert truck.authenticate(terminal.auth_code) == OK
    truck.phone = "13911112222"
    assert truck.result(LOCATION, location(at(base, 3))) == FAILURE
    assert not TrackPoint.objects.exists()


def test_an_unknown_terminal_is_refused_at_registration(truck):
    truck.phone = "13911112222"
    answer = truck.ask(
        REGISTER,
        encode_register_body(
            province=32, city=600, maker="X", model="Y", terminal_id="Z", plate_color=2, plate="苏F12345"
        ),
    )
    assert answer.body == RegisterReply(reply_serial=0, result=4, auth_code=None)
    assert truck.authenticate("anything") == FAILURE
    assert not Terminal.objects.filter(phone="13911112222").exists()


def test_auto_registration_creates_the_terminal_of_a_known_plate(vehicle, base):
    with ListenerThread(_config(auto_register=True)) as thread:
        truck = Truck(thread.listener.port or 0, phone="013911112222")
        answer = truck.ask(
            REGISTER,
            encode_register_body(
                province=32, city=600, maker="X", model="Y", terminal_id="Z", plate_color=2, plate="苏F12345"
            ),
        )
        assert isinstance(answer.body, RegisterReply) and answer.body.result == 0
        assert truck.authenticate(answer.body.auth_code or "") == OK
        assert truck.result(LOCATION, location(at(base, 0))) == OK
        truck.close()
    terminal = Terminal.objects.get(phone="13911112222")
    assert terminal.vehicle_id == vehicle.pk
    assert TrackPoint.objects.get().vehicle_id == vehicle.pk


def test_logout_ends_the_session_and_withdraws_the_code(terminal, truck, base):
    assert truck.authenticate(terminal.auth_code) == OK
    assert truck.result(LOGOUT) == OK
    assert truck.result(LOCATION, location(at(base, 0))) == FAILURE
    assert truck.authenticate(terminal.auth_code) == FAILURE


def test_authenticating_again_elsewhere_closes_the_old_connection(terminal, truck, listener, base):
    assert truck.authenticate(terminal.auth_code) == OK
    second = Truck(listener.listener.port or 0)
    assert second.authenticate(terminal.auth_code) == OK
    assert truck.closed()
    assert second.result(LOCATION, location(at(base, 0))) == OK
    assert listener.stats.replaced_connections == 1
    second.close()


def test_unknown_and_encrypted_messages_are_answered_not_supported(terminal, truck):
    assert truck.result(0x0900, b"\x01transparent") == UNSUPPORTED
    assert truck.authenticate(terminal.auth_code) == OK
    serial = truck.serial
    truck.serial += 1
    truck.send(encode(LOCATION, b"\x00" * 28, phone=PHONE, serial=serial, encryption=1))  # RSA, no keys
    assert truck.receive().body == PlatformReply(serial, LOCATION, UNSUPPORTED)
    # A terminal's own general reply is not answered: the next answer is the heartbeat's.
    _, data = truck.frame(0x0001, b"\x00\x00\x80\x01\x00")
    truck.send(data)
    assert truck.result(HEARTBEAT) == OK


# --- the database ---------------------------------------------------------------------------------------


def test_a_failed_commit_is_not_answered_and_the_listener_keeps_serving(terminal, base):
    calls = {"n": 0}

    def flaky_store(points: Any, seen: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("database is down")
        return _store(points, seen)

    with ListenerThread(_config(retry_delay=0.01), store=flaky_store) as thread:
        truck = Truck(thread.listener.port or 0)
        assert truck.authenticate(terminal.auth_code) == OK
        lost, data = truck.frame(LOCATION, location(at(base, 0)))
        truck.send(data)
        # The first flush fails: no answer to it; the heartbeat's answer comes next.
        assert truck.result(HEARTBEAT) == OK
        assert not TrackPoint.objects.exists()
        # The terminal resends (6.1) and this time it is stored and answered.
        truck.send(data)
        assert truck.receive().body == PlatformReply(lost, LOCATION, OK)
        assert thread.stats.batch_failures == 1
        truck.close()
    assert len(points_of(terminal)) == 1


def test_stopping_flushes_the_pending_points_and_answers_them(terminal, base):
    thread = ListenerThread(_config(max_delay=60))  # nothing would be flushed for a minute
    thread.start()
    truck = Truck(thread.listener.port or 0)
    assert truck.authenticate(terminal.auth_code) == OK
    serial, data = truck.frame(LOCATION, location(at(base, 0)))
    truck.send(data)
    deadline = time.monotonic() + 10
    while thread.stats.points < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    thread.stop()
    assert truck.receive().body == PlatformReply(serial, LOCATION, OK)
    assert truck.closed()
    assert len(points_of(terminal)) == 1
    truck.close()


def test_an_idle_connection_is_closed(terminal):
    with ListenerThread(_config(idle_timeout=0.2)) as thread:
        truck = Truck(thread.listener.port or 0)
        assert truck.closed()
        assert thread.stats.idle_closed == 1
        truck.close()


# --- the management command -----------------------------------------------------------------------------


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        return (
            f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/"
            f"{settings['NAME']}"
        )
    return f"sqlite:///{settings['NAME']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_management_command_serves_and_stops_on_sigterm(terminal, base):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": _database_url()}
    command = [sys.executable, "-m", "greenisle.manage", "jt808_listener", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                truck = Truck(port)
                break
            except OSError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the listener did not start"
                time.sleep(0.1)
        assert truck.authenticate(terminal.auth_code) == OK
        assert truck.result(LOCATION, location(at(base, 0))) == OK
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "JT/T 808 listener stopped" in out and "authenticated=1" in out
    assert truck.closed()
    truck.close()
    assert len(points_of(terminal)) == 1
