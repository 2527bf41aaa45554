"""The simulated truck's day (greenisle.tracking.motion): timetable, reports, stray, clock."""

from __future__ import annotations

import datetime as dt

import pytest

from greenisle.tracking.alerts import PathPoint, PlaceKind
from greenisle.tracking.fleet import phone_for_plate
from greenisle.tracking.geo import distance_m, polyline_distance_m
from greenisle.tracking.motion import Phase, SimClock, cabin_temperature, itinerary_build, stray_choose
from greenisle.tracking.simulator import _batches

T0 = dt.datetime(2026, 5, 12, 0, 30, tzinfo=dt.UTC)
DEPOT = (32.0650, 121.0700)
A, B = (32.0900, 121.1000), (32.1100, 121.0600)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def plan(**stop: object) -> list[PathPoint]:
    return [
        PathPoint(*DEPOT, kind=PlaceKind.DEPOT, planned_at=T0 - minutes(5), leave_at=T0),
        PathPoint(*A, planned_at=T0 + minutes(20), leave_at=T0 + minutes(32)),
        PathPoint(*DEPOT, kind=PlaceKind.UNLOAD),
        PathPoint(*B),
        PathPoint(*DEPOT, kind=PlaceKind.DEPOT),
    ]


def test_the_truck_keeps_the_planned_timetable() -> None:
    itinerary = itinerary_build([plan()], speed_kmh=30, service_s=600, unload_s=1200)
    assert itinerary.departure == T0  # leaves at the planned departure, not the arrival at the depot
    legs = itinerary.legs
    assert [leg.phase for leg in legs] == [
        Phase.DRIVING,
        Phase.SERVICE,
        Phase.DRIVING,
        Phase.UNLOADING,
        Phase.DRIVING,
        Phase.SERVICE,
        Phase.DRIVING,
    ]
    first_drive = distance_m(DEPOT, A) / (30 / 3.6)
    assert legs[0].end == T0 + dt.timedelta(seconds=first_drive)
    # Early at A: it waits for the planned arrival and stays the planned 12 minutes.
    assert legs[1].start == legs[0].end and legs[1].end == T0 + minutes(32)
    assert legs[3].end - legs[3].start == minutes(20)  # unload_s
    assert legs[5].end - legs[5].start == minutes(10)  # service_s
    assert itinerary.km == pytest.approx(
        (2 * distance_m(DEPOT, A) + 2 * distance_m(DEPOT, B)) / 1000, rel=1e-6
    )
    before, moving, after = (
        itinerary.sample(T0 - minutes(30)),
        itinerary.sample(T0 + minutes(3)),
        itinerary.sample(itinerary.arrival + minutes(1)),  # type: ignore[operator]
    )
    assert before.parked and (before.latitude, before.longitude) == DEPOT
    assert moving.phase == Phase.DRIVING and moving.speed_kmh == 30 and 0 < moving.odometer_km < 5
    assert 0 <= moving.heading < 90  # north-east
    assert after.parked and (after.latitude, after.longitude) == DEPOT
    assert after.odometer_km == pytest.approx(itinerary.km)


def test_reports_every_interval_on_duty_and_one_on_arrival() -> None:
    itinerary = itinerary_build([plan()], speed_kmh=30)
    arrival = itinerary.arrival
    assert arrival is not None
    times = []
    at = itinerary.next_report(None, 30)
    while at is not None:
        times.append(at)
        at = itinerary.next_report(at, 30)
    assert times[0] == T0
    assert times[-1] == arrival.replace(microsecond=0) + dt.timedelta(seconds=1 if arrival.microsecond else 0)
    assert all(b - a <= dt.timedelta(seconds=30) for a, b in zip(times, times[1:], strict=False))
    assert all(t.microsecond == 0 for t in times)
    assert itinerary.on_duty(T0 + minutes(1)) and not itinerary.on_duty(T0 - minutes(1))


def test_two_trips_park_between_them() -> None:
    second = [
        PathPoint(*DEPOT, kind=PlaceKind.DEPOT, planned_at=T0 + dt.timedelta(hours=5)),
        PathPoint(*B),
        PathPoint(*DEPOT, kind=PlaceKind.DEPOT),
    ]
    itinerary = itinerary_build([plan(), second], speed_kmh=30)
    parked = [leg for leg in itinerary.legs if leg.phase == Phase.PARKED]
    assert len(parked) == 1 and parked[0].end == T0 + dt.timedelta(hours=5)
    assert not itinerary.on_duty(T0 + dt.timedelta(hours=4))
    gap = itinerary.next_report(parked[0].start + minutes(1), 30)
    assert gap == T0 + dt.timedelta(hours=5)


def test_a_stray_goes_far_from_the_plan_and_comes_back() -> None:
    planned = plan()
    stray = stray_choose([planned])
    assert stray is not None
    line = [p.position for p in planned]
    assert polyline_distance_m(stray.point, line) >= 1500
    straight = itinerary_build([planned], speed_kmh=30)
    strayed = itinerary_build([planned], speed_kmh=30, stray=stray)
    stop = next(leg for leg in strayed.legs if leg.phase == Phase.STRAY_STOP)
    assert stop.end - stop.start == dt.timedelta(seconds=stray.stop_s)
    assert strayed.arrival > straight.arrival  # type: ignore[operator]
    # The cabin heats up while it stands there, and cools down once it drives on.
    assert cabin_temperature(strayed, stop.end) > 35
    assert cabin_temperature(strayed, stop.start) < 33
    assert cabin_temperature(strayed, stop.end + minutes(30)) < 33


def test_the_simulated_clock_replays_the_past_fast_and_never_runs_ahead() -> None:
    real = [dt.datetime(2026, 5, 12, 6, 0, tzinfo=dt.UTC)]
    clock = SimClock(
        sim_start=real[0] - dt.timedelta(hours=2), real_start=real[0], speed_up=60, wall=lambda: real[0]
    )
    assert clock.now() == real[0] - dt.timedelta(hours=2)
    real[0] += dt.timedelta(minutes=1)
    assert clock.now() == real[0] - dt.timedelta(minutes=61)
    assert clock.seconds_until(clock.now() + dt.timedelta(minutes=60)) == pytest.approx(60)
    real[0] += dt.timedelta(minutes=5)
    assert clock.now() == real[0]  # caught up: real time from here
    assert clock.seconds_until(real[0] + dt.timedelta(seconds=30)) == pytest.approx(30)
    future = SimClock(
        sim_start=real[0] + dt.timedelta(hours=1), real_start=real[0], speed_up=60, wall=lambda: real[0]
    )
    assert future.now() == real[0]


def test_terminal_phone_numbers_fit_both_editions_and_batches_fit_a_body() -> None:
    phone = phone_for_plate("苏F·A1234")
    assert len(phone) == 11 and phone.startswith("14") and phone.isdigit()
    assert phone == phone_for_plate("苏F·A1234") != phone_for_plate("苏F·A1234", 1)
    bodies = [bytes(45)] * 60
    batches = _batches(bodies)
    assert sum(len(b) for b in batches) == 60
    assert all(3 + sum(2 + len(x) for x in batch) <= 1023 for batch in batches)
