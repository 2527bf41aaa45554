"""Monthly partitions of the track-point table on PostgreSQL (SQLite keeps one plain table).

The same scheme as the bin readings (``telemetry.partitions``): ranges of ``recorded_at`` in UTC months,
named ``tracking_trackpoint_pYYYYMM``, and a DEFAULT partition that catches a point whose month has no
partition yet, so a valid point is never refused for want of one (a blind-area back-fill can be weeks
old). ``partitions_ensure`` creates the months around today and moves rows the DEFAULT partition holds
for them; the JT/T 808 listener calls it when it starts and every few hours. Dropping a month's partition
is how old tracks expire.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection as default_connection
from django.db import transaction

TABLE = "tracking_trackpoint"
COLUMN = "recorded_at"
DEFAULT_PARTITION = f"{TABLE}_default"
PREFIX = f"{TABLE}_p"


def month_floor(value: dt.datetime | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).date()
    return value.replace(day=1)


def month_next(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(month: dt.date) -> str:
    return f"{PREFIX}{month:%Y%m}"


def _bound(month: dt.date) -> str:
    return f"{month:%Y-%m-%d} 00:00:00+00"


def is_partitioned(connection: Any = None) -> bool:
    connection = connection or default_connection
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [TABLE])
        return cursor.fetchone() is not None


def create_table(schema_editor: Any, model: Any) -> None:
    """Create the track-point table: partitioned by month on PostgreSQL, plain elsewhere. On PostgreSQL
    the model's indexes are created on the parent, which gives every partition its own."""
    if schema_editor.connection.vendor == "postgresql":
        sql, params = schema_editor.table_sql(model)
        schema_editor.execute(f"{sql} PARTITION BY RANGE ({COLUMN})", params or None)
        schema_editor.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT")
        for index in model._meta.indexes:
            schema_editor.add_index(model, index)
    else:
        schema_editor.create_model(model)


def partitions_list(connection: Any = None) -> list[str]:
    connection = connection or default_connection
    if not is_partitioned(connection):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY c.relname",
            [TABLE],
        )
        return [row[0] for row in cursor.fetchall()]


def partitions_ensure(start: dt.date, end: dt.date, connection: Any = None) -> list[str]:
    """Make sure every month from ``start`` to ``end`` (inclusive) has its partition; return the new ones.

    Rows that landed in the DEFAULT partition for such a month are moved into the new partition in the
    same transaction, because PostgreSQL refuses to attach a range the default already holds.
    """
    connection = connection or default_connection
    if not is_partitioned(connection):
        return []
    existing = set(partitions_list(connection))
    created = []
    month = month_floor(start)
    last = month_floor(end)
    while month <= last:
        name = partition_name(month)
        if name not in existing:
            low, high = _bound(month), _bound(month_next(month))
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                # Writers wait for the few statements below: a point arriving between the move and the
                # attach would make the attach fail.
                cursor.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")
                cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
                cursor.execute(
                    f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "  # noqa: S608 - table names are module constants
                    f"WHERE {COLUMN} >= %s AND {COLUMN} < %s RETURNING *) "
                    f"INSERT INTO {name} SELECT * FROM moved",
                    [low, high],
                )
                cursor.execute(
                    f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
                    [low, high],
                )
            created.append(name)
        month = month_next(month)
    return created


def partitions_ensure_around(today: dt.date, connection: Any = None) -> list[str]:
    """The listener's upkeep: last month, this month and the next two."""
    start = month_floor(today) - dt.timedelta(days=1)
    end = month_next(month_next(month_floor(today)))
    return partitions_ensure(start, end, connection)


def partitions_drop_before(cutoff: dt.date, connection: Any = None) -> list[str]:
    """Drop whole monthly partitions that end on or before ``cutoff``'s month start."""
    connection = connection or default_connection
    if not is_partitioned(connection):
        return []
    limit = month_floor(cutoff)
    dropped = []
    for name in partitions_list(connection):
        suffix = name.removeprefix(PREFIX)
        if name == DEFAULT_PARTITION or not suffix.isdigit():
            continue
        month = dt.date(int(suffix[:4]), int(suffix[4:]), 1)
        if month_next(month) <= limit:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {name}")
            dropped.append(name)
    return dropped
