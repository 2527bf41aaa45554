"""Reads of pickup requests, trips and vehicles."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from greenisle.accounts.choices import Role
from greenisle.accounts.models import User
from greenisle.dispatch.models import PickupRequest, RoutePlan, Trip, Vehicle


def request_list_visible_to(user: Any, *, status: str | None = None) -> QuerySet[PickupRequest]:
    qs = PickupRequest.objects.visible_to(user).select_related(
        "bin", "site__division", "producer", "collector", "stop__trip__vehicle"
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def request_get_visible_to(user: Any, request_id: Any) -> PickupRequest | None:
    return request_list_visible_to(user).filter(pk=request_id).first()


def vehicle_list_visible_to(user: Any) -> QuerySet[Vehicle]:
    return Vehicle.objects.visible_to(user).select_related("collector")


def driver_list_for(organization: Any) -> QuerySet[User]:
    return User.objects.filter(
        memberships__organization=organization, memberships__role=Role.DRIVER, is_active=True
    ).distinct()


def trip_list_visible_to(user: Any) -> QuerySet[Trip]:
    return Trip.objects.visible_to(user).select_related("vehicle__depot", "driver", "collector", "plan")


def trip_get_visible_to(user: Any, trip_id: Any) -> Trip | None:
    return (
        trip_list_visible_to(user)
        .prefetch_related(
            "stops__request__site", "stops__request__producer", "stops__request__bin__waste_codes"
        )
        .filter(pk=trip_id)
        .first()
    )


def trips_for_driver(user: Any, day: Any) -> QuerySet[Trip]:
    """A driver's own trips of the day, with their stops in order."""
    return (
        trip_list_visible_to(user)
        .filter(driver=user, service_date=day)
        .prefetch_related(
            "stops__request__site", "stops__request__producer", "stops__request__bin__waste_codes"
        )
    )


# --- route plans -----------------------------------------------------------------------------------

REASON_LABELS = {
    "no_licensed_vehicle": _("no truck is licensed for its waste group"),
    "too_heavy": _("heavier than any licensed truck can carry"),
    "window_unreachable": _("its opening hours cannot be reached within any shift"),
    "fleet": _("the fleet has no room or time left"),
    "not_worth_detour": _("optional, and not worth the detour"),
}
ROUTE_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def route_plan_list_visible_to(user: Any) -> QuerySet[RoutePlan]:
    return RoutePlan.objects.visible_to(user).select_related("collector", "created_by")


def route_plan_get_visible_to(user: Any, plan_id: Any) -> RoutePlan | None:
    return route_plan_list_visible_to(user).filter(pk=plan_id).first()


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def route_plan_view(plan: RoutePlan) -> dict[str, Any]:
    """The plan as pages show it: routes with their stops described, the unplanned with reasons."""
    if not plan.result:
        return {"routes": [], "unplanned": [], "distance_km": None}
    problem = plan.problem
    stops, depots, vehicles = problem["stop_meta"], problem["depot_meta"], problem["vehicle_meta"]
    routes = []
    for n, route in enumerate(plan.result["routes"]):
        base = route["vehicle"].split("#", 1)[0]
        rows = []
        position = 0
        for visit in route["visits"]:
            if visit["stop"] is not None:
                meta = stops[visit["stop"]]
                rows.append(
                    {
                        **meta,
                        "source": meta["kind"],
                        "kind": "stop",
                        "id": visit["stop"],
                        "position": position,
                        "arrival": _clock(visit["start_s"]),
                        "load_after_kg": visit["load_after_kg"],
                    }
                )
                position += 1
            else:
                rows.append(
                    {
                        "kind": "depot",
                        "name": depots[visit["depot"]]["name"],
                        "arrival": _clock(visit["start_s"]),
                        "load_after_kg": visit["load_after_kg"],
                    }
                )
        routes.append(
            {
                "vehicle": route["vehicle"],
                "vehicle_id": base,
                "plate": vehicles[base]["plate"],
                "capacity_kg": vehicles[base]["capacity_kg"],
                "group": plan.result.get("assignment", {}).get(base, ""),
                "distance_km": round(route["distance"] / 1000, 1),
                "start": _clock(route["visits"][0]["start_s"]),
                "end": _clock(route["visits"][-1]["start_s"]),
                "stops": rows,
                "stop_count": sum(1 for r in rows if r["kind"] == "stop"),
                "colour": ROUTE_COLOURS[n % len(ROUTE_COLOURS)],
                "locked": route["vehicle"] in (plan.locked_vehicles or []),
            }
        )
    unplanned = [
        {**stops[u["stop"]], "id": u["stop"], "reason": REASON_LABELS.get(u["reason"], u["reason"])}
        for u in plan.result["unplanned"]
    ]
    return {
        "routes": routes,
        "unplanned": unplanned,
        "unplanned_required": sum(1 for u in unplanned if u.get("required")),
        "distance_km": round(plan.result["distance"] / 1000, 1),
    }


def route_plan_geojson(plan: RoutePlan) -> dict[str, Any]:
    """Routes as lines (depot → stops → depot) and stops as points, for the plan's map."""
    view = route_plan_view(plan)
    depots = plan.problem.get("depot_meta", {}) if plan.problem else {}
    features: list[dict[str, Any]] = []
    for depot_id, depot in depots.items():
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [depot["lon"], depot["lat"]]},
                "properties": {"kind": "depot", "id": depot_id, "name": depot["name"]},
            }
        )
    for route in plan.result.get("routes", []) if plan.result else []:
        match = next(r for r in view["routes"] if r["vehicle"] == route["vehicle"])
        line = []
        for visit in route["visits"]:
            meta = plan.problem["stop_meta"][visit["stop"]] if visit["stop"] else depots[visit["depot"]]
            line.append([meta["lon"], meta["lat"]])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {"kind": "route", "plate": match["plate"], "colour": match["colour"]},
            }
        )
        for row in match["stops"]:
            if row["kind"] == "stop":
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                        "properties": {
                            "kind": "stop",
                            "id": row["id"],
                            "plate": match["plate"],
                            "colour": match["colour"],
                            "position": row["position"] + 1,
                            "producer": row.get("producer", ""),
                            "site": row.get("site", ""),
                            "arrival": row["arrival"],
                        },
                    }
                )
    for row in view["unplanned"]:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                "properties": {
                    "kind": "unplanned",
                    "id": row["id"],
                    "producer": row.get("producer", ""),
                    "reason": str(row["reason"]),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def trip_geojson(trip: Trip) -> dict[str, Any]:
    """A trip for the driver's map: its depot, its stops in order with their planned times, and the
    line between them (with the unloads of its published plan, when it has one)."""
    depot = trip.vehicle.depot
    features: list[dict[str, Any]] = []
    line: list[list[float]] = []
    if depot is not None:
        line.append([float(depot.longitude), float(depot.latitude)])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": line[0]},
                "properties": {"kind": "depot", "name": depot.name},
            }
        )
    unloads_after: dict[int, list[list[float]]] = {}
    if trip.plan is not None and trip.plan.result:
        depots = trip.plan.problem.get("depot_meta", {})
        route = next(
            (r for r in trip.plan.result["routes"] if r["vehicle"].split("#", 1)[0] == str(trip.vehicle_id)),
            None,
        )
        count = 0
        for visit in (route or {"visits": []})["visits"][1:-1]:
            if visit["stop"] is not None:
                count += 1
            elif visit["depot"] in depots:
                d = depots[visit["depot"]]
                unloads_after.setdefault(count, []).append([d["lon"], d["lat"]])
    stops = list(trip.stops.select_related("request__site", "request__producer").order_by("position"))
    for n, stop in enumerate(stops, start=1):
        site = stop.request.site
        point = [float(site.longitude), float(site.latitude)]
        line.append(point)
        line.extend(unloads_after.get(n, []))
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": point},
                "properties": {
                    "kind": "stop",
                    "position": n,
                    "producer": stop.request.producer.name,
                    "site": site.name,
                    "arrival": timezone.localtime(stop.planned_arrival_at).strftime("%H:%M")
                    if stop.planned_arrival_at
                    else "",
                    "colour": ROUTE_COLOURS[0],
                    "plate": trip.vehicle.plate,
                },
            }
        )
    if depot is not None and stops:
        line.append(line[0])
    if len(line) > 1:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {"kind": "route", "plate": trip.vehicle.plate, "colour": ROUTE_COLOURS[0]},
            }
        )
    return {"type": "FeatureCollection", "features": features}
