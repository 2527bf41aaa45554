"""``greenisle simulate``: the fill model, the packets on each transport, the senders, and the demo's
credentials for HTTP, MQTT and HJ 212.

The model runs on a given wall clock and a seeded generator (no sleeping). The packets are checked with
the platform's own parsers: ``reading_from_json`` and the batch endpoint (in-process test client) for
HTTP, ``reading_from_json`` for MQTT, ``decode_frame`` + ``bin_sample`` for HJ 212. The senders talk to
loopback fakes (an HJ 212 peer answering 9014) or a private Mosquitto started for the test module (never
the shared broker). The slow test loads a small demo and runs the command against a live server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import random
import shutil
import socket
import stat
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from factories import BinFactory
from paho.mqtt.enums import CallbackAPIVersion

from greenisle.audit.models import Event
from greenisle.audit.services import chain_verify
from greenisle.core.errors import ServiceError
from greenisle.demo.credentials import (
    CREDENTIALS_FORMAT,
    DeviceCredentials,
    credentials_ensure,
    credentials_issue,
    credentials_path,
    hj212_mn_for,
    keys_path,
    read_credentials,
)
from greenisle.demo.fill import (
    BAD_PACKETS,
    CHINA,
    FAULT_KINDS,
    BadPacket,
    Emission,
    Fault,
    FillModel,
    Pacer,
    RoundRobin,
    SimBin,
    SimReading,
    fault_counts,
)
from greenisle.demo.loading import DemoSummary, demo_is_loaded, demo_load
from greenisle.demo.packets import (
    MALFORMED_JSON,
    hj212_bad_frame,
    hj212_frame,
    hj212_qn,
)
from greenisle.demo.senders import Counters, Hj212Sender, HttpSender, MqttSender
from greenisle.devices.models import Bin, Transport, validate_hj212_mn, validate_mqtt_username
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.telemetry.hj212 import (
    CrcMode,
    DecodeError,
    Deframer,
    Packet,
    answer_9014,
    bin_sample,
    decode_frame,
    encode_packet,
)
from greenisle.telemetry.models import Reading
from greenisle.telemetry.mqtt_transport import READINGS_FILTER, device_from_topic
from greenisle.telemetry.services import device_authenticate, reading_from_json, reading_validate

T0 = dt.datetime(2024, 6, 3, 1, 30, tzinfo=dt.UTC)  # 09:30 in Nantong
DAY = dt.timedelta(days=1)
MN = "010004E5500B1A1060200001"
PW = "a1b2c3d4e5f60718"


def make_model(seed: int = 7, **kwargs: Any) -> FillModel:
    return FillModel(rng=random.Random(seed), **kwargs)


def make_bin(
    model: FillModel, transport: str = "http", serial: str = "YC0602-00001", **fields: Any
) -> SimBin:
    values: dict[str, Any] = {
        "serial": serial,
        "transport": transport,
        "capacity_kg": 250.0,
        "threshold_pct": 80.0,
        "fill_pct": 10.0,
        "key": f"dk_{serial}",
        "mqtt_username": serial,
        "hj212_mn": MN,
        "hj212_pw": PW,
    }
    values.update(fields)
    return model.new_bin(**values)


# --- the fill model -------------------------------------------------------------------------------


def test_each_bin_fills_at_its_own_daily_rate_on_the_simulated_clock():
    model = make_model(speed=720.0)
    rates = [make_bin(model, serial=f"YC0602-{n:05d}").rate_pct_per_day for n in range(200)]
    assert all(2.0 <= r <= 15.0 for r in rates) and len(set(rates)) > 150
    assert min(rates) < 4 and max(rates) > 13  # spread over the whole range

    b = make_bin(model, fill_pct=10.0)
    first = model.emit(b, T0)  # starts the bin's clock: nothing accumulated yet
    assert b.fill_pct == 10.0 and abs(first.reading.fill_pct - 10.0) <= 2.0
    # At ×720, two real minutes are a simulated day.
    second = model.emit(b, T0 + dt.timedelta(minutes=2))
    assert b.fill_pct == pytest.approx(10.0 + b.rate_pct_per_day)
    assert abs(second.reading.fill_pct - b.fill_pct) <= 2.0
    # The reading carries the real time, not the simulated one.
    assert second.reading.observed_at == (T0 + dt.timedelta(minutes=2)).astimezone(CHINA)
    assert second.reading.observed_at.utcoffset() == dt.timedelta(hours=8)
    # A simulated month later it is full, and stays at 100.
    model.emit(b, T0 + dt.timedelta(minutes=62))
    assert b.fill_pct == 100.0
    assert model.emit(b, T0 + dt.timedelta(minutes=64)).reading.fill_pct <= 100.0


def test_speed_one_is_real_time():
    model = make_model(speed=1.0)
    b = make_bin(model, fill_pct=20.0)
    model.emit(b, T0)
    model.emit(b, T0 + DAY)
    assert b.fill_pct == pytest.approx(20.0 + b.rate_pct_per_day)


def test_noise_is_bounded_and_centred():
    model = make_model(speed=1e-9)  # the level does not move
    b = make_bin(model, fill_pct=50.0)
    errors = [model.emit(b, T0 + dt.timedelta(seconds=i)).reading.fill_pct - 50.0 for i in range(3000)]
    assert all(-2.0 <= e <= 2.0 for e in errors)
    assert abs(sum(errors) / len(errors)) < 0.1
    assert sum(1 for e in errors if abs(e) <= 1.0) / len(errors) > 0.7  # ±1–2 %, mostly ±1 %


def test_weight_temperature_battery_and_sequence_are_plausible():
    model = make_model(speed=720.0)
    b = make_bin(model, fill_pct=40.0, battery_pct=21.0, sequence=41)
    readings = [model.emit(b, T0 + dt.timedelta(minutes=2 * i)).reading for i in range(200)]
    assert [r.sequence for r in readings] == list(range(42, 242))
    for r in readings:
        assert 0 <= r.net_weight_kg <= 250.0 * 1.01
        assert -10 <= r.temperature_c <= 42.0
        assert 0 <= r.battery_pct <= 100
    # The battery drains on the simulated clock and is swapped below 20 %.
    assert readings[1].battery_pct < 21.0 and max(r.battery_pct for r in readings) == 100.0


def test_an_emptied_bin_reports_low_next_and_never_as_a_fault():
    model = make_model(fault_probability=1.0)  # every eligible reading would start a fault
    b = make_bin(model, fill_pct=91.0)
    model.empty(b, T0)
    assert 2.0 <= b.fill_pct <= 5.0 and b.emptied_pending

    emptied = model.emit(b, T0 + dt.timedelta(seconds=1))

    assert emptied.emptied and emptied.fault is None and emptied.bad is None
    assert emptied.reading.fill_pct <= 7.0 and emptied.reading.quality == "N"
    assert emptied.reading.door_open is False
    assert not b.emptied_pending
    # The next one is an ordinary reading again (here: a fault, at probability 1).
    later = model.emit(b, T0 + dt.timedelta(seconds=2))
    assert not later.emptied and later.fault is not None


def test_crossing_the_threshold_is_reported_when_it_happens():
    model = make_model(speed=720.0)
    b = make_bin(model, fill_pct=60.0, rate_pct_per_day=4.0)
    b.reported_fill = 60.0
    crossings = []
    previous = 60.0
    for i in range(1, 20):
        emission = model.emit(b, T0 + dt.timedelta(minutes=2 * i))
        if emission.crossed:
            crossings.append((previous, emission.reading.fill_pct, b.fill_pct))
        previous = emission.reading.fill_pct
    assert crossings
    for before, after, true in crossings:
        assert before < 80.0 <= after
        assert abs(true - 80.0) <= 2.0 + 4.0  # noise plus one step


def test_fault_frequencies_follow_the_probability():
    model = make_model(seed=20240603, fault_probability=0.1)
    emissions = [model.emit(make_bin(model, serial=f"B{n}"), T0) for n in range(10_000)]
    counts = fault_counts(emissions)
    started = sum(counts.values())
    assert 880 <= started <= 1120  # binomial(10,000, 0.1): sd 30
    for kind in FAULT_KINDS:
        assert 140 <= counts[kind] <= 260, (kind, counts)  # a fifth each
    # The same seed gives the same faults.
    again = make_model(seed=20240603, fault_probability=0.1)
    assert fault_counts(again.emit(make_bin(again, serial=f"B{n}"), T0) for n in range(10_000)) == counts
    # No faults at probability 0.
    quiet = make_model(seed=1, fault_probability=0.0)
    assert (
        sum(
            fault_counts(
                quiet.emit(make_bin(quiet), T0 + dt.timedelta(seconds=i)) for i in range(5000)
            ).values()
        )
        == 0
    )


def fault_of(kind: Fault, transport: str = "http") -> tuple[FillModel, SimBin, Emission]:
    """A bin whose first reading starts a fault of ``kind``; later readings start none."""
    for seed in range(500):
        model = make_model(seed=seed, fault_probability=1.0)
        b = make_bin(model, transport)
        emission = model.emit(b, T0)
        if emission.fault is kind:
            model.fault_probability = 0.0
            return model, b, emission
    raise AssertionError(f"no seed starts {kind}")


def test_a_quality_fault_flags_one_reading_d():
    model, b, emission = fault_of(Fault.QUALITY)
    assert emission.reading.quality == "D" and emission.bad is None
    assert model.emit(b, T0 + dt.timedelta(minutes=1)).reading.quality == "N"


def test_a_temperature_spike_goes_over_the_limit_for_one_to_three_readings():
    model, b, emission = fault_of(Fault.HOT)
    hot = [emission.reading.temperature_c]
    for i in range(1, 6):
        hot.append(model.emit(b, T0 + dt.timedelta(minutes=i)).reading.temperature_c)
    over = [t for t in hot if t > 45.0]
    assert hot[0] > 45.0 and 1 <= len(over) <= 3 and hot[: len(over)] == over
    assert all(t <= 42.0 for t in hot[len(over) :])


def test_a_door_left_open_stays_open_past_the_alert_limit():
    model, b, emission = fault_of(Fault.DOOR)
    limit = dt.timedelta(seconds=model.door_open_limit_s)
    assert emission.reading.door_open is True
    assert b.fault_until is not None and 1.2 * limit <= b.fault_until - T0 <= 2.0 * limit
    while_open = [model.emit(b, T0 + limit * f).reading.door_open for f in (0.3, 0.7, 1.0, 1.19)]
    assert all(while_open)
    model.emit(b, T0 + 2 * limit + dt.timedelta(seconds=1))
    assert b.fault is None  # closed


def test_a_silent_bin_stays_silent_past_the_offline_limit():
    model, b, emission = fault_of(Fault.SILENT)
    offline_after = dt.timedelta(seconds=model.offline_missed_intervals * b.reporting_interval_s)
    assert emission.reading is None
    assert model.silent(b, T0 + 1.1 * offline_after - dt.timedelta(seconds=1))
    assert model.emit(b, T0 + offline_after).reading is None
    back = T0 + 1.5 * offline_after + dt.timedelta(seconds=1)
    assert not model.silent(b, back)
    assert model.emit(b, back).reading is not None


@pytest.mark.parametrize("transport", ["http", "mqtt", "hj212"])
def test_a_bad_packet_replaces_one_reading(transport):
    model, b, emission = fault_of(Fault.BAD_PACKET, transport)
    assert emission.bad in BAD_PACKETS[transport] and emission.reading is not None
    assert not emission.crossed and b.reported_fill is None  # the platform never saw that value
    assert model.emit(b, T0 + dt.timedelta(minutes=1)).bad is None


def test_observed_at_always_moves_forward_at_the_transports_resolution():
    model = make_model()
    http = make_bin(model, "http")
    hj212 = make_bin(model, "hj212")
    at = T0 + dt.timedelta(microseconds=123_456)
    http_times = [model.emit(http, at).reading.observed_at for _ in range(3)]
    hj212_times = [model.emit(hj212, at).reading.observed_at for _ in range(3)]
    ms = dt.timedelta(milliseconds=1)
    assert http_times[0] == (T0 + dt.timedelta(milliseconds=123)).astimezone(CHINA)
    assert http_times[1] - http_times[0] == ms and http_times[2] - http_times[1] == ms
    assert hj212_times == [T0.astimezone(CHINA) + dt.timedelta(seconds=s) for s in range(3)]


def test_the_pacer_releases_the_rate():
    pacer = Pacer(25.0, burst=5.0)
    released = [pacer.due(i * 0.1) for i in range(101)]  # ten seconds in 0.1 s ticks
    assert 249 <= sum(released) <= 252
    assert max(released) <= 5
    idle = Pacer(10.0, burst=3.0)
    idle.due(0.0)
    assert idle.due(60.0) == 3  # a long pause does not release a flood


def test_round_robin_takes_turns_emptied_first_and_skips_silent_bins():
    model = make_model()
    bins = [make_bin(model, serial=f"B{n}") for n in range(4)]
    turns = RoundRobin(bins)
    assert [b.serial for b in turns.take(3)] == ["B0", "B1", "B2"]
    turns.push_front(bins[1])
    assert [b.serial for b in turns.take(3)] == ["B1", "B3", "B0"]
    silent = {"B1", "B2"}
    assert [b.serial for b in turns.take(3, skip=lambda b: b.serial in silent)] == ["B3", "B0", "B3"]
    assert turns.take(2, skip=lambda b: True) == []


# --- HTTP -----------------------------------------------------------------------------------------


def some_emissions(transport: str, *, bins: int = 4, rounds: int = 6, seed: int = 1) -> list[Emission]:
    """Readings of several bins over a few rounds, with faults of every kind along the way."""
    model = make_model(seed=seed, fault_probability=0.35)
    fleet = [make_bin(model, transport, serial=f"YC0602-{n:05d}", fill_pct=70.0) for n in range(1, bins + 1)]
    emissions = []
    for i in range(rounds):
        for b in fleet:
            emissions.append(model.emit(b, T0 + dt.timedelta(seconds=30 * i)))
    return emissions


def forced_bad(transport: str, kind: BadPacket) -> Emission:
    model = make_model()
    b = make_bin(model, transport, serial="YC0602-09999")
    good = model.emit(b, T0)
    return Emission(bin=b, reading=good.reading, bad=kind)


def test_http_batches_hold_what_reading_from_json_accepts():
    emissions = some_emissions("http") + [
        forced_bad("http", BadPacket.OUT_OF_RANGE),
        forced_bad("http", BadPacket.MALFORMED_JSON),
    ]
    posts = HttpSender.posts(emissions)
    sent = [e for e in emissions if e.reading is not None]
    assert sum(len(p.kinds) for p in posts) == len(sent)
    by_key: Counter[str] = Counter()
    for post in posts:
        by_key[post.key] += 1
        if post.body == MALFORMED_JSON:
            assert post.kinds == ["bad"]
            with pytest.raises(ValueError):
                json.loads(post.body)
            continue
        items = json.loads(post.body)["readings"]
        assert len(items) == len(post.kinds)
        for item, kind in zip(items, post.kinds, strict=True):
            assert "serial" not in item  # the device key names the bin
            now = dt.datetime.fromisoformat(item["observed_at"]) + dt.timedelta(seconds=1)
            if kind == "good":
                reading = reading_from_json(item, now=now)
                assert reading.fill_pct == Decimal(str(item["fill_pct"])).quantize(Decimal("0.01"))
                assert reading.quality == item["quality"] and reading.sequence == item["sequence"]
            else:
                with pytest.raises(ServiceError) as refused:
                    reading_from_json(item, now=now)
                assert refused.value.field == "fill_pct"
    # One batch per bin (its readings of the moment together), plus each malformed body on its own.
    malformed = Counter(e.bin.key for e in sent if e.bad is BadPacket.MALFORMED_JSON)
    batched = Counter({e.bin.key for e in sent if e.bad is not BadPacket.MALFORMED_JSON})
    expected = malformed + batched
    assert by_key == expected
    assert any(e.reading.quality == "D" for e in sent) and any(e.reading.door_open for e in sent)


class TestClientSession:
    """``requests.Session`` as far as HttpSender uses it, over Django's in-process test client."""

    __test__ = False

    def __init__(self, client: Client) -> None:
        self.client = client
        self.headers: dict[str, str] = {}
        self.paths: list[str] = []

    def post(self, url: str, *, data: bytes, headers: dict[str, str], timeout: Any) -> Any:
        self.paths.append(urlsplit(url).path)
        response = self.client.post(
            urlsplit(url).path,
            data=data,
            content_type=headers["Content-Type"],
            headers={"X-Device-Key": headers["X-Device-Key"]},
        )
        response.text = response.content.decode("utf-8")
        return response


@pytest.mark.django_db
def test_the_batch_endpoint_stores_what_the_http_sender_posts(world):
    devices = [BinFactory(site=world.site, collector=world.collector) for _ in range(3)]
    model = make_model(seed=5, fault_probability=0.0)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    fleet = [
        make_bin(model, serial=d.serial, key=d.device_key, fill_pct=30.0, threshold_pct=80.0) for d in devices
    ]
    fleet[0].fill_pct = 79.5  # crosses with the second reading at the latest
    fleet[0].rate_pct_per_day = 15.0
    emissions = [model.emit(b, now + dt.timedelta(minutes=2 * i)) for i in range(3) for b in fleet]
    emissions.append(
        Emission(bin=fleet[1], reading=model.emit(fleet[1], now).reading, bad=BadPacket.OUT_OF_RANGE)
    )
    emissions.append(
        Emission(bin=fleet[2], reading=model.emit(fleet[2], now).reading, bad=BadPacket.MALFORMED_JSON)
    )
    counters = Counters()
    session = TestClientSession(Client())
    sender = HttpSender("http://testserver/", counters, session_factory=lambda: session)

    for post in sender.posts(emissions):
        sender.deliver(post)

    counts = counters.snapshot()["http"]
    assert (counts.accepted, counts.rejected, counts.failed) == (9, 0, 0)
    assert counters.take_problems() == {}  # the bad ones were refused, as meant, and nothing else was
    assert set(session.paths) == {"/api/v1/readings/batch"}
    for device in devices:
        assert Reading.objects.filter(device=device).count() == 3
    assert counts.opened == 1 and PickupRequest.objects.filter(bin=devices[0]).exists()
    state = devices[1].state
    state.refresh_from_db()
    assert state.rejected == 1 and "fill_pct" in state.last_rejected_reason


# --- MQTT -----------------------------------------------------------------------------------------


def test_mqtt_payloads_parse_as_readings_on_each_bins_topic():
    emissions = some_emissions("mqtt", bins=3, rounds=8)
    # Two readings of one bin at once go out as one array (back-fill).
    model = make_model(seed=11)
    twice = make_bin(model, "mqtt", serial="YC0602-00777")
    emissions += [model.emit(twice, T0), model.emit(twice, T0 + dt.timedelta(seconds=1))]
    emissions += [forced_bad("mqtt", BadPacket.OUT_OF_RANGE), forced_bad("mqtt", BadPacket.MALFORMED_JSON)]

    messages = MqttSender.messages(emissions)

    good = sum(1 for e in emissions if e.reading is not None and e.bad is None)
    bad = sum(1 for e in emissions if e.bad is not None)
    assert sum(m[2] for m in messages) == good and sum(m[3] for m in messages) == bad
    arrays = 0
    for topic, payload, good_count, bad_count in messages:
        serial = device_from_topic(topic)
        assert serial is not None and serial.startswith("YC0602-")
        if bad_count:
            try:
                item = json.loads(payload)
            except ValueError:
                continue  # malformed, as meant
            with pytest.raises(ServiceError):
                reading_from_json(item, now=dt.datetime.fromisoformat(item["observed_at"]))
            continue
        value = json.loads(payload)
        items = value if isinstance(value, list) else [value]
        arrays += isinstance(value, list)
        assert len(items) == good_count
        for item in items:
            reading_from_json(
                item, now=dt.datetime.fromisoformat(item["observed_at"]) + dt.timedelta(seconds=1)
            )
    assert arrays >= 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A private Mosquitto on a free loopback port (not the shared broker other tests use)."""
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None
    )
    if binary is None:
        pytest.skip("mosquitto is not installed")
    port = _free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


class Subscriber:
    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(READINGS_FILTER, qos=1)
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.integration
def test_the_mqtt_sender_publishes_qos1_and_counts_pubacks(broker):
    subscriber = Subscriber(broker)
    assert subscriber.ready.wait(10)
    counters = Counters()
    sender = MqttSender("127.0.0.1", broker, counters, client_id=f"sim-{uuid.uuid4().hex[:8]}")
    sender.start()
    try:
        assert sender.connected.wait(10)
        emissions = some_emissions("mqtt", bins=3, rounds=5) + [forced_bad("mqtt", BadPacket.MALFORMED_JSON)]
        sender.send(emissions)
        good = sum(1 for e in emissions if e.reading is not None and e.bad is None)
        assert wait_until(lambda: counters.snapshot()["mqtt"].accepted == good)
        assert wait_until(lambda: len(subscriber.messages) == len(MqttSender.messages(emissions)))
    finally:
        sender.close()
        subscriber.close()
    counts = counters.snapshot()["mqtt"]
    assert (counts.sent, counts.accepted, counts.rejected, counts.failed, counts.bad) == (good, good, 0, 0, 1)
    assert {device_from_topic(topic) for topic, _ in subscriber.messages} == {
        f"YC0602-{n:05d}" for n in (1, 2, 3)
    } | {"YC0602-09999"}


def test_an_unreachable_broker_counts_readings_failed_not_accepted():
    counters = Counters()
    sender = MqttSender("127.0.0.1", _free_port(), counters)
    sender.start()
    try:
        sender.send(some_emissions("mqtt", bins=2, rounds=2, seed=1))
        assert wait_until(lambda: "mqtt" in counters.take_problems(), timeout=5)
    finally:
        sender.close(timeout=0.2)
    counts = counters.snapshot()["mqtt"]
    assert counts.accepted == 0 and counts.failed == counts.sent > 0


# --- HJ 212 ---------------------------------------------------------------------------------------


def reading(**fields: Any) -> SimReading:
    values: dict[str, Any] = {
        "observed_at": dt.datetime(2024, 6, 3, 9, 30, 15, tzinfo=CHINA),
        "fill_pct": 67.5,
        "net_weight_kg": 152.3,
        "temperature_c": 23.4,
        "door_open": False,
        "battery_pct": 88.1,
        "sequence": 1042,
        "quality": "N",
    }
    values.update(fields)
    return SimReading(**values)


@pytest.mark.parametrize(
    "sample",
    [
        reading(),
        reading(quality="D", fill_pct=0.0, net_weight_kg=0.0),
        reading(door_open=True, temperature_c=57.3, fill_pct=100.0, battery_pct=100.0),
        reading(
            temperature_c=-4.5, sequence=0, observed_at=dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=CHINA)
        ),
    ],
)
def test_hj212_frames_decode_to_the_values_meant(sample):
    qn = hj212_qn(dt.datetime(2024, 6, 3, 1, 30, 15, 678_000, tzinfo=dt.UTC))
    assert qn == "20240603093015678"

    packet = decode_frame(hj212_frame(sample, mn=MN, pw=PW, qn=qn))

    assert isinstance(packet, Packet), packet
    assert (packet.qn, packet.st, packet.cn, packet.pw, packet.mn, packet.flag) == (
        qn,
        "A1",
        "2011",
        PW,
        MN,
        5,
    )
    assert packet.need_ack and packet.version == 1 and packet.warnings == ()
    got = bin_sample(packet)
    assert not isinstance(got, DecodeError) and got is not None
    assert got.observed_at == sample.observed_at.astimezone(dt.UTC)
    assert got.fill_pct == Decimal(f"{sample.fill_pct:.1f}")
    assert got.net_weight_kg == Decimal(f"{sample.net_weight_kg:.2f}")
    assert got.temperature_c == Decimal(f"{sample.temperature_c:.1f}")
    assert got.battery_pct == Decimal(f"{sample.battery_pct:.1f}")
    assert got.door_open is sample.door_open
    assert got.quality == sample.quality
    assert got.sequence == sample.sequence
    # And the ingest path takes it.
    stored = reading_validate(
        observed_at=got.observed_at,
        fill_pct=got.fill_pct,
        net_weight_kg=got.net_weight_kg,
        temperature_c=got.temperature_c,
        door_open=got.door_open,
        battery_pct=got.battery_pct,
        sequence=got.sequence,
        quality=got.quality,
        now=got.observed_at,
    )
    assert stored.fill_pct == Decimal(f"{sample.fill_pct:.1f}")


@pytest.mark.parametrize("mode", [CrcMode.MODBUS, CrcMode.MODBUS_SWAPPED])
def test_hj212_frames_carry_the_bins_crc_variant(mode):
    frame = hj212_frame(reading(), mn=MN, pw=PW, qn="20240603093015678", crc_mode=mode)
    strict = decode_frame(frame)
    assert isinstance(strict, DecodeError) and strict.code == "bad_crc"
    packet = decode_frame(frame, crc_modes=(CrcMode.STANDARD, mode))
    assert isinstance(packet, Packet) and packet.crc_mode is mode


def test_bad_hj212_frames_fail_to_decode_and_do_not_hide_the_next_frame():
    good = hj212_frame(reading(), mn=MN, pw=PW, qn="20240603093015678")
    bad_crc = hj212_bad_frame(reading(), BadPacket.BAD_CRC, mn=MN, pw=PW, qn="20240603093015679")
    garbled = hj212_bad_frame(reading(), BadPacket.GARBLED, mn=MN, pw=PW, qn="20240603093015680")

    crc_error = decode_frame(bad_crc)
    assert isinstance(crc_error, DecodeError) and crc_error.code == "bad_crc"
    assert isinstance(decode_frame(garbled), DecodeError)
    assert isinstance(decode_frame(garbled, crc_modes=tuple(CrcMode)), DecodeError)
    with pytest.raises(ValueError):
        hj212_bad_frame(reading(), BadPacket.OUT_OF_RANGE, mn=MN, pw=PW, qn="1")

    # On one TCP stream, as a listener reads it: only the good frames come out as packets.
    deframer = Deframer()
    parts = deframer.feed(garbled + good + bad_crc + good) + deframer.flush()
    packets = [decode_frame(p) for p in parts if isinstance(p, bytes)]
    decoded = [p for p in packets if isinstance(p, Packet)]
    assert len(decoded) == 2 and all(p.segment == good[6:-6] for p in decoded)
    assert any(isinstance(p, DecodeError) for p in parts) or any(isinstance(p, DecodeError) for p in packets)


class FakeListener:
    """A loopback HJ 212 platform: answers every decodable upload with 9014 (unless told not to),
    optionally sends one request of its own, and records what it received."""

    def __init__(self, *, answer: bool = True, request: bytes | None = None) -> None:
        self.answer = answer
        self.request = request
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.lock = threading.Lock()
        self.packets: list[Packet] = []
        self.errors: list[DecodeError] = []
        self.replies: list[Packet] = []
        self.open = 0
        self.most_open = 0
        self.connections = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.accept, daemon=True)]
        self.threads[0].start()

    def accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.open += 1
                self.most_open = max(self.most_open, self.open)
            thread = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def serve(self, conn: socket.socket) -> None:
        deframer = Deframer()
        conn.settimeout(0.2)
        sent_request = False
        try:
            while not self.stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                for frame in deframer.feed(data):
                    packet = decode_frame(frame) if isinstance(frame, bytes) else frame
                    with self.lock:
                        if isinstance(packet, DecodeError):
                            self.errors.append(packet)
                            continue
                        if packet.cn in ("9011", "9012"):
                            self.replies.append(packet)
                            continue
                        self.packets.append(packet)
                    if self.answer:
                        conn.sendall(answer_9014(packet))
                    if self.request is not None and not sent_request:
                        conn.sendall(self.request)
                        sent_request = True
        except OSError:
            return
        finally:
            conn.close()
            with self.lock:
                self.open -= 1

    def close(self) -> None:
        self.stop.set()
        self.server.close()
        for thread in self.threads:
            thread.join(timeout=2)


@pytest.fixture
def listener_factory() -> Iterator[Callable[..., FakeListener]]:
    made: list[FakeListener] = []

    def make(**kwargs: Any) -> FakeListener:
        made.append(FakeListener(**kwargs))
        return made[-1]

    yield make
    for fake in made:
        fake.close()


def hj212_emissions(bins: int = 3, rounds: int = 2) -> list[Emission]:
    model = make_model(seed=2)
    fleet = [
        make_bin(model, "hj212", serial=f"YC0602-{n:05d}", hj212_mn=hj212_mn_for(f"YC0602-{n:05d}"))
        for n in range(1, bins + 1)
    ]
    return [model.emit(b, T0 + dt.timedelta(seconds=i)) for i in range(rounds) for b in fleet]


def test_the_hj212_sender_counts_9014_answers_and_leaves_bad_frames_unanswered(listener_factory):
    fake = listener_factory()
    counters = Counters()
    sender = Hj212Sender("127.0.0.1", fake.port, counters, answer_timeout=5.0)
    emissions = hj212_emissions(bins=3, rounds=2)
    bad = [
        Emission(bin=emissions[0].bin, reading=emissions[0].reading, bad=BadPacket.BAD_CRC),
        Emission(bin=emissions[1].bin, reading=emissions[1].reading, bad=BadPacket.GARBLED),
    ]
    try:
        sender.send(emissions + bad)
        assert wait_until(lambda: (sender.poll(0.05), counters.snapshot()["hj212"].accepted == 6)[1])
        assert sender.in_flight() == 0
    finally:
        sender.close()
    counts = counters.snapshot()["hj212"]
    assert (counts.sent, counts.accepted, counts.rejected, counts.failed, counts.bad) == (6, 6, 0, 0, 2)
    assert fake.connections == 3  # one per bin
    assert len(fake.packets) == 6 and len(fake.errors) == 2
    # Each packet is its bin's: its own MN, the PW, a fresh QN.
    assert {p.mn for p in fake.packets} == {hj212_mn_for(f"YC0602-{n:05d}") for n in (1, 2, 3)}
    assert len({(p.mn, p.qn) for p in fake.packets}) == 6


def test_unanswered_hj212_frames_count_as_rejected_after_the_timeout(listener_factory):
    fake = listener_factory(answer=False)
    counters = Counters()
    sender = Hj212Sender("127.0.0.1", fake.port, counters, answer_timeout=0.3)
    try:
        sender.send(hj212_emissions(bins=2, rounds=1))
        assert sender.in_flight() == 2
        sender.poll(0.6)
    finally:
        sender.close()
    counts = counters.snapshot()["hj212"]
    assert (counts.sent, counts.accepted, counts.rejected) == (2, 0, 2)
    assert "9014" in counters.take_problems()["hj212"]


def test_an_unreachable_hj212_listener_counts_failed():
    counters = Counters()
    sender = Hj212Sender("127.0.0.1", _free_port(), counters)
    sender.send(hj212_emissions(bins=2, rounds=2))
    sender.close()
    counts = counters.snapshot()["hj212"]
    assert (counts.sent, counts.failed, counts.accepted) == (4, 4, 0)
    assert "not reachable" in counters.take_problems()["hj212"]


def test_hj212_connections_are_capped(listener_factory):
    fake = listener_factory()
    counters = Counters()
    sender = Hj212Sender("127.0.0.1", fake.port, counters, max_connections=2)
    try:
        for emission in hj212_emissions(bins=5, rounds=2):
            sender.send([emission])
            assert len(sender.links) <= 2
            assert wait_until(lambda: (sender.poll(0.02), sender.in_flight() == 0)[1])
    finally:
        sender.close()
    assert counters.snapshot()["hj212"].accepted == 10
    assert fake.most_open <= 3  # a closed connection may linger on the far side for a moment


def test_the_simulated_logger_answers_a_platform_request(listener_factory):
    request = encode_packet(
        qn="20240603093000000", st="32", cn="1062", pw=PW, mn=MN, flag=5, cp=[("RtdInterval", "30")]
    )
    fake = listener_factory(request=request)
    counters = Counters()
    sender = Hj212Sender("127.0.0.1", fake.port, counters)
    try:
        sender.send(hj212_emissions(bins=1, rounds=1))
        assert wait_until(lambda: (sender.poll(0.05), len(fake.replies) == 2)[1])
    finally:
        sender.close()
    assert [(p.cn, p.qn, p.cp) for p in fake.replies] == [
        ("9011", "20240603093000000", {"QnRtn": "1"}),
        ("9012", "20240603093000000", {"ExeRtn": "1"}),
    ]
    assert sender.platform_requests == 1


# --- credentials ----------------------------------------------------------------------------------


def test_mn_from_the_serial():
    assert hj212_mn_for("YC0602-00001") == "010004E5500B1A1060200001"
    assert len(hj212_mn_for("a-very-long-serial-1234567890")) == 24
    validate_hj212_mn(hj212_mn_for("YC0602-00001"))


@pytest.mark.django_db
def test_credentials_issue_switches_a_bin_and_keeps_working_secrets(world):
    device = BinFactory(site=world.site, collector=world.collector)
    creds, events = credentials_issue(device, DeviceCredentials(key=device.device_key))
    assert events == []  # an HTTP bin with its key: nothing to do
    assert creds.key == device.device_key

    creds, events = credentials_issue(device, creds, transport=Transport.HJ212)
    assert [a for a, _ in events] == ["devices.bin.transport_changed", "devices.bin.hj212_password_set"]
    assert device.transport == Transport.HJ212 and device.hj212_mn == creds.hj212_mn
    assert device.hj212_password_matches(creds.hj212_pw)
    assert credentials_issue(device, creds)[1] == []  # again: nothing

    creds, events = credentials_issue(device, creds, transport=Transport.MQTT)
    assert [a for a, _ in events] == ["devices.bin.transport_changed", "devices.bin.mqtt_password_rotated"]
    validate_mqtt_username(device.mqtt_username)
    assert device.mqtt_password_matches(creds.mqtt_password) and not device.mqtt_password_matches("x")
    # A key that does not match the hash is replaced.
    creds.key = "dk_stale"
    creds, events = credentials_issue(device, creds)
    assert [a for a, _ in events] == ["devices.bin.key_rotated"] and creds.key != "dk_stale"


@pytest.mark.django_db
def test_simulate_needs_the_credentials_file(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    with pytest.raises(CommandError, match="load_demo"):
        call_command("simulate", "--duration", "1", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--rate"):
        call_command("simulate", "--rate", "0", stdout=io.StringIO())


# --- a small demo, over all three transports ------------------------------------------------------

DEMO_PRODUCERS = 30


@pytest.fixture
def var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def loaded(var_dir: Path) -> DemoSummary:
    assert not demo_is_loaded()
    return demo_load(producers=DEMO_PRODUCERS)


def assert_credentials_work(creds: dict[str, DeviceCredentials]) -> None:
    devices = {d.serial: d for d in Bin.objects.all()}
    for serial, c in creds.items():
        device = devices[serial]
        assert c.transport == device.transport
        assert device_authenticate(c.key).pk == device.pk
        if device.transport == Transport.MQTT:
            assert c.mqtt_username == device.mqtt_username
            assert device.mqtt_password_matches(c.mqtt_password)
        if device.transport == Transport.HJ212:
            assert c.hj212_mn == device.hj212_mn
            assert device.hj212_password_matches(c.hj212_pw)
            assert not device.hj212_password_matches(c.hj212_pw + "x")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_demo_bins_report_over_all_three_transports_with_working_credentials(loaded, var_dir):
    transports = Counter(Bin.objects.values_list("transport", flat=True))
    assert set(transports) == {Transport.HTTP, Transport.MQTT, Transport.HJ212}
    assert transports[Transport.HTTP] >= DEMO_PRODUCERS // 2
    assert (
        transports[Transport.MQTT] >= DEMO_PRODUCERS // 5
        and transports[Transport.HJ212] >= DEMO_PRODUCERS // 5
    )
    assert loaded.counts["transport_mqtt"] == transports[Transport.MQTT]
    # The initial readings came over each bin's own transport.
    assert set(Reading.objects.values_list("transport", flat=True)) == set(transports)

    path = credentials_path()
    assert loaded.credentials_file == path and stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == CREDENTIALS_FORMAT and len(data["bins"]) == DEMO_PRODUCERS
    creds = read_credentials()
    assert_credentials_work(creds)
    for serial, c in creds.items():
        if c.transport == Transport.HTTP:
            assert c.mqtt_password is None and c.hj212_pw is None, serial
    # The keys file still says serial → key, for older readers.
    assert json.loads(keys_path().read_text(encoding="utf-8")) == {s: c.key for s, c in creds.items()}

    # Switching bins to another transport issues what they need, with audit events.
    http_bins = list(Bin.objects.select_related("site__organization").filter(transport=Transport.HTTP)[:3])
    updated, changed = credentials_ensure(http_bins, creds, transport=Transport.HJ212, source="test")
    assert changed == 3
    assert Event.objects.filter(action="devices.bin.transport_changed", payload__source="test").count() == 3
    assert read_credentials() == updated
    assert_credentials_work(updated)
    assert credentials_ensure(http_bins, updated, transport=Transport.HJ212, source="test")[1] == 0
    assert chain_verify() is None

    # A lost credentials file is restored: working keys are kept, the other secrets issued anew.
    keys_before = keys_path().read_text(encoding="utf-8")
    credentials_path().unlink()
    out = io.StringIO()
    call_command("load_demo", "--producers", str(DEMO_PRODUCERS), "--no-logins", stdout=out)
    assert "restored" in out.getvalue()
    assert keys_path().read_text(encoding="utf-8") == keys_before
    assert_credentials_work(read_credentials())
    assert chain_verify() is None


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_simulate_drives_the_demo_over_all_three_transports(loaded, live_server, broker, listener_factory):
    hj212 = listener_factory()
    # A bin whose waste is on the truck: the simulator empties it first, which closes its request.
    collected = PickupRequest.objects.filter(status=RequestStatus.OPEN, bin__transport=Transport.HTTP).first()
    assert collected is not None
    PickupRequest.objects.filter(pk=collected.pk).update(status=RequestStatus.COLLECTED)
    before = Reading.objects.filter(transport=Transport.HTTP).count()
    out = io.StringIO()

    call_command(
        "simulate",
        "--duration", "4",
        "--rate", "40",
        "--faults", "0",
        "--seed", "1",
        "--report-every", "1",
        "--base-url", live_server.url,
        "--mqtt-port", str(broker),
        "--hj212-port", str(hj212.port),
        stdout=out,
    )  # fmt: skip

    text = out.getvalue()
    assert f"simulating {DEMO_PRODUCERS} bins" in text and "stopped after" in text
    final = text.strip().splitlines()[-1]
    for transport in ("http", "mqtt", "hj212"):
        sent, accepted, rejected = final.split(f"{transport} ")[1].split()[0].split("/")
        assert int(sent) > 0 and accepted == sent and rejected == "0", final
    assert "failed" not in final
    assert Reading.objects.filter(transport=Transport.HTTP).count() > before
    assert len(hj212.packets) > 0 and not hj212.errors
    collected.refresh_from_db()
    assert collected.status == RequestStatus.CLOSED and collected.emptied_at is not None
