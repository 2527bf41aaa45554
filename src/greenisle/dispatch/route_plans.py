"""Route plans, the writes: request a day's plan, run the planner, adjust, re-optimise, publish,
insert an urgent request into a published day.

The planner runs as a background task (``dispatch.tasks.route_plan_solve``); everything else is a
service in one transaction with its audit event. The plan itself is the pure model's data as JSON
(``RoutePlan.problem`` and ``.result``); edits go through ``dispatch.optimization.edit``, which
refuses a change that breaks a rule and names it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.permissions import DISPATCH_ROLES, require
from greenisle.audit.services import event_record, transition_apply
from greenisle.core.errors import Conflict, NotFound, ServiceError
from greenisle.dispatch.choices import BLOCKING_STATUSES, PlanStatus, RequestOrigin, RequestStatus
from greenisle.dispatch.models import Driver, PickupRequest, RoutePlan, Trip, TripStop, Vehicle
from greenisle.dispatch.optimization.check import plan_violations
from greenisle.dispatch.optimization.edit import plan_insert, plan_move_stop, plan_reoptimise
from greenisle.dispatch.optimization.model import Plan
from greenisle.dispatch.optimization.schedule import PlanEditError
from greenisle.dispatch.optimization.solver import plan_solve
from greenisle.dispatch.planning import (
    DayProblem,
    category_groups,
    day_origin,
    day_problem,
    plan_from_json,
    plan_to_json,
    problem_from_json,
    problem_to_json,
    request_stop,
    stop_to_json,
)
from greenisle.dispatch.transitions import PLAN_TRANSITIONS, REQUEST_TRANSITIONS

SUPERSEDABLE = [PlanStatus.QUEUED, PlanStatus.READY, PlanStatus.FAILED]


def _event_kwargs(plan: RoutePlan) -> dict[str, Any]:
    return {
        "organization": plan.collector,
        "subject_organization": plan.collector,
        "division_code": plan.collector.division_id,
    }


def _enqueue(plan: RoutePlan) -> None:
    from greenisle.dispatch.tasks import route_plan_solve

    plan_id = str(plan.pk)
    transaction.on_commit(lambda: route_plan_solve.enqueue(plan_id))


def _locked_plan(actor: Any, plan_id: Any) -> tuple[RoutePlan, Any]:
    membership = require(actor, kind="collector", roles=DISPATCH_ROLES)
    plan = (
        RoutePlan.objects.select_for_update(of=("self",))
        .select_related("collector")
        .filter(pk=plan_id, collector=membership.organization)
        .first()
    )
    if plan is None:
        raise NotFound("路线方案不存在 / no such route plan of yours", field="plan_id")
    return plan, membership


@transaction.atomic
def route_plan_request(*, actor: Any, service_date: dt.date, seconds: int | None = None) -> RoutePlan:
    """Queue a plan of ``service_date`` for the actor's collector; earlier unpublished plans of that
    day are superseded."""
    membership = require(actor, kind="collector", roles=DISPATCH_ROLES)
    collector = membership.organization
    seconds = seconds if seconds is not None else settings.GREENISLE["PLANNING_SECONDS"]
    if not 1 <= seconds <= 600:
        raise ServiceError("规划时间须在 1–600 秒 / search time must be 1–600 s", field="seconds")
    if service_date < timezone.localdate():
        raise ServiceError("不能规划过去的日期 / cannot plan a past day", field="service_date")
    for old in RoutePlan.objects.select_for_update().filter(
        collector=collector, service_date=service_date, status__in=SUPERSEDABLE
    ):
        transition_apply(
            table=PLAN_TRANSITIONS,
            obj=old,
            target=PlanStatus.SUPERSEDED,
            role="dispatcher",
            actor=actor,
            organization=collector,
            subject_organization=collector,
            division_code=collector.division_id,
        )
    plan = RoutePlan.objects.create(
        collector=collector, service_date=service_date, seconds=seconds, created_by=actor
    )
    event_record(
        action="dispatch.route_plan.requested",
        obj=plan,
        actor=actor,
        payload={"date": service_date.isoformat(), "seconds": seconds},
        **_event_kwargs(plan),
    )
    _enqueue(plan)
    return plan


def _progress_ticker(plan_id: Any, seconds: float) -> Callable[[], None]:
    """Report the search's progress from the clock, once a second, on a connection of its own.
    Inside a caller's transaction (a test, a script) no other connection could see the plan: no-op."""
    if connection.in_atomic_block:
        return lambda: None
    stop = threading.Event()

    def tick() -> None:
        start = time.monotonic()
        try:
            while not stop.wait(1.0):
                pct = min(99, int(100 * (time.monotonic() - start) / max(seconds, 0.1)))
                RoutePlan.objects.filter(pk=plan_id, status=PlanStatus.SOLVING).update(progress_pct=pct)
        finally:
            connection.close()

    thread = threading.Thread(target=tick, name=f"plan-progress-{plan_id}", daemon=True)
    thread.start()

    def done() -> None:
        stop.set()
        thread.join()

    return done


def route_plan_run(*, plan_id: Any) -> RoutePlan:
    """The task's body: build the problem (or take the stored one, to re-optimise around locked
    routes), search, check the answer, store it. A plan that is no longer queued is left alone."""
    with transaction.atomic():
        plan = RoutePlan.objects.select_for_update(of=("self",)).select_related("collector").get(pk=plan_id)
        if plan.status != PlanStatus.QUEUED:
            return plan
        previous = plan_from_json(plan.result) if plan.result else None
        day = (
            problem_from_json(plan.problem)
            if previous is not None and plan.problem
            else day_problem(collector=plan.collector, day=plan.service_date)
        )
        transition_apply(
            table=PLAN_TRANSITIONS,
            obj=plan,
            target=PlanStatus.SOLVING,
            role="system",
            actor=None,
            payload={"stops": len(day.problem.stops), "vehicles": len(day.problem.vehicles)},
            extra_fields={"problem": problem_to_json(day), "progress_pct": 0, "error": ""},
            **_event_kwargs(plan),
        )
    done = _progress_ticker(plan.pk, plan.seconds)
    error = ""
    result: Plan | None = None
    try:
        if previous is not None and plan.locked_vehicles:
            result = plan_reoptimise(day.problem, previous, locked=plan.locked_vehicles, seconds=plan.seconds)
        else:
            result = plan_solve(day.problem, seconds=plan.seconds)
        violations = plan_violations(day.problem, result)
        if violations:
            error = "; ".join(violations[:20])
    except Exception as exc:  # noqa: BLE001 - a failed search is reported on the plan, not lost
        error = f"{type(exc).__name__}: {exc}"
    finally:
        done()
    with transaction.atomic():
        plan = RoutePlan.objects.select_for_update(of=("self",)).select_related("collector").get(pk=plan_id)
        if error or result is None:
            transition_apply(
                table=PLAN_TRANSITIONS,
                obj=plan,
                target=PlanStatus.FAILED,
                role="system",
                actor=None,
                payload={"error": error[:500]},
                extra_fields={"error": error, "progress_pct": 100},
                **_event_kwargs(plan),
            )
        else:
            transition_apply(
                table=PLAN_TRANSITIONS,
                obj=plan,
                target=PlanStatus.READY,
                role="system",
                actor=None,
                payload={
                    "routes": len(result.routes),
                    "distance_m": result.distance,
                    "unplanned": len(result.unplanned),
                },
                extra_fields={"result": plan_to_json(result), "progress_pct": 100},
                **_event_kwargs(plan),
            )
    return plan


def _ready(plan: RoutePlan) -> None:
    if plan.status != PlanStatus.READY:
        raise Conflict(
            f"方案当前状态为{plan.get_status_display()}，不能修改 / the plan is {plan.status}, not ready",
            field="status",
        )


@transaction.atomic
def route_plan_move_stop(*, actor: Any, plan_id: Any, stop: str, vehicle: str, position: int) -> RoutePlan:
    """The dispatcher moves a stop to another route (or a position in its own)."""
    plan, _membership = _locked_plan(actor, plan_id)
    _ready(plan)
    day = problem_from_json(plan.problem)
    if stop not in day.stops:
        raise NotFound("该站点不在方案中 / no such stop in this plan", field="stop")
    if vehicle.split("#", 1)[0] not in day.vehicles:
        raise NotFound("该车辆不在方案中 / no such vehicle in this plan", field="vehicle")
    if vehicle in plan.locked_vehicles:
        raise Conflict("该路线已锁定 / that route is locked", field="vehicle")
    current = plan_from_json(plan.result)
    source = next((r.vehicle for r in current.routes if stop in r.stop_ids()), None)
    if source in plan.locked_vehicles:
        raise Conflict("该站点所在路线已锁定 / the stop's route is locked", field="stop")
    try:
        moved = plan_move_stop(day.problem, current, stop=stop, vehicle=vehicle, position=position)
    except PlanEditError as exc:
        raise ServiceError(f"不能这样调整 / cannot move it there: {exc}", field="position") from exc
    plan.result = plan_to_json(moved)
    plan.save(update_fields=["result", "updated_at"])
    event_record(
        action="dispatch.route_plan.stop_moved",
        obj=plan,
        actor=actor,
        payload={"stop": stop, "from": source, "to": vehicle, "position": position},
        **_event_kwargs(plan),
    )
    return plan


@transaction.atomic
def route_plan_reoptimise(*, actor: Any, plan_id: Any, locked: list[str]) -> RoutePlan:
    """Keep the ``locked`` routes exactly as they are and plan the rest again (in the background)."""
    plan, membership = _locked_plan(actor, plan_id)
    _ready(plan)
    present = {r["vehicle"] for r in plan.result.get("routes", [])}
    unknown = sorted(set(locked) - present)
    if unknown:
        raise NotFound(f"没有可锁定的路线 / no route to lock: {', '.join(unknown)}", field="locked")
    transition_apply(
        table=PLAN_TRANSITIONS,
        obj=plan,
        target=PlanStatus.QUEUED,
        role="dispatcher",
        actor=actor,
        payload={"locked": sorted(locked)},
        extra_fields={"locked_vehicles": sorted(locked), "progress_pct": 0},
        **_event_kwargs(plan),
    )
    _enqueue(plan)
    return plan


def _driver_user(vehicle: Vehicle, chosen: Any, collector: Any) -> Any:
    if chosen:
        membership = (
            collector.memberships.filter(user_id=chosen, role=Role.DRIVER).select_related("user").first()
        )
        if membership is None:
            raise NotFound(f"司机不存在 / no such driver of yours for {vehicle.plate}", field="drivers")
        return membership.user
    usual = (
        Driver.objects.filter(usual_vehicle=vehicle, active=True, user__isnull=False)
        .select_related("user")
        .first()
    )
    if usual is None:
        raise ServiceError(
            f"请为车辆 {vehicle.plate} 指定司机 / choose a driver for {vehicle.plate}", field="drivers"
        )
    return usual.user


def _request_for_stop(
    stop_id: str, meta: dict[str, Any], collector: Any, now: dt.datetime
) -> PickupRequest | None:
    """The open request a stop stands for; for a bin predicted to fill, one opened now (or the
    one its threshold opened meanwhile). None when the request is no longer open."""
    if meta["kind"] == "request":
        request = (
            PickupRequest.objects.select_for_update(of=("self",))
            .select_related("site", "producer")
            .filter(pk=meta["request"], collector=collector)
            .first()
        )
        return request if request is not None and request.status == RequestStatus.OPEN else None
    blocking = (
        PickupRequest.objects.select_for_update(of=("self",))
        .select_related("site", "producer")
        .filter(bin_id=meta["bin"], status__in=BLOCKING_STATUSES)
        .first()
    )
    if blocking is not None:
        return blocking if blocking.status == RequestStatus.OPEN else None
    from greenisle.devices.models import Bin

    device = Bin.objects.select_related("site__organization").get(pk=meta["bin"])
    request = PickupRequest.objects.create(
        bin=device,
        site=device.site,
        producer=device.site.organization,
        collector=collector,
        origin=RequestOrigin.FORECAST,
        status=RequestStatus.OPEN,
        fill_pct_at_open=meta.get("fill_pct"),
        opened_at=now,
    )
    event_record(
        action="dispatch.pickup_request.opened",
        obj=request,
        subject_organization=request.producer,
        division_code=request.site.division_id,
        payload={"bin": device.serial, "origin": "forecast"},
    )
    return request


def _assign_stops(
    *,
    trip: Trip,
    route: Any,
    day: DayProblem,
    collector: Any,
    actor: Any,
    origin: dt.datetime,
    now: dt.datetime,
    start_position: int = 0,
) -> list[str]:
    """Put a route's stops on ``trip`` (requests → assigned). Returns the stops skipped because
    their request was closed or cancelled since planning."""
    skipped = []
    position = start_position
    for visit in route.visits:
        if visit.stop is None:
            continue
        request = _request_for_stop(visit.stop, day.stops[visit.stop], collector, now)
        if request is None:
            skipped.append(visit.stop)
            continue
        transition_apply(
            table=REQUEST_TRANSITIONS,
            obj=request,
            target=RequestStatus.ASSIGNED,
            role="dispatcher",
            actor=actor,
            organization=collector,
            subject_organization=request.producer,
            division_code=request.site.division_id,
            payload={"trip": str(trip.pk), "vehicle": trip.vehicle.plate},
        )
        position += 1
        TripStop.objects.create(
            trip=trip,
            request=request,
            position=position,
            planned_arrival_at=origin + dt.timedelta(seconds=visit.start_s),
        )
    return skipped


@transaction.atomic
def route_plan_publish(*, actor: Any, plan_id: Any, drivers: dict[str, Any] | None = None) -> RoutePlan:
    """Turn the plan's routes into the day's trips: one trip per truck, its stops in order, each
    request assigned. ``drivers`` maps a vehicle id to a driver's user id; by default each truck
    goes to its usual driver. The manifests follow at each stop (one per producer, 办法 Art. 16)."""
    plan, _membership = _locked_plan(actor, plan_id)
    _ready(plan)
    drivers = drivers or {}
    collector = plan.collector
    day = problem_from_json(plan.problem)
    result = plan_from_json(plan.result)
    violations = plan_violations(day.problem, result)
    if violations:
        raise ServiceError(
            "方案违反约束 / the plan breaks a rule: " + "; ".join(violations[:5]), field="result"
        )
    origin = day_origin(plan.service_date)
    now = timezone.now()
    vehicles = {str(v.pk): v for v in Vehicle.objects.filter(collector=collector)}
    skipped: list[str] = []
    trips = 0
    for route in result.routes:
        vehicle = vehicles[route.vehicle.split("#", 1)[0]]
        if vehicle.dg_permit_valid_to < plan.service_date:
            raise ServiceError(
                f"车辆 {vehicle.plate} 危险货物运输许可已过期 / the permit of {vehicle.plate} has expired",
                field="result",
            )
        user = _driver_user(vehicle, drivers.get(route.vehicle), collector)
        trip = Trip.objects.create(
            collector=collector,
            vehicle=vehicle,
            driver=user,
            service_date=plan.service_date,
            plan=plan,
            planned_start_at=origin + dt.timedelta(seconds=route.visits[0].start_s),
            planned_end_at=origin + dt.timedelta(seconds=route.visits[-1].start_s),
            planned_distance_m=route.distance,
        )
        event_record(
            action="dispatch.trip.created",
            obj=trip,
            actor=actor,
            payload={"vehicle": vehicle.plate, "driver": str(user), "date": plan.service_date.isoformat()},
            **_event_kwargs(plan),
        )
        skipped += _assign_stops(
            trip=trip, route=route, day=day, collector=collector, actor=actor, origin=origin, now=now
        )
        trips += 1
    transition_apply(
        table=PLAN_TRANSITIONS,
        obj=plan,
        target=PlanStatus.PUBLISHED,
        role="dispatcher",
        actor=actor,
        payload={"trips": trips, "skipped": skipped},
        extra_fields={"published_at": now},
        **_event_kwargs(plan),
    )
    return plan


@transaction.atomic
def route_plan_insert_urgent(*, actor: Any, plan_id: Any, request_id: Any) -> RoutePlan:
    """Put an urgent open request into a published day where it disturbs the routes least: the
    cheapest feasible place in one route (the others do not move), else a truck not yet out."""
    plan, membership = _locked_plan(actor, plan_id)
    if plan.status != PlanStatus.PUBLISHED:
        raise Conflict("只能向已发布的方案插单 / only a published plan takes urgent requests", field="status")
    collector = plan.collector
    request = (
        PickupRequest.objects.select_for_update(of=("self",))
        .select_related("site", "producer", "bin")
        .filter(pk=request_id, collector=collector)
        .first()
    )
    if request is None:
        raise NotFound("收运请求不存在 / no such request of yours", field="request_id")
    if request.status != RequestStatus.OPEN:
        raise Conflict("该请求不是待派状态 / the request is not open", field="request_id")
    stop, meta = request_stop(request, category_groups(collector))
    stop_id = stop.id
    data = dict(plan.problem)
    data["stops"] = [*data["stops"], stop_to_json(stop)]
    data["stop_meta"] = {**data["stop_meta"], stop_id: {**meta, "urgent": True}}
    day = problem_from_json(data)
    current = plan_from_json(plan.result)
    running = {r.vehicle.split("#", 1)[0] for r in current.routes}
    spare = [v for v in day.vehicles if v not in running]
    try:
        insertion = plan_insert(day.problem, current, stop_id, spare=spare)
    except PlanEditError as exc:
        raise ServiceError(f"无法插入 / cannot insert: {exc}", field="request_id") from exc
    origin = day_origin(plan.service_date)
    route = insertion.plan.route_of(insertion.vehicle)
    assert route is not None
    vehicle = Vehicle.objects.get(pk=insertion.vehicle.split("#", 1)[0])
    trip = Trip.objects.filter(plan=plan, vehicle=vehicle).first()
    if trip is None:
        trip = Trip.objects.create(
            collector=collector,
            vehicle=vehicle,
            driver=_driver_user(vehicle, None, collector),
            service_date=plan.service_date,
            plan=plan,
            planned_start_at=origin + dt.timedelta(seconds=route.visits[0].start_s),
            planned_end_at=origin + dt.timedelta(seconds=route.visits[-1].start_s),
            planned_distance_m=route.distance,
        )
    # Renumber: the new stop takes its place; every other stop keeps its order and planned time.
    visits = {v.stop: v for v in route.visits if v.stop}
    order = [v.stop for v in route.visits if v.stop]
    existing: dict[str, TripStop] = {}
    for row in trip.stops.select_for_update(of=("self",)).select_related("request"):
        existing[f"r:{row.request_id}"] = row
        if row.request.bin_id is not None:
            existing[f"b:{row.request.bin_id}"] = row
    transition_apply(
        table=REQUEST_TRANSITIONS,
        obj=request,
        target=RequestStatus.ASSIGNED,
        role="dispatcher",
        actor=actor,
        organization=collector,
        subject_organization=request.producer,
        division_code=request.site.division_id,
        payload={"trip": str(trip.pk), "vehicle": vehicle.plate, "urgent": True},
    )
    TripStop.objects.create(
        trip=trip,
        request=request,
        position=order.index(stop_id) + 1,
        planned_arrival_at=origin + dt.timedelta(seconds=visits[stop_id].start_s),
    )
    for n, sid in enumerate(order, start=1):
        if sid != stop_id and sid in existing:
            row = existing[sid]
            row.position = n
            row.planned_arrival_at = origin + dt.timedelta(seconds=visits[sid].start_s)
            row.save(update_fields=["position", "planned_arrival_at", "updated_at"])
    trip.planned_end_at = origin + dt.timedelta(seconds=route.visits[-1].start_s)
    trip.planned_distance_m = route.distance
    trip.save(update_fields=["planned_end_at", "planned_distance_m", "updated_at"])
    plan.problem = data
    plan.result = plan_to_json(insertion.plan)
    plan.save(update_fields=["problem", "result", "updated_at"])
    event_record(
        action="dispatch.route_plan.urgent_inserted",
        obj=plan,
        actor=actor,
        payload={
            "request": str(request.pk),
            "vehicle": vehicle.plate,
            "position": insertion.position,
            "added_cost": insertion.added_cost,
        },
        **_event_kwargs(plan),
    )
    return plan
