"""OR-Tools' routing solver on our :class:`Problem`, as the peer the planner is measured against.

Capacity, time windows with service times, shift windows and maximum durations, several depots,
per-vehicle fixed and distance costs, and optional stops with prizes (a disjunction whose penalty is
the prize) are translated; reloads mid-shift, compatibility groups and release times are not, and
such problems get no OR-Tools run (:func:`ortools_unsupported` says why). The answer is read back
as a :class:`Plan` with the times of OR-Tools' time dimension, so the same checker and the same cost
function judge both solvers.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from greenisle.dispatch.optimization.model import UNBOUNDED, Plan, Problem, Route, Unplanned, Vehicle, Visit


def ortools_unsupported(problem: Problem) -> str | None:
    if any(v.reload_depots for v in problem.vehicles):
        return "reloads at depots mid-shift are not modelled for OR-Tools"
    if len({s.waste_class for s in problem.stops}) > 1:
        return "compatibility groups are not modelled for OR-Tools"
    if any(s.release_s for s in problem.stops):
        return "release times are not modelled for OR-Tools"
    return None


def _needs_time(problem: Problem) -> bool:
    return (
        any(s.open_s > 0 or s.close_s < UNBOUNDED for s in problem.stops)
        or any(d.open_s > 0 or d.close_s < UNBOUNDED for d in problem.depots)
        or any(
            v.shift_start_s > 0 or v.shift_end_s < UNBOUNDED or v.max_duration_s < UNBOUNDED
            for v in problem.vehicles
        )
    )


def ortools_solve(
    problem: Problem,
    *,
    seconds: float,
    first_solution: str = "PATH_CHEAPEST_ARC",
    fleet: int | None = None,
) -> tuple[Plan | None, str | None]:
    """Solve with GUIDED_LOCAL_SEARCH within ``seconds``. ``fleet`` overrides the number of
    vehicles when the problem has a single vehicle type. Returns the plan, or None and why."""
    reason = ortools_unsupported(problem)
    if reason:
        return None, reason
    depots = problem.depot_index()
    nd = len(problem.depots)
    n = nd + len(problem.stops)
    units: list[tuple[Vehicle, int]] = []
    for vehicle in problem.vehicles:
        count = fleet if fleet is not None and len(problem.vehicles) == 1 else vehicle.count
        units += [(vehicle, k) for k in range(count)]
    starts = [depots[v.start_depot] for v, _k in units]
    ends = [depots[v.end_depot or v.start_depot] for v, _k in units]
    manager = pywrapcp.RoutingIndexManager(n, len(units), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    distance = np.asarray(problem.distance, dtype=np.int64)
    duration = np.asarray(problem.duration, dtype=np.int64)

    arc_callbacks: dict[int, int] = {}
    for v, (vehicle, _k) in enumerate(units):
        unit = vehicle.unit_distance_cost
        if unit not in arc_callbacks:
            arc_callbacks[unit] = routing.RegisterTransitMatrix((distance * unit).tolist())
        routing.SetArcCostEvaluatorOfVehicle(arc_callbacks[unit], v)
        if vehicle.fixed_cost:
            routing.SetFixedCostOfVehicle(vehicle.fixed_cost, v)

    loads = [0] * nd + [s.load_kg for s in problem.stops]
    load_cb = routing.RegisterUnaryTransitVector(loads)
    capacities = [min(v.capacity_kg, UNBOUNDED) for v, _k in units]
    routing.AddDimensionWithVehicleCapacity(load_cb, 0, capacities, True, "Load")

    if any(v.max_distance < UNBOUNDED for v, _k in units):
        distance_cb = routing.RegisterTransitMatrix(distance.tolist())
        routing.AddDimensionWithVehicleCapacity(
            distance_cb, 0, [min(v.max_distance, UNBOUNDED) for v, _k in units], True, "Distance"
        )

    service = np.array(
        [d.service_s for d in problem.depots] + [s.service_s for s in problem.stops], dtype=np.int64
    )
    time_dim = None
    if _needs_time(problem):
        finite = [s.close_s for s in problem.stops if s.close_s < UNBOUNDED]
        finite += [v.shift_end_s for v in problem.vehicles if v.shift_end_s < UNBOUNDED]
        finite += [d.close_s for d in problem.depots if d.close_s < UNBOUNDED]
        horizon = max(finite) if finite else int(duration.max() * n + service.sum())
        horizon += int(service.max(initial=0)) + 1
        time_cb = routing.RegisterTransitMatrix((duration + service[:, None]).tolist())
        routing.AddDimension(time_cb, horizon, horizon, False, "Time")
        time_dim = routing.GetDimensionOrDie("Time")
        for i, stop in enumerate(problem.stops):
            index = manager.NodeToIndex(nd + i)
            time_dim.CumulVar(index).SetRange(stop.open_s, min(stop.close_s, horizon))
        for v, (vehicle, _k) in enumerate(units):
            start_depot = problem.depots[starts[v]]
            end_depot = problem.depots[ends[v]]
            time_dim.CumulVar(routing.Start(v)).SetRange(
                max(vehicle.shift_start_s, start_depot.open_s),
                min(vehicle.shift_end_s, start_depot.close_s, horizon),
            )
            time_dim.CumulVar(routing.End(v)).SetRange(
                max(vehicle.shift_start_s, end_depot.open_s),
                min(vehicle.shift_end_s, end_depot.close_s, horizon),
            )
            if vehicle.max_duration_s < UNBOUNDED:
                time_dim.SetSpanUpperBoundForVehicle(vehicle.max_duration_s, v)
            routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(routing.Start(v)))
            routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(v)))

    for i, stop in enumerate(problem.stops):
        if not stop.required:
            routing.AddDisjunction([manager.NodeToIndex(nd + i)], stop.prize)
    # A depot nobody starts or ends at is a place no one needs to go.
    for k in range(nd):
        if k not in starts and k not in ends:
            routing.AddDisjunction([manager.NodeToIndex(k)], 0)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first_solution)
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return None, "no solution within the time limit"

    routes: list[Route] = []
    served: set[int] = set()
    used: dict[str, int] = defaultdict(int)
    for v, (vehicle, _k) in enumerate(units):
        index = routing.Start(v)
        path = []
        times = []
        while True:
            path.append(manager.IndexToNode(index))
            times.append(solution.Value(time_dim.CumulVar(index)) if time_dim is not None else None)
            if routing.IsEnd(index):
                break
            index = solution.Value(routing.NextVar(index))
        if len(path) <= 2:
            continue
        used[vehicle.id] += 1
        name = vehicle.id if vehicle.count == 1 else f"{vehicle.id}#{used[vehicle.id]}"
        visits: list[Visit] = []
        load = 0
        previous_end = 0
        for pos, (node, cumul) in enumerate(zip(path, times, strict=True)):
            if node < nd:
                depot = problem.depots[node]
                stop_id, depot_id, open_s = None, depot.id, depot.open_s
                load = 0
            else:
                stop = problem.stops[node - nd]
                stop_id, depot_id, open_s = stop.id, None, stop.open_s
                load += stop.load_kg
                served.add(node)
            if pos == 0:
                arrival = cumul if cumul is not None else max(vehicle.shift_start_s, open_s)
            else:
                arrival = previous_end + int(duration[path[pos - 1]][node])
            start = cumul if cumul is not None else max(arrival, open_s)
            end = start + int(service[node]) if pos < len(path) - 1 else start
            visits.append(
                Visit(
                    stop=stop_id,
                    depot=depot_id,
                    arrival_s=arrival,
                    start_s=start,
                    end_s=end,
                    load_after_kg=load,
                )
            )
            previous_end = end
        route_distance = int(sum(distance[a][b] for a, b in zip(path, path[1:], strict=False)))
        route_duration = visits[-1].start_s - visits[0].start_s
        routes.append(
            Route(
                vehicle=name,
                visits=tuple(visits),
                distance=route_distance,
                duration=route_duration,
                cost=vehicle.fixed_cost
                + vehicle.unit_distance_cost * route_distance
                + vehicle.unit_duration_cost * route_duration,
            )
        )
    unplanned = tuple(
        Unplanned(stop=s.id, reason="fleet" if s.required else "not_worth_detour")
        for i, s in enumerate(problem.stops)
        if nd + i not in served
    )
    plan = Plan(
        routes=tuple(routes),
        unplanned=unplanned,
        distance=sum(r.distance for r in routes),
        cost=sum(r.cost for r in routes),
        feasible=True,
    )
    return plan, None
