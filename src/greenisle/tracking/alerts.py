"""Truck alerts: the rules, as a pure function of a truck's planned path and its track. No Django, no I/O.

The sweep (``tracking.services.truck_alerts_sweep``) loads a truck's planned path for the day (depot →
stops → unloading depots → depot, from its published trips), the shift end and the day's track, calls
:func:`alerts_evaluate`, and opens and clears ``TruckAlert`` rows from the answer. The rules:

``off_route``
    The truck is farther than ``off_route_m`` from the planned path for longer than ``off_route_s``. The
    path is the polyline of straight segments between the planned places, so the threshold has to allow
    for roads that are not straight (1 km by default). A single stray fix (a GNSS jump) never raises it:
    the time counted is from the first to the last fix off the route.
``unplanned_stop``
    The truck stands still for longer than ``stop_s`` farther than ``stop_radius_m`` from every planned
    stop and depot. Standing still: speed under ``still_speed_kmh``, or within ``still_radius_m`` of where
    it stopped (a parked terminal's speed and position jitter). A stop the plan does not know is what a
    supervisor wants to see (waste dropped on the way, a detour to a buyer).
``overtime``
    After the shift end the truck is still away (farther than ``stop_radius_m``) from its depot.
``cabin_hot``
    The cabin temperature (JT/T 808-2019 location attachment 0x06) is above ``cabin_limit_c``. It clears
    only below ``cabin_limit_c - cabin_clear_margin_c``, so a temperature hovering at the limit does not
    open and clear an alert at every fix.

These are the platform-side counterparts of alarm bits of the JT/T 808 location report 0x0200 (bit 19
parking timeout, bit 23 route deviation), judged against the day's plan, which the terminal does not know.
《道路运输车辆动态监督管理办法》 (交通运输部令 2013 年第 5 号) has the operator of dangerous-goods trucks approve
their routes and watch its vehicles in real time while they run; these rules are that watch.

Every alert starts when its condition started (the first fix off the route or standing still, the shift
end, the first hot reading) and clears at the first fix where the condition no longer holds; an alert
whose condition still holds at the last fix is open (``cleared_at`` None). Only positioned fixes count
for the rules about place; the cabin rule reads every fix. Fixes later than ``now`` are ignored.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from greenisle.tracking.geo import LatLon, distance_m, polyline_distance_m

__all__ = [
    "DEFAULT_RULES",
    "AlertFound",
    "AlertKind",
    "Fix",
    "PathPoint",
    "PlaceKind",
    "Rules",
    "alerts_evaluate",
]


class AlertKind(enum.StrEnum):
    """The kinds of truck alert (the values of ``TruckAlertKind``)."""

    OFF_ROUTE = "off_route"
    UNPLANNED_STOP = "unplanned_stop"
    OVERTIME = "overtime"
    CABIN_HOT = "cabin_hot"


class PlaceKind(enum.StrEnum):
    """What a point of the planned path is."""

    DEPOT = "depot"
    STOP = "stop"
    UNLOAD = "unload"


@dataclass(frozen=True, slots=True)
class PathPoint:
    """A planned place, in visiting order. ``planned_at`` is the planned arrival (the start of service
    at a stop); ``leave_at`` the planned departure, when the plan says."""

    latitude: float
    longitude: float
    kind: PlaceKind = PlaceKind.STOP
    planned_at: dt.datetime | None = None
    leave_at: dt.datetime | None = None

    @property
    def position(self) -> LatLon:
        return (self.latitude, self.longitude)


@dataclass(frozen=True, slots=True)
class Fix:
    """One track point: aware UTC time, degrees, km/h, °C (None when the terminal does not send it).
    ``positioned`` is False for a report without a GNSS fix (its coordinates are not a position)."""

    at: dt.datetime
    latitude: float
    longitude: float
    speed_kmh: float = 0.0
    cabin_temp_c: float | None = None
    positioned: bool = True

    @property
    def position(self) -> LatLon:
        return (self.latitude, self.longitude)


@dataclass(frozen=True, slots=True)
class Rules:
    """The thresholds (the sweep reads them from ``GREENISLE["TRUCK_…"]``)."""

    off_route_m: float = 1000.0
    off_route_s: float = 300.0
    stop_s: float = 600.0
    stop_radius_m: float = 300.0
    cabin_limit_c: float = 35.0
    cabin_clear_margin_c: float = 2.0
    still_speed_kmh: float = 3.0
    still_radius_m: float = 50.0


DEFAULT_RULES: Final = Rules()


@dataclass(frozen=True, slots=True)
class AlertFound:
    """One alert: where (degrees) and the numbers that describe it (``detail``)."""

    kind: AlertKind
    started_at: dt.datetime
    cleared_at: dt.datetime | None
    latitude: float
    longitude: float
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


def _found(
    kind: AlertKind,
    started_at: dt.datetime,
    cleared_at: dt.datetime | None,
    where: LatLon,
    detail: dict[str, float],
) -> AlertFound:
    return AlertFound(
        kind=kind,
        started_at=started_at,
        cleared_at=cleared_at,
        latitude=round(where[0], 6),
        longitude=round(where[1], 6),
        detail=detail,
    )


def _seconds(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds()


# --------------------------------------------------------------------------------------------------------
# The rules


def _off_route(fixes: Sequence[Fix], line: Sequence[LatLon], rules: Rules) -> list[AlertFound]:
    found: list[AlertFound] = []
    if not line:
        return found
    first: Fix | None = None
    last: Fix | None = None
    peak = 0.0
    peak_at: LatLon = (0.0, 0.0)

    def close(cleared_at: dt.datetime | None) -> None:
        assert first is not None and last is not None
        duration = _seconds(first.at, last.at)
        if duration > rules.off_route_s:
            detail: dict[str, float] = {"max_distance_m": round(peak), "duration_s": round(duration)}
            found.append(_found(AlertKind.OFF_ROUTE, first.at, cleared_at, peak_at, detail))

    for fix in fixes:
        away = polyline_distance_m(fix.position, line)
        if away > rules.off_route_m:
            if first is None:
                first, peak = fix, 0.0
            last = fix
            if away > peak:
                peak, peak_at = away, fix.position
        elif first is not None:
            close(fix.at)
            first = last = None
    if first is not None:
        close(None)
    return found


def _unplanned_stops(fixes: Sequence[Fix], places: Sequence[LatLon], rules: Rules) -> list[AlertFound]:
    found: list[AlertFound] = []
    if not places:
        return found
    anchor: Fix | None = None
    last: Fix | None = None
    previous: Fix | None = None

    def close(cleared_at: dt.datetime | None) -> None:
        assert anchor is not None and last is not None
        duration = _seconds(anchor.at, last.at)
        if duration <= rules.stop_s:
            return
        nearest = min(distance_m(anchor.position, place) for place in places)
        if nearest > rules.stop_radius_m:
            detail: dict[str, float] = {"duration_s": round(duration), "nearest_planned_m": round(nearest)}
            found.append(_found(AlertKind.UNPLANNED_STOP, anchor.at, cleared_at, anchor.position, detail))

    for fix in fixes:
        slow = fix.speed_kmh < rules.still_speed_kmh
        if anchor is not None:
            if slow or distance_m(anchor.position, fix.position) <= rules.still_radius_m:
                last = fix
            else:
                close(fix.at)
                anchor = last = None
        else:
            near = (
                previous is not None and distance_m(previous.position, fix.position) <= rules.still_radius_m
            )
            if slow or near:
                # Moved less than the jitter since the last fix: it was standing there already.
                anchor, last = (previous if near else fix), fix
        previous = fix
    if anchor is not None:
        close(None)
    return found


def _overtime(
    fixes: Sequence[Fix], home: LatLon | None, shift_end: dt.datetime | None, now: dt.datetime, rules: Rules
) -> list[AlertFound]:
    found: list[AlertFound] = []
    if home is None or shift_end is None or now <= shift_end:
        return found
    before = [fix for fix in fixes if fix.at <= shift_end]
    started: dt.datetime | None = None
    where: LatLon = home
    peak = 0.0

    def close(cleared_at: dt.datetime | None) -> None:
        assert started is not None
        detail: dict[str, float] = {
            "max_distance_m": round(peak),
            "overtime_s": round(_seconds(started, cleared_at or now)),
        }
        found.append(_found(AlertKind.OVERTIME, started, cleared_at, where, detail))

    if before:
        away = distance_m(before[-1].position, home)
        if away > rules.stop_radius_m:
            started, where, peak = shift_end, before[-1].position, away
    for fix in fixes[len(before) :]:
        away = distance_m(fix.position, home)
        if away > rules.stop_radius_m:
            if started is None:
                started, where, peak = fix.at, fix.position, 0.0
            peak = max(peak, away)
        elif started is not None:
            close(fix.at)
            started = None
    if started is not None:
        close(None)
    return found


def _cabin_hot(track: Sequence[Fix], rules: Rules) -> list[AlertFound]:
    found: list[AlertFound] = []
    clear_below = rules.cabin_limit_c - rules.cabin_clear_margin_c
    started: dt.datetime | None = None
    where: LatLon | None = None
    known: LatLon | None = None
    peak = -math.inf

    def close(cleared_at: dt.datetime | None) -> None:
        assert started is not None and where is not None
        detail = {"max_temp_c": peak, "limit_c": rules.cabin_limit_c}
        found.append(_found(AlertKind.CABIN_HOT, started, cleared_at, where, detail))

    for fix in track:
        if fix.positioned:
            known = fix.position
        temperature = fix.cabin_temp_c
        if temperature is None:
            continue
        if started is None:
            if temperature > rules.cabin_limit_c:
                started, peak = fix.at, temperature
                where = known if known is not None else fix.position
        else:
            peak = max(peak, temperature)
            if temperature < clear_below:
                close(fix.at)
                started = None
    if started is not None:
        close(None)
    return found


def alerts_evaluate(
    *,
    path: Sequence[PathPoint],
    track: Sequence[Fix],
    shift_end: dt.datetime | None,
    now: dt.datetime,
    rules: Rules = DEFAULT_RULES,
    home: LatLon | None = None,
) -> list[AlertFound]:
    """The alerts of one truck's day, oldest first. ``path`` is the planned path in visiting order (the
    off-route and stop rules are skipped without one); ``home`` the depot the truck returns to (default:
    the last depot of the path); ``now`` the time of judgement (aware)."""
    ordered: dict[dt.datetime, Fix] = {}
    for fix in track:
        if fix.at <= now:
            ordered.setdefault(fix.at, fix)
    fixes = [ordered[at] for at in sorted(ordered)]
    positioned = [fix for fix in fixes if fix.positioned]
    line = [point.position for point in path]
    if home is None:
        home = next((p.position for p in reversed(path) if p.kind == PlaceKind.DEPOT), None)
    places = line + ([home] if home is not None else [])
    alerts = [
        *_off_route(positioned, line, rules),
        *_unplanned_stops(positioned, places if path else [], rules),
        *_overtime(positioned, home, shift_end, now, rules),
        *_cabin_hot(fixes, rules),
    ]
    return sorted(alerts, key=lambda alert: (alert.started_at, alert.kind))
