"""Timing a route as a driver would drive it, and the rules that route alone must keep."""

from __future__ import annotations

from collections.abc import Sequence

from greenisle.dispatch.optimization.check import plan_violations
from greenisle.dispatch.optimization.model import Plan, Problem, Route, Vehicle, Visit


class PlanEditError(ValueError):
    """A change that would break a rule; the message names the rule."""


def route_schedule(problem: Problem, vehicle_name: str, sequence: Sequence[str]) -> Route:
    """Time ``sequence`` (stop ids; a depot id marks an unload there) for the named vehicle.

    The route starts and ends at the vehicle's depots. Windows that cannot be met are not hidden:
    the visit starts late and :func:`.check.plan_violations` reports it.
    """
    vehicle = vehicle_named(problem, vehicle_name)
    depots = problem.depot_index()
    stops = problem.stop_index()
    offset = len(problem.depots)
    start = depots[vehicle.start_depot]
    end = depots[vehicle.end_depot or vehicle.start_depot]
    path: list[tuple[int, bool]] = [(start, True)]
    for item in sequence:
        if item in stops:
            path.append((stops[item], False))
        elif item in depots:
            path.append((depots[item], True))
        else:
            raise PlanEditError(f"{item} is neither a stop nor a depot of this plan")
    path.append((end, True))

    def service(location: int, is_depot: bool) -> int:
        if is_depot:
            return problem.depots[location].service_s
        return problem.stops[location - offset].service_s

    def window(location: int, is_depot: bool) -> tuple[int, int]:
        if is_depot:
            return problem.depots[location].open_s, problem.depots[location].close_s
        stop = problem.stops[location - offset]
        return stop.open_s, stop.close_s

    # Leave as late as the first stop's window allows, never before the shift or the depot opens.
    first_open = window(*path[1])[0] if len(path) > 2 else 0
    depot_service = service(start, True)
    release = 0
    for location, is_depot in path[1:]:
        if is_depot:
            break
        release = max(release, problem.stops[location - offset].release_s)
    departure = max(
        vehicle.shift_start_s,
        problem.depots[start].open_s,
        release,
        first_open - problem.duration[start][path[1][0]] - depot_service,
    )
    visits: list[Visit] = []
    distance = 0
    load = 0
    time = departure
    previous: int | None = None
    for k, (location, is_depot) in enumerate(path):
        arrival = time if previous is None else time + problem.duration[previous][location]
        opens, _closes = window(location, is_depot)
        begin = max(arrival, opens)
        if is_depot and 0 < k < len(path) - 1:
            # The next trip leaves only once its stops are released.
            nxt = 0
            for later, later_depot in path[k + 1 :]:
                if later_depot:
                    break
                nxt = max(nxt, problem.stops[later - offset].release_s)
            begin = max(begin, nxt - service(location, True))
        if previous is not None:
            distance += problem.distance[previous][location]
        if is_depot:
            load = 0
        else:
            load += problem.stops[location - offset].load_kg
        finish = begin + (service(location, is_depot) if k < len(path) - 1 else 0)
        visits.append(
            Visit(
                stop=None if is_depot else problem.stops[location - offset].id,
                depot=problem.depots[location].id if is_depot else None,
                arrival_s=arrival,
                start_s=begin,
                end_s=finish,
                load_after_kg=load,
            )
        )
        time = finish
        previous = location
    duration = visits[-1].start_s - visits[0].start_s
    cost = vehicle.fixed_cost + distance * vehicle.unit_distance_cost + duration * vehicle.unit_duration_cost
    return Route(vehicle=vehicle_name, visits=tuple(visits), distance=distance, duration=duration, cost=cost)


def vehicle_named(problem: Problem, name: str) -> Vehicle:
    base = name.split("#", 1)[0]
    vehicle = next((v for v in problem.vehicles if v.id == base), None)
    if vehicle is None:
        raise PlanEditError(f"no vehicle {name}")
    return vehicle


def route_errors(problem: Problem, route: Route) -> list[str]:
    probe = Plan(routes=(route,), unplanned=(), distance=route.distance, cost=route.cost, feasible=True)
    # Only the route's own rules: coverage of other stops is not this route's business.
    return [v for v in plan_violations(problem, probe) if v.startswith(f"route {route.vehicle}:")]
