"""From the database to the planner's problem, and the plan to and from JSON.

A day's problem for a collector: its open pickup requests (required stops), its bins predicted to
reach their threshold before the next day's plan (optional stops with a prize), its depots, and
its trucks in service. Times are seconds from local midnight of the service day; costs are in
units of 0.00001 yuan, so that a truck's cost per metre and per second are whole numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone as dj_timezone

from greenisle.devices.models import Bin
from greenisle.dispatch.choices import BLOCKING_STATUSES, RequestStatus
from greenisle.dispatch.matrix import matrices_for
from greenisle.dispatch.models import Depot as DepotRow
from greenisle.dispatch.models import PickupRequest, WasteClassGroup
from greenisle.dispatch.models import Vehicle as VehicleRow
from greenisle.dispatch.optimization.model import (
    Depot,
    Plan,
    Problem,
    Route,
    Stop,
    Unplanned,
    Vehicle,
    Visit,
)

COST_UNITS_PER_YUAN = 100_000
LOCAL = ZoneInfo("Asia/Shanghai")
UNCLASSIFIED = "未分组 / unclassified"


def day_origin(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=LOCAL)


def _seconds(value: dt.time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def category_groups(collector: Any) -> dict[str, str]:
    """Hazard category code (HW08 …) → the name of its compatible group at this collector."""
    mapping: dict[str, str] = {}
    for group in WasteClassGroup.objects.filter(collector=collector).prefetch_related("categories"):
        for category in group.categories.all():
            mapping[category.code] = group.name
    return mapping


def bin_group(codes: list[str], groups: dict[str, str]) -> str:
    """The group of what a bin holds (``codes`` are hazard categories, HW08 …). A bin whose codes span several groups (it should not exist:
    GB 18597-2023 keeps incompatible wastes apart) is its own group, so it travels alone."""
    names = {groups.get(code, UNCLASSIFIED) for code in codes}
    if not names:
        return UNCLASSIFIED
    if len(names) == 1:
        return names.pop()
    return " + ".join(sorted(names))


def site_stop(
    stop_id: str,
    site: Any,
    load: int,
    meta: dict[str, Any],
    *,
    required: bool,
    prize: int,
    categories: list[str],
    groups: dict[str, str],
) -> tuple[Stop, dict[str, Any]]:
    """A stop at ``site`` (its collection hours and time on site) and what pages show of it."""
    group = bin_group(categories, groups) if categories else UNCLASSIFIED
    stop = Stop(
        id=stop_id,
        load_kg=max(1, load),
        x=float(site.longitude),
        y=float(site.latitude),
        service_s=site.service_minutes * 60,
        open_s=_seconds(site.opens_at),
        close_s=_seconds(site.closes_at),
        required=required,
        prize=prize,
        waste_class=group,
        codes=frozenset(meta.get("codes", ())),
        categories=frozenset(categories),
    )
    return stop, {
        **meta,
        "site": site.name,
        "address": site.address,
        "lat": float(site.latitude),
        "lon": float(site.longitude),
        "load_kg": stop.load_kg,
        "class": group,
        "required": required,
    }


def request_stop(request: PickupRequest, groups: dict[str, str]) -> tuple[Stop, dict[str, Any]]:
    """An open pickup request as a required stop: its bin's load at the request and its codes."""
    if request.bin is not None:
        fill = request.fill_pct_at_open or Decimal(80)
        load = int(request.bin.capacity_kg * fill / 100)
        codes = [c.code for c in request.bin.waste_codes.all()]
        cats = [c.category.code for c in request.bin.waste_codes.all()]
    else:
        load = int(settings.GREENISLE["PLANNING_DEFAULT_LOAD_KG"])
        codes, cats = [], []
    meta = {"kind": "request", "request": str(request.pk), "producer": request.producer.name, "codes": codes}
    return site_stop(
        f"r:{request.pk}", request.site, load, meta, required=True, prize=0, categories=cats, groups=groups
    )


@dataclasses.dataclass(frozen=True)
class DayProblem:
    problem: Problem
    # What each stop is: {"kind": "request"|"bin", "request"|"bin": id, "site", "producer", "lat", "lon"}
    stops: dict[str, dict[str, Any]]
    depots: dict[str, dict[str, Any]]
    vehicles: dict[str, dict[str, Any]]


def day_problem(*, collector: Any, day: dt.date, now: dt.datetime | None = None) -> DayProblem:
    cfg = settings.GREENISLE
    depots = list(DepotRow.objects.filter(collector=collector).order_by("name"))
    vehicles = list(
        VehicleRow.objects.filter(
            collector=collector, active=True, depot__isnull=False, dg_permit_valid_to__gte=day
        )
        .prefetch_related("class_groups", "licensed_codes")
        .order_by("plate")
    )
    groups = category_groups(collector)
    requests = list(
        PickupRequest.objects.filter(collector=collector, status=RequestStatus.OPEN)
        .select_related("site", "producer", "bin")
        .prefetch_related("bin__waste_codes__category")
        .order_by("opened_at")
    )
    stops: list[Stop] = []
    stop_meta: dict[str, dict[str, Any]] = {}
    points: list[tuple[float, float]] = [(float(d.latitude), float(d.longitude)) for d in depots]

    def add(stop_id: str, site: Any, load: int, meta: dict[str, Any], **kwargs: Any) -> None:
        stop, stop_meta[stop_id] = site_stop(stop_id, site, load, meta, **kwargs)
        stops.append(stop)
        points.append((float(site.latitude), float(site.longitude)))

    for request in requests:
        stop, stop_meta[stop.id] = request_stop(request, groups)
        stops.append(stop)
        points.append((stop.y, stop.x))
    # Bins predicted to reach their threshold before tomorrow's plan and not already asked for.
    horizon = day_origin(day + dt.timedelta(days=1)) + dt.timedelta(hours=7)
    prize = int(cfg["PLANNING_PREDICTED_PRIZE_YUAN"] * COST_UNITS_PER_YUAN)
    predicted = (
        Bin.objects.filter(
            collector=collector,
            enabled=True,
            state__predicted_full_at__lte=horizon,
        )
        .exclude(pickup_requests__status__in=BLOCKING_STATUSES)
        .select_related("site__organization", "state")
        .prefetch_related("waste_codes__category")
        .order_by("serial")
    )
    for device in predicted:
        fill = device.state.fill_pct or Decimal(0)
        load = int(device.capacity_kg * max(fill, device.threshold_pct) / 100)
        cats = [c.category.code for c in device.waste_codes.all()]
        add(
            f"b:{device.pk}",
            device.site,
            load,
            {
                "kind": "bin",
                "bin": str(device.pk),
                "serial": device.serial,
                "producer": device.site.organization.name,
                "fill_pct": float(fill),
                "predicted_full_at": device.state.predicted_full_at.isoformat()
                if device.state.predicted_full_at
                else None,
                "codes": [c.code for c in device.waste_codes.all()],
            },
            required=False,
            prize=prize,
            categories=cats,
            groups=groups,
        )
    depot_rows = [
        Depot(
            id=str(d.pk),
            x=float(d.longitude),
            y=float(d.latitude),
            open_s=_seconds(d.opens_at),
            close_s=_seconds(d.closes_at),
            service_s=d.unload_minutes * 60,
        )
        for d in depots
    ]
    # A plan for today starts from now: no truck leaves in the past.
    now = now or dj_timezone.now()
    earliest = 0
    if day == now.astimezone(LOCAL).date():
        local = now.astimezone(LOCAL)
        earliest = local.hour * 3600 + local.minute * 60 + local.second
    all_groups = sorted({s.waste_class for s in stops})
    fleet = []
    for v in vehicles:
        carried = frozenset(g.name for g in v.class_groups.all())
        if carried:
            # Stops of mixed or unknown groups need a truck licensed for everything.
            carried = frozenset(g for g in all_groups if g in carried)
            carried = carried or frozenset({"—"})
        fleet.append(
            Vehicle(
                id=str(v.pk),
                capacity_kg=int(v.capacity_kg),
                start_depot=str(v.depot_id),
                end_depot=str(v.depot_id),
                shift_start_s=max(_seconds(v.shift_start), earliest),
                shift_end_s=_seconds(v.shift_end),
                unit_distance_cost=int(v.cost_per_km * COST_UNITS_PER_YUAN / 1000),
                unit_duration_cost=int(v.cost_per_hour * COST_UNITS_PER_YUAN / 3600),
                waste_classes=carried,
                reload_depots=tuple(str(d.pk) for d in depots),
                licensed_codes=frozenset(c.code for c in v.licensed_codes.all()),
                category_limits=tuple(
                    sorted((str(k), int(kg)) for k, kg in (v.category_limits_kg or {}).items())
                ),
            )
        )
    matrices = matrices_for(points)
    problem = Problem(
        depots=depot_rows, stops=stops, vehicles=fleet, distance=matrices.distance, duration=matrices.duration
    )
    return DayProblem(
        problem=problem,
        stops=stop_meta,
        depots={
            str(d.pk): {
                "name": d.name,
                "lat": float(d.latitude),
                "lon": float(d.longitude),
                "address": d.address,
            }
            for d in depots
        },
        vehicles={str(v.pk): {"plate": v.plate, "capacity_kg": float(v.capacity_kg)} for v in vehicles},
    )


# --- JSON --------------------------------------------------------------------------------------------


def stop_to_json(stop: Stop) -> dict[str, Any]:
    return {**dataclasses.asdict(stop), "codes": sorted(stop.codes), "categories": sorted(stop.categories)}


def problem_to_json(day: DayProblem) -> dict[str, Any]:
    """The problem without its matrices (they are recomputed from the coordinates)."""
    p = day.problem
    return {
        "depots": [dataclasses.asdict(d) for d in p.depots],
        "stops": [stop_to_json(s) for s in p.stops],
        "vehicles": [
            {
                **dataclasses.asdict(v),
                "waste_classes": sorted(v.waste_classes),
                "reload_depots": list(v.reload_depots),
                "licensed_codes": sorted(v.licensed_codes),
                "category_limits": [list(x) for x in v.category_limits],
            }
            for v in p.vehicles
        ],
        "stop_meta": day.stops,
        "depot_meta": day.depots,
        "vehicle_meta": day.vehicles,
    }


def problem_from_json(data: dict[str, Any]) -> DayProblem:
    depots = [Depot(**d) for d in data["depots"]]
    stops = [
        Stop(
            **{**s, "codes": frozenset(s.get("codes", ())), "categories": frozenset(s.get("categories", ()))}
        )
        for s in data["stops"]
    ]
    vehicles = [
        Vehicle(
            **{
                **v,
                "waste_classes": frozenset(v["waste_classes"]),
                "reload_depots": tuple(v["reload_depots"]),
                "licensed_codes": frozenset(v.get("licensed_codes", ())),
                "category_limits": tuple((c, kg) for c, kg in v.get("category_limits", ())),
            }
        )
        for v in data["vehicles"]
    ]
    points = [(d.y, d.x) for d in depots] + [(s.y, s.x) for s in stops]
    matrices = matrices_for(points)
    return DayProblem(
        problem=Problem(depots, stops, vehicles, matrices.distance, matrices.duration),
        stops=data["stop_meta"],
        depots=data["depot_meta"],
        vehicles=data["vehicle_meta"],
    )


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "routes": [
            {
                "vehicle": r.vehicle,
                "distance": r.distance,
                "duration": r.duration,
                "cost": r.cost,
                "visits": [dataclasses.asdict(v) for v in r.visits],
            }
            for r in plan.routes
        ],
        "unplanned": [dataclasses.asdict(u) for u in plan.unplanned],
        "distance": plan.distance,
        "cost": plan.cost,
        "feasible": plan.feasible,
        "assignment": plan.assignment,
    }


def plan_from_json(data: dict[str, Any]) -> Plan:
    return Plan(
        routes=tuple(
            Route(
                vehicle=r["vehicle"],
                visits=tuple(Visit(**v) for v in r["visits"]),
                distance=r["distance"],
                duration=r["duration"],
                cost=r["cost"],
            )
            for r in data["routes"]
        ),
        unplanned=tuple(Unplanned(**u) for u in data["unplanned"]),
        distance=data["distance"],
        cost=data["cost"],
        feasible=data["feasible"],
        assignment=data.get("assignment", {}),
    )
