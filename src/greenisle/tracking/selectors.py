"""Reads of the track store: where each truck is now, where one truck went, what it was planned to do
(the path the alert rules and the truck simulator follow), and the live fleet map's GeoJSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery, UUIDField
from django.utils import timezone
from django.utils.translation import gettext as _

from greenisle.dispatch.choices import PlanStatus
from greenisle.dispatch.models import Trip, Vehicle
from greenisle.dispatch.planning import day_origin
from greenisle.tracking.alerts import Fix, PathPoint, PlaceKind
from greenisle.tracking.models import TrackPoint, TruckAlert, TruckAlertKind

__all__ = [
    "track_fixes",
    "track_of_vehicle",
    "trip_planned_path",
    "trips_published_on",
    "truck_alert_summary",
    "truck_alerts_open",
    "vehicle_positions_geojson",
    "vehicle_positions_latest",
]


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


def track_fixes(vehicle: Any, start: dt.datetime, end: dt.datetime) -> list[Fix]:
    """The points of ``vehicle`` in [start, end) as the alert rules read them, oldest first."""
    rows = track_of_vehicle(vehicle, start, end).values_list(
        "recorded_at", "latitude", "longitude", "speed_kmh", "cabin_temp_c", "positioned"
    )
    return [
        Fix(
            at=at,
            latitude=float(latitude),
            longitude=float(longitude),
            speed_kmh=float(speed),
            cabin_temp_c=None if temperature is None else float(temperature),
            positioned=positioned,
        )
        for at, latitude, longitude, speed, temperature, positioned in rows
    ]


def trips_published_on(day: dt.date) -> QuerySet[Trip]:
    """The trips of ``day`` that trucks drive: those of a published route plan, and those a dispatcher
    assigned by hand (no plan). By plate, then planned start."""
    return (
        Trip.objects.filter(service_date=day)
        .filter(Q(plan__isnull=True) | Q(plan__status=PlanStatus.PUBLISHED))
        .select_related("vehicle__depot", "vehicle__collector", "plan")
        .order_by("vehicle__plate", "planned_start_at", "created_at")
    )


def _route_of(trip: Trip) -> dict[str, Any] | None:
    """The route of the trip's published plan (a truck with several rounds: the one starting when the
    trip does)."""
    if trip.plan is None or not trip.plan.result:
        return None
    routes = [
        r for r in trip.plan.result.get("routes", []) if r["vehicle"].split("#", 1)[0] == str(trip.vehicle_id)
    ]
    if len(routes) > 1 and trip.planned_start_at is not None:
        origin = day_origin(trip.service_date)
        for route in routes:
            if (
                route["visits"]
                and origin + dt.timedelta(seconds=route["visits"][0]["start_s"]) == trip.planned_start_at
            ):
                return route
    return routes[0] if routes else None


def trip_planned_path(trip: Trip) -> list[PathPoint]:
    """Where the trip's truck is planned to go, in order: its depot, the stops (each with its planned
    arrival and, from the plan, its planned departure), the depots where it unloads on the way, and the
    depot it returns to. The stops are the trip's own (a request closed before publishing is not one);
    the unloads and the times at the depots come from the published plan when there is one."""
    origin = day_origin(trip.service_date)
    route = _route_of(trip)
    depots: dict[str, Any] = (trip.plan.problem or {}).get("depot_meta", {}) if trip.plan is not None else {}

    def at(seconds: Any) -> dt.datetime | None:
        return None if seconds is None else origin + dt.timedelta(seconds=seconds)

    def depot_point(visit: dict[str, Any], kind: PlaceKind) -> PathPoint | None:
        meta = depots.get(visit.get("depot") or "")
        if meta is None:
            return None
        return PathPoint(
            latitude=float(meta["lat"]),
            longitude=float(meta["lon"]),
            kind=kind,
            planned_at=at(visit.get("start_s")),
            leave_at=at(visit.get("end_s")),
        )

    home = trip.vehicle.depot
    visits: list[dict[str, Any]] = route["visits"] if route is not None else []
    path: list[PathPoint] = []
    first = depot_point(visits[0], PlaceKind.DEPOT) if visits else None
    if first is not None:
        path.append(first)
    elif home is not None:
        path.append(
            PathPoint(
                float(home.latitude), float(home.longitude), PlaceKind.DEPOT, planned_at=trip.planned_start_at
            )
        )
    by_stop: dict[str, dict[str, Any]] = {}
    unloads_after: dict[int, list[PathPoint]] = {}
    count = 0
    for visit in visits[1:-1]:
        if visit.get("stop"):
            count += 1
            by_stop[visit["stop"]] = visit
        else:
            unload = depot_point(visit, PlaceKind.UNLOAD)
            if unload is not None:
                unloads_after.setdefault(count, []).append(unload)
    path.extend(unloads_after.get(0, []))
    stops = trip.stops.select_related("request__site").order_by("position")
    for n, stop in enumerate(stops, start=1):
        request = stop.request
        visit = by_stop.get(f"r:{request.pk}") or by_stop.get(f"b:{request.bin_id}") or {}
        path.append(
            PathPoint(
                latitude=float(request.site.latitude),
                longitude=float(request.site.longitude),
                kind=PlaceKind.STOP,
                planned_at=stop.planned_arrival_at or at(visit.get("start_s")),
                leave_at=at(visit.get("end_s")),
            )
        )
        path.extend(unloads_after.get(n, []))
    last = depot_point(visits[-1], PlaceKind.DEPOT) if len(visits) > 1 else None
    if last is not None:
        path.append(last)
    elif home is not None and len(path) > 1:
        path.append(
            PathPoint(
                float(home.latitude), float(home.longitude), PlaceKind.DEPOT, planned_at=trip.planned_end_at
            )
        )
    return path


def truck_alerts_open(collector: Any) -> QuerySet[TruckAlert]:
    """The open truck alerts of ``collector``'s vehicles (an organisation or its id), newest first."""
    collector_id = getattr(collector, "pk", collector)
    return (
        TruckAlert.objects.open()
        .filter(vehicle__collector_id=collector_id)
        .select_related("vehicle")
        .order_by("-started_at", "vehicle__plate")
    )


def truck_alert_summary(kind: str, detail: dict[str, Any]) -> str:
    """One line saying what the rule measured, in the active language."""

    def number(key: str) -> float:
        value = detail.get(key)
        return float(value) if isinstance(value, (int, float)) else 0.0

    if kind == TruckAlertKind.OFF_ROUTE:
        return _("up to %(distance)s m off the route for %(minutes)s min") % {
            "distance": round(number("max_distance_m")),
            "minutes": round(number("duration_s") / 60),
        }
    if kind == TruckAlertKind.UNPLANNED_STOP:
        return _("stopped %(minutes)s min, %(distance)s m from the nearest planned place") % {
            "minutes": round(number("duration_s") / 60),
            "distance": round(number("nearest_planned_m")),
        }
    if kind == TruckAlertKind.OVERTIME:
        return _("%(minutes)s min after the shift end, up to %(distance)s m from the depot") % {
            "minutes": round(number("overtime_s") / 60),
            "distance": round(number("max_distance_m")),
        }
    if kind == TruckAlertKind.CABIN_HOT:
        return _("up to %(temperature)s °C (limit %(limit)s °C)") % {
            "temperature": f"{number('max_temp_c'):g}",
            "limit": f"{number('limit_c'):g}",
        }
    return ""


def _local(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%m-%d %H:%M:%S")


def vehicle_positions_geojson(collector: Any) -> dict[str, Any]:
    """The live fleet map of ``collector``: a GeoJSON FeatureCollection with one point per truck that has
    a position (its newest positioned point: plate, speed, heading, time, cabin temperature and its open
    alerts), and, as the member ``alerts``, every open truck alert of the collector (also of trucks
    without a position), newest first. Kind labels are in the active language."""
    alerts = list(truck_alerts_open(collector))
    rows = [
        {
            "id": alert.pk,
            "vehicle": str(alert.vehicle_id),
            "plate": alert.vehicle.plate,
            "kind": alert.kind,
            "label": str(TruckAlertKind(alert.kind).label),
            "started_at": alert.started_at.isoformat(),
            "started": _local(alert.started_at),
            "latitude": float(alert.latitude),
            "longitude": float(alert.longitude),
            "detail": alert.detail,
            "summary": truck_alert_summary(alert.kind, alert.detail),
        }
        for alert in alerts
    ]
    by_vehicle: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_vehicle.setdefault(row["vehicle"], []).append(
            {"kind": row["kind"], "label": row["label"], "started": row["started"]}
        )
    features = []
    for point in vehicle_positions_latest(collector):
        vehicle_id = str(point.vehicle_id)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [float(point.longitude), float(point.latitude)]},
                "properties": {
                    "vehicle": vehicle_id,
                    "plate": point.vehicle.plate,
                    "speed_kmh": float(point.speed_kmh),
                    "heading": point.heading,
                    "recorded_at": point.recorded_at.isoformat(),
                    "time": _local(point.recorded_at),
                    "cabin_temp_c": point.cabin_temp_c,
                    "alerts": by_vehicle.get(vehicle_id, []),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features, "alerts": rows}
