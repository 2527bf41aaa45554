"""Readings over MQTT through the real Mosquitto broker into the ingest path, acknowledged after
commit; a listener killed with SIGKILL mid-stream loses no acknowledged reading and stores none twice."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from paho.mqtt.enums import CallbackAPIVersion

from greenisle.telemetry.models import BinState, Reading, RefusedDevice
from greenisle.telemetry.mqtt_ingest import MqttIngest
from greenisle.telemetry.mqtt_transport import READINGS_FILTER, BatchingSubscriber, readings_topic

HOST, PORT = "127.0.0.1", 1883


def _broker_up() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not _broker_up(), reason="no MQTT broker on 127.0.0.1:1883"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def publish(messages: list[tuple[str, bytes]]) -> None:
    """Publish QoS 1 and return once the broker has acknowledged every message."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(HOST, PORT)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=30)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def readings(count: int, *, start_minutes: int = 600) -> list[bytes]:
    base = timezone.now() - timezone.timedelta(minutes=start_minutes)
    return [
        orjson.dumps(
            {"observed_at": (base + timezone.timedelta(seconds=i)).isoformat(), "fill_pct": 20 + i % 50}
        )
        for i in range(count)
    ]


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_readings_over_mqtt_are_stored_once_and_bad_ones_counted(world):
    tag = uuid.uuid4().hex[:10]
    world.bin.mqtt_username = f"bin-{tag}"
    world.bin.save()
    stop = threading.Event()
    subscriber = BatchingSubscriber(
        HOST,
        PORT,
        client_id=f"test-{tag}",
        share_group=f"g{tag}",
        topic_filter=READINGS_FILTER,
        on_batch=MqttIngest(),
        session_expiry=0,
    )

    def run() -> None:
        try:
            subscriber.run_forever(stop)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert subscriber.connected.wait(10)
        topic = readings_topic(world.bin.mqtt_username)
        good = readings(3)
        backfill = orjson.dumps([orjson.loads(r) for r in readings(2, start_minutes=700)])
        publish(
            [(topic, good[0]), (topic, good[1]), (topic, good[2]), (topic, good[2])]  # the last one again
            + [(topic, b"{not json"), (topic, orjson.dumps({"observed_at": "x", "fill_pct": 5}))]
            + [(topic, backfill)]
            + [(readings_topic(f"stranger-{tag}"), good[0])]
        )
        assert wait_for(lambda: Reading.objects.filter(device=world.bin).count() == 5)
        assert wait_for(lambda: RefusedDevice.objects.filter(identifier=f"stranger-{tag}").exists())
    finally:
        stop.set()
        thread.join(10)
    state = BinState.objects.get(device=world.bin)
    assert (state.accepted, state.duplicate, state.rejected) == (5, 1, 2)
    assert set(Reading.objects.filter(device=world.bin).values_list("transport", flat=True)) == {"mqtt"}
    assert RefusedDevice.objects.get(identifier=f"stranger-{tag}").refused == 1


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _listener(client_id: str, group: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "GREENISLE_VAR_DIR": str(settings.VAR_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    command = [str(Path(sys.executable).parent / "greenisle"), "mqtt_listener"]
    command += ["--client-id", client_id, "--group", group, "--max-batch", "100", "--max-delay", "0.02"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    return process, lines


def _wait_subscribed(lines: queue.Queue[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if "subscribed" in line:
            return
    raise AssertionError(f"listener did not subscribe: {''.join(seen)[-2000:]}")


@pytest.mark.slow
def test_a_listener_killed_mid_stream_loses_no_acknowledged_reading_and_stores_none_twice(world):
    tag = uuid.uuid4().hex[:10]
    world.bin.mqtt_username = f"bin-{tag}"
    world.bin.save()
    client_id, group = f"kill-{tag}", f"k{tag}"
    total = 5000
    first, lines = _listener(client_id, group)
    second = None
    try:
        _wait_subscribed(lines)
        # Every message is acknowledged by the broker (QoS 1) before the kill. The listener is paused
        # meanwhile: it keeps up with the publisher and would otherwise be done before the kill.
        first.send_signal(signal.SIGSTOP)
        publish([(readings_topic(world.bin.mqtt_username), body) for body in readings(total)])
        first.send_signal(signal.SIGCONT)
        assert wait_for(lambda: Reading.objects.filter(device=world.bin).count() >= 300)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = Reading.objects.filter(device=world.bin).count()
        assert at_kill < total, "the listener finished before it could be killed: publish more"
        # The same client id resumes the broker session: every unacknowledged message comes again.
        second, lines = _listener(client_id, group)
        _wait_subscribed(lines)
        assert wait_for(lambda: Reading.objects.filter(device=world.bin).count() == total, timeout=60)
        time.sleep(0.5)  # nothing more arrives
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)
    assert Reading.objects.filter(device=world.bin).count() == total
    state = BinState.objects.get(device=world.bin)
    # Stored once each; whatever was committed but not yet acknowledged came again as a duplicate.
    assert state.accepted == total
    assert state.rejected == 0
