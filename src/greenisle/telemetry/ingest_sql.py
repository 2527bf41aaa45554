"""The statements of the Python ingest path, on PostgreSQL and on SQLite.

Readings are inserted with ``ON CONFLICT DO NOTHING`` (a repeat is stored once); each bin's state
row takes the newest reading only if it is newer, and adds up the counters. On PostgreSQL the rows
are COPYed into temporary tables and moved from there by set-based statements (``INSERT … SELECT``,
``UPDATE … FROM``); on SQLite they go in as multi-row VALUES. Also here: the bins' enabled flag and
threshold read for a batch, and a binary-parameter cursor for queries on arrays. ``STATE_COLUMNS``
and ``STATE_ASSIGNMENTS`` are shared with the set-based path (``ingest_pg``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from greenisle.devices.models import Bin
from greenisle.telemetry.decisions import decision_filter
from greenisle.telemetry.models import Quality
from greenisle.telemetry.validation import ReadingIn

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


def aware(value: Any) -> dt.datetime | None:
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


def devices_get(ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[bool, Decimal]]:
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


def insert_readings(
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
            inserted.update((uuid.UUID(str(row[0])), aware(row[1])) for row in cursor.fetchall())
        return inserted  # type: ignore[return-value]


@dataclass(slots=True)
class StateRow:
    """What one batch brings to one bin's state: its newest reading (if any) and the counters."""

    device_id: uuid.UUID
    newest: ReadingIn | None
    door_since: dt.datetime | None
    accepted: int
    duplicate: int
    rejected: int
    last_rejected_reason: str


def _state_copy_lines(rows: list[StateRow], received: str, transport: str) -> str:
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


def _state_params(rows: list[StateRow], received: Any, transport: str) -> list[tuple[Any, ...]]:
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


def upsert_states(rows: list[StateRow], received: dt.datetime, transport: str) -> list[tuple[Any, ...]]:
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
            decide, params = decision_filter()
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
