"""The HJ 212 TCP listener (greenisle.telemetry.hj212.server) against a real socket and the test database.

The listener runs in a background thread on its own event loop, with its own database connections, so
these tests are transactional: what the test writes must be committed for the listener to see it, and
what the listener commits is visible to the test. A "no answer" is asserted without sleeping: the
device sends a Flag=5 packet afterwards, and the next frame it receives must be that packet's 9014
(answers for a connection are written in order, after each batch commits).
"""

from __future__ import annotations

import collections
import datetime as dt
import socket
import struct
import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone
from factories import BinFactory

from greenisle.devices.models import Bin, CrcMode
from greenisle.telemetry.hj212 import (
    Deframer,
    Packet,
    answer_9014,
    crc16_modbus,
    decode_frame,
    encode_frame,
    encode_packet,
)
from greenisle.telemetry.hj212.config import ListenerConfig, metrics_from_settings
from greenisle.telemetry.hj212.runner import ListenerThread
from greenisle.telemetry.hj212.server import _store
from greenisle.telemetry.models import BinState, Reading, RefusedDevice

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

MN = "010000A8900016F000169DC0"
PW = "123456"
BEIJING = dt.timezone(dt.timedelta(hours=8))


# --- packets ----------------------------------------------------------------------------------------


def beijing(at: dt.datetime, millis: int | None = None) -> str:
    text = at.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")
    return text if millis is None else f"{text}{millis:03d}"


def bin_data(
    at: dt.datetime,
    *,
    flag: int | None = 5,
    mn: str = MN,
    pw: str = PW,
    qn_ms: int | None = 123,
    st: str = "A1",
    fill: str = "67.5",
    weight: str = "152.30",
    temperature: str = "23.5",
) -> bytes:
    """A real-time bin packet shaped like protocols.md 1.8 (CN=2011), DataTime ``at`` in Beijing time."""
    return encode_packet(
        qn=beijing(at, qn_ms) if qn_ms is not None else None,
        st=st,
        cn="2011",
        pw=pw,
        mn=mn,
        flag=flag,
        cp=[
            ("DataTime", beijing(at)),
            ("a01001-Rtd", temperature),
            ("a01001-Flag", "N"),
            ("i43001-Rtd", fill),
            ("i43001-Flag", "N"),
            ("i43002-Rtd", weight),
            ("i43002-Flag", "N"),
        ],
    )


def door_event(at: dt.datetime, text: str = "门已打开", *, mn: str = MN, pw: str = PW) -> bytes:
    return encode_packet(
        qn=beijing(at, 456),
        st="A1",
        cn="3020",
        pw=pw,
        mn=mn,
        flag=5,
        cp=[("DataTime", beijing(at)), ("i31001-Info", f"//{text}//")],
    )


def with_modbus_crc(frame: bytes, *, swapped: bool = False) -> bytes:
    """``frame`` re-framed with CRC-16/MODBUS (optionally low byte first), as some loggers send it."""
    segment = frame[6:-6]
    crc = crc16_modbus(segment)
    if swapped:
        crc = (crc & 0xFF) << 8 | crc >> 8
    return b"%b%b%04X\r\n" % (frame[:6], segment, crc)


def packet(frame: bytes) -> Packet:
    decoded = decode_frame(frame)
    assert isinstance(decoded, Packet), decoded
    return decoded


# --- a data logger ----------------------------------------------------------------------------------


class Logger:
    """A blocking TCP client standing in for a data logger."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.deframer = Deframer()
        self.frames: collections.deque[bytes] = collections.deque()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> bytes:
        """The next frame the platform sent (fails after 10 s, or if the connection closes)."""
        while not self.frames:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection")
            for frame in self.deframer.feed(chunk):
                assert isinstance(frame, bytes), frame
                self.frames.append(frame)
        return self.frames.popleft()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def hj212_bin(world: Any) -> Bin:
    world.bin.hj212_mn = MN
    world.bin.set_hj212_password(PW)
    world.bin.save()
    return world.bin


def _config(**overrides: Any) -> ListenerConfig:
    base = {"host": "127.0.0.1", "port": 0, "metrics": metrics_from_settings(), "stats_interval": 0}
    base.update(overrides)
    return ListenerConfig(**base)


@pytest.fixture
def listener(hj212_bin: Bin) -> Any:
    thread = ListenerThread(_config())
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def logger(listener: ListenerThread) -> Any:
    client = Logger(listener.listener.port or 0)
    yield client
    client.close()


@pytest.fixture
def base() -> dt.datetime:
    """A DataTime close to now (readings older than the raw retention are refused)."""
    return timezone.now().replace(microsecond=0) - dt.timedelta(minutes=30)


def at(base: dt.datetime, seconds: int) -> dt.datetime:
    return base + dt.timedelta(seconds=seconds)


# --- tests --------------------------------------------------------------------------------------------


def test_a_2017_packet_with_flag_5_is_stored_and_answered_after_the_commit(hj212_bin, logger, base):
    frame = bin_data(base)
    logger.send(frame)
    answer = logger.receive()
    # The answer comes only once the reading is committed: it is already visible to us.
    reading = Reading.objects.get(device=hj212_bin)
    assert answer == answer_9014(packet(frame))
    assert b"CN=9014" in answer and b"Flag=4" in answer and beijing(base, 123).encode() in answer
    assert reading.observed_at == base  # DataTime was Beijing time (UTC+8); stored in UTC
    assert beijing(base)[8:10] == f"{(base.hour + 8) % 24:02d}"
    assert (reading.fill_pct, reading.net_weight_kg, reading.temperature_c) == (
        Decimal("67.50"),
        Decimal("152.30"),
        Decimal("23.50"),
    )
    assert reading.transport == "hj212"
    assert reading.device_time_raw == beijing(base)
    assert reading.quality == "N"
    state = BinState.objects.get(device=hj212_bin)
    assert (state.accepted, state.fill_pct, state.transport) == (1, Decimal("67.50"), "hj212")


def test_flag_4_is_stored_without_an_answer(hj212_bin, logger, base):
    logger.send(bin_data(at(base, 0), flag=4, qn_ms=1))
    follow_up = bin_data(at(base, 60), flag=5, qn_ms=2)
    logger.send(follow_up)
    assert logger.receive() == answer_9014(packet(follow_up))
    assert Reading.objects.filter(device=hj212_bin).count() == 2


def test_a_legacy_2005_packet_without_qn_and_flag_is_stored_without_an_answer(hj212_bin, logger, base):
    legacy = bin_data(base, flag=None, qn_ms=None, st="32", fill="12.5")
    assert legacy.startswith(b"##0174ST=32;CN=2011;PW=") and b";Flag=" not in legacy
    logger.send(legacy)
    follow_up = bin_data(at(base, 60))
    logger.send(follow_up)
    assert logger.receive() == answer_9014(packet(follow_up))
    legacy_reading = Reading.objects.get(device=hj212_bin, observed_at=base)
    assert legacy_reading.fill_pct == Decimal("12.50")


def test_frames_split_byte_by_byte_and_several_frames_in_one_send(hj212_bin, logger, base):
    first = bin_data(at(base, 0), qn_ms=1)
    for index in range(len(first)):
        logger.send(first[index : index + 1])
        if index % 16 == 0:
            time.sleep(0.001)  # let some bytes arrive on their own
    assert logger.receive() == answer_9014(packet(first))

    frames = [bin_data(at(base, 60 * k), qn_ms=k) for k in (1, 2, 3)]
    logger.send(b"".join(frames))
    answers = [logger.receive() for _ in frames]
    assert answers == [answer_9014(packet(frame)) for frame in frames]
    assert Reading.objects.filter(device=hj212_bin).count() == 4


def test_garbage_and_a_bad_crc_between_good_packets_do_not_disturb_the_connection(
    hj212_bin, listener, logger, base
):
    good_1 = bin_data(at(base, 0), qn_ms=1)
    bad_crc = bin_data(at(base, 60), qn_ms=2)
    bad_crc = bad_crc[:-6] + (b"0000" if bad_crc[-6:-2] != b"0000" else b"1111") + b"\r\n"
    good_2 = bin_data(at(base, 120), qn_ms=3)
    logger.send(good_1)
    assert logger.receive() == answer_9014(packet(good_1))
    logger.send(b"\x00\xff hello, not a frame\r\n")
    logger.send(bad_crc)
    logger.send(b"##00")  # a header cut short, then a valid frame right behind it
    logger.send(good_2)
    assert logger.receive() == answer_9014(packet(good_2))
    # Still open and still served.
    good_3 = bin_data(at(base, 180), qn_ms=4)
    logger.send(good_3)
    assert logger.receive() == answer_9014(packet(good_3))
    stored = set(Reading.objects.filter(device=hj212_bin).values_list("observed_at", flat=True))
    assert stored == {at(base, 0), at(base, 120), at(base, 180)}
    state = BinState.objects.get(device=hj212_bin)
    assert state.accepted == 3
    assert state.rejected >= 1  # the bad CRC, counted against the device this connection speaks for
    assert listener.stats.decode_errors >= 2


def test_unknown_mn_and_wrong_pw_are_refused_counted_and_not_answered(hj212_bin, logger, base):
    logger.send(bin_data(at(base, 0), mn="UNKNOWN0000000000000001", qn_ms=1))
    logger.send(bin_data(at(base, 60), pw="654321", qn_ms=2))
    logger.send(bin_data(at(base, 120), pw="654321", qn_ms=3))
    follow_up = bin_data(at(base, 180), qn_ms=4)
    logger.send(follow_up)
    assert logger.receive() == answer_9014(packet(follow_up))
    assert list(Reading.objects.values_list("observed_at", flat=True)) == [at(base, 180)]
    unknown = RefusedDevice.objects.get(transport="hj212", identifier="UNKNOWN0000000000000001")
    assert unknown.refused == 1 and "unknown MN" in unknown.last_reason
    wrong_pw = RefusedDevice.objects.get(transport="hj212", identifier=MN)
    assert wrong_pw.refused == 2 and "wrong PW" in wrong_pw.last_reason
    assert wrong_pw.last_peer.startswith("127.0.0.1:")
    assert BinState.objects.get(device=hj212_bin).accepted == 1


def test_a_disabled_device_is_refused(hj212_bin, base):
    Bin.objects.filter(pk=hj212_bin.pk).update(enabled=False)
    other = BinFactory(hj212_mn="ENABLED01", collector=hj212_bin.collector, site=hj212_bin.site)
    other.set_hj212_password(PW)
    other.save()
    with ListenerThread(_config()) as thread:
        client = Logger(thread.listener.port or 0)
        client.send(bin_data(at(base, 0), qn_ms=1))
        follow_up = bin_data(at(base, 60), mn="ENABLED01", qn_ms=2)
        client.send(follow_up)
        assert client.receive() == answer_9014(packet(follow_up))
        client.close()
    assert not Reading.objects.filter(device=hj212_bin).exists()
    assert "disabled" in RefusedDevice.objects.get(identifier=MN).last_reason


def test_the_same_packet_twice_is_stored_once_and_answered_twice(hj212_bin, logger, base):
    frame = bin_data(base)
    logger.send(frame)
    assert logger.receive() == answer_9014(packet(frame))
    logger.send(frame)  # the device did not get our 9014 in time and resends (Table 1 retries)
    assert logger.receive() == answer_9014(packet(frame))
    assert Reading.objects.filter(device=hj212_bin).count() == 1
    state = BinState.objects.get(device=hj212_bin)
    assert (state.accepted, state.duplicate) == (1, 1)


def test_a_modbus_crc_is_accepted_only_where_the_device_is_configured_for_it(hj212_bin, base):
    modbus_bin = BinFactory(
        hj212_mn="MODBUS0001",
        hj212_crc_mode=CrcMode.MODBUS,
        collector=hj212_bin.collector,
        site=hj212_bin.site,
    )
    modbus_bin.set_hj212_password(PW)
    modbus_bin.save()
    with ListenerThread(_config()) as thread:
        client = Logger(thread.listener.port or 0)
        # The standard-CRC bin sending Modbus CRC: rejected, not answered.
        client.send(with_modbus_crc(bin_data(at(base, 0), qn_ms=1)))
        # The Modbus bin sending the byte-swapped variant it is not configured for: rejected too.
        client.send(with_modbus_crc(bin_data(at(base, 60), mn="MODBUS0001", qn_ms=2), swapped=True))
        # The Modbus bin with its own variant: stored, and answered with the same variant.
        accepted = with_modbus_crc(bin_data(at(base, 120), mn="MODBUS0001", qn_ms=3))
        client.send(accepted)
        assert client.receive() == with_modbus_crc(answer_9014(packet(encode_frame(accepted[6:-6].decode()))))
        # The Modbus bin may still send the standard CRC.
        standard = bin_data(at(base, 180), mn="MODBUS0001", qn_ms=4)
        client.send(standard)
        assert client.receive() == answer_9014(packet(standard))
        client.close()
        assert thread.stats.nonstandard_crc == 1
    assert not Reading.objects.filter(device=hj212_bin).exists()
    assert set(Reading.objects.filter(device=modbus_bin).values_list("observed_at", flat=True)) == {
        at(base, 120),
        at(base, 180),
    }
    standard_state = BinState.objects.get(device=hj212_bin)
    assert standard_state.rejected == 1 and "modbus" in standard_state.last_rejected_reason
    assert BinState.objects.get(device=modbus_bin).rejected == 1


def test_a_door_event_updates_the_door_state(hj212_bin, logger, base):
    logger.send(bin_data(at(base, 0), qn_ms=1))
    logger.receive()
    event = door_event(at(base, 60))
    # The length counts UTF-8 bytes (protocols.md 1.1): 门已打开 is 4 characters, 12 bytes.
    assert event.startswith(b"##0139")
    logger.send(event)
    assert logger.receive() == answer_9014(packet(event))
    reading = Reading.objects.get(device=hj212_bin, observed_at=at(base, 60))
    assert (reading.door_open, reading.fill_pct) == (True, None)
    state = BinState.objects.get(device=hj212_bin)
    assert state.door_open is True and state.door_opened_at == at(base, 60)
    assert state.fill_pct == Decimal("67.50")  # a door event carries no fill: the last one stays


def test_a_heartbeat_is_answered_and_stores_nothing(hj212_bin, logger, base):
    heartbeat = encode_packet(qn=beijing(base, 1), st="A1", cn="9015", pw=PW, mn=MN, flag=9, cp="")
    logger.send(heartbeat)
    answer = logger.receive()
    assert answer == answer_9014(packet(heartbeat)) and b"Flag=8" in answer
    assert not Reading.objects.exists()


def test_a_reading_with_bad_values_is_rejected_and_not_answered(hj212_bin, logger, base):
    too_old = timezone.now().replace(microsecond=0) - dt.timedelta(days=401)
    logger.send(bin_data(too_old, qn_ms=1))
    logger.send(bin_data(at(base, 0), fill="150", qn_ms=2))
    follow_up = bin_data(at(base, 60), qn_ms=3)
    logger.send(follow_up)
    assert logger.receive() == answer_9014(packet(follow_up))
    assert list(Reading.objects.values_list("observed_at", flat=True)) == [at(base, 60)]
    state = BinState.objects.get(device=hj212_bin)
    assert (state.accepted, state.rejected) == (1, 2)
    assert "fill_pct" in state.last_rejected_reason


def test_a_failed_commit_is_not_answered_and_the_listener_keeps_serving(hj212_bin, base):
    failures = [1]

    def flaky_store(*args: Any) -> Any:
        if failures and args[0]:
            failures.pop()
            raise OperationalError("database is down")
        return _store(*args)

    with ListenerThread(_config(), store=flaky_store) as thread:
        client = Logger(thread.listener.port or 0)
        lost = bin_data(at(base, 0), qn_ms=1)
        client.send(lost)
        # Its batch failed: no answer. The device resends after its timeout; this time it commits.
        while thread.stats.batch_failures == 0:
            time.sleep(0.005)
        client.send(lost)
        assert client.receive() == answer_9014(packet(lost))
        client.close()
        assert thread.stats.dropped == 1
    assert Reading.objects.filter(device=hj212_bin).count() == 1


def test_one_broken_connection_does_not_disturb_another(hj212_bin, listener, logger, base):
    broken = Logger(listener.listener.port)
    broken.send(bin_data(at(base, 0), qn_ms=1)[:40])  # half a frame, then a reset
    broken.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    broken.close()
    frame = bin_data(at(base, 60), qn_ms=2)
    logger.send(frame)
    assert logger.receive() == answer_9014(packet(frame))


def test_an_idle_connection_is_closed(hj212_bin, base):
    with ListenerThread(_config(idle_timeout=0.2)) as thread:
        client = Logger(thread.listener.port or 0)
        frame = bin_data(base)
        client.send(frame)
        assert client.receive() == answer_9014(packet(frame))
        with pytest.raises(ConnectionError):
            client.receive()  # closed by the listener after 0.2 s of silence
        client.close()
        assert thread.stats.idle_closed == 1


def test_a_device_that_half_closes_still_gets_its_answer(hj212_bin, logger, base):
    frame = bin_data(base)
    logger.send(frame)
    logger.sock.shutdown(socket.SHUT_WR)  # sent everything; waits for the 9014
    assert logger.receive() == answer_9014(packet(frame))
    with pytest.raises(ConnectionError):
        logger.receive()  # then the listener closes its side too
    assert Reading.objects.filter(device=hj212_bin).count() == 1


def test_stopping_flushes_the_pending_batch_and_answers_it(hj212_bin, base):
    thread = ListenerThread(_config(max_delay=60))  # nothing would be flushed for a minute
    thread.start()
    client = Logger(thread.listener.port or 0)
    frame = bin_data(base)
    client.send(frame)
    deadline = time.monotonic() + 10
    while thread.stats.packets == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not Reading.objects.exists()
    thread.stop()  # what SIGTERM does in the management command
    assert client.receive() == answer_9014(packet(frame))
    assert Reading.objects.filter(device=hj212_bin).count() == 1
    client.close()
