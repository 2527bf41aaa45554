"""The one ingest path every transport calls: HTTP JSON, MQTT and HJ 212 all end in ``ingest_batch``.

A batch is written in one transaction and committed before the function returns, so a transport
acknowledges (HTTP 2xx, MQTT PUBACK, HJ 212 9014) only what is stored. Per reading the outcome is
``accepted``, ``duplicate`` (the same device and observed_at was stored before: stored once) or
``rejected`` with the reason and the field. Late and out-of-order readings are stored; only the newest
moves the bin's state. Crossing the threshold opens exactly one pickup request in the same transaction
(the partial unique index on blocking requests backs this up under concurrency).

Fast path: readings are inserted with one ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING
RETURNING`` on PostgreSQL (multi-row VALUES on SQLite); the state, the counters and the alerts are one
statement each per batch, rows sorted by device so that concurrent batches lock in the same order.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from greenisle.core.errors import PermissionDenied, ServiceError, Unauthenticated
from greenisle.devices.models import Bin, hash_device_key
from greenisle.telemetry.models import Quality

MAX_CLOCK_SKEW = dt.timedelta(minutes=10)
MAX_BATCH = 1000
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ReadingIn:
    """One validated reading, not yet tied to a device."""

    observed_at: dt.datetime
    fill_pct: Decimal | None
    net_weight_kg: Decimal | None = None
    temperature_c: Decimal | None = None
    door_open: bool | None = None
    battery_pct: Decimal | None = None
    sequence: int | None = None
    device_time_raw: str = ""
    quality: str = Quality.NORMAL


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    status: str  # accepted | duplicate | rejected
    request_opened: str | None = None
    reason: str = ""
    field: str | None = None
    code: str = ""


@dataclass(slots=True)
class Rejection:
    """A reading a transport could not turn into a ReadingIn, counted against its device."""

    device_id: uuid.UUID
    reason: str
    field: str | None = None
    code: str = "invalid"


@dataclass
class _DeviceTally:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    last_rejected_reason: str = ""
    newest: tuple[dt.datetime, ReadingIn] | None = None
    door_since: dt.datetime | None = None
    readings: list[ReadingIn] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------
# Validation: transport input → ReadingIn, or ServiceError naming the field.


def _decimal(
    name: str, value: Any, low: float | None, high: float | None, *, required: bool = False
) -> Decimal | None:
    if value is None:
        if required:
            raise ServiceError(f"{name} 必填 / {name} is required", field=name, code="required")
        return None
    if isinstance(value, bool):
        raise ServiceError(f"{name} 不是数字 / {name} is not a number", field=name, code="not_a_number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ServiceError(f"{name} 必须是有限数 / {name} must be finite", field=name, code="not_finite")
        number = Decimal(repr(value))
    elif isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except (InvalidOperation, ValueError):
            raise ServiceError(
                f"{name} 不是数字 / {name} is not a number", field=name, code="not_a_number"
            ) from None
    else:
        raise ServiceError(f"{name} 不是数字 / {name} is not a number", field=name, code="not_a_number")
    if not number.is_finite():
        raise ServiceError(f"{name} 必须是有限数 / {name} must be finite", field=name, code="not_finite")
    if (low is not None and number < low) or (high is not None and number > high):
        raise ServiceError(
            f"{name} 超出范围 {low}–{high} / {name} outside {low}–{high}", field=name, code="out_of_range"
        )
    return number.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def raw_retention() -> dt.timedelta:
    return dt.timedelta(days=settings.GREENISLE["READINGS_RAW_RETENTION_DAYS"])


def reading_validate(
    *,
    observed_at: Any,
    fill_pct: Any = None,
    net_weight_kg: Any = None,
    temperature_c: Any = None,
    door_open: Any = None,
    battery_pct: Any = None,
    sequence: Any = None,
    quality: Any = None,
    device_time_raw: str = "",
    now: dt.datetime | None = None,
    require_fill: bool = True,
) -> ReadingIn:
    """Turn transport input into a ReadingIn, or raise ServiceError naming the first bad field.

    ``observed_at`` may be an aware datetime or an ISO 8601 string with a time zone. A reading older
    than the raw retention period is refused (it could never be kept); one more than ten minutes in
    the future is refused (a device clock gone wrong).
    """
    raw_time = device_time_raw
    if isinstance(observed_at, str):
        raw_time = raw_time or observed_at
        try:
            observed_at = dt.datetime.fromisoformat(observed_at)
        except ValueError:
            raise ServiceError(
                "observed_at 不是 ISO 8601 时间 / observed_at is not an ISO 8601 time",
                field="observed_at",
                code="bad_time",
            ) from None
    if not isinstance(observed_at, dt.datetime):
        raise ServiceError(
            "observed_at 必须是带时区的时间 / observed_at must be a datetime",
            field="observed_at",
            code="bad_time",
        )
    if observed_at.tzinfo is None or observed_at.utcoffset() is None:
        raise ServiceError(
            "observed_at 缺少时区 / observed_at needs a time zone", field="observed_at", code="no_time_zone"
        )
    now = now or timezone.now()
    if observed_at - now > MAX_CLOCK_SKEW:
        raise ServiceError(
            "observed_at 在未来 / observed_at is in the future", field="observed_at", code="future"
        )
    if now - observed_at > raw_retention():
        raise ServiceError(
            "observed_at 早于原始数据保存期 / observed_at is older than the raw retention period",
            field="observed_at",
            code="too_old",
        )
    if door_open is not None and not isinstance(door_open, bool):
        raise ServiceError(
            "door_open 必须是布尔值 / door_open must be true or false", field="door_open", code="not_boolean"
        )
    if sequence is not None and (
        not isinstance(sequence, int) or isinstance(sequence, bool) or not 0 <= sequence < 2**63
    ):
        raise ServiceError(
            "sequence 必须是非负整数 / sequence must be a non-negative integer",
            field="sequence",
            code="bad_sequence",
        )
    if quality is None:
        quality = Quality.NORMAL
    elif not isinstance(quality, str) or len(quality) != 1 or not quality.isascii() or not quality.isalpha():
        raise ServiceError(
            "quality 必须是一个字母（HJ 212 数据标记）/ quality must be one letter (HJ 212 data flag)",
            field="quality",
            code="bad_quality",
        )
    fill = _decimal("fill_pct", fill_pct, 0, 100, required=require_fill)
    return ReadingIn(
        observed_at=observed_at.astimezone(dt.UTC),
        fill_pct=fill,
        net_weight_kg=_decimal("net_weight_kg", net_weight_kg, 0, 100000),
        temperature_c=_decimal("temperature_c", temperature_c, -60, 200),
        door_open=door_open,
        battery_pct=_decimal("battery_pct", battery_pct, 0, 100),
        sequence=sequence,
        device_time_raw=(raw_time or observed_at.isoformat())[:40],
        quality=quality,
    )


JSON_FIELDS = (
    "observed_at",
    "fill_pct",
    "net_weight_kg",
    "temperature_c",
    "door_open",
    "battery_pct",
    "sequence",
    "quality",
)


def reading_from_json(item: Any, *, now: dt.datetime) -> ReadingIn:
    """One JSON object from HTTP or MQTT → ReadingIn. Unknown keys are ignored (newer firmware)."""
    if not isinstance(item, dict):
        raise ServiceError("读数必须是 JSON 对象 / a reading must be a JSON object", field="reading")
    if "observed_at" not in item:
        raise ServiceError("observed_at 必填 / observed_at is required", field="observed_at", code="required")
    return reading_validate(now=now, **{k: item[k] for k in JSON_FIELDS if k in item})


# ---------------------------------------------------------------------------------------------------
# Devices


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


# ---------------------------------------------------------------------------------------------------
# Ingest

_READING_COLUMNS = (
    "device_id, observed_at, device_time_raw, received_at, transport, fill_pct, net_weight_kg, "
    "temperature_c, door_open, battery_pct, quality, sequence"
)
_STATE_COLUMNS = (
    "device_id, observed_at, received_at, transport, fill_pct, net_weight_kg, temperature_c, door_open, "
    "door_opened_at, battery_pct, quality, accepted, duplicate, rejected, last_rejected_at, "
    "last_rejected_reason"
)
# The incoming row moves the bin's state only if it carries a newer reading.
_NEWER = (
    "(excluded.observed_at IS NOT NULL AND (telemetry_binstate.observed_at IS NULL "
    "OR telemetry_binstate.observed_at < excluded.observed_at))"
)


def _if_newer(column: str, value: str) -> str:
    return f"{column} = CASE WHEN {_NEWER} THEN {value} ELSE telemetry_binstate.{column} END"


_STATE_SQL = (
    f"INSERT INTO telemetry_binstate ({_STATE_COLUMNS}) {{source}} ON CONFLICT (device_id) DO UPDATE SET "
    + ", ".join(
        [
            _if_newer("fill_pct", "COALESCE(excluded.fill_pct, telemetry_binstate.fill_pct)"),
            _if_newer("net_weight_kg", "COALESCE(excluded.net_weight_kg, telemetry_binstate.net_weight_kg)"),
            _if_newer("temperature_c", "COALESCE(excluded.temperature_c, telemetry_binstate.temperature_c)"),
            _if_newer(
                "door_opened_at",
                "CASE WHEN excluded.door_open IS NULL THEN telemetry_binstate.door_opened_at "
                "WHEN excluded.door_open AND telemetry_binstate.door_open IS NOT NULL "
                "AND telemetry_binstate.door_open "
                "THEN COALESCE(telemetry_binstate.door_opened_at, excluded.door_opened_at) "
                "WHEN excluded.door_open THEN excluded.door_opened_at ELSE NULL END",
            ),
            _if_newer("door_open", "COALESCE(excluded.door_open, telemetry_binstate.door_open)"),
            _if_newer("battery_pct", "COALESCE(excluded.battery_pct, telemetry_binstate.battery_pct)"),
            _if_newer("quality", "excluded.quality"),
            _if_newer("transport", "excluded.transport"),
            _if_newer("received_at", "excluded.received_at"),
            _if_newer("offline_since", "NULL"),
            # Last, so that every CASE above still compares against the old observed_at.
            _if_newer("observed_at", "excluded.observed_at"),
            "accepted = telemetry_binstate.accepted + excluded.accepted",
            "duplicate = telemetry_binstate.duplicate + excluded.duplicate",
            "rejected = telemetry_binstate.rejected + excluded.rejected",
            "last_rejected_at = COALESCE(excluded.last_rejected_at, telemetry_binstate.last_rejected_at)",
            "last_rejected_reason = CASE WHEN excluded.rejected > 0 THEN excluded.last_rejected_reason "
            "ELSE telemetry_binstate.last_rejected_reason END",
        ]
    )
    + " RETURNING device_id, observed_at, fill_pct, temperature_c"
)


def _uuid_order(value: uuid.UUID) -> int:
    return value.int  # comparing UUID objects goes through Python-level __lt__; ints compare in C


def _row_order(row: tuple[Any, ...]) -> tuple[Any, Any]:
    device = row[0]
    return (device.int if isinstance(device, uuid.UUID) else device, row[1])


def _same(value: Any) -> Any:
    return value


def _hex(value: uuid.UUID) -> str:
    """A UUID as Django's UUIDField stores it on SQLite: 32 hex characters."""
    return value.hex


def _aware(value: Any) -> dt.datetime | None:
    """A datetime read back from SQLite (naive UTC, or text) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def binary_cursor() -> Any:
    """A psycopg cursor with server-side binding and binary parameters (``%b``) on Django's
    connection: for queries whose parameter is an array of a thousand values, which Django's
    client-side binding would spell out in the query text."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _devices_get(ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[bool, Decimal]]:
    """Enabled flag and threshold per device: one query with one array parameter on PostgreSQL
    (an ORM ``IN`` of a thousand UUIDs costs more to build than to run)."""
    if connection.vendor != "postgresql":
        return {
            pk: (enabled, threshold)
            for pk, enabled, threshold in Bin.objects.filter(pk__in=ids).values_list(
                "pk", "enabled", "threshold_pct"
            )
        }
    with binary_cursor() as cursor:
        cursor.execute(
            "SELECT id, enabled, threshold_pct FROM devices_bin WHERE id = ANY(%b)", [list(ids)], binary=True
        )
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}


def _blocked_get(ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Bins among ``ids`` with a pickup request that blocks a new one (open, assigned, collected)."""
    from greenisle.dispatch.models import BLOCKING_STATUSES, PickupRequest

    if connection.vendor != "postgresql":
        return set(
            PickupRequest.objects.filter(bin_id__in=ids, status__in=BLOCKING_STATUSES).values_list(
                "bin_id", flat=True
            )
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT bin_id FROM {PickupRequest._meta.db_table} "
            "WHERE bin_id = ANY(%s::uuid[]) AND status = ANY(%s::varchar[])",
            [list(ids), [str(s) for s in BLOCKING_STATUSES]],
        )
        return {row[0] for row in cursor.fetchall()}


def _staging_tables(cursor: Any) -> None:
    """Temporary tables for COPY (PostgreSQL). Created if missing on every call rather than remembered:
    a rolled-back transaction takes a temporary table it created with it."""
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS greenisle_reading_in (LIKE telemetry_reading) ON COMMIT DELETE ROWS"
    )
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS greenisle_state_in (LIKE telemetry_binstate) ON COMMIT DELETE ROWS"
    )


_READING_TYPES = (
    "uuid",
    "timestamptz",
    "text",
    "timestamptz",
    "text",
    "numeric",
    "numeric",
    "numeric",
    "bool",
    "numeric",
    "text",
    "int8",
)
_STATE_TYPES = (
    "uuid",
    "timestamptz",
    "timestamptz",
    "text",
    "numeric",
    "numeric",
    "numeric",
    "bool",
    "timestamptz",
    "numeric",
    "text",
    "int8",
    "int8",
    "int8",
    "timestamptz",
    "text",
)


def _copy(cursor: Any, table: str, columns: str, types: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """COPY in the binary format: the driver's binary dumpers are the cheapest way in per row."""
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _insert_readings(rows: list[tuple[Any, ...]]) -> set[tuple[uuid.UUID, dt.datetime | None]] | None:
    """Insert rows, skipping ones already stored. Returns the (device_id, observed_at) keys inserted,
    or None when every row was inserted (the common case, which spares fetching a key per row)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _staging_tables(cursor)
            _copy(cursor, "greenisle_reading_in", _READING_COLUMNS, _READING_TYPES, rows)
            insert = (
                f"INSERT INTO telemetry_reading ({_READING_COLUMNS}) SELECT {_READING_COLUMNS} "
                "FROM greenisle_reading_in ON CONFLICT DO NOTHING"
            )
            savepoint = transaction.savepoint()
            cursor.execute(insert)
            if cursor.rowcount == len(rows):
                transaction.savepoint_commit(savepoint)
                cursor.execute("DELETE FROM greenisle_reading_in")
                return None
            # Some were stored before: do it again, asking which rows went in.
            transaction.savepoint_rollback(savepoint)
            cursor.execute(insert + " RETURNING device_id, observed_at")
            inserted = {(row[0], row[1]) for row in cursor.fetchall()}
            cursor.execute("DELETE FROM greenisle_reading_in")
            return inserted
        inserted = set()
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join(["(" + ", ".join(["%s"] * 12) + ")"] * len(chunk))
            cursor.execute(
                f"INSERT INTO telemetry_reading ({_READING_COLUMNS}) VALUES {values} "
                "ON CONFLICT DO NOTHING RETURNING device_id, observed_at",
                [p for row in chunk for p in row],
            )
            inserted.update((uuid.UUID(str(row[0])), _aware(row[1])) for row in cursor.fetchall())
        return inserted


def _upsert_states(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    if not rows:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _staging_tables(cursor)
            _copy(cursor, "greenisle_state_in", _STATE_COLUMNS, _STATE_TYPES, rows)
            # Only the bins whose state moved to this batch's reading *and* that need a decision come
            # back (threshold, emptied, temperature): most of a batch needs none, and fetching and
            # converting a row per bin would cost more than the upsert.
            upsert = _STATE_SQL.format(source=f"SELECT {_STATE_COLUMNS} FROM greenisle_state_in WHERE true")
            limit = settings.GREENISLE["TEMPERATURE_LIMIT_C"]
            clear = limit - settings.GREENISLE["TEMPERATURE_CLEAR_MARGIN_C"]
            cursor.execute(
                f"WITH up AS ({upsert}) "
                "SELECT up.device_id, up.observed_at, up.fill_pct, up.temperature_c FROM up "
                "JOIN greenisle_state_in s ON s.device_id = up.device_id AND s.observed_at = up.observed_at "
                "JOIN devices_bin b ON b.id = up.device_id "
                "WHERE up.fill_pct >= b.threshold_pct OR up.fill_pct <= %s OR up.temperature_c > %s "
                "OR (up.temperature_c < %s AND EXISTS (SELECT 1 FROM telemetry_alert a "
                "WHERE a.device_id = up.device_id AND a.kind = 'temperature' AND a.cleared_at IS NULL))",
                [emptied_level(), limit, clear],
            )
            moved: list[tuple[Any, ...]] = cursor.fetchall()
            cursor.execute("DELETE FROM greenisle_state_in")
            return moved
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join(["(" + ", ".join(["%s"] * 16) + ")"] * len(chunk))
            # "WHERE true" keeps SQLite's parser from reading ON CONFLICT as a join constraint.
            cursor.execute(
                _STATE_SQL.format(source=f"SELECT * FROM (VALUES {values}) WHERE true"),
                [p for row in chunk for p in row],
            )
            out.extend(cursor.fetchall())
        return out


def ingest_batch(
    items: Sequence[tuple[uuid.UUID, ReadingIn]],
    *,
    transport: str,
    rejections: Iterable[Rejection] = (),
    now: dt.datetime | None = None,
) -> list[IngestOutcome]:
    """Store a batch of readings for known devices; return one outcome per item, in order.

    ``rejections`` are items the transport already refused (bad JSON, bad packet values): they are
    only counted against their device. Items of a disabled or unknown device are rejected here.
    Everything happens in one transaction that has committed when this returns.
    """
    received = now or timezone.now()
    tallies: defaultdict[uuid.UUID, _DeviceTally] = defaultdict(_DeviceTally)
    for rejection in rejections:
        tally = tallies[rejection.device_id]
        tally.rejected += 1
        tally.last_rejected_reason = rejection.reason[:200]

    outcomes: list[IngestOutcome | None] = [None] * len(items)
    # Parameter adapters, chosen once: PostgreSQL takes datetimes and UUIDs as they are.
    if connection.vendor == "postgresql":
        _dt_param = _id_param = _same
    else:
        _dt_param, _id_param = connection.ops.adapt_datetimefield_value, _hex
    with transaction.atomic():
        devices = _devices_get({device_id for device_id, _ in items} | set(tallies))
        seen: set[tuple[uuid.UUID, dt.datetime]] = set()
        rows: list[tuple[Any, ...]] = []
        row_index: dict[tuple[uuid.UUID, dt.datetime | None], int] = {}
        received_param = _dt_param(received)
        for index, (device_id, reading) in enumerate(items):
            known = devices.get(device_id)
            if known is None or not known[0]:
                code = "unknown_device" if known is None else "device_disabled"
                reason = "未知设备 / unknown device" if known is None else "设备已停用 / device is disabled"
                outcomes[index] = IngestOutcome(status="rejected", reason=reason, field="device", code=code)
                if known is not None:
                    tally = tallies[device_id]
                    tally.rejected += 1
                    tally.last_rejected_reason = reason
                continue
            key = (device_id, reading.observed_at)
            if key in seen:  # the same reading twice in one batch
                outcomes[index] = IngestOutcome(status="duplicate", reason="already stored")
                tallies[device_id].duplicate += 1
                continue
            seen.add(key)
            row_index[key] = index
            rows.append(
                (
                    _id_param(device_id),
                    _dt_param(reading.observed_at),
                    reading.device_time_raw,
                    received_param,
                    transport,
                    reading.fill_pct,
                    reading.net_weight_kg,
                    reading.temperature_c,
                    reading.door_open,
                    reading.battery_pct,
                    reading.quality,
                    reading.sequence,
                )
            )
        # Sorted, so that concurrent batches take their row locks in the same order (no deadlock).
        rows.sort(key=_row_order)
        inserted = _insert_readings(rows) if rows else None
        for key, index in row_index.items():
            device_id, reading = items[index]
            tally = tallies[device_id]
            if inserted is None or key in inserted:
                outcomes[index] = IngestOutcome(status="accepted")
                tally.accepted += 1
                tally.readings.append(reading)
                if tally.newest is None or reading.observed_at > tally.newest[0]:
                    tally.newest = (reading.observed_at, reading)
            else:
                outcomes[index] = IngestOutcome(status="duplicate", reason="already stored")
                tally.duplicate += 1

        # One row per device: the newest reading (moves the state only if newer) and the counters.
        state_rows = []
        for device_id in sorted(tallies, key=_uuid_order):
            if device_id not in devices:
                continue
            tally = tallies[device_id]
            newest = tally.newest[1] if tally.newest else None
            door_since = None
            if newest is not None and newest.door_open:
                # The start of the trailing run of door-open readings in this batch.
                door_since = newest.observed_at
                for reading in sorted(tally.readings, key=lambda r: r.observed_at, reverse=True):
                    if reading.door_open:
                        door_since = reading.observed_at
                    elif reading.door_open is False:
                        break
            state_rows.append(
                (
                    _id_param(device_id),
                    _dt_param(newest.observed_at) if newest else None,
                    received_param if newest else None,
                    transport if newest else "",
                    newest.fill_pct if newest else None,
                    newest.net_weight_kg if newest else None,
                    newest.temperature_c if newest else None,
                    newest.door_open if newest else None,
                    _dt_param(door_since),
                    newest.battery_pct if newest else None,
                    newest.quality if newest else Quality.NORMAL,
                    tally.accepted,
                    tally.duplicate,
                    tally.rejected,
                    received_param if tally.rejected else None,
                    tally.last_rejected_reason,
                )
            )
        moved = []
        for device_id, observed_at, fill, temperature in _upsert_states(state_rows):
            device_id = uuid.UUID(str(device_id))
            newest_at = tallies[device_id].newest
            if newest_at is not None and _aware(observed_at) == newest_at[0]:
                moved.append((device_id, fill, temperature))
        opened = _apply_state_changes(moved, devices, tallies)

    final: list[IngestOutcome] = []
    for index, outcome in enumerate(outcomes):
        assert outcome is not None
        device_id = items[index][0]
        if outcome.status == "accepted" and device_id in opened:
            newest = tallies[device_id].newest
            if newest is not None and newest[1] is items[index][1]:
                outcome = IngestOutcome(status="accepted", request_opened=opened[device_id])
        final.append(outcome)
    return final


def _apply_state_changes(
    moved: list[tuple[Any, ...]],
    devices: dict[uuid.UUID, tuple[bool, Decimal]],
    tallies: dict[uuid.UUID, _DeviceTally],
) -> dict[uuid.UUID, str]:
    """For bins whose state moved: open or close pickup requests, open or clear temperature alerts."""
    from greenisle.dispatch.services import request_apply_fill
    from greenisle.telemetry.alerts import temperature_apply

    emptied = emptied_level()
    over: set[uuid.UUID] = set()
    low: set[uuid.UUID] = set()
    temperatures = []
    for device_id, fill, temperature in moved:
        device_id = uuid.UUID(str(device_id))
        fill = None if fill is None else Decimal(str(fill))
        if fill is not None:
            if fill >= devices[device_id][1]:
                over.add(device_id)
            elif fill <= emptied:
                low.add(device_id)
        if temperature is not None:
            temperatures.append((device_id, Decimal(str(temperature))))
    opened: dict[uuid.UUID, str] = {}
    if over or low:
        blocked = _blocked_get(over | low)
        # Over the threshold with a request already open, or emptied with none open: nothing to do.
        todo = sorted((over - blocked) | (low & blocked), key=str)
        for device in Bin.objects.select_related("site").filter(pk__in=todo).order_by("pk"):
            newest = tallies[device.pk].newest
            assert newest is not None and newest[1].fill_pct is not None
            request_id = request_apply_fill(
                bin=device, fill_pct=newest[1].fill_pct, observed_at=newest[1].observed_at
            )
            if request_id:
                opened[device.pk] = request_id
    if temperatures:
        temperature_apply(temperatures, observed={d: tallies[d].newest[0] for d, _ in temperatures})  # type: ignore[index]
    return opened


def reading_ingest(*, device: Bin, reading: ReadingIn, transport: str) -> IngestOutcome:
    """One reading through the batch path (committed before it returns). A disabled device's reading
    is counted against it and refused."""
    outcome = ingest_batch([(device.pk, reading)], transport=transport)[0]
    if outcome.code == "device_disabled":
        raise PermissionDenied("设备已停用 / device is disabled", field="device", code="device_disabled")
    return outcome


def emptied_level() -> Decimal:
    return Decimal(str(settings.GREENISLE["BIN_EMPTIED_PCT"]))
