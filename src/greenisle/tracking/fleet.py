"""Which trucks the simulator drives (``greenisle simulate_trucks``, :mod:`greenisle.tracking.simulator`),
read from the database before anything is sent.

- With ``plan_as`` (a dispatcher's username; the demo passes ``dispatcher``), the dispatcher's collector
  gets a plan for the day when it has no published trips yet: requested, run and published through the
  route-plan services as that dispatcher (:func:`demo_plan_ensure`).
- Every truck with a trip of the day (``tracking.selectors.trips_published_on``) drives. A truck without a
  terminal gets one (``services.terminal_provision``): its phone number is derived from its plate
  (:func:`phone_for_plate`), bound to the truck, so that the platform knows it before it first connects,
  as an installer would have done.
- The trucks alternate between JT/T 808-2019 and 2013 terminals, by plate order (the first 2019).
- Each truck's day is its trips' planned paths (``selectors.trip_planned_path``), driven by
  :func:`greenisle.tracking.motion.itinerary_build`. One truck strays (:func:`motion.stray_choose`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from greenisle.tracking.alerts import PathPoint
from greenisle.tracking.jt808.terminal import TerminalIdentity
from greenisle.tracking.motion import Itinerary, Stray, itinerary_build, stray_choose

__all__ = ["Truck", "demo_plan_ensure", "fleet_load", "phone_for_plate"]

_log = logging.getLogger("greenisle.tracking.simulator")

# 危险货物运输车 plates are often recorded with the 危 mark; terminals report the plate alone.
_DANGEROUS_GOODS_MARK = "危"


def phone_for_plate(plate: str, attempt: int = 0) -> str:
    """An 11-digit SIM number for a truck's terminal, derived from its plate (``14`` and nine digits of a
    hash; ``attempt`` > 0 gives another when that one is taken). It fits both the 2013 header's BCD[6]
    and the 2019 header's BCD[10]."""
    digest = hashlib.sha256(f"{plate}#{attempt}".encode()).digest()
    return "14" + f"{int.from_bytes(digest[:8], 'big') % 10**9:09d}"


@dataclasses.dataclass
class Truck:
    """One simulated truck: who its terminal is and what it drives today."""

    vehicle_id: uuid.UUID
    plate: str
    collector_id: uuid.UUID
    identity: TerminalIdentity
    trip_ids: tuple[uuid.UUID, ...]
    itinerary: Itinerary
    stray: Stray | None = None
    odometer_base_km: float = 0.0

    @property
    def seed(self) -> str:
        return self.identity.phone


def demo_plan_ensure(
    *, username: str, day: dt.date, seconds: int = 5, log: Callable[[str], None], timeout_s: float = 600.0
) -> uuid.UUID | None:
    """Make sure the collector where ``username`` is a dispatcher has published trips on ``day``: if it
    has none, request a plan as that dispatcher, run it (a task worker may take it first: then wait for
    it), and publish it. Returns the collector's id (None when the user is no dispatcher)."""
    from greenisle.accounts.choices import Role
    from greenisle.accounts.models import User
    from greenisle.core.errors import ServiceError
    from greenisle.dispatch.choices import PlanStatus, RequestStatus
    from greenisle.dispatch.models import PickupRequest, RoutePlan
    from greenisle.dispatch.route_plans import route_plan_publish, route_plan_request, route_plan_run
    from greenisle.organizations.choices import OrganizationKind
    from greenisle.tracking.selectors import trips_published_on

    user = User.objects.filter(username=username).first()
    membership = (
        None
        if user is None
        else user.memberships.filter(role=Role.DISPATCHER, organization__kind=OrganizationKind.COLLECTOR)
        .select_related("organization")
        .order_by("created_at")
        .first()
    )
    if user is None or membership is None:
        log(f"{username} 不是收集单位的调度 / {username} is no collector's dispatcher: not planning")
        return None
    # The demo dispatcher also administers a second collector: act as the dispatcher of the first.
    user.set_current_membership(membership)
    collector = membership.organization
    # A trip a dispatcher assigned by hand is not the day's plan: plan when no published plan has trips.
    if trips_published_on(day).filter(collector=collector, plan__isnull=False).exists():
        return collector.pk
    if day < timezone.localdate():
        log(f"{day} 已过去，不能规划 / {day} is past: cannot plan it")
        return collector.pk
    if not PickupRequest.objects.filter(collector=collector, status=RequestStatus.OPEN).exists():
        log(f"{collector} 没有待派请求 / {collector} has no open requests: nothing to plan")
        return collector.pk
    try:
        plan = route_plan_request(actor=user, service_date=day, seconds=seconds)
        log(f"为 {collector} 规划 {day} / planning {day} for {collector} ({seconds} s)")
        route_plan_run(plan_id=plan.pk)
        deadline = time.monotonic() + timeout_s
        status = RoutePlan.objects.values_list("status", flat=True).get(pk=plan.pk)
        while status in (PlanStatus.QUEUED, PlanStatus.SOLVING) and time.monotonic() < deadline:
            time.sleep(1.0)
            status = RoutePlan.objects.values_list("status", flat=True).get(pk=plan.pk)
        if status == PlanStatus.READY:
            route_plan_publish(actor=user, plan_id=plan.pk)
            log(f"已发布 / published: {trips_published_on(day).filter(collector=collector).count()} trips")
        elif status != PlanStatus.PUBLISHED:
            error = RoutePlan.objects.values_list("error", flat=True).get(pk=plan.pk)
            log(f"规划未成功 / the plan is {status}: {error}")
    except ServiceError as exc:
        log(f"规划被拒 / planning refused: {exc.message}")
    return collector.pk


def _terminal_of(vehicle: Any, log: Callable[[str], None]) -> Any:
    from greenisle.core.errors import ServiceError
    from greenisle.tracking.models import Terminal
    from greenisle.tracking.services import terminal_provision

    terminal = Terminal.objects.filter(vehicle=vehicle).first()
    if terminal is not None:
        return terminal
    for attempt in range(20):
        phone = phone_for_plate(vehicle.plate, attempt)
        if Terminal.objects.filter(phone=phone).exists():
            continue
        try:
            terminal = terminal_provision(vehicle=vehicle, phone=phone, source="simulate_trucks")
        except ServiceError:
            continue
        log(f"{vehicle.plate}: 新建终端 / terminal created, phone {terminal.phone}")
        return terminal
    log(f"{vehicle.plate}: 无法分配终端手机号 / no free phone number for its terminal")
    return None


def _plate_key(plate: str) -> str:
    return "".join(plate.split()).upper().removesuffix(_DANGEROUS_GOODS_MARK)


def fleet_load(
    *,
    day: dt.date,
    speed_kmh: float,
    stray: str = "auto",
    stray_collector: uuid.UUID | None = None,
    log: Callable[[str], None] = _log.info,
) -> list[Truck]:
    """The trucks that drive on ``day``, with their terminals (created when missing) and their days.
    ``stray``: ``auto`` (the first truck, by plate, of ``stray_collector`` or of all), ``none``, or a
    plate."""
    from greenisle.dispatch.choices import RequestStatus
    from greenisle.dispatch.models import TripStop
    from greenisle.tracking.selectors import trip_planned_path, trips_published_on

    shifts: dict[uuid.UUID, list[Any]] = {}
    waiting = set(
        TripStop.objects.filter(trip__service_date=day, request__status=RequestStatus.ASSIGNED).values_list(
            "trip_id", flat=True
        )
    )
    for trip in trips_published_on(day):
        # A trip whose every stop is collected already has been driven.
        if trip.pk in waiting:
            shifts.setdefault(trip.vehicle_id, []).append(trip)
    ordered = sorted(shifts.values(), key=lambda trips: trips[0].vehicle.plate)
    candidates = [
        t[0].vehicle for t in ordered if stray_collector is None or t[0].collector_id == stray_collector
    ]
    if stray == "none":
        stray_vehicle = None
    elif stray == "auto":
        stray_vehicle = candidates[0].pk if candidates else None
    else:
        wanted = _plate_key(stray)
        stray_vehicle = next(
            (t[0].vehicle_id for t in ordered if _plate_key(t[0].vehicle.plate) == wanted), None
        )
        if stray_vehicle is None:
            log(f"{stray}: 当天没有该车的出车任务 / no trip of that truck on {day}: nobody strays")
    trucks: list[Truck] = []
    for index, trips in enumerate(ordered):
        vehicle = trips[0].vehicle
        terminal = _terminal_of(vehicle, log)
        if terminal is None:
            continue
        if not terminal.enabled:
            log(f"{vehicle.plate}: 终端已停用，跳过 / terminal disabled: skipped")
            continue
        paths: list[list[PathPoint]] = [path for path in (trip_planned_path(t) for t in trips) if path]
        if not paths:
            continue
        detour = stray_choose(paths) if vehicle.pk == stray_vehicle else None
        # A trip a dispatcher assigned by hand has no planned times: it starts now.
        itinerary = itinerary_build(paths, speed_kmh=speed_kmh, stray=detour, not_before=timezone.now())
        if not itinerary.legs:
            continue
        division = vehicle.collector.division_id or ""
        phone = terminal.phone
        edition = 2019 if index % 2 == 0 else 2013
        trucks.append(
            Truck(
                vehicle_id=vehicle.pk,
                plate=vehicle.plate,
                collector_id=vehicle.collector_id,
                identity=TerminalIdentity(
                    phone=phone,
                    edition=edition,
                    plate=_plate_key(vehicle.plate),
                    # JT/T 808-2019 8.8: province and city/county ids are the GB/T 2260 code's first two
                    # and last four digits.
                    province=int(division[:2]) if division[:2].isdigit() else 0,
                    city=int(division[2:6]) if division[2:6].isdigit() else 0,
                    terminal_id=("GI" + phone[-5:])[:7],
                    imei=("86" + phone.rjust(13, "0"))[:15],
                ),
                trip_ids=tuple(t.pk for t in trips),
                itinerary=itinerary,
                stray=detour,
                odometer_base_km=float(int(phone[-5:]) % 90_000 + 8_000),
            )
        )
    return trucks
