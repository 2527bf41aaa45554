"""Distances on the ground for the truck rules and the truck simulator. Pure Python, no Django.

Points are (latitude, longitude) in decimal degrees. Distances between two points are great-circle
(haversine) metres. The distance from a point to a straight segment is measured in an equirectangular
projection centred on the point: within the few tens of kilometres of a collection round its error is
far below the hundreds of metres the rules work with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

__all__ = [
    "EARTH_RADIUS_M",
    "LatLon",
    "bearing_deg",
    "distance_m",
    "interpolate",
    "offset",
    "polyline_distance_m",
    "segment_distance_m",
]

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M: Final = 6_371_008.8

LatLon = tuple[float, float]


def distance_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance between two points, metres (haversine)."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _plane(origin: LatLon, point: LatLon) -> tuple[float, float]:
    """``point`` in metres east and north of ``origin`` (equirectangular, scaled at the origin)."""
    scale = math.cos(math.radians(origin[0]))
    d_lon = (point[1] - origin[1] + 540.0) % 360.0 - 180.0
    return (
        math.radians(d_lon) * EARTH_RADIUS_M * scale,
        math.radians(point[0] - origin[0]) * EARTH_RADIUS_M,
    )


def segment_distance_m(point: LatLon, a: LatLon, b: LatLon) -> float:
    """Distance from ``point`` to the straight segment a–b, metres."""
    ax, ay = _plane(point, a)
    bx, by = _plane(point, b)
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        return math.hypot(ax, ay)
    # The segment's closest point to the origin (where ``point`` is) is a + t (b - a), t in [0, 1].
    t = max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
    return math.hypot(ax + t * dx, ay + t * dy)


def polyline_distance_m(point: LatLon, line: Sequence[LatLon]) -> float:
    """Distance from ``point`` to a polyline of straight segments (to the point itself when the line has
    one vertex); infinity for an empty line."""
    if not line:
        return math.inf
    if len(line) == 1:
        return distance_m(point, line[0])
    return min(segment_distance_m(point, line[i], line[i + 1]) for i in range(len(line) - 1))


def bearing_deg(a: LatLon, b: LatLon) -> float:
    """Initial bearing from a to b, degrees clockwise from north in [0, 360)."""
    lat1, lat2 = math.radians(a[0]), math.radians(b[0])
    d_lon = math.radians(b[1] - a[1])
    x = math.sin(d_lon) * math.cos(lat2)
    y = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(d_lon)
    return math.degrees(math.atan2(x, y)) % 360.0


def interpolate(a: LatLon, b: LatLon, fraction: float) -> LatLon:
    """The point ``fraction`` of the way from a to b along the straight line in degrees (the legs are a
    few kilometres long: the difference from the great circle is centimetres)."""
    return (a[0] + (b[0] - a[0]) * fraction, a[1] + (b[1] - a[1]) * fraction)


def offset(origin: LatLon, bearing: float, metres: float) -> LatLon:
    """The point ``metres`` from ``origin`` towards ``bearing`` (degrees from north), on the sphere."""
    delta = metres / EARTH_RADIUS_M
    theta = math.radians(bearing)
    lat1, lon1 = math.radians(origin[0]), math.radians(origin[1])
    lat2 = math.asin(math.sin(lat1) * math.cos(delta) + math.cos(lat1) * math.sin(delta) * math.cos(theta))
    lon2 = lon1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(lat1), math.cos(delta) - math.sin(lat1) * math.sin(lat2)
    )
    return (math.degrees(lat2), (math.degrees(lon2) + 540.0) % 360.0 - 180.0)
