"""MQTT: one paho client publishes every MQTT bin's readings, QoS 1.

The client runs its own network thread and reconnects by itself; messages published while it is
away are queued and sent on reconnect.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from greenisle.demo.fill import Emission
from greenisle.demo.packets import mqtt_bad_payload, mqtt_payload
from greenisle.demo.senders.common import Counters, by_bin
from greenisle.telemetry.mqtt_transport import readings_topic

__all__ = ["MqttSender"]


class MqttSender:
    """One MQTT client publishes every MQTT bin's readings to its topic, QoS 1.

    The broker's PUBACK counts a message accepted. One connection speaks for all bins (the topic
    names the bin, as the listener reads it); pass ``username``/``password`` when the broker wants them.
    """

    transport = "mqtt"

    def __init__(
        self,
        host: str,
        port: int,
        counters: Counters,
        *,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
    ) -> None:
        self.host = host
        self.port = port
        self.counters = counters
        self.keepalive = keepalive
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"greenisle-simulate-{os.getpid()}",
            protocol=mqtt.MQTTv5,
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(20_000)
        self.client.reconnect_delay_set(1, 10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_publish = self._on_publish
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}  # mid → good readings in it
        self._early: dict[int, Any] = {}  # PUBACKs that beat publish() back to the caller
        self._started = False

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, self.keepalive)
        self.client.loop_start()
        self._started = True

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.counters.problem("mqtt", f"代理拒绝连接 / broker refused the connection: {reason}")
            return
        self.connected.set()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self.counters.problem(
            "mqtt", f"MQTT 代理无法连接 / broker not reachable at {self.host}:{self.port} (retrying)"
        )

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self.connected.is_set():
            self.counters.problem("mqtt", f"与代理断开 / disconnected from the broker: {reason}")
        self.connected.clear()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._lock:
            good = self._pending.pop(mid, None)
            if good is None:
                self._early[mid] = reason
                return
        self._resolve(good, reason)

    def _resolve(self, good: int, reason: Any) -> None:
        if reason is not None and getattr(reason, "is_failure", False):
            self.counters.add("mqtt", rejected=good)
            self.counters.problem("mqtt", f"PUBACK: {reason}")
        else:
            self.counters.add("mqtt", accepted=good)

    def _publish(self, topic: str, payload: bytes, *, good: int, bad: int) -> None:
        info = self.client.publish(topic, payload, qos=1)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self.counters.add("mqtt", sent=good, failed=good, bad=bad)
            self.counters.problem("mqtt", f"publish: {mqtt.error_string(info.rc)}")
            return
        self.counters.add("mqtt", sent=good, bad=bad)
        with self._lock:
            reason = self._early.pop(info.mid, None)
            if reason is None:
                self._pending[info.mid] = good
                return
        self._resolve(good, reason)

    @staticmethod
    def messages(emissions: Sequence[Emission]) -> list[tuple[str, bytes, int, int]]:
        """(topic, payload, good readings, bad packets) per message: a bin's readings of the moment in
        one message (an array when there are several), each bad packet on its own."""
        messages = []
        for group in by_bin(emissions).values():
            topic = readings_topic(group[0].bin.mqtt_username)
            good = [e.reading for e in group if e.bad is None and e.reading is not None]
            if good:
                messages.append((topic, mqtt_payload(good), len(good), 0))
            for emission in group:
                if emission.bad is not None and emission.reading is not None:
                    messages.append((topic, mqtt_bad_payload(emission.reading, emission.bad), 0, 1))
        return messages

    def send(self, emissions: Sequence[Emission]) -> None:
        for topic, payload, good, bad in self.messages(emissions):
            self._publish(topic, payload, good=good, bad=bad)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def poll(self, timeout: float = 0.0) -> None:
        """Nothing to drive: paho's thread does the work."""

    def close(self, timeout: float = 3.0) -> None:
        if not self._started:
            return
        deadline = time.monotonic() + timeout
        while self.in_flight() and self.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            lost = sum(self._pending.values())
            self._pending.clear()
        if lost:
            self.counters.add("mqtt", failed=lost)
        self.client.disconnect()
        self.client.loop_stop()
