"""Factories of the tracking app (the shared ones are in tests/factories.py), and a day's planned trip."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import factory
from factories import CollectorFactory, SiteFactory, UserFactory, VehicleFactory
from factory.django import DjangoModelFactory

from greenisle.dispatch.choices import PlanStatus, RequestOrigin, RequestStatus
from greenisle.dispatch.models import Depot, PickupRequest, RoutePlan, Trip, TripStop, Vehicle
from greenisle.dispatch.planning import day_origin
from greenisle.tracking.models import Terminal, TrackPoint

# The test depot (通州) and places around it, a few kilometres apart: (latitude, longitude).
DEPOT = (32.0650, 121.0700)
PLACES = [(32.0900, 121.1000), (32.1100, 121.0600), (32.0800, 121.0300)]


class TerminalFactory(DjangoModelFactory):
    """A registered terminal bound to a truck. The raw auth code is kept on the instance as ``auth_code``."""

    class Meta:
        model = Terminal
        skip_postgeneration_save = True

    phone = factory.Sequence(lambda n: f"1380013{n:04d}")
    vehicle = factory.SubFactory(VehicleFactory)
    manufacturer = "HWCAB"
    model_number = "WASTE-TRUCK-T1"
    terminal_number = factory.Sequence(lambda n: f"T{n:04d}")
    plate_color = 2

    @factory.post_generation
    def auth_code(obj, create, extracted, **kwargs):  # noqa: N805
        if extracted is not None:
            obj.set_auth_code(extracted)
            obj.auth_code = extracted
        else:
            obj.auth_code = obj.issue_auth_code()
        if create:
            obj.save(update_fields=["auth_code_hash"])


class DepotFactory(DjangoModelFactory):
    class Meta:
        model = Depot

    collector = factory.SubFactory(CollectorFactory)
    name = factory.Sequence(lambda n: f"贮存仓库{n}")
    latitude = Decimal(str(DEPOT[0]))
    longitude = Decimal(str(DEPOT[1]))


def fleet_truck(collector: Any, **kwargs: Any) -> Vehicle:
    """A truck of ``collector`` at a depot of it (07:30–18:30 shift)."""
    depot = kwargs.pop("depot", None) or DepotFactory(collector=collector)
    return VehicleFactory(collector=collector, depot=depot, **kwargs)


def planned_trip(
    vehicle: Vehicle,
    *,
    day: dt.date,
    start: dt.time,
    places: Sequence[tuple[float, float]] = PLACES,
    drive_min: int = 15,
    service_min: int = 10,
    unload_after: int | None = None,
    unload_min: int = 20,
    plan_status: str = PlanStatus.PUBLISHED,
    driver: Any = None,
) -> Trip:
    """A trip of ``vehicle`` on ``day`` as publishing a route plan makes it: the plan's result JSON (the
    depot, a visit per stop ``drive_min`` apart, an unload at the depot after stop ``unload_after``, the
    depot again), the trip with its planned times, and a stop per place (a producer's request)."""
    depot = vehicle.depot
    assert depot is not None
    origin = day_origin(day)
    t = int((dt.datetime.combine(day, start, tzinfo=origin.tzinfo) - origin).total_seconds())
    visits: list[dict[str, Any]] = [
        {"stop": None, "depot": str(depot.pk), "arrival_s": t, "start_s": t, "end_s": t, "load_after_kg": 0}
    ]
    requests: list[tuple[PickupRequest, int]] = []
    for n, (lat, lon) in enumerate(places, start=1):
        t += drive_min * 60
        site = SiteFactory(latitude=Decimal(str(lat)), longitude=Decimal(str(lon)))
        request = PickupRequest.objects.create(
            bin=None,
            site=site,
            producer=site.organization,
            collector=vehicle.collector,
            origin=RequestOrigin.PRODUCER,
            status=RequestStatus.ASSIGNED,
            opened_at=origin,
        )
        visits.append(
            {
                "stop": f"r:{request.pk}",
                "depot": None,
                "arrival_s": t,
                "start_s": t,
                "end_s": t + service_min * 60,
                "load_after_kg": 100 * n,
            }
        )
        requests.append((request, t))
        t += service_min * 60
        if unload_after == n:
            t += drive_min * 60
            visits.append(
                {
                    "stop": None,
                    "depot": str(depot.pk),
                    "arrival_s": t,
                    "start_s": t,
                    "end_s": t + unload_min * 60,
                    "load_after_kg": 0,
                }
            )
            t += unload_min * 60
    t += drive_min * 60
    visits.append(
        {"stop": None, "depot": str(depot.pk), "arrival_s": t, "start_s": t, "end_s": t, "load_after_kg": 0}
    )
    plan = RoutePlan.objects.create(
        collector=vehicle.collector,
        service_date=day,
        status=plan_status,
        problem={
            "depot_meta": {
                str(depot.pk): {
                    "name": depot.name,
                    "lat": float(depot.latitude),
                    "lon": float(depot.longitude),
                }
            }
        },
        result={
            "routes": [
                {"vehicle": str(vehicle.pk), "visits": visits, "distance": 0, "duration": 0, "cost": 0}
            ],
            "unplanned": [],
            "distance": 0,
            "cost": 0,
            "feasible": True,
        },
    )
    trip = Trip.objects.create(
        collector=vehicle.collector,
        vehicle=vehicle,
        plan=plan,
        driver=driver or UserFactory(),
        service_date=day,
        planned_start_at=origin + dt.timedelta(seconds=visits[0]["start_s"]),
        planned_end_at=origin + dt.timedelta(seconds=visits[-1]["start_s"]),
    )
    for position, (request, arrival) in enumerate(requests, start=1):
        TripStop.objects.create(
            trip=trip,
            request=request,
            position=position,
            planned_arrival_at=origin + dt.timedelta(seconds=arrival),
        )
    return trip


def track(vehicle: Vehicle, fixes: Sequence[Any], terminal: Terminal | None = None) -> Terminal:
    """Store ``fixes`` (``tracking.alerts.Fix``) as the truck's track points; returns its terminal."""
    terminal = (
        terminal or Terminal.objects.filter(vehicle=vehicle).first() or TerminalFactory(vehicle=vehicle)
    )
    TrackPoint.objects.bulk_create(
        [
            TrackPoint(
                terminal=terminal,
                vehicle=vehicle,
                recorded_at=fix.at,
                received_at=fix.at,
                latitude=Decimal(f"{fix.latitude:.6f}"),
                longitude=Decimal(f"{fix.longitude:.6f}"),
                speed_kmh=Decimal(f"{fix.speed_kmh:.1f}"),
                cabin_temp_c=None if fix.cabin_temp_c is None else round(fix.cabin_temp_c),
                positioned=fix.positioned,
            )
            for fix in fixes
        ]
    )
    return terminal
