"""Telemetry's public services: what the transports, the API and other apps call.

Device authentication and the count of refused devices are here. The ingest entry points are in
``ingest``, the reading rules in ``validation`` and what a batch sets off in ``decisions``; the names
other apps use are importable from this module as well.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from greenisle.core.errors import Unauthenticated
from greenisle.devices.models import Bin, hash_device_key
from greenisle.telemetry.decisions import Decision, apply_decisions, emptied_level
from greenisle.telemetry.ingest import (
    ACCEPTED,
    DUPLICATE,
    MAX_BATCH,
    IngestOutcome,
    Rejection,
    ingest_batch,
    ingest_parsed,
    reading_ingest,
)
from greenisle.telemetry.ingest_sql import STATE_ASSIGNMENTS, STATE_COLUMNS, binary_cursor
from greenisle.telemetry.validation import (
    MAX_CLOCK_SKEW,
    MESSAGES,
    NUMBER_STRING_RE,
    NUMERIC_BOUNDS,
    QUALITY_RE,
    TIME_RE,
    ReadingIn,
    raw_retention,
    reading_from_json,
    reading_validate,
    refused,
)

__all__ = [
    "ACCEPTED",
    "DUPLICATE",
    "MAX_BATCH",
    "MAX_CLOCK_SKEW",
    "MESSAGES",
    "NUMBER_STRING_RE",
    "NUMERIC_BOUNDS",
    "QUALITY_RE",
    "STATE_ASSIGNMENTS",
    "STATE_COLUMNS",
    "TIME_RE",
    "Decision",
    "IngestOutcome",
    "ReadingIn",
    "Rejection",
    "apply_decisions",
    "binary_cursor",
    "device_authenticate",
    "emptied_level",
    "ingest_batch",
    "ingest_parsed",
    "raw_retention",
    "reading_from_json",
    "reading_ingest",
    "reading_validate",
    "refusal_record",
    "refused",
]


def device_authenticate(raw_key: str | None) -> Bin:
    if not raw_key:
        raise Unauthenticated(
            "缺少设备密钥 / device key missing", field="X-Device-Key", code="device_key_missing"
        )
    device = Bin.objects.select_related("site").filter(key_hash=hash_device_key(raw_key)).first()
    if device is None:
        # Counted by the key's first characters (never the key): enough to tell a misconfigured
        # device from a scan.
        refusal_record(transport="http", identifier=raw_key[:8], reason="未知设备密钥 / unknown device key")
        raise Unauthenticated("未知设备 / unknown device key", field="X-Device-Key", code="unknown_device")
    return device


def refusal_record(*, transport: str, identifier: str, reason: str, peer: str = "", count: int = 1) -> None:
    """Count a report from an unknown or disabled device (visible to staff), in its own transaction."""
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO telemetry_refuseddevice (transport, identifier, refused, first_refused_at, "
            "last_refused_at, last_reason, last_peer) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (transport, identifier) DO UPDATE SET "
            "refused = telemetry_refuseddevice.refused + excluded.refused, "
            "last_refused_at = excluded.last_refused_at, last_reason = excluded.last_reason, "
            "last_peer = excluded.last_peer",
            [transport, identifier[:100], count, now, now, reason[:200], peer[:100]],
        )
