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
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
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
    newest: tuple[dt.datetime, ReadingIn, int] | None = None  # observed_at, reading, item index
    readings: list[ReadingIn] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------
# Validation: transport input → ReadingIn, or ServiceError naming the field.
#
# The rules are written so that PostgreSQL can apply exactly the same ones to a whole batch
# (``telemetry.ingest_pg``): a time is RFC 3339 (``T`` or a space, seconds and up to six decimals
# optional, ``Z`` or ±hh[:mm]); a number is a JSON number or a decimal string; rounding to cents is
# half away from zero, as PostgreSQL's numeric does.

TIME_RE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]"
    r"(?::[0-5][0-9](?:\.[0-9]{1,6})?)?(Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?$"
)
NUMBER_STRING_RE = r"^[ \t\n\r]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\r]*$"
QUALITY_RE = r"^[A-Za-z]$"
_TIME = re.compile(TIME_RE)
_NUMBER_STRING = re.compile(NUMBER_STRING_RE)

# Bounds per numeric field: (low, high).
NUMERIC_BOUNDS: dict[str, tuple[int, int]] = {
    "fill_pct": (0, 100),
    "net_weight_kg": (0, 100000),
    "temperature_c": (-60, 200),
    "battery_pct": (0, 100),
}


def _messages() -> dict[str, tuple[str, str | None, str]]:
    """Every reason a reading is refused for: key → (public code, field, message)."""
    table: dict[str, tuple[str, str | None, str]] = {
        "not_object": ("invalid", "reading", "读数必须是 JSON 对象 / a reading must be a JSON object"),
        "required:observed_at": ("required", "observed_at", "observed_at 必填 / observed_at is required"),
        "not_a_time": (
            "bad_time",
            "observed_at",
            "observed_at 必须是带时区的时间 / observed_at must be a datetime",
        ),
        "bad_time": (
            "bad_time",
            "observed_at",
            "observed_at 不是 ISO 8601 时间 / observed_at is not an ISO 8601 time",
        ),
        "no_time_zone": (
            "no_time_zone",
            "observed_at",
            "observed_at 缺少时区 / observed_at needs a time zone",
        ),
        "future": ("future", "observed_at", "observed_at 在未来 / observed_at is in the future"),
        "too_old": (
            "too_old",
            "observed_at",
            "observed_at 早于原始数据保存期 / observed_at is older than the raw retention period",
        ),
        "not_boolean": (
            "not_boolean",
            "door_open",
            "door_open 必须是布尔值 / door_open must be true or false",
        ),
        "bad_sequence": (
            "bad_sequence",
            "sequence",
            "sequence 必须是非负整数 / sequence must be a non-negative integer",
        ),
        "bad_quality": (
            "bad_quality",
            "quality",
            "quality 必须是一个字母（HJ 212 数据标记）/ quality must be one letter (HJ 212 data flag)",
        ),
        "not_json": ("invalid", "payload", "消息不是 JSON / payload is not JSON"),
        "unknown_device": ("unknown_device", "device", "未知设备 / unknown device"),
        "device_disabled": ("device_disabled", "device", "设备已停用 / device is disabled"),
        "serial_unknown": (
            "invalid",
            "serial",
            "serial 缺失或不是贵单位的云仓 / serial missing or not one of your bins",
        ),
        "serial_other": ("invalid", "serial", "serial 不是本设备 / serial is not this device"),
    }
    for name, (low, high) in NUMERIC_BOUNDS.items():
        table[f"required:{name}"] = ("required", name, f"{name} 必填 / {name} is required")
        table[f"not_a_number:{name}"] = ("not_a_number", name, f"{name} 不是数字 / {name} is not a number")
        table[f"not_finite:{name}"] = ("not_finite", name, f"{name} 必须是有限数 / {name} must be finite")
        table[f"out_of_range:{name}"] = (
            "out_of_range",
            name,
            f"{name} 超出范围 {low}–{high} / {name} outside {low}–{high}",
        )
    return table


MESSAGES = _messages()


def refused(key: str) -> ServiceError:
    code, field_name, message = MESSAGES[key]
    return ServiceError(message, field=field_name, code=code)


def _decimal(name: str, value: Any, *, required: bool = False) -> Decimal | None:
    if value is None:
        if required:
            raise refused(f"required:{name}")
        return None
    if isinstance(value, bool):
        raise refused(f"not_a_number:{name}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise refused(f"not_finite:{name}")
        number = Decimal(repr(value))
    elif isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str) and _NUMBER_STRING.match(value):
        number = Decimal(value.strip(" \t\n\r"))
    else:
        raise refused(f"not_a_number:{name}")
    if not number.is_finite():
        raise refused(f"not_finite:{name}")
    low, high = NUMERIC_BOUNDS[name]
    if number < low or number > high:
        raise refused(f"out_of_range:{name}")
    return number.quantize(_CENT, rounding=ROUND_HALF_UP)


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

    ``observed_at`` may be an aware datetime or an RFC 3339 string with a time zone. A reading older
    than the raw retention period is refused (it could never be kept); one more than ten minutes in
    the future is refused (a device clock gone wrong).
    """
    raw_time = device_time_raw
    if isinstance(observed_at, str):
        raw_time = raw_time or observed_at
        match = _TIME.match(observed_at)
        if match is None:
            raise refused("bad_time")
        try:
            observed_at = dt.datetime.fromisoformat(observed_at)
        except ValueError:
            raise refused("bad_time") from None
    if not isinstance(observed_at, dt.datetime):
        raise refused("not_a_time")
    if observed_at.tzinfo is None or observed_at.utcoffset() is None:
        raise refused("no_time_zone")
    now = now or timezone.now()
    if observed_at - now > MAX_CLOCK_SKEW:
        raise refused("future")
    if now - observed_at > raw_retention():
        raise refused("too_old")
    if door_open is not None and not isinstance(door_open, bool):
        raise refused("not_boolean")
    if isinstance(sequence, float) and sequence.is_integer():
        sequence = int(sequence)  # 5.0 and 5e0 are the integer 5, as JSON has only numbers
    if sequence is not None and (
        not isinstance(sequence, int) or isinstance(sequence, bool) or not 0 <= sequence < 2**63
    ):
        raise refused("bad_sequence")
    if quality is None:
        quality = Quality.NORMAL
    elif not isinstance(quality, str) or len(quality) != 1 or not quality.isascii() or not quality.isalpha():
        raise refused("bad_quality")
    fill = _decimal("fill_pct", fill_pct, required=require_fill)
    return ReadingIn(
        observed_at=observed_at.astimezone(dt.UTC),
        fill_pct=fill,
        net_weight_kg=_decimal("net_weight_kg", net_weight_kg),
        temperature_c=_decimal("temperature_c", temperature_c),
        door_open=door_open,
        battery_pct=_decimal("battery_pct", battery_pct),
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
        raise refused("not_object")
    if "observed_at" not in item:
        raise refused("required:observed_at")
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
STATE_COLUMNS = (
    "device_id, observed_at, received_at, transport, fill_pct, net_weight_kg, temperature_c, door_open, "
    "door_opened_at, battery_pct, quality, accepted, duplicate, rejected, last_rejected_at, "
    "last_rejected_reason"
)
# The incoming row ({n}) moves the bin's state ({o}) only if it carries a newer reading. Every
# expression sees the old row, so the order of the assignments does not matter.
_NEWER = "({n}.observed_at IS NOT NULL AND ({o}.observed_at IS NULL OR {o}.observed_at < {n}.observed_at))"


def _if_newer(column: str, value: str) -> str:
    return f"{column} = CASE WHEN {_NEWER} THEN {value} ELSE {{o}}.{column} END"


STATE_ASSIGNMENTS = ", ".join(
    [
        _if_newer("fill_pct", "COALESCE({n}.fill_pct, {o}.fill_pct)"),
        _if_newer("net_weight_kg", "COALESCE({n}.net_weight_kg, {o}.net_weight_kg)"),
        _if_newer("temperature_c", "COALESCE({n}.temperature_c, {o}.temperature_c)"),
        _if_newer(
            "door_opened_at",
            "CASE WHEN {n}.door_open IS NULL THEN {o}.door_opened_at "
            "WHEN {n}.door_open AND {o}.door_open IS NOT NULL AND {o}.door_open "
            "THEN COALESCE({o}.door_opened_at, {n}.door_opened_at) "
            "WHEN {n}.door_open THEN {n}.door_opened_at ELSE NULL END",
        ),
        _if_newer("door_open", "COALESCE({n}.door_open, {o}.door_open)"),
        _if_newer("battery_pct", "COALESCE({n}.battery_pct, {o}.battery_pct)"),
        _if_newer("quality", "{n}.quality"),
        _if_newer("transport", "{n}.transport"),
        _if_newer("received_at", "{n}.received_at"),
        _if_newer("offline_since", "NULL"),
        _if_newer("observed_at", "{n}.observed_at"),
        "accepted = {o}.accepted + {n}.accepted",
        "duplicate = {o}.duplicate + {n}.duplicate",
        "rejected = {o}.rejected + {n}.rejected",
        "last_rejected_at = COALESCE({n}.last_rejected_at, {o}.last_rejected_at)",
        "last_rejected_reason = CASE WHEN {n}.rejected > 0 THEN {n}.last_rejected_reason "
        "ELSE {o}.last_rejected_reason END",
    ]
)
# First reading of a bin (and SQLite): insert, or merge into the row another batch just inserted.
_STATE_SQL = (
    f"INSERT INTO telemetry_binstate ({STATE_COLUMNS}) {{source}} ON CONFLICT (device_id) DO UPDATE SET "
    + STATE_ASSIGNMENTS.format(n="excluded", o="telemetry_binstate")
    + " RETURNING device_id, observed_at, fill_pct, temperature_c"
)
# PostgreSQL, a bin seen before (nearly every row): a plain UPDATE … FROM the staged rows costs a
# fraction of a speculative insertion per row.
_STATE_UPDATE_SQL = (
    "UPDATE telemetry_binstate SET "
    + STATE_ASSIGNMENTS.format(n="s", o="telemetry_binstate")
    + " FROM greenisle_state_in s WHERE telemetry_binstate.device_id = s.device_id"
)
_STATE_RETURNING = (
    "telemetry_binstate.device_id, telemetry_binstate.observed_at, telemetry_binstate.fill_pct, "
    "telemetry_binstate.temperature_c"
)


def _uuid_order(value: uuid.UUID) -> int:
    return value.int  # comparing UUID objects goes through Python-level __lt__; ints compare in C


def _key_order(key: tuple[uuid.UUID, dt.datetime]) -> tuple[int, dt.datetime]:
    return (key[0].int, key[1])


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


# COPY's text format, written straight from the validated values: cheaper per row than any driver's
# per-value dumping, and PostgreSQL parses it in C.
NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    return value if value.isprintable() and "\\" not in value else value.translate(_COPY_ESCAPES)


def _copy_text(cursor: Any, table: str, columns: str, data: str) -> None:
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(data)


def _reading_copy_lines(rows: list[tuple[uuid.UUID, ReadingIn]], received: str, transport: str) -> str:
    return "".join(
        [
            f"{device_id}\t{r.observed_at.isoformat()}\t{_text(r.device_time_raw)}\t{received}\t{transport}\t"
            f"{NULL if r.fill_pct is None else r.fill_pct}\t"
            f"{NULL if r.net_weight_kg is None else r.net_weight_kg}\t"
            f"{NULL if r.temperature_c is None else r.temperature_c}\t"
            f"{NULL if r.door_open is None else 't' if r.door_open else 'f'}\t"
            f"{NULL if r.battery_pct is None else r.battery_pct}\t{r.quality}\t"
            f"{NULL if r.sequence is None else r.sequence}\n"
            for device_id, r in rows
        ]
    )


def _reading_params(
    rows: list[tuple[uuid.UUID, ReadingIn]], received: Any, transport: str
) -> list[tuple[Any, ...]]:
    """SQLite: one parameter tuple per row."""
    adapt = connection.ops.adapt_datetimefield_value
    return [
        (
            device_id.hex,
            adapt(r.observed_at),
            r.device_time_raw,
            received,
            transport,
            r.fill_pct,
            r.net_weight_kg,
            r.temperature_c,
            r.door_open,
            r.battery_pct,
            r.quality,
            r.sequence,
        )
        for device_id, r in rows
    ]


def _insert_readings(
    rows: list[tuple[uuid.UUID, ReadingIn]], received: dt.datetime, transport: str
) -> set[tuple[uuid.UUID, dt.datetime]] | None:
    """Insert rows, skipping ones already stored. Returns the (device_id, observed_at) keys inserted,
    or None when every row was inserted (the common case, which spares fetching a key per row)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _staging_tables(cursor)
            _copy_text(
                cursor,
                "greenisle_reading_in",
                _READING_COLUMNS,
                _reading_copy_lines(rows, received.isoformat(), transport),
            )
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
        params = _reading_params(rows, connection.ops.adapt_datetimefield_value(received), transport)
        inserted = set()
        for start in range(0, len(params), 500):
            chunk = params[start : start + 500]
            values = ", ".join(["(" + ", ".join(["%s"] * 12) + ")"] * len(chunk))
            cursor.execute(
                f"INSERT INTO telemetry_reading ({_READING_COLUMNS}) VALUES {values} "
                "ON CONFLICT DO NOTHING RETURNING device_id, observed_at",
                [p for row in chunk for p in row],
            )
            inserted.update((uuid.UUID(str(row[0])), _aware(row[1])) for row in cursor.fetchall())
        return inserted  # type: ignore[return-value]


@dataclass(slots=True)
class _StateRow:
    """What one batch brings to one bin's state: its newest reading (if any) and the counters."""

    device_id: uuid.UUID
    newest: ReadingIn | None
    door_since: dt.datetime | None
    accepted: int
    duplicate: int
    rejected: int
    last_rejected_reason: str


def _state_copy_lines(rows: list[_StateRow], received: str, transport: str) -> str:
    lines = []
    for row in rows:
        r = row.newest
        head = (
            f"{row.device_id}\t{NULL}\t{NULL}\t\t{NULL}\t{NULL}\t{NULL}\t{NULL}\t{NULL}\t{NULL}\t{Quality.NORMAL}"
            if r is None
            else f"{row.device_id}\t{r.observed_at.isoformat()}\t{received}\t{transport}\t"
            f"{NULL if r.fill_pct is None else r.fill_pct}\t"
            f"{NULL if r.net_weight_kg is None else r.net_weight_kg}\t"
            f"{NULL if r.temperature_c is None else r.temperature_c}\t"
            f"{NULL if r.door_open is None else 't' if r.door_open else 'f'}\t"
            f"{NULL if row.door_since is None else row.door_since.isoformat()}\t"
            f"{NULL if r.battery_pct is None else r.battery_pct}\t{r.quality}"
        )
        lines.append(
            f"{head}\t{row.accepted}\t{row.duplicate}\t{row.rejected}\t"
            f"{received if row.rejected else NULL}\t{_text(row.last_rejected_reason)}\n"
        )
    return "".join(lines)


def _state_params(rows: list[_StateRow], received: Any, transport: str) -> list[tuple[Any, ...]]:
    """SQLite: one parameter tuple per state row."""
    adapt = connection.ops.adapt_datetimefield_value
    out = []
    for row in rows:
        r = row.newest
        out.append(
            (
                row.device_id.hex,
                adapt(r.observed_at) if r else None,
                received if r else None,
                transport if r else "",
                r.fill_pct if r else None,
                r.net_weight_kg if r else None,
                r.temperature_c if r else None,
                r.door_open if r else None,
                adapt(row.door_since),
                r.battery_pct if r else None,
                r.quality if r else Quality.NORMAL,
                row.accepted,
                row.duplicate,
                row.rejected,
                received if row.rejected else None,
                row.last_rejected_reason,
            )
        )
    return out


def _decision_filter() -> tuple[str, list[Any]]:
    """Of the bins whose state moved to this batch's reading (``up``), the ones that need a decision
    (threshold, emptied, temperature): most of a batch needs none, and fetching and converting a row
    per bin would cost more than the update."""
    limit = settings.GREENISLE["TEMPERATURE_LIMIT_C"]
    clear = limit - settings.GREENISLE["TEMPERATURE_CLEAR_MARGIN_C"]
    return (
        "JOIN devices_bin b ON b.id = up.device_id "
        "WHERE up.fill_pct >= b.threshold_pct OR up.fill_pct <= %s OR up.temperature_c > %s "
        "OR (up.temperature_c < %s AND EXISTS (SELECT 1 FROM telemetry_alert a "
        "WHERE a.device_id = up.device_id AND a.kind = 'temperature' AND a.cleared_at IS NULL))",
        [emptied_level(), limit, clear],
    )


def _upsert_states(rows: list[_StateRow], received: dt.datetime, transport: str) -> list[tuple[Any, ...]]:
    """Move each bin's state and counters; return (device_id, observed_at, fill_pct, temperature_c)
    for the bins that may need a decision (PostgreSQL) or for every bin (SQLite)."""
    if not rows:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _staging_tables(cursor)
            _copy_text(
                cursor,
                "greenisle_state_in",
                STATE_COLUMNS,
                _state_copy_lines(rows, received.isoformat(), transport),
            )
            decide, params = _decision_filter()
            cursor.execute(
                f"WITH up AS ({_STATE_UPDATE_SQL} RETURNING {_STATE_RETURNING}) "
                f"SELECT up.device_id, up.observed_at, up.fill_pct, up.temperature_c FROM up "
                f"JOIN greenisle_state_in s ON s.device_id = up.device_id AND s.observed_at = up.observed_at "
                f"{decide}",
                params,
            )
            moved: list[tuple[Any, ...]] = cursor.fetchall()
            # Bins without a state yet (their first reading): inserted, or merged into the row a
            # concurrent batch has just inserted.
            insert = _STATE_SQL.format(
                source=f"SELECT {STATE_COLUMNS} FROM greenisle_state_in n WHERE NOT EXISTS "
                "(SELECT 1 FROM telemetry_binstate t WHERE t.device_id = n.device_id)"
            )
            cursor.execute(
                f"WITH up AS ({insert}) SELECT up.device_id, up.observed_at, up.fill_pct, up.temperature_c "
                f"FROM up JOIN greenisle_state_in s ON s.device_id = up.device_id "
                f"AND s.observed_at = up.observed_at {decide}",
                params,
            )
            moved.extend(cursor.fetchall())
            cursor.execute("DELETE FROM greenisle_state_in")
            return moved
        params_rows = _state_params(rows, connection.ops.adapt_datetimefield_value(received), transport)
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(params_rows), 500):
            chunk = params_rows[start : start + 500]
            values = ", ".join(["(" + ", ".join(["%s"] * 16) + ")"] * len(chunk))
            # "WHERE true" keeps SQLite's parser from reading ON CONFLICT as a join constraint.
            cursor.execute(
                _STATE_SQL.format(source=f"SELECT * FROM (VALUES {values}) WHERE true"),
                [p for row in chunk for p in row],
            )
            out.extend(cursor.fetchall())
        return out


ACCEPTED = IngestOutcome(status="accepted")
DUPLICATE = IngestOutcome(status="duplicate", reason="already stored")


def ingest_batch(
    items: Sequence[tuple[uuid.UUID, ReadingIn]],
    *,
    transport: str,
    rejections: Iterable[Rejection] = (),
    now: dt.datetime | None = None,
    devices: Mapping[uuid.UUID, tuple[bool, Decimal]] | None = None,
) -> list[IngestOutcome]:
    """Store a batch of readings for known devices; return one outcome per item, in order.

    ``rejections`` are items the transport already refused (bad JSON, bad packet values): they are
    only counted against their device. Items of a disabled or unknown device are rejected here.
    ``devices`` (enabled flag and threshold per bin) may be passed by a transport that has just read
    them; bins missing from it are looked up. Everything happens in one transaction that has
    committed when this returns.
    """
    received = now or timezone.now()
    tallies: defaultdict[uuid.UUID, _DeviceTally] = defaultdict(_DeviceTally)
    for rejection in rejections:
        tally = tallies[rejection.device_id]
        tally.rejected += 1
        tally.last_rejected_reason = rejection.reason[:200]

    outcomes: list[IngestOutcome | None] = [None] * len(items)
    with transaction.atomic():
        wanted = {device_id for device_id, _ in items} | set(tallies)
        if devices is None:
            known_devices: Mapping[uuid.UUID, tuple[bool, Decimal]] = _devices_get(wanted)
        else:
            missing = wanted - devices.keys()
            known_devices = {**devices, **_devices_get(missing)} if missing else devices
        first: dict[tuple[uuid.UUID, dt.datetime], int] = {}
        for index, (device_id, reading) in enumerate(items):
            known = known_devices.get(device_id)
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
            if key in first:  # the same reading twice in one batch
                outcomes[index] = DUPLICATE
                tallies[device_id].duplicate += 1
                continue
            first[key] = index
        # Sorted, so that concurrent batches take their row locks in the same order (no deadlock).
        keys = sorted(first, key=_key_order)
        inserted = _insert_readings([items[first[k]] for k in keys], received, transport) if keys else None
        for key in keys:
            index = first[key]
            device_id, reading = items[index]
            tally = tallies[device_id]
            if inserted is None or key in inserted:
                outcomes[index] = ACCEPTED
                tally.accepted += 1
                if reading.door_open is not None:
                    tally.readings.append(reading)
                if tally.newest is None or reading.observed_at > tally.newest[0]:
                    tally.newest = (reading.observed_at, reading, index)
            else:
                outcomes[index] = DUPLICATE
                tally.duplicate += 1

        # One row per device: the newest reading (moves the state only if newer) and the counters.
        state_rows = []
        for device_id in sorted(tallies, key=_uuid_order):
            if device_id not in known_devices:
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
                _StateRow(
                    device_id=device_id,
                    newest=newest,
                    door_since=door_since,
                    accepted=tally.accepted,
                    duplicate=tally.duplicate,
                    rejected=tally.rejected,
                    last_rejected_reason=tally.last_rejected_reason,
                )
            )
        decisions = []
        for device_id, observed_at, fill, temperature in _upsert_states(state_rows, received, transport):
            device_id = uuid.UUID(str(device_id))
            newest_at = tallies[device_id].newest
            if newest_at is not None and _aware(observed_at) == newest_at[0]:
                decisions.append(
                    Decision(
                        device_id=device_id,
                        observed_at=newest_at[0],
                        fill_pct=None if fill is None else Decimal(str(fill)),
                        temperature_c=None if temperature is None else Decimal(str(temperature)),
                        threshold_pct=known_devices[device_id][1],
                        item=newest_at[2],
                    )
                )
        opened = apply_decisions(decisions)

    final: list[IngestOutcome] = [outcome for outcome in outcomes if outcome is not None]
    assert len(final) == len(items)
    for decision in decisions:
        if decision.device_id in opened:
            final[decision.item] = IngestOutcome(status="accepted", request_opened=opened[decision.device_id])
    return final


def ingest_parsed(
    items: Sequence[tuple[uuid.UUID, Any] | ServiceError],
    *,
    transport: str,
    now: dt.datetime,
    rejections: Iterable[Rejection] = (),
) -> list[IngestOutcome]:
    """Parsed JSON items through the Python validators and ``ingest_batch``: the path of SQLite, and
    of any batch PostgreSQL could not parse. Each item is (bin, JSON value), or the error that already
    refused it (an unknown serial: counted against no bin). One outcome per item, in order."""
    batch: list[tuple[uuid.UUID, ReadingIn]] = []
    positions: list[int] = []
    results: list[IngestOutcome] = [ACCEPTED] * len(items)
    rejected = list(rejections)
    for index, item in enumerate(items):
        try:
            if isinstance(item, ServiceError):
                raise item
            device_id, value = item
            try:
                batch.append((device_id, reading_from_json(value, now=now)))
            except ServiceError as exc:
                rejected.append(Rejection(device_id, exc.message, exc.field, exc.code))
                raise
        except ServiceError as exc:
            results[index] = IngestOutcome(
                status="rejected", reason=exc.message, field=exc.field, code=exc.code
            )
            continue
        positions.append(index)
    outcomes = ingest_batch(batch, transport=transport, rejections=rejected, now=now)
    for index, outcome in zip(positions, outcomes, strict=True):
        results[index] = outcome
    return results


@dataclass(frozen=True, slots=True)
class Decision:
    """A bin whose state has just moved to a batch's reading that may cross the threshold, empty the
    bin, or change a temperature alert."""

    device_id: uuid.UUID
    observed_at: dt.datetime
    fill_pct: Decimal | None
    temperature_c: Decimal | None
    threshold_pct: Decimal
    item: int  # the batch item that carried the reading


def apply_decisions(decisions: list[Decision]) -> dict[uuid.UUID, str]:
    """Open or close pickup requests, open or clear temperature alerts; returns the requests opened
    per bin. Runs in the ingest transaction."""
    from greenisle.dispatch.services import FillNewest, requests_apply_fill
    from greenisle.telemetry.alerts import temperature_apply

    emptied = emptied_level()
    by_device = {d.device_id: d for d in decisions}
    over: set[uuid.UUID] = set()
    low: set[uuid.UUID] = set()
    for decision in decisions:
        if decision.fill_pct is not None:
            if decision.fill_pct >= decision.threshold_pct:
                over.add(decision.device_id)
            elif decision.fill_pct <= emptied:
                low.add(decision.device_id)
    opened: dict[uuid.UUID, str] = {}
    if over or low:
        blocked = _blocked_get(over | low)
        # Over the threshold with a request already open, or emptied with none open: nothing to do.
        todo = (over - blocked) | (low & blocked)
        if todo:
            bins = Bin.objects.select_related("site__organization").filter(pk__in=todo).order_by("pk")
            opened = requests_apply_fill(
                [
                    FillNewest(device, by_device[device.pk].fill_pct, by_device[device.pk].observed_at)  # type: ignore[arg-type]
                    for device in bins
                ]
            )
    temperatures = [(d.device_id, d.temperature_c) for d in decisions if d.temperature_c is not None]
    if temperatures:
        temperature_apply(
            temperatures,  # type: ignore[arg-type]
            observed={d.device_id: d.observed_at for d in decisions if d.temperature_c is not None},
        )
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
