"""The truck alert sweep (tracking.services.truck_alerts_sweep) against the database: the day's trips,
their planned paths, the tracks, TruckAlert rows and their audit events."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from greenisle.audit.models import Event
from greenisle.dispatch.choices import PlanStatus
from greenisle.dispatch.planning import day_origin
from greenisle.tracking.alerts import Fix, PlaceKind
from greenisle.tracking.geo import distance_m, interpolate, offset
from greenisle.tracking.models import TruckAlert, TruckAlertKind
from greenisle.tracking.selectors import trip_planned_path, trips_published_on
from greenisle.tracking.services import rules_from_settings, truck_alerts_sweep
from tracking.factories import DEPOT, PLACES, fleet_truck, planned_trip, track

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 5, 12)
ORIGIN = day_origin(DAY)
START = ORIGIN + dt.timedelta(hours=9)


def at(hours: float) -> dt.datetime:
    return ORIGIN + dt.timedelta(hours=hours)


def drive(a: tuple[float, float], b: tuple[float, float], start: dt.datetime, every: int = 30) -> list[Fix]:
    seconds = distance_m(a, b) / (30 / 3.6)
    steps = max(1, int(seconds // every))
    return [
        Fix(start + dt.timedelta(seconds=seconds * i / steps), *interpolate(a, b, i / steps), speed_kmh=30.0)
        for i in range(1, steps + 1)
    ]


def stand(place: tuple[float, float], start: dt.datetime, minutes: int, every: int = 30) -> list[Fix]:
    return [Fix(start + dt.timedelta(seconds=every * i), *place) for i in range(1, minutes * 60 // every + 1)]


@pytest.fixture
def truck(collector: Any) -> Any:
    return fleet_truck(collector)


@pytest.fixture
def trip(truck: Any) -> Any:
    return planned_trip(truck, day=DAY, start=dt.time(9, 0), unload_after=2)


def aside() -> tuple[float, float]:
    return offset(interpolate(DEPOT, PLACES[0], 0.5), 135.0, 2500)


def out_and_stay(minutes: int) -> list[Fix]:
    """From the depot at 09:00 to 2.5 km off the first leg, standing there ``minutes``."""
    middle = interpolate(DEPOT, PLACES[0], 0.5)
    fixes = drive(DEPOT, middle, START)
    fixes += drive(middle, aside(), fixes[-1].at)
    fixes += stand(aside(), fixes[-1].at, minutes)
    return fixes


def back(fixes: list[Fix]) -> list[Fix]:
    middle = interpolate(DEPOT, PLACES[0], 0.5)
    more = drive(aside(), middle, fixes[-1].at)
    return more + drive(middle, PLACES[0], more[-1].at)


def test_the_model_kinds_are_the_rules_kinds() -> None:
    from greenisle.tracking.alerts import AlertKind

    assert set(TruckAlertKind.values) == {str(kind) for kind in AlertKind}


def test_the_planned_path_has_the_depot_the_stops_the_unload_and_the_depot(trip: Any) -> None:
    path = trip_planned_path(trip)
    assert [p.kind for p in path] == [
        PlaceKind.DEPOT,
        PlaceKind.STOP,
        PlaceKind.STOP,
        PlaceKind.UNLOAD,
        PlaceKind.STOP,
        PlaceKind.DEPOT,
    ]
    assert [p.position for p in path if p.kind == PlaceKind.STOP] == PLACES
    assert path[0].planned_at == START and path[1].planned_at == START + dt.timedelta(minutes=15)
    assert path[1].leave_at == START + dt.timedelta(minutes=25)
    assert path[-1].position == DEPOT
    assert list(trips_published_on(DAY)) == [trip]


def test_a_trip_assigned_by_hand_goes_from_its_truck_depot_and_back(trip: Any) -> None:
    trip.plan = None
    trip.save(update_fields=["plan"])
    path = trip_planned_path(trip)
    assert [p.kind for p in path] == [PlaceKind.DEPOT] + [PlaceKind.STOP] * 3 + [PlaceKind.DEPOT]
    assert path[0].planned_at == trip.planned_start_at


def test_a_truck_on_its_plan_gets_no_alert(trip: Any, truck: Any) -> None:
    fixes = stand(DEPOT, START - dt.timedelta(minutes=20), 20)
    here = DEPOT
    for place in [*PLACES, DEPOT]:
        fixes += drive(here, place, fixes[-1].at)
        fixes += stand(place, fixes[-1].at, 12)
        here = place
    track(truck, fixes)
    report = truck_alerts_sweep(now=at(20))
    assert report.as_dict() == {"trucks": 1, "opened": 0, "cleared": 0, "updated": 0}
    assert not TruckAlert.objects.exists()


def test_the_sweep_opens_an_alert_with_its_event_and_clears_it_when_the_truck_is_back(
    trip: Any, truck: Any, collector: Any
) -> None:
    fixes = out_and_stay(8)
    track(truck, fixes)
    now = fixes[-1].at + dt.timedelta(seconds=10)
    report = truck_alerts_sweep(now=now)
    assert report.opened == 1
    alert = TruckAlert.objects.get()
    assert alert.kind == TruckAlertKind.OFF_ROUTE and alert.cleared_at is None
    assert alert.vehicle == truck and alert.trip == trip
    assert alert.started_at > START
    assert alert.detail["max_distance_m"] > 2000
    opened = Event.objects.get(action="tracking.truck_alert.opened")
    assert opened.object_id == str(alert.pk)
    assert opened.organization_id == collector.pk and opened.division_code == collector.division_id
    assert opened.payload["plate"] == truck.plate and opened.payload["kind"] == "off_route"
    assert opened.payload["trip"] == str(trip.pk)

    # Standing on: the same alert, its figures updated, no new event; the stop becomes an alert too.
    more = stand(aside(), fixes[-1].at, 5)
    track(truck, more)
    report = truck_alerts_sweep(now=more[-1].at)
    assert report.opened == 1 and report.updated == 1
    assert set(TruckAlert.objects.values_list("kind", flat=True)) == {"off_route", "unplanned_stop"}
    assert TruckAlert.objects.get(kind="off_route").detail["duration_s"] > alert.detail["duration_s"]

    home = back(fixes + more)
    track(truck, home)
    report = truck_alerts_sweep(now=home[-1].at)
    assert report.cleared == 2
    assert not TruckAlert.objects.open().exists()
    cleared = Event.objects.filter(action="tracking.truck_alert.cleared")
    assert cleared.count() == 2
    assert {e.payload["reason"] for e in cleared} == {"ended"}
    stop = TruckAlert.objects.get(kind="unplanned_stop")
    assert stop.cleared_at == next(f.at for f in home if f.speed_kmh > 3)

    # A sweep that finds nothing new changes nothing.
    events = Event.objects.count()
    assert truck_alerts_sweep(now=home[-1].at + dt.timedelta(minutes=1)).as_dict() == {
        "trucks": 1,
        "opened": 0,
        "cleared": 0,
        "updated": 0,
    }
    assert Event.objects.count() == events


def test_an_episode_between_two_sweeps_is_recorded_opened_and_cleared(trip: Any, truck: Any) -> None:
    fixes = out_and_stay(8)
    fixes += back(fixes)
    track(truck, fixes)
    report = truck_alerts_sweep(now=fixes[-1].at)
    assert report.opened == 1 and report.cleared == 1
    alert = TruckAlert.objects.get()
    assert alert.kind == "off_route" and alert.cleared_at is not None
    actions = list(Event.objects.filter(object_type__icontains="truckalert").values_list("action", flat=True))
    assert actions == ["tracking.truck_alert.opened", "tracking.truck_alert.cleared"]


def test_overtime_follows_the_truck_shift(trip: Any, truck: Any) -> None:
    truck.shift_end = dt.time(17, 0)
    truck.save(update_fields=["shift_end"])
    fixes = stand(PLACES[2], at(16.5), 60)
    track(truck, fixes)
    assert truck_alerts_sweep(now=at(16.9)).opened == 0
    assert truck_alerts_sweep(now=at(17.5)).opened == 1
    alert = TruckAlert.objects.get(kind="overtime")
    assert alert.started_at == at(17) and alert.cleared_at is None
    # The next sweep finds the same episode (it started at the shift end): its figures move on.
    report = truck_alerts_sweep(now=at(17.6))
    assert (report.opened, report.cleared, report.updated) == (0, 0, 1)
    assert TruckAlert.objects.get().detail["overtime_s"] == 36 * 60


def test_thresholds_come_from_the_settings(settings: Any, trip: Any, truck: Any) -> None:
    settings.GREENISLE = {**settings.GREENISLE, "TRUCK_OFF_ROUTE_S": 3600, "TRUCK_STOP_S": 3600}
    rules = rules_from_settings()
    assert rules.off_route_s == 3600 and rules.stop_radius_m == 300 and rules.cabin_limit_c == 35
    track(truck, out_and_stay(20))
    assert truck_alerts_sweep(now=at(12)).opened == 0


def test_an_unpublished_plan_is_not_judged(truck: Any) -> None:
    planned_trip(truck, day=DAY, start=dt.time(9, 0), plan_status=PlanStatus.READY)
    track(truck, out_and_stay(20))
    assert truck_alerts_sweep(now=at(12)).trucks == 0


def test_an_alert_left_open_from_an_earlier_day_is_cleared_at_midnight(truck: Any) -> None:
    alert = TruckAlert.objects.create(
        vehicle=truck, kind="overtime", started_at=at(-5), latitude=32, longitude=121, detail={}
    )
    report = truck_alerts_sweep(now=at(8))
    assert report.trucks == 0 and report.cleared == 1
    alert.refresh_from_db()
    assert alert.cleared_at == ORIGIN
    assert Event.objects.get(action="tracking.truck_alert.cleared").payload["reason"] == "no_trip"


def test_one_open_alert_per_truck_and_kind(truck: Any) -> None:
    TruckAlert.objects.create(vehicle=truck, kind="cabin_hot", started_at=at(9), latitude=32, longitude=121)
    with pytest.raises(IntegrityError), transaction.atomic():
        TruckAlert.objects.create(
            vehicle=truck, kind="cabin_hot", started_at=at(10), latitude=32, longitude=121
        )
    TruckAlert.objects.create(
        vehicle=truck, kind="cabin_hot", started_at=at(8), cleared_at=at(8.5), latitude=32, longitude=121
    )


def test_tracking_maintain_runs_the_sweep_once(trip: Any, truck: Any) -> None:
    out = io.StringIO()
    call_command("tracking_maintain", stdout=out)
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert {"trucks", "opened", "cleared", "updated", "partitions_created", "at"} <= set(report)
