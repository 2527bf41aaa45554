"""Road distance and driving time between points, by default from the great-circle distance.

Without a routing engine, the road distance is the haversine distance times a circuity factor (1.3
is typical of Chinese urban road networks) and the driving time follows from an average speed.
A routing engine (OSRM ``table``, Valhalla ``sources_to_targets``) gives real figures instead: see
:mod:`greenisle.dispatch.matrix`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class Matrices:
    """Distances in metres and durations in seconds between points, in the order given."""

    distance: list[list[int]]
    duration: list[list[int]]


def haversine_matrices(
    points: Sequence[tuple[float, float]], *, circuity: float = 1.3, speed_kmh: float = 35.0
) -> Matrices:
    """``points`` are (latitude, longitude) pairs."""
    if circuity < 1.0:
        raise ValueError("circuity must be at least 1")
    if speed_kmh <= 0:
        raise ValueError("speed_kmh must be positive")
    metres_per_s = speed_kmh / 3.6
    n = len(points)
    distance = [[0] * n for _ in range(n)]
    duration = [[0] * n for _ in range(n)]
    for i in range(n):
        lat1, lon1 = points[i]
        row_d = distance[i]
        row_t = duration[i]
        for j in range(i + 1, n):
            lat2, lon2 = points[j]
            metres = haversine_m(lat1, lon1, lat2, lon2) * circuity
            d = int(round(metres))
            t = int(round(metres / metres_per_s))
            row_d[j] = d
            row_t[j] = t
            distance[j][i] = d
            duration[j][i] = t
    return Matrices(distance=distance, duration=duration)
