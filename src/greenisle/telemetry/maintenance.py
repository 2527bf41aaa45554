"""Periodic telemetry upkeep, run by ``greenisle telemetry_maintain`` (once, or ``--every`` seconds).

- Partitions: the next months' partitions of the readings table exist before readings need them.
- Rollups: hours that received readings since the last run are (re)computed into ``ReadingHourly``,
  so late readings correct their hour; raw readings older than the raw retention are dropped only
  after that, and rollups are kept at least five years (HJ 1259-2022 §5.3).
- Forecast: each bin with new readings gets its fill rate (% per day, robust to emptying) and the
  predicted time it reaches its threshold (``telemetry.forecast``), which route planning reads.
- Alerts: offline after N missed intervals, door open too long (temperature is judged at ingest).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from greenisle.telemetry import alerts, forecast, partitions
from greenisle.telemetry.models import BinState, Reading, ReadingHourly, RollupWatermark

log = logging.getLogger(__name__)

# A batch stamps received_at when it starts and commits within seconds; the rollup reads only rows
# received before now - LAG, so a transaction still open at that moment cannot slip past it.
ROLLUP_LAG = dt.timedelta(minutes=2)
FORECAST_WINDOW = dt.timedelta(days=14)
FORECAST_MAX_POINTS = 3000
PARTITION_MONTHS_AHEAD = 3


@dataclass
class MaintenanceReport:
    partitions_created: list[str] = field(default_factory=list)
    partitions_dropped: list[str] = field(default_factory=list)
    raw_deleted: int = 0
    hours_rolled_up: int = 0
    rollups_deleted: int = 0
    forecasts: int = 0
    offline_opened: int = 0
    offline_cleared: int = 0
    door_opened: int = 0
    door_cleared: int = 0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _hour_floor(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def rollup(now: dt.datetime | None = None) -> int:
    """Recompute every (device, hour) touched by readings received since the watermark."""
    now = now or timezone.now()
    cut = now - ROLLUP_LAG
    with transaction.atomic():
        mark, _ = RollupWatermark.objects.select_for_update().get_or_create(
            name="hourly", defaults={"received_before": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)}
        )
        since = mark.received_before
        if cut <= since:
            return 0
        if connection.vendor == "postgresql":
            hours = _rollup_postgresql(since, cut)
        else:
            hours = _rollup_python(since, cut)
        mark.received_before = cut
        mark.save(update_fields=["received_before"])
    return hours


def _rollup_postgresql(since: dt.datetime, cut: dt.datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH touched AS (
                SELECT DISTINCT device_id, date_trunc('hour', observed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour
                FROM telemetry_reading WHERE received_at >= %s AND received_at < %s
            )
            INSERT INTO telemetry_readinghourly (device_id, hour, readings, fill_min, fill_max, fill_avg,
                fill_last, weight_last_kg, temperature_max_c, door_open_readings, faulty_readings)
            SELECT t.device_id, t.hour, count(*), min(r.fill_pct), max(r.fill_pct), round(avg(r.fill_pct), 2),
                (array_agg(r.fill_pct ORDER BY r.observed_at DESC) FILTER (WHERE r.fill_pct IS NOT NULL))[1],
                (array_agg(r.net_weight_kg ORDER BY r.observed_at DESC)
                    FILTER (WHERE r.net_weight_kg IS NOT NULL))[1],
                max(r.temperature_c), count(*) FILTER (WHERE r.door_open), count(*) FILTER (WHERE r.quality <> 'N')
            FROM touched t JOIN telemetry_reading r ON r.device_id = t.device_id
                AND r.observed_at >= t.hour AND r.observed_at < t.hour + interval '1 hour'
            GROUP BY t.device_id, t.hour
            ON CONFLICT (device_id, hour) DO UPDATE SET readings = excluded.readings,
                fill_min = excluded.fill_min, fill_max = excluded.fill_max, fill_avg = excluded.fill_avg,
                fill_last = excluded.fill_last, weight_last_kg = excluded.weight_last_kg,
                temperature_max_c = excluded.temperature_max_c,
                door_open_readings = excluded.door_open_readings, faulty_readings = excluded.faulty_readings
            """,
            [since, cut],
        )
        return cursor.rowcount


def _rollup_python(since: dt.datetime, cut: dt.datetime) -> int:
    touched: set[tuple[Any, dt.datetime]] = {
        (device_id, _hour_floor(observed_at))
        for device_id, observed_at in Reading.objects.filter(
            received_at__gte=since, received_at__lt=cut
        ).values_list("device_id", "observed_at")
    }
    by_device: dict[Any, list[dt.datetime]] = defaultdict(list)
    for device_id, hour in touched:
        by_device[device_id].append(hour)
    rows = []
    for device_id, hours in by_device.items():
        low, high = min(hours), max(hours) + dt.timedelta(hours=1)
        groups: dict[dt.datetime, list[Reading]] = defaultdict(list)
        for reading in Reading.objects.filter(
            device_id=device_id, observed_at__gte=low, observed_at__lt=high
        ).order_by("observed_at"):
            hour = _hour_floor(reading.observed_at)
            if hour in hours:
                groups[hour].append(reading)
        for hour, readings in groups.items():
            fills = [r.fill_pct for r in readings if r.fill_pct is not None]
            weights = [r.net_weight_kg for r in readings if r.net_weight_kg is not None]
            temperatures = [r.temperature_c for r in readings if r.temperature_c is not None]
            rows.append(
                ReadingHourly(
                    device_id=device_id,
                    hour=hour,
                    readings=len(readings),
                    fill_min=min(fills) if fills else None,
                    fill_max=max(fills) if fills else None,
                    fill_avg=(sum(fills) / len(fills)).quantize(Decimal("0.01")) if fills else None,
                    fill_last=fills[-1] if fills else None,
                    weight_last_kg=weights[-1] if weights else None,
                    temperature_max_c=max(temperatures) if temperatures else None,
                    door_open_readings=sum(1 for r in readings if r.door_open),
                    faulty_readings=sum(1 for r in readings if r.quality != "N"),
                )
            )
    ReadingHourly.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["device", "hour"],
        update_fields=[
            "readings",
            "fill_min",
            "fill_max",
            "fill_avg",
            "fill_last",
            "weight_last_kg",
            "temperature_max_c",
            "door_open_readings",
            "faulty_readings",
        ],
        batch_size=500,
    )
    return len(rows)


def forecast_update(now: dt.datetime | None = None, *, limit: int | None = None) -> int:
    """Fill rate and predicted threshold time for bins with readings newer than their forecast."""
    now = now or timezone.now()
    states = (
        BinState.objects.select_related("device")
        .filter(Q(forecast_at__isnull=True) | Q(forecast_at__lt=F("observed_at")))
        .order_by("observed_at")
    )
    if limit:
        states = states[:limit]
    done = 0
    for state in states:
        fills = list(
            Reading.objects.filter(
                device_id=state.device_id,
                observed_at__gte=state.observed_at - FORECAST_WINDOW,
                fill_pct__isnull=False,
            )
            .order_by("-observed_at")
            .values_list("observed_at", "fill_pct")[:FORECAST_MAX_POINTS]
        )
        points = [forecast.Point(at=at, fill_pct=float(fill)) for at, fill in fills]
        rate = forecast.fill_rate(points, now=state.observed_at, window=FORECAST_WINDOW)
        predicted = None
        if state.fill_pct is not None:
            predicted = forecast.time_to_threshold(
                fill_pct=float(state.fill_pct),
                rate=rate,
                threshold_pct=float(state.device.threshold_pct),
                now=state.observed_at,
            )
        # Only if no newer reading moved the state meanwhile (ingest does not wait for us).
        BinState.objects.filter(pk=state.pk, observed_at=state.observed_at).update(
            fill_rate_pct_per_day=None if rate is None else round(rate.pct_per_day, 3),
            predicted_full_at=predicted,
            forecast_at=state.observed_at,
        )
        done += 1
    return done


def retention_apply(now: dt.datetime | None = None) -> tuple[list[str], int, int]:
    """Drop raw readings past their retention (whole partitions on PostgreSQL) and old rollups."""
    now = now or timezone.now()
    raw_cutoff = now - dt.timedelta(days=settings.GREENISLE["READINGS_RAW_RETENTION_DAYS"])
    rollup_cutoff = now - dt.timedelta(days=settings.GREENISLE["ROLLUP_RETENTION_DAYS"])
    dropped: list[str] = []
    deleted = 0
    # Raw rows go only once the rollup has read past them.
    mark = RollupWatermark.objects.filter(name="hourly").first()
    if mark is not None:
        raw_cutoff = min(raw_cutoff, mark.received_before)
        if partitions.is_partitioned():
            dropped = partitions.partitions_drop_before(raw_cutoff.date())
            # Rows that landed in the DEFAULT partition expire row by row.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {partitions.DEFAULT_PARTITION} WHERE observed_at < %s", [raw_cutoff]
                )
                deleted = cursor.rowcount
        else:
            deleted, _ = Reading.objects.filter(observed_at__lt=raw_cutoff).delete()
    rollups_deleted, _ = ReadingHourly.objects.filter(hour__lt=rollup_cutoff).delete()
    return dropped, deleted, rollups_deleted


def maintain(now: dt.datetime | None = None) -> MaintenanceReport:
    now = now or timezone.now()
    report = MaintenanceReport()
    # Every month a reading may still be accepted for (back to the raw retention) has its partition.
    retention = dt.timedelta(days=settings.GREENISLE["READINGS_RAW_RETENTION_DAYS"])
    report.partitions_created = partitions.partitions_ensure(
        (now - retention).date(), now.date() + dt.timedelta(days=31 * PARTITION_MONTHS_AHEAD)
    )
    report.hours_rolled_up = rollup(now)
    report.partitions_dropped, report.raw_deleted, report.rollups_deleted = retention_apply(now)
    report.forecasts = forecast_update(now)
    report.offline_opened, report.offline_cleared = alerts.offline_scan(now)
    report.door_opened, report.door_cleared = alerts.door_scan(now)
    return report
