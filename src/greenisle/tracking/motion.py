"""The simulated truck: where it is at any moment of its day, and the simulated clock. Pure Python, no
Django, no I/O (the simulator, :mod:`greenisle.tracking.simulator`, wires it to JT/T 808 terminals).

The day (:func:`itinerary_build`)
    A truck drives its trips' planned paths (``tracking.alerts.PathPoint``: depot → stops → unloading
    depots → depot) in order, on straight lines at a constant speed. It leaves the depot at the planned
    departure; at a stop it waits for the planned arrival when early (the stop's time window) and stays
    for the planned service time (``leave_at - planned_at``; ``service_s`` when the plan does not say);
    at an unloading depot likewise (``unload_s``). Between trips and before and after them it is parked
    at the depot. Everything is determined by the plan and the speed: the same inputs give the same
    track, however fast the simulation runs.

A stray (:func:`stray_choose`)
    Halfway along one leg the truck turns off at right angles, drives ``offset_m`` away from its route
    to a place far from every planned place, stands there ``stop_s`` and drives back to where it left
    the route, then goes on, late. With the default alert rules this raises an off-route alert and an
    unplanned stop; standing in the sun with the engine off, the cabin heats up past the limit.

Cabin temperature (JT/T 808-2019 location attachment 0x06, whole °C)
    A daily cycle (about 19 °C at 03:00, 29 °C at 15:00 Beijing time) with a little deterministic noise;
    during a stray stop it climbs 18 °C above that within ten minutes, and falls back once moving.

The clock (:class:`SimClock`)
    Simulated time runs ``speed_up`` times faster than the wall clock from ``sim_start``, but never runs
    ahead of it: the platform refuses points from the future and judges its rules against the wall
    clock. Trips that lie in the past are replayed fast; once the simulated time has caught up with
    the wall clock, the trucks drive in real time.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from greenisle.tracking.alerts import PathPoint, PlaceKind
from greenisle.tracking.geo import LatLon, bearing_deg, distance_m, interpolate, offset, polyline_distance_m

__all__ = [
    "DEFAULT_SERVICE_S",
    "DEFAULT_UNLOAD_S",
    "Itinerary",
    "Leg",
    "Phase",
    "Sample",
    "SimClock",
    "Stray",
    "cabin_temperature",
    "itinerary_build",
    "stray_choose",
]

DEFAULT_SERVICE_S: Final = 600.0
DEFAULT_UNLOAD_S: Final = 1200.0
_BEIJING: Final = dt.timezone(dt.timedelta(hours=8))
_SECOND: Final = dt.timedelta(seconds=1)


class Phase(enum.StrEnum):
    PARKED = "parked"
    DRIVING = "driving"
    SERVICE = "service"
    UNLOADING = "unloading"
    STRAY_DRIVE = "stray_drive"
    STRAY_STOP = "stray_stop"


@dataclass(frozen=True, slots=True)
class Leg:
    """A stretch of the day: driving from ``origin`` to ``target`` in [start, end), or standing still
    (``origin == target``). ``km_before`` is the distance driven since the day began."""

    start: dt.datetime
    end: dt.datetime
    origin: LatLon
    target: LatLon
    phase: Phase
    km_before: float = 0.0

    @property
    def km(self) -> float:
        return distance_m(self.origin, self.target) / 1000.0

    @property
    def moving(self) -> bool:
        return self.phase in (Phase.DRIVING, Phase.STRAY_DRIVE)


@dataclass(frozen=True, slots=True)
class Sample:
    """The truck at one moment."""

    at: dt.datetime
    latitude: float
    longitude: float
    speed_kmh: float
    heading: int
    phase: Phase
    odometer_km: float

    @property
    def parked(self) -> bool:
        return self.phase == Phase.PARKED


@dataclass(frozen=True, slots=True)
class Stray:
    """Leave the route on leg ``leg`` (counted over the whole day, 0 = from the first depot) at
    ``fraction`` of its length, drive to ``point``, stand there ``stop_s`` seconds, and come back."""

    leg: int
    fraction: float
    point: LatLon
    stop_s: float


@dataclass(frozen=True)
class Itinerary:
    """A truck's day as consecutive legs; parked at the first origin before them and at the last target
    after them."""

    legs: tuple[Leg, ...]
    speed_kmh: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", [leg.start for leg in self.legs])

    @property
    def departure(self) -> dt.datetime | None:
        """When the truck first leaves its depot."""
        return next((leg.start for leg in self.legs if leg.phase != Phase.PARKED), None)

    @property
    def arrival(self) -> dt.datetime | None:
        """When the truck is back at its depot for the last time."""
        return self.legs[-1].end if self.legs else None

    @property
    def km(self) -> float:
        return self.legs[-1].km_before + self.legs[-1].km if self.legs else 0.0

    def leg_at(self, at: dt.datetime) -> Leg | None:
        starts: list[dt.datetime] = getattr(self, "_starts")  # noqa: B009 - set in __post_init__
        index = bisect.bisect_right(starts, at) - 1
        if index < 0 or at >= self.legs[index].end:
            return None
        return self.legs[index]

    def sample(self, at: dt.datetime) -> Sample:
        """Where the truck is at ``at`` (aware)."""
        if not self.legs:
            raise ValueError("an itinerary without legs has no position")
        leg = self.leg_at(at)
        if leg is None:
            if at < self.legs[0].start:
                place, km = self.legs[0].origin, 0.0
            else:
                place, km = self.legs[-1].target, self.km
            return Sample(at, place[0], place[1], 0.0, 0, Phase.PARKED, km)
        if not leg.moving:
            return Sample(at, leg.origin[0], leg.origin[1], 0.0, 0, leg.phase, leg.km_before)
        span = (leg.end - leg.start).total_seconds()
        fraction = min(1.0, max(0.0, (at - leg.start).total_seconds() / span)) if span > 0 else 1.0
        here = interpolate(leg.origin, leg.target, fraction)
        return Sample(
            at,
            here[0],
            here[1],
            self.speed_kmh,
            round(bearing_deg(leg.origin, leg.target)) % 360,
            leg.phase,
            leg.km_before + fraction * leg.km,
        )

    def on_duty(self, at: dt.datetime) -> bool:
        """Between the first departure and the last arrival, and not parked between two trips."""
        leg = self.leg_at(at)
        return leg is not None and leg.phase != Phase.PARKED

    def next_report(self, after: dt.datetime | None, interval_s: int) -> dt.datetime | None:
        """The next time (whole seconds) after ``after`` at which the terminal reports its location: every
        ``interval_s`` seconds while on duty, and once at the end of every stretch on duty (arriving home);
        None when the day is over."""
        windows = self._duty_windows()
        step = dt.timedelta(seconds=interval_s)
        for start, end in windows:
            if after is not None and after >= end:
                continue
            if after is None or after < start:
                return start
            candidate = _whole(after + step)
            return candidate if candidate < end else end
        return None

    def _duty_windows(self) -> list[tuple[dt.datetime, dt.datetime]]:
        cached: list[tuple[dt.datetime, dt.datetime]] | None = getattr(self, "_windows", None)
        if cached is not None:
            return cached
        windows: list[tuple[dt.datetime, dt.datetime]] = []
        for leg in self.legs:
            if leg.phase == Phase.PARKED:
                continue
            start, end = _ceil(leg.start), _ceil(leg.end)
            if windows and start <= windows[-1][1]:
                windows[-1] = (windows[-1][0], max(windows[-1][1], end))
            else:
                windows.append((start, end))
        object.__setattr__(self, "_windows", windows)
        return windows


def _whole(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


def _ceil(value: dt.datetime) -> dt.datetime:
    whole = _whole(value)
    return whole if whole == value else whole + _SECOND


def _drive_s(a: LatLon, b: LatLon, speed_kmh: float) -> float:
    return distance_m(a, b) / (speed_kmh / 3.6)


def itinerary_build(
    trips: Sequence[Sequence[PathPoint]],
    *,
    speed_kmh: float,
    service_s: float = DEFAULT_SERVICE_S,
    unload_s: float = DEFAULT_UNLOAD_S,
    stray: Stray | None = None,
    not_before: dt.datetime | None = None,
) -> Itinerary:
    """A truck's day from its trips' planned paths (each starting at a depot), in order. A trip without
    planned times starts at ``not_before`` or when the previous one ended."""
    if speed_kmh <= 0:
        raise ValueError("speed must be positive")
    legs: list[Leg] = []
    km = 0.0
    leg_number = 0
    clock: dt.datetime | None = None
    here: LatLon | None = None

    def add(start: dt.datetime, end: dt.datetime, origin: LatLon, target: LatLon, phase: Phase) -> None:
        nonlocal km
        if end <= start:
            return
        leg = Leg(start, end, origin, target, phase, km)
        legs.append(leg)
        km += leg.km

    def drive(start: dt.datetime, origin: LatLon, target: LatLon, phase: Phase) -> dt.datetime:
        end = start + dt.timedelta(seconds=_drive_s(origin, target, speed_kmh))
        add(start, end, origin, target, phase)
        return end

    for path in trips:
        if not path:
            continue
        first = path[0]
        depart = first.leave_at or first.planned_at or clock or not_before
        if depart is None:
            raise ValueError("the first trip needs a planned departure, or not_before")
        if clock is not None and depart < clock:
            depart = clock
        if here is not None and clock is not None and here != first.position:
            # A trip from another depot: drive there first.
            clock = drive(clock, here, first.position, Phase.DRIVING)
            depart = max(depart, clock)
        if clock is not None and legs:
            add(clock, depart, first.position, first.position, Phase.PARKED)
        t = depart
        here = first.position
        for point in path[1:]:
            if stray is not None and leg_number == stray.leg:
                turn = interpolate(here, point.position, stray.fraction)
                t = drive(t, here, turn, Phase.DRIVING)
                t = drive(t, turn, stray.point, Phase.STRAY_DRIVE)
                stop_end = t + dt.timedelta(seconds=stray.stop_s)
                add(t, stop_end, stray.point, stray.point, Phase.STRAY_STOP)
                t = drive(stop_end, stray.point, turn, Phase.STRAY_DRIVE)
                here = turn
            t = drive(t, here, point.position, Phase.DRIVING)
            here = point.position
            leg_number += 1
            if point.kind == PlaceKind.DEPOT and point is path[-1]:
                continue
            default = unload_s if point.kind != PlaceKind.STOP else service_s
            stay = default
            if point.planned_at is not None and point.leave_at is not None:
                stay = max(0.0, (point.leave_at - point.planned_at).total_seconds())
            begin = max(t, point.planned_at) if point.planned_at is not None else t
            end = begin + dt.timedelta(seconds=stay)
            add(t, end, here, here, Phase.UNLOADING if point.kind != PlaceKind.STOP else Phase.SERVICE)
            t = end
        clock = t
    return Itinerary(tuple(legs), speed_kmh)


def stray_choose(
    trips: Sequence[Sequence[PathPoint]],
    *,
    offset_m: float = 2500.0,
    stop_s: float = 900.0,
    clearance_m: float = 1500.0,
) -> Stray | None:
    """Where a truck strays: halfway along the first leg (of its whole day) from which a point
    ``offset_m`` (or 1.5× or 2× that) to one side lies at least ``clearance_m`` from the planned path
    and every planned place; failing that, the candidate farthest from them. None without legs."""
    line = [point.position for path in trips for point in path]
    legs: list[tuple[LatLon, LatLon]] = []
    for path in trips:
        legs.extend((a.position, b.position) for a, b in zip(path, path[1:], strict=False))
    best: tuple[float, Stray] | None = None
    for number, (a, b) in enumerate(legs):
        middle = interpolate(a, b, 0.5)
        heading = bearing_deg(a, b) if a != b else 0.0
        for factor in (1.0, 1.5, 2.0):
            for side in (90.0, -90.0):
                point = offset(middle, heading + side, offset_m * factor)
                clear = min(polyline_distance_m(point, line), min(distance_m(point, p) for p in line))
                candidate = Stray(leg=number, fraction=0.5, point=point, stop_s=stop_s)
                if clear >= clearance_m:
                    return candidate
                if best is None or clear > best[0]:
                    best = (clear, candidate)
    return best[1] if best is not None else None


def _noise(seed: str, at: dt.datetime) -> float:
    """A deterministic value in [-0.5, 0.5) per truck and minute."""
    digest = hashlib.blake2b(f"{seed}:{int(at.timestamp()) // 60}".encode(), digest_size=2).digest()
    return int.from_bytes(digest, "big") / 65536.0 - 0.5


def cabin_temperature(itinerary: Itinerary, at: dt.datetime, *, seed: str = "") -> int:
    """The cabin temperature at ``at``, whole °C (see the module docstring)."""
    local = at.astimezone(_BEIJING)
    hours = local.hour + local.minute / 60.0
    value = 24.0 + 5.0 * math.sin(2 * math.pi * (hours - 9.0) / 24.0) + _noise(seed, at)
    for leg in itinerary.legs:
        if leg.phase != Phase.STRAY_STOP or leg.start > at:
            continue
        if at < leg.end:
            value += 18.0 * min(1.0, (at - leg.start).total_seconds() / 600.0)
        else:
            peak = 18.0 * min(1.0, (leg.end - leg.start).total_seconds() / 600.0)
            value += peak * math.exp(-(at - leg.end).total_seconds() / 240.0)
    return round(value)


@dataclass
class SimClock:
    """Simulated time: ``speed_up`` × the wall clock from (``sim_start``, ``real_start``), never ahead of
    the wall clock. ``wall`` returns the aware wall-clock time."""

    sim_start: dt.datetime
    real_start: dt.datetime
    speed_up: float
    wall: Callable[[], dt.datetime]

    def now(self) -> dt.datetime:
        real = self.wall()
        simulated = self.sim_start + (real - self.real_start) * self.speed_up
        return min(real, simulated)

    def seconds_until(self, at: dt.datetime) -> float:
        """Wall-clock seconds until the simulated time reaches ``at`` (0 when it has)."""
        real_at = self.real_start + (at - self.sim_start) / self.speed_up
        return max(0.0, (max(real_at, at) - self.wall()).total_seconds())
