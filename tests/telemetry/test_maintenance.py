"""What the readings drive over time: hourly rollups, forecasts, offline/door/temperature alerts,
partitions and retention."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from greenisle.audit.models import Event
from greenisle.telemetry import alerts, maintenance, partitions
from greenisle.telemetry.models import Alert, AlertKind, BinState, Reading, ReadingHourly

LATER = maintenance.ROLLUP_LAG  # a rollup "now" that reads up to the present moment


def hour_of(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def test_rollup_summarises_each_hour_and_recomputes_an_hour_a_late_reading_touches(world, ingest):
    base = hour_of(timezone.now()) - dt.timedelta(hours=3)
    ingest(10, at=base + dt.timedelta(minutes=5), temperature_c=20)
    ingest(14, at=base + dt.timedelta(minutes=35), temperature_c=31, door_open=True)
    ingest(12, at=base + dt.timedelta(minutes=50), net_weight_kg=40)
    ingest(20, at=base + dt.timedelta(hours=1, minutes=10))
    assert maintenance.rollup(timezone.now() + LATER) == 2
    first = ReadingHourly.objects.get(device=world.bin, hour=base)
    assert (first.readings, first.fill_min, first.fill_max, first.fill_last) == (3, 10, 14, 12)
    assert first.fill_avg == Decimal("12.00")
    assert (first.temperature_max_c, first.door_open_readings, first.weight_last_kg) == (31, 1, 40)
    # Nothing new: nothing recomputed.
    assert maintenance.rollup(timezone.now() + LATER) == 0
    # A late reading for the first hour: only that hour is recomputed, and now counts four readings.
    ingest(30, at=base + dt.timedelta(minutes=55))
    assert maintenance.rollup(timezone.now() + LATER) == 1
    first.refresh_from_db()
    assert (first.readings, first.fill_max, first.fill_last) == (4, 30, 30)
    assert ReadingHourly.objects.get(device=world.bin, hour=base + dt.timedelta(hours=1)).readings == 1


def test_forecast_gives_the_fill_rate_and_the_time_to_threshold(world, ingest):
    start = timezone.now() - dt.timedelta(days=2)
    # 10 % per day from 40 %, one reading an hour for two days: 60 % now, 80 % in two days.
    for hour in range(49):
        ingest(40 + Decimal(10) * hour / 24, at=start + dt.timedelta(hours=hour))
    assert maintenance.forecast_update() == 1
    state = BinState.objects.get(device=world.bin)
    assert state.fill_rate_pct_per_day == pytest.approx(10, rel=0.01)
    expected = state.observed_at + dt.timedelta(days=(80 - float(state.fill_pct)) / 10)
    assert abs((state.predicted_full_at - expected).total_seconds()) < 1800
    # Done until a newer reading arrives.
    assert maintenance.forecast_update() == 0


def test_a_bin_goes_offline_after_three_missed_intervals_and_back_online(world, ingest):
    world.bin.reporting_interval_s = 600
    world.bin.save()
    ingest(30, at=timezone.now() - dt.timedelta(minutes=1))
    state = BinState.objects.get(device=world.bin)
    # Two intervals and a half: still online.
    assert alerts.offline_scan(state.received_at + dt.timedelta(minutes=25)) == (0, 0)
    assert alerts.offline_scan(state.received_at + dt.timedelta(minutes=31)) == (1, 0)
    state.refresh_from_db()
    assert state.offline_since == state.received_at + dt.timedelta(minutes=30)
    alert = Alert.objects.get(device=world.bin, kind=AlertKind.OFFLINE, cleared_at__isnull=True)
    assert Event.objects.filter(action="telemetry.alert.opened", object_id=str(alert.pk)).exists()
    # Scanning again opens nothing new.
    assert alerts.offline_scan(state.received_at + dt.timedelta(minutes=45)) == (0, 0)
    ingest(31, at=timezone.now())
    assert BinState.objects.get(device=world.bin).offline_since is None
    assert alerts.offline_scan() == (0, 1)
    alert.refresh_from_db()
    assert alert.cleared_at is not None


def test_a_door_open_too_long_raises_an_alert_that_clears_when_it_closes(world, ingest, settings):
    settings.GREENISLE = {**settings.GREENISLE, "DOOR_OPEN_LIMIT_S": 600}
    opened = timezone.now() - dt.timedelta(minutes=30)
    ingest(30, at=opened, door_open=True)
    ingest(31, at=opened + dt.timedelta(minutes=5), door_open=True)
    state = BinState.objects.get(device=world.bin)
    assert state.door_opened_at == opened  # the start of the open run, not the latest reading
    assert alerts.door_scan(opened + dt.timedelta(minutes=9)) == (0, 0)
    assert alerts.door_scan(opened + dt.timedelta(minutes=11)) == (1, 0)
    ingest(31, at=opened + dt.timedelta(minutes=20), door_open=False)
    assert BinState.objects.get(device=world.bin).door_opened_at is None
    assert alerts.door_scan() == (0, 1)
    assert not Alert.objects.filter(kind=AlertKind.DOOR_OPEN, cleared_at__isnull=True).exists()


def test_temperature_over_the_limit_opens_one_alert_that_clears_below_the_margin(world, ingest, settings):
    settings.GREENISLE = {**settings.GREENISLE, "TEMPERATURE_LIMIT_C": 45, "TEMPERATURE_CLEAR_MARGIN_C": 2}
    now = timezone.now()
    ingest(30, at=now - dt.timedelta(minutes=10), temperature_c=44)
    assert not Alert.objects.exists()
    ingest(30, at=now - dt.timedelta(minutes=8), temperature_c=52)
    ingest(30, at=now - dt.timedelta(minutes=6), temperature_c=55)
    alert = Alert.objects.get(device=world.bin, kind=AlertKind.TEMPERATURE)
    assert alert.value == "52.0 °C"
    ingest(30, at=now - dt.timedelta(minutes=4), temperature_c=44)  # within the margin: still open
    alert.refresh_from_db()
    assert alert.cleared_at is None
    ingest(30, at=now - dt.timedelta(minutes=2), temperature_c=40)
    alert.refresh_from_db()
    assert alert.cleared_at == now - dt.timedelta(minutes=2)


def test_raw_readings_past_retention_go_only_after_their_rollup(world, ingest, settings):
    settings.GREENISLE = {**settings.GREENISLE, "READINGS_RAW_RETENTION_DAYS": 10}
    old = timezone.now() - dt.timedelta(days=9, hours=23)
    ingest(10, at=old)
    ingest(20, at=timezone.now() - dt.timedelta(hours=1))
    # Before any rollup nothing is deleted, whatever its age.
    assert maintenance.retention_apply(timezone.now() + dt.timedelta(days=2)) == ([], 0, 0)
    assert Reading.objects.count() == 2
    maintenance.rollup(timezone.now() + LATER)
    later = timezone.now() + dt.timedelta(days=2)
    dropped, deleted, _ = maintenance.retention_apply(later)
    if partitions.is_partitioned():
        assert deleted == 0  # whole months go with their partition, not row by row
    else:
        assert (dropped, deleted) == ([], 1)
        assert list(Reading.objects.values_list("fill_pct", flat=True)) == [20]
    assert ReadingHourly.objects.filter(device=world.bin).count() == 2  # rollups stay


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions exist on PostgreSQL only")
def test_a_missing_month_partition_is_created_and_takes_its_rows_from_the_default(world, ingest):
    names = partitions.partitions_list()
    assert partitions.DEFAULT_PARTITION in names
    this_month = partitions.partition_name(partitions.month_floor(timezone.now()))
    assert this_month in names
    # A reading in a month without a partition lands in the default partition …
    at = timezone.now() - dt.timedelta(days=370)
    month = partitions.month_floor(at)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(month)}")
    ingest(12, at=at)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partitions.DEFAULT_PARTITION}")
        assert cursor.fetchone()[0] == 1
    # … and moves into its own partition when that is created.
    assert partitions.partitions_ensure(month, month) == [partitions.partition_name(month)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partitions.DEFAULT_PARTITION}")
        assert cursor.fetchone()[0] == 0
        cursor.execute(f"SELECT count(*) FROM {partitions.partition_name(month)}")
        assert cursor.fetchone()[0] == 1
    assert Reading.objects.filter(device=world.bin).count() == 1
    assert partitions.partitions_drop_before(partitions.month_next(month)) == [
        partitions.partition_name(month)
    ]
    assert not Reading.objects.filter(device=world.bin).exists()


def test_maintain_runs_every_step_and_reports_figures(world, ingest):
    ingest(30, at=timezone.now() - dt.timedelta(minutes=10))
    report = maintenance.maintain(timezone.now() + LATER).as_dict()
    assert report["hours_rolled_up"] == 1
    assert report["forecasts"] == 1
    assert set(report) >= {"partitions_created", "raw_deleted", "offline_opened", "door_opened"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions exist on PostgreSQL only")
def test_maintain_covers_the_retention_window_and_expires_rows_of_the_default_partition(
    world, ingest, settings
):
    at = timezone.now() - dt.timedelta(days=200)
    month = partitions.month_floor(at)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(month)}")
    ingest(12, at=at)  # no partition for its month: it lands in the default partition
    # maintain creates every month back to the raw retention (400 days) and moves the row there.
    report = maintenance.maintain(timezone.now() + LATER)
    assert partitions.partition_name(month) in report.partitions_created
    assert Reading.objects.filter(device=world.bin).count() == 1
    # A row left in the default partition past the retention goes, row by row.
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE telemetry_reading DETACH PARTITION {partitions.partition_name(month)}")
        cursor.execute(
            f"INSERT INTO {partitions.DEFAULT_PARTITION} SELECT * FROM {partitions.partition_name(month)}"
        )
        cursor.execute(f"DROP TABLE {partitions.partition_name(month)}")
    settings.GREENISLE = {**settings.GREENISLE, "READINGS_RAW_RETENTION_DAYS": 100}
    _dropped, deleted, _ = maintenance.retention_apply(timezone.now() + LATER)
    assert deleted == 1
    assert not Reading.objects.filter(device=world.bin).exists()
