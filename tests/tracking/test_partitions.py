"""Monthly partitions of the track-point table (greenisle.tracking.partitions): on PostgreSQL only; SQLite
keeps one plain table and every partition call is a no-op there."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from greenisle.tracking import partitions
from greenisle.tracking.models import Terminal, TrackPoint
from greenisle.tracking.points import PointIn
from greenisle.tracking.services import track_points_store
from tracking.factories import TerminalFactory

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitions exist on PostgreSQL only"
)


def store(terminal: Terminal, at: dt.datetime) -> None:
    point = PointIn(
        terminal_id=terminal.pk,
        vehicle_id=terminal.vehicle_id,
        recorded_at=at,
        time_raw="",
        received_at=timezone.now(),
        latitude=Decimal("32.0"),
        longitude=Decimal("120.9"),
        altitude_m=0,
        speed_kmh=Decimal("0"),
        heading=0,
        alarm_flags=0,
        status_flags=2,
        positioned=True,
        backfill=True,
    )
    track_points_store(points=[point])


def count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return int(cursor.fetchone()[0])


def test_month_arithmetic():
    assert partitions.month_floor(
        dt.datetime(2026, 3, 31, 20, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    ) == (
        dt.date(2026, 4, 1)  # months are UTC months
    )
    assert partitions.month_next(dt.date(2026, 12, 1)) == dt.date(2027, 1, 1)
    assert partitions.partition_name(dt.date(2026, 1, 1)) == "tracking_trackpoint_p202601"


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite keeps one plain table")
def test_sqlite_has_one_plain_table():
    assert not partitions.is_partitioned()
    assert partitions.partitions_ensure(dt.date(2020, 1, 1), dt.date(2030, 1, 1)) == []
    assert partitions.partitions_drop_before(dt.date(2030, 1, 1)) == []


@postgresql_only
def test_the_table_is_partitioned_by_month_around_today():
    assert partitions.is_partitioned()
    names = partitions.partitions_list()
    assert partitions.DEFAULT_PARTITION in names
    this_month = partitions.month_floor(timezone.now())
    assert partitions.partition_name(this_month) in names
    assert partitions.partition_name(partitions.month_next(this_month)) in names
    # Asked again, nothing new: the listener calls it every few hours.
    assert partitions.partitions_ensure_around(timezone.now().date()) == []


@postgresql_only
def test_an_old_backfill_lands_in_the_default_partition_and_moves_into_its_month():
    terminal = TerminalFactory()
    now_point = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=5)
    store(terminal, now_point)
    assert count(partitions.partition_name(partitions.month_floor(now_point))) == 1
    old = dt.datetime(2020, 7, 7, 11, 23, 59, tzinfo=dt.UTC)
    month = partitions.month_floor(old)
    store(terminal, old)
    assert count(partitions.DEFAULT_PARTITION) == 1
    assert partitions.partitions_ensure(month, month) == [partitions.partition_name(month)]
    assert count(partitions.DEFAULT_PARTITION) == 0
    assert count(partitions.partition_name(month)) == 1
    # The primary key holds across partitions as in one table: the same point again is skipped.
    store(terminal, old)
    assert TrackPoint.objects.filter(terminal=terminal).count() == 2
    assert partitions.partitions_drop_before(partitions.month_next(month)) == [
        partitions.partition_name(month)
    ]
    assert list(TrackPoint.objects.filter(terminal=terminal).values_list("recorded_at", flat=True)) == [
        now_point
    ]
