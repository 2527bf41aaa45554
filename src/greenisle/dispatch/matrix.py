"""Distance and duration matrices for the planner: a routing engine when one is configured, else
the great-circle estimate (:func:`.optimization.distances.haversine_matrices`).

OSRM: ``GET {url}/table/v1/driving/{lon,lat;…}?annotations=distance,duration`` answers
``{"code": "Ok", "distances": [[m]], "durations": [[s]]}``. Valhalla: ``POST {url}/sources_to_targets``
with ``{"sources": [{"lat", "lon"}], "targets": …, "costing": "truck"}`` answers
``{"sources_to_targets": [[{"distance": km, "time": s}]]}``. A pair the engine cannot route (null)
falls back to the estimate for that pair, so one unreachable point never sinks a plan.
"""

from __future__ import annotations

from collections.abc import Sequence

import requests
from django.conf import settings

from greenisle.dispatch.optimization.distances import Matrices, haversine_matrices

Point = tuple[float, float]  # (latitude, longitude)


class MatrixError(RuntimeError):
    """The routing engine did not answer as its API says."""


def _estimate(points: Sequence[Point]) -> Matrices:
    cfg = settings.GREENISLE
    return haversine_matrices(points, circuity=cfg["ROUTING_CIRCUITY"], speed_kmh=cfg["ROUTING_SPEED_KMH"])


def _merge(
    estimate: Matrices, distance: list[list[float | None]], duration: list[list[float | None]]
) -> Matrices:
    n = len(estimate.distance)
    if len(distance) != n or len(duration) != n or any(len(r) != n for r in [*distance, *duration]):
        raise MatrixError("matrix size does not match the points sent")
    out_d = [row[:] for row in estimate.distance]
    out_t = [row[:] for row in estimate.duration]
    for i in range(n):
        for j in range(n):
            d, t = distance[i][j], duration[i][j]
            if d is not None and t is not None:
                out_d[i][j] = int(round(d))
                out_t[i][j] = int(round(t))
    return Matrices(distance=out_d, duration=out_t)


def osrm_matrices(url: str, points: Sequence[Point], *, timeout: float = 30) -> Matrices:
    coords = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
    response = requests.get(
        f"{url.rstrip('/')}/table/v1/driving/{coords}",
        params={"annotations": "distance,duration"},
        timeout=timeout,
    )
    response.raise_for_status()
    body = response.json()
    if body.get("code") != "Ok" or "distances" not in body or "durations" not in body:
        raise MatrixError(f"OSRM answered {body.get('code')!r}: {body.get('message', '')}")
    return _merge(_estimate(points), body["distances"], body["durations"])


def valhalla_matrices(url: str, points: Sequence[Point], *, timeout: float = 30) -> Matrices:
    locations = [{"lat": lat, "lon": lon} for lat, lon in points]
    response = requests.post(
        f"{url.rstrip('/')}/sources_to_targets",
        json={"sources": locations, "targets": locations, "costing": "truck", "units": "kilometers"},
        timeout=timeout,
    )
    response.raise_for_status()
    body = response.json()
    rows = body.get("sources_to_targets")
    if not isinstance(rows, list):
        raise MatrixError("Valhalla answered without sources_to_targets")
    n = len(points)
    distance: list[list[float | None]] = [[None] * n for _ in range(n)]
    duration: list[list[float | None]] = [[None] * n for _ in range(n)]
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            if cell.get("distance") is not None and cell.get("time") is not None:
                distance[i][j] = float(cell["distance"]) * 1000
                duration[i][j] = float(cell["time"])
    return _merge(_estimate(points), distance, duration)


def matrices_for(points: Sequence[Point]) -> Matrices:
    cfg = settings.GREENISLE
    engine, url = cfg["ROUTING_ENGINE"], cfg["ROUTING_ENGINE_URL"]
    if engine == "osrm" and url:
        return osrm_matrices(url, points)
    if engine == "valhalla" and url:
        return valhalla_matrices(url, points)
    return _estimate(points)
