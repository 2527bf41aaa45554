"""The truck alert rules (greenisle.tracking.alerts) on synthetic tracks, and the geometry under them."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenisle.tracking.alerts import AlertKind, Fix, PathPoint, PlaceKind, Rules, alerts_evaluate
from greenisle.tracking.geo import distance_m, interpolate, offset, polyline_distance_m, segment_distance_m
from greenisle.tracking.motion import Phase, itinerary_build, stray_choose

T0 = dt.datetime(2026, 5, 12, 0, 30, tzinfo=dt.UTC)  # 08:30 in Nantong
DEPOT = (32.0650, 121.0700)
STOPS = [(32.0900, 121.1000), (32.1100, 121.0600)]
SHIFT_END = T0 + dt.timedelta(hours=10)
LATE = T0 + dt.timedelta(hours=12)
# Before the shift end: a track that ends away from the depot is no overtime yet.
NOW = T0 + dt.timedelta(hours=3)


def path() -> list[PathPoint]:
    return [
        PathPoint(*DEPOT, kind=PlaceKind.DEPOT, planned_at=T0),
        PathPoint(*STOPS[0], planned_at=T0 + dt.timedelta(minutes=15)),
        PathPoint(*STOPS[1], planned_at=T0 + dt.timedelta(minutes=45)),
        PathPoint(*DEPOT, kind=PlaceKind.DEPOT, planned_at=T0 + dt.timedelta(minutes=75)),
    ]


def drive(
    a: tuple[float, float], b: tuple[float, float], start: dt.datetime, *, every: int = 30, kmh: float = 30.0
) -> list[Fix]:
    """Fixes every ``every`` s from a to b at ``kmh`` (the last one at b)."""
    seconds = distance_m(a, b) / (kmh / 3.6)
    steps = max(1, math.ceil(seconds / every))
    return [
        Fix(start + dt.timedelta(seconds=seconds * i / steps), *interpolate(a, b, i / steps), speed_kmh=kmh)
        for i in range(1, steps + 1)
    ]


def stand(
    place: tuple[float, float], start: dt.datetime, minutes: float, *, every: int = 30, **extra: object
) -> list[Fix]:
    count = int(minutes * 60 // every)
    return [
        Fix(start + dt.timedelta(seconds=every * i), *place, speed_kmh=0.0, **extra)
        for i in range(1, count + 1)
    ]  # type: ignore[arg-type]


def after(fixes: list[Fix]) -> dt.datetime:
    return fixes[-1].at


def kinds(alerts: Iterable[object]) -> list[str]:
    return [str(a.kind) for a in alerts]  # type: ignore[attr-defined]


# --- geometry -----------------------------------------------------------------------------------------


def test_distances_on_the_ground() -> None:
    assert distance_m((32.0, 121.0), (33.0, 121.0)) == pytest.approx(111_195, rel=1e-3)
    # 0.01° of longitude at 32° N is about 943 m.
    assert distance_m((32.0, 121.0), (32.0, 121.01)) == pytest.approx(943, rel=1e-2)
    a, b = (32.0, 121.0), (32.0, 121.1)
    north = offset(interpolate(a, b, 0.5), 0.0, 1500)
    assert segment_distance_m(north, a, b) == pytest.approx(1500, rel=1e-3)
    # Beyond an end the distance is to that end.
    assert segment_distance_m((32.0, 120.9), a, b) == pytest.approx(distance_m((32.0, 120.9), a), rel=1e-3)
    assert polyline_distance_m(north, [a]) == pytest.approx(distance_m(north, a))
    assert polyline_distance_m(north, []) == math.inf


# --- a truck that follows its plan ------------------------------------------------------------------


def test_truck_following_its_route_raises_no_alert() -> None:
    itinerary = itinerary_build([path()], speed_kmh=27)
    assert itinerary.departure == T0
    fixes = []
    at = T0 - dt.timedelta(minutes=10)
    while at <= itinerary.arrival + dt.timedelta(minutes=30):
        s = itinerary.sample(at)
        fixes.append(Fix(at, s.latitude, s.longitude, s.speed_kmh, cabin_temp_c=26))
        at += dt.timedelta(seconds=30)
    assert alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=LATE) == []


@settings(max_examples=40, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(31.95, 32.15), st.floats(120.90, 121.20)), min_size=1, max_size=5),
    speed=st.floats(15, 60),
    every=st.integers(5, 120),
)
def test_any_truck_on_its_plan_raises_no_alert(
    points: list[tuple[float, float]], speed: float, every: int
) -> None:
    planned = [PathPoint(*DEPOT, kind=PlaceKind.DEPOT, planned_at=T0)]
    planned += [PathPoint(*p) for p in points]
    planned.append(PathPoint(*DEPOT, kind=PlaceKind.DEPOT))
    itinerary = itinerary_build([planned], speed_kmh=speed, service_s=900)
    assert itinerary.arrival is not None
    fixes = []
    at = T0 - dt.timedelta(minutes=5)
    while at <= itinerary.arrival + dt.timedelta(minutes=20):
        s = itinerary.sample(at)
        fixes.append(Fix(at, s.latitude, s.longitude, s.speed_kmh))
        at += dt.timedelta(seconds=every)
    end = itinerary.arrival + dt.timedelta(minutes=10)
    assert alerts_evaluate(path=planned, track=fixes, shift_end=end, now=end + dt.timedelta(hours=1)) == []


# --- off_route ------------------------------------------------------------------------------------------


def detour(minutes_away: float) -> tuple[list[Fix], dt.datetime, tuple[float, float]]:
    """Depot → halfway to the first stop, 2 km aside and standing there ``minutes_away``, back, on."""
    middle = interpolate(DEPOT, STOPS[0], 0.5)
    aside = offset(middle, 135.0, 2000)  # south-east of a leg that runs north-east, away from the rest
    fixes = drive(DEPOT, middle, T0)
    fixes += drive(middle, aside, after(fixes))
    fixes += [Fix(f.at, f.latitude, f.longitude, 35.0) for f in stand(aside, after(fixes), minutes_away)]
    fixes += drive(aside, middle, after(fixes))
    back = after(fixes)
    fixes += drive(middle, STOPS[0], back)
    return fixes, back, aside


def test_off_route_opens_after_five_minutes_away_and_clears_back_on_route() -> None:
    fixes, back, aside = detour(minutes_away=8)
    alerts = alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=NOW)
    assert kinds(alerts) == ["off_route"]
    alert = alerts[0]
    assert alert.cleared_at is not None and alert.started_at < alert.cleared_at <= back
    assert alert.detail["max_distance_m"] == pytest.approx(
        polyline_distance_m(aside, [p.position for p in path()]), abs=2
    )
    assert alert.detail["duration_s"] > 300
    assert distance_m((alert.latitude, alert.longitude), aside) < 1


def test_off_route_is_open_while_the_truck_is_still_away() -> None:
    fixes, _back, _aside = detour(minutes_away=8)
    middle_of_stay = fixes[len(fixes) // 2].at
    alerts = alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=middle_of_stay)
    assert kinds(alerts) == ["off_route"]
    assert alerts[0].is_open


def test_off_route_shorter_than_the_limit_is_no_alert() -> None:
    fixes, _back, _aside = detour(minutes_away=1)
    assert alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=NOW) == []


def test_a_single_gnss_jump_is_not_off_route() -> None:
    fixes = drive(DEPOT, STOPS[0], T0, every=30)
    jump = fixes[3]
    far = offset(jump.position, 300.0, 5000)
    fixes[3] = Fix(jump.at, far[0], far[1], jump.speed_kmh)
    assert alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=NOW) == []


# --- unplanned_stop --------------------------------------------------------------------------------


def test_unplanned_stop_opens_far_from_planned_places_and_clears_when_moving() -> None:
    middle = interpolate(DEPOT, STOPS[0], 0.5)
    # 500 m from the leg: on the route for the off-route rule, far from every planned place.
    layby = offset(middle, 135.0, 500)
    fixes = drive(DEPOT, layby, T0)
    stopped = after(fixes)
    fixes += stand(layby, stopped, 12)
    moved = after(fixes)
    fixes += drive(layby, STOPS[0], moved)
    alerts = alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=NOW)
    assert kinds(alerts) == ["unplanned_stop"]
    alert = alerts[0]
    assert alert.started_at == stopped
    assert alert.cleared_at == fixes[fixes.index(next(f for f in fixes if f.at > moved))].at
    assert alert.detail["duration_s"] == 12 * 60
    assert alert.detail["nearest_planned_m"] > 300


def test_standing_with_jitter_counts_as_standing() -> None:
    layby = offset(interpolate(DEPOT, STOPS[0], 0.5), 135.0, 500)
    fixes = drive(DEPOT, layby, T0)
    # A parked terminal's speed and position wander a little.
    fixes += [
        Fix(f.at, *offset(layby, 90.0 * i, 20), speed_kmh=5.0)
        for i, f in enumerate(stand(layby, after(fixes), 15))
    ]
    alerts = alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=NOW)
    assert kinds(alerts) == ["unplanned_stop"] and alerts[0].is_open


def test_a_long_stop_at_a_planned_stop_or_the_depot_is_no_alert() -> None:
    fixes = stand(DEPOT, T0 - dt.timedelta(hours=1), 55)
    fixes += drive(DEPOT, STOPS[0], T0)
    fixes += stand(STOPS[0], after(fixes), 40)
    fixes += drive(STOPS[0], DEPOT, after(fixes))
    assert alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=LATE) == []


def test_a_short_stop_is_no_alert() -> None:
    layby = offset(interpolate(DEPOT, STOPS[0], 0.5), 135.0, 500)
    fixes = drive(DEPOT, layby, T0)
    fixes += stand(layby, after(fixes), 9)
    fixes += drive(layby, STOPS[0], after(fixes))
    assert alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=NOW) == []


# --- overtime ---------------------------------------------------------------------------------------


def test_overtime_opens_at_the_shift_end_when_away_and_clears_at_the_depot() -> None:
    fixes = stand(STOPS[1], SHIFT_END - dt.timedelta(minutes=20), 30)
    home = after(fixes)
    fixes += drive(STOPS[1], DEPOT, home)
    alerts = alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=LATE)
    overtime = [a for a in alerts if a.kind == AlertKind.OVERTIME]
    assert len(overtime) == 1
    assert overtime[0].started_at == SHIFT_END
    assert overtime[0].cleared_at == next(
        f.at for f in fixes if f.at > home and distance_m(f.position, DEPOT) <= 300
    )
    assert (overtime[0].latitude, overtime[0].longitude) == pytest.approx(STOPS[1])


def test_overtime_is_open_while_away_and_judged_only_after_the_shift_end() -> None:
    fixes = stand(STOPS[1], SHIFT_END - dt.timedelta(minutes=20), 30)
    assert [
        a
        for a in alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=SHIFT_END)
        if a.kind == "overtime"
    ] == []
    now = SHIFT_END + dt.timedelta(minutes=45)
    overtime = [
        a
        for a in alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=now)
        if a.kind == "overtime"
    ]
    assert len(overtime) == 1 and overtime[0].is_open
    assert overtime[0].detail["overtime_s"] == 45 * 60


def test_no_overtime_for_a_truck_home_before_the_shift_end() -> None:
    fixes = stand(DEPOT, SHIFT_END - dt.timedelta(minutes=30), 60)
    assert alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=LATE) == []


def test_overtime_home_is_the_given_depot() -> None:
    other = offset(DEPOT, 90.0, 3000)
    fixes = stand(DEPOT, SHIFT_END - dt.timedelta(minutes=30), 60)
    alerts = alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=LATE, home=other)
    assert "overtime" in kinds(alerts)


# --- cabin_hot ----------------------------------------------------------------------------------------


def test_cabin_hot_opens_above_the_limit_and_clears_only_two_degrees_below() -> None:
    temperatures = [30, 34, 36, 35, 34, 33, 34, 36, 33.5, 32.5, 33, 36]
    fixes = [
        Fix(T0 + dt.timedelta(minutes=i), *DEPOT, cabin_temp_c=t, positioned=i != 2)
        for i, t in enumerate(temperatures)
    ]
    alerts = alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=NOW)
    assert kinds(alerts) == ["cabin_hot", "cabin_hot"]
    first, second = alerts
    # Hovering at 33–36 °C does not flap: one alert from the first reading above 35 to the first below 33.
    assert first.started_at == T0 + dt.timedelta(minutes=2)
    assert first.cleared_at == T0 + dt.timedelta(minutes=9)
    assert first.detail == {"max_temp_c": 36, "limit_c": 35.0}
    assert second.started_at == T0 + dt.timedelta(minutes=11) and second.is_open


def test_cabin_rule_reads_reports_without_a_fix_and_its_own_limit() -> None:
    fixes = [
        Fix(T0 + dt.timedelta(minutes=i), 0.0, 0.0, cabin_temp_c=30.0, positioned=False) for i in range(5)
    ]
    assert alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=NOW) == []
    alerts = alerts_evaluate(
        path=path(), track=fixes, shift_end=SHIFT_END, now=NOW, rules=Rules(cabin_limit_c=28)
    )
    assert kinds(alerts) == ["cabin_hot"]


def test_reports_without_a_fix_do_not_count_for_place() -> None:
    fixes = drive(DEPOT, STOPS[0], T0)
    far = offset(STOPS[0], 0.0, 5000)
    fixes += [Fix(f.at, *far, positioned=False) for f in stand(STOPS[0], after(fixes), 30)]
    assert alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=NOW) == []


def test_fixes_after_now_are_ignored() -> None:
    fixes, back, _aside = detour(minutes_away=8)
    assert (
        alerts_evaluate(path=path(), track=fixes, shift_end=SHIFT_END, now=T0 + dt.timedelta(minutes=1)) == []
    )


def test_no_plan_means_no_place_rules() -> None:
    fixes, _back, _aside = detour(minutes_away=20)
    assert alerts_evaluate(path=[], track=fixes, shift_end=None, now=NOW) == []


# --- the simulated stray ------------------------------------------------------------------------------


def test_a_stray_raises_off_route_unplanned_stop_and_cabin_hot() -> None:
    from greenisle.tracking.motion import cabin_temperature

    planned = path()
    stray = stray_choose([planned])
    assert stray is not None and stray.leg == 0
    itinerary = itinerary_build([planned], speed_kmh=27, stray=stray)
    phases = [leg.phase for leg in itinerary.legs]
    assert Phase.STRAY_STOP in phases
    fixes = []
    at = T0
    assert itinerary.arrival is not None
    while at <= itinerary.arrival:
        s = itinerary.sample(at)
        fixes.append(Fix(at, s.latitude, s.longitude, s.speed_kmh, float(cabin_temperature(itinerary, at))))
        at += dt.timedelta(seconds=30)
    alerts = alerts_evaluate(path=planned, track=fixes, shift_end=SHIFT_END, now=LATE)
    assert sorted(kinds(alerts)) == ["cabin_hot", "off_route", "unplanned_stop"]
    assert all(not a.is_open for a in alerts)
