"""A nearest-neighbour dispatch: how a dispatcher without a planner would send the trucks out.

Trucks are taken in turn, each with the compatibility group the planner's own allocation gives it
(:func:`assign_groups`, so both compare routing alone). A truck leaves its depot and goes to the
nearest unserved required stop of its group that it can still fit, reach within the stop's window
and serve while still getting home before the end of its shift. When the nearest stop it could
serve only fits an empty truck, it first unloads at its nearest reload depot. When nothing is left
that it can serve it goes home. Optional stops are left out. What no truck served is counted.

"Nearest" is by distance (``rule="distance"``) or by the time until service could begin, waiting
for the stop to open included (``rule="time"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from greenisle.dispatch.optimization.model import Plan, Problem, Route, Unplanned, Vehicle, Visit
from greenisle.dispatch.optimization.solver import assign_groups


def _next_stop(
    problem: Problem,
    vehicle: Vehicle,
    pending: set[int],
    group: str,
    position: int,
    now: int,
    room: int,
    home: int,
    departure: int,
    distance: np.ndarray,
    duration: np.ndarray,
    rule: str,
) -> tuple[int, int] | None:
    """The nearest pending stop (its location number and service start) the truck can serve next."""
    nd = len(problem.depots)
    best: tuple[int, int, int] | None = None
    home_depot = problem.depots[home]
    latest_home = min(vehicle.shift_end_s, home_depot.close_s)
    for i in pending:
        stop = problem.stops[i - nd]
        if stop.waste_class != group or stop.load_kg > room:
            continue
        begin = max(now + int(duration[position][i]), stop.open_s, stop.release_s)
        if begin > stop.close_s:
            continue
        back = begin + stop.service_s + int(duration[i][home])
        if back > latest_home or back - departure > vehicle.max_duration_s:
            continue
        key = int(distance[position][i]) if rule == "distance" else begin - now
        if best is None or (key, begin, i) < best:
            best = (key, begin, i)
    return None if best is None else (best[2], best[1])


def nearest_neighbour_plan(problem: Problem, *, rule: str = "distance") -> Plan:
    distance = np.asarray(problem.distance, dtype=np.int64)
    duration = np.asarray(problem.duration, dtype=np.int64)
    depots = problem.depot_index()
    nd = len(problem.depots)
    group_of: dict[str, list[str]] = {}
    for vehicle, group, count in assign_groups(problem):
        group_of.setdefault(vehicle.id, []).extend([group] * count)
    pending = {nd + i for i, s in enumerate(problem.stops) if s.required}
    routes: list[Route] = []
    for vehicle in problem.vehicles:
        for copy, group in enumerate(group_of.get(vehicle.id, [])):
            name = vehicle.id if vehicle.count == 1 else f"{vehicle.id}#{copy + 1}"
            route = _drive(problem, vehicle, name, group, pending, depots, distance, duration, rule)
            if route is not None:
                routes.append(route)
    unplanned = tuple(
        Unplanned(stop=s.id, reason="fleet" if s.required else "not_worth_detour")
        for i, s in enumerate(problem.stops)
        if not s.required or nd + i in pending
    )
    return Plan(
        routes=tuple(routes),
        unplanned=unplanned,
        distance=sum(r.distance for r in routes),
        cost=sum(r.cost for r in routes),
        feasible=True,
    )


def _drive(
    problem: Problem,
    vehicle: Vehicle,
    name: str,
    group: str,
    pending: set[int],
    depots: dict[str, int],
    distance: np.ndarray,
    duration: np.ndarray,
    rule: str,
) -> Route | None:
    nd = len(problem.depots)
    start = depots[vehicle.start_depot]
    home = depots[vehicle.end_depot or vehicle.start_depot]
    reloads = [depots[d] for d in vehicle.reload_depots]
    depot = problem.depots[start]
    departure = max(vehicle.shift_start_s, depot.open_s)
    visits = [Visit(None, depot.id, departure, departure, departure + depot.service_s, 0)]
    position, now, load, unloads = start, departure + depot.service_s, 0, 0
    path = [start]

    def step(room: int, at: int, when: int) -> tuple[int, int] | None:
        return _next_stop(
            problem, vehicle, pending, group, at, when, room, home, departure, distance, duration, rule
        )

    while True:
        found = step(vehicle.capacity_kg - load, position, now)
        if found is None and load > 0 and reloads:
            if vehicle.max_reloads is not None and unloads >= vehicle.max_reloads:
                break
            # Unload at the nearest reload depot if an empty truck could then serve someone.
            r = min(reloads, key=lambda k: (int(distance[position][k]), k))
            reload_depot = problem.depots[r]
            arrive = now + int(duration[position][r])
            begin = max(arrive, reload_depot.open_s)
            if begin > reload_depot.close_s:
                break
            after = begin + reload_depot.service_s
            if step(vehicle.capacity_kg, r, after) is None:
                break
            visits.append(Visit(None, reload_depot.id, arrive, begin, after, 0))
            path.append(r)
            position, now, load = r, after, 0
            unloads += 1
            continue
        if found is None:
            break
        i, begin = found
        stop = problem.stops[i - nd]
        pending.discard(i)
        load += stop.load_kg
        arrive = now + int(duration[position][i])
        visits.append(Visit(stop.id, None, arrive, begin, begin + stop.service_s, load))
        path.append(i)
        position, now = i, begin + stop.service_s
    if len(path) == 1 or all(k < nd for k in path):
        return None
    arrive = now + int(duration[position][home])
    end_depot = problem.depots[home]
    visits.append(
        Visit(None, end_depot.id, arrive, max(arrive, end_depot.open_s), max(arrive, end_depot.open_s), 0)
    )
    path.append(home)
    route_distance = _path_distance(distance, path)
    route_duration = visits[-1].start_s - visits[0].start_s
    return Route(
        vehicle=name,
        visits=tuple(visits),
        distance=route_distance,
        duration=route_duration,
        cost=vehicle.fixed_cost
        + vehicle.unit_distance_cost * route_distance
        + vehicle.unit_duration_cost * route_duration,
    )


def _path_distance(distance: np.ndarray, path: Sequence[int]) -> int:
    return int(sum(int(distance[a][b]) for a, b in zip(path, path[1:], strict=False)))
