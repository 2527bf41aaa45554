"""The MQTT listener's Django side: a batch of MQTT messages → the one ingest path.

``mqtt_transport.BatchingSubscriber`` delivers messages in batches and acknowledges them (PUBACK)
only after ``MqttIngest`` returned, that is after ``ingest_batch`` committed. A message's topic names
the device by its MQTT username; its payload is one JSON reading, or a JSON array of readings (a
device back-filling after a gap). A payload that is not JSON, or a reading that fails validation,
is counted against its device and acknowledged (sending it again would not make it valid); an
unknown or disabled device is refused and counted. A database error raises: nothing of the batch is
acknowledged and the broker delivers it again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from typing import Any

import orjson
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from greenisle.devices.models import Bin, Transport
from greenisle.telemetry.ingest import Rejection, ingest_parsed
from greenisle.telemetry.ingest_pg import Extra, ingest_json
from greenisle.telemetry.mqtt_transport import MqttMessage, device_from_topic
from greenisle.telemetry.services import refusal_record
from greenisle.telemetry.validation import MESSAGES

log = logging.getLogger(__name__)


class DeviceDirectory:
    """MQTT username → bin id, cached for ``ttl`` seconds (unknown names too, so that a stranger
    publishing fast cannot make every message a query). Disabling a bin is enforced by ingest."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[float, uuid.UUID | None]] = {}

    def resolve(self, names: set[str]) -> dict[str, uuid.UUID | None]:
        now = time.monotonic()
        found: dict[str, uuid.UUID | None] = {}
        missing = set()
        for name in names:
            hit = self._cache.get(name)
            if hit is not None and now - hit[0] < self.ttl:
                found[name] = hit[1]
            else:
                missing.add(name)
        if missing:
            rows = dict(Bin.objects.filter(mqtt_username__in=missing).values_list("mqtt_username", "pk"))
            for name in missing:
                found[name] = rows.get(name)
                self._cache[name] = (now, rows.get(name))
        return found


class MqttIngest:
    """``on_batch`` for the subscriber."""

    def __init__(self, directory: DeviceDirectory | None = None) -> None:
        self.directory = directory or DeviceDirectory()
        self.totals: Counter[str] = Counter()

    def __call__(self, batch: list[MqttMessage]) -> None:
        close_old_connections()
        now = timezone.now()
        names = {device_from_topic(m.topic) for m in batch}
        devices = self.directory.resolve({n for n in names if n})
        readings: list[Any] = []
        owners: list[uuid.UUID] = []
        extra: list[Extra] = []
        refused: Counter[str] = Counter()
        for message in batch:
            name = device_from_topic(message.topic)
            device_id = devices.get(name) if name else None
            if device_id is None:
                refused[name or message.topic[:100]] += 1
                continue
            try:
                payload: Any = orjson.loads(message.payload)
            except orjson.JSONDecodeError:
                extra.append(Extra(device_id, "not_json"))
                continue
            for obj in payload if isinstance(payload, list) else [payload]:
                readings.append(obj)
                owners.append(device_id)
        outcomes = None
        if connection.vendor == "postgresql":
            # The whole batch in one statement; None when some value needs the Python path.
            with transaction.atomic():
                outcomes = ingest_json(
                    readings, transport=Transport.MQTT, now=now, device_ids=owners, extra=extra
                )
        if outcomes is None:
            outcomes = ingest_parsed(
                list(zip(owners, readings, strict=True)),
                transport=Transport.MQTT,
                now=now,
                rejections=[Rejection(e.device_id, MESSAGES[e.key][2], MESSAGES[e.key][1]) for e in extra],
            )
        for outcome in outcomes:
            self.totals[outcome.status] += 1
        self.totals["rejected"] += len(extra)
        for name, count in refused.items():
            refusal_record(
                transport=Transport.MQTT,
                identifier=name,
                reason="未知设备 / unknown MQTT device",
                count=count,
            )
        self.totals["refused"] += sum(refused.values())
