"""Reads of the track store: where each truck is now, and where one truck went."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery, UUIDField

from greenisle.dispatch.models import Vehicle
from greenisle.tracking.models import TrackPoint

__all__ = ["track_of_vehicle", "vehicle_positions_latest"]


def vehicle_positions_latest(collector: Any) -> list[TrackPoint]:
    """The newest positioned point of each vehicle of ``collector`` (an organisation or its id) that has
    one, in plate order. Points without a fix (status bit 1 clear) are skipped: their coordinates are not
    a position. Two index lookups per vehicle, whatever the size of the track table."""
    collector_id = getattr(collector, "pk", collector)
    newest = TrackPoint.objects.filter(vehicle=OuterRef("pk"), positioned=True).order_by("-recorded_at")
    latest = (
        Vehicle.objects.filter(collector_id=collector_id)
        .annotate(
            last_terminal=Subquery(newest.values("terminal_id")[:1], output_field=UUIDField()),
            last_at=Subquery(newest.values("recorded_at")[:1]),
        )
        .filter(last_at__isnull=False)
        .values_list("pk", "last_terminal", "last_at")
    )
    keys = {(terminal_id, at): vehicle_id for vehicle_id, terminal_id, at in latest}
    if not keys:
        return []
    points = TrackPoint.objects.filter(pk__in=list(keys)).select_related("vehicle", "terminal")
    return sorted(
        (point for point in points if keys.get((point.terminal_id, point.recorded_at)) == point.vehicle_id),
        key=lambda point: point.vehicle.plate,
    )


def track_of_vehicle(vehicle: Any, start: dt.datetime, end: dt.datetime) -> QuerySet[TrackPoint]:
    """The points of ``vehicle`` (a vehicle or its id) recorded in [start, end), oldest first; whichever
    terminal reported them (a truck may have had its terminal replaced)."""
    vehicle_id = getattr(vehicle, "pk", vehicle)
    return TrackPoint.objects.filter(
        vehicle_id=vehicle_id, recorded_at__gte=start, recorded_at__lt=end
    ).order_by("recorded_at")
