"""truck.off_route and truck.overtime: one finding per truck alert (opened by the tracking sweep from
the day's plan and track) that lasted N minutes, on the collector running the truck."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tracking.factories import DEPOT, PLACES, fleet_truck, planned_trip, track

from greenisle.dispatch.planning import day_origin
from greenisle.supervision.checks import truck_off_route, truck_overtime
from greenisle.tracking.alerts import Fix
from greenisle.tracking.geo import interpolate, offset
from greenisle.tracking.models import TruckAlert, TruckAlertKind
from greenisle.tracking.services import truck_alerts_sweep
from supervision.checks.helpers import raised

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 5, 12)
ORIGIN = day_origin(DAY)


def at(hours: float) -> dt.datetime:
    return ORIGIN + dt.timedelta(hours=hours)


def stand(place: tuple[float, float], start: dt.datetime, minutes: int) -> list[Fix]:
    return [Fix(start + dt.timedelta(seconds=30 * i), *place) for i in range(1, minutes * 2 + 1)]


@pytest.fixture
def truck(collector: Any) -> Any:
    truck = fleet_truck(collector)
    planned_trip(truck, day=DAY, start=dt.time(9, 0), unload_after=2)
    return truck


@pytest.fixture
def off_route(truck: Any) -> TruckAlert:
    """At 09:00 the truck stands 2.5 km off its first leg for 20 minutes."""
    aside = offset(interpolate(DEPOT, PLACES[0], 0.5), 135.0, 2500)
    fixes = stand(aside, at(9), 20)
    track(truck, fixes)
    truck_alerts_sweep(now=fixes[-1].at)
    return TruckAlert.objects.get(kind=TruckAlertKind.OFF_ROUTE)


@pytest.fixture
def overtime(truck: Any) -> TruckAlert:
    """The shift ends at 17:00; the truck stands at a producer's until 18:00."""
    truck.shift_end = dt.time(17, 0)
    truck.save(update_fields=["shift_end"])
    track(truck, stand(PLACES[2], at(16.5), 90))
    truck_alerts_sweep(now=at(18))
    return TruckAlert.objects.get(kind=TruckAlertKind.OVERTIME)


def test_a_truck_off_route_for_11_minutes_is_a_finding_on_its_collector(
    off_route: TruckAlert, truck: Any, collector: Any, run: Any
) -> None:
    counts = run(truck_off_route, off_route.started_at + dt.timedelta(minutes=11))

    assert counts == {"checked": 1, "breaches": 1, "raised": 1}
    [finding] = raised(truck_off_route)
    assert finding.organization == collector and finding.division_code == collector.division_id
    assert finding.object_type == "tracking.truckalert" and finding.object_id == str(off_route.pk)
    assert finding.evidence["plate"] == truck.plate and finding.evidence["minutes"] == 11
    assert finding.evidence["trip_id"] == str(off_route.trip_id)
    assert finding.evidence["detail"]["max_distance_m"] > 2000
    assert truck.plate in finding.message


def test_off_route_for_9_minutes_is_not_a_finding(off_route: TruckAlert, run: Any) -> None:
    assert run(truck_off_route, off_route.started_at + dt.timedelta(minutes=9))["raised"] == 0


def test_a_cleared_alert_counts_the_minutes_it_lasted(off_route: TruckAlert, run: Any) -> None:
    TruckAlert.objects.filter(pk=off_route.pk).update(
        cleared_at=off_route.started_at + dt.timedelta(minutes=8)
    )
    assert run(truck_off_route, off_route.started_at + dt.timedelta(hours=3))["raised"] == 0

    TruckAlert.objects.filter(pk=off_route.pk).update(
        cleared_at=off_route.started_at + dt.timedelta(minutes=12)
    )
    assert run(truck_off_route, off_route.started_at + dt.timedelta(hours=3))["raised"] == 1


def test_an_alert_older_than_the_lookback_is_left_alone(
    off_route: TruckAlert, run: Any, configure: Any
) -> None:
    assert run(truck_off_route, off_route.started_at + dt.timedelta(days=8))["checked"] == 0
    configure(truck_off_route.RULE.code, lookback_days=10)
    assert run(truck_off_route, off_route.started_at + dt.timedelta(days=8))["raised"] == 1


def test_the_off_route_minutes_are_a_parameter(off_route: TruckAlert, run: Any, configure: Any) -> None:
    configure(truck_off_route.RULE.code, minutes=15)

    assert run(truck_off_route, off_route.started_at + dt.timedelta(minutes=14))["raised"] == 0
    assert run(truck_off_route, off_route.started_at + dt.timedelta(minutes=16))["raised"] == 1


def test_off_route_switched_off_raises_nothing(off_route: TruckAlert, run: Any, configure: Any) -> None:
    configure(truck_off_route.RULE.code, enabled=False)

    assert run(truck_off_route, off_route.started_at + dt.timedelta(hours=1)) == {"enabled": 0}
    assert not raised(truck_off_route)


def test_off_route_a_second_run_raises_nothing_more(off_route: TruckAlert, run: Any) -> None:
    now = off_route.started_at + dt.timedelta(minutes=11)
    assert run(truck_off_route, now)["raised"] == 1
    assert run(truck_off_route, now + dt.timedelta(minutes=30))["raised"] == 0


def test_a_truck_31_minutes_past_its_shift_is_a_finding(
    overtime: TruckAlert, truck: Any, collector: Any, run: Any
) -> None:
    assert overtime.started_at == at(17)

    counts = run(truck_overtime, at(17) + dt.timedelta(minutes=31))

    assert counts["raised"] == 1
    [finding] = raised(truck_overtime)
    assert finding.organization == collector and finding.object_id == str(overtime.pk)
    assert finding.evidence["kind"] == "overtime" and finding.evidence["minutes"] == 31
    # The off-route rule does not take an overtime alert.
    assert run(truck_off_route, at(19))["raised"] == 0


def test_29_minutes_past_the_shift_is_not_a_finding(overtime: TruckAlert, run: Any) -> None:
    assert run(truck_overtime, at(17) + dt.timedelta(minutes=29))["raised"] == 0


def test_the_overtime_minutes_are_a_parameter_and_it_can_be_switched_off(
    overtime: TruckAlert, run: Any, configure: Any
) -> None:
    configure(truck_overtime.RULE.code, minutes=60)
    assert run(truck_overtime, at(17) + dt.timedelta(minutes=59))["raised"] == 0

    configure(truck_overtime.RULE.code, enabled=False)
    assert run(truck_overtime, at(19)) == {"enabled": 0}

    configure(truck_overtime.RULE.code, minutes=60)
    assert run(truck_overtime, at(17) + dt.timedelta(minutes=61))["raised"] == 1
    assert run(truck_overtime, at(17) + dt.timedelta(minutes=90))["raised"] == 0
