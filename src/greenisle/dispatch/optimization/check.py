"""Check a plan against its problem, independently of the solver that made it.

Every plan is checked before anyone sees it; the benchmark counts the violations it finds; the
property tests assert there are none. Each violation is one sentence naming the route and the rule.
"""

from __future__ import annotations

from collections import Counter

from greenisle.dispatch.optimization.model import Plan, Problem, Route, Vehicle


def vehicle_of(problem: Problem, route: Route) -> Vehicle | None:
    """The vehicle a route runs on; ``T#2`` is the second of a vehicle ``T`` with ``count`` > 1."""
    base = route.vehicle.split("#", 1)[0]
    return next((v for v in problem.vehicles if v.id == base), None)


def plan_violations(problem: Problem, plan: Plan) -> list[str]:
    found: list[str] = []
    depots = problem.depot_index()
    index = problem.stop_index()
    stops = {s.id: s for s in problem.stops}
    served = Counter(stop for route in plan.routes for stop in route.stop_ids())
    used = Counter(route.vehicle.split("#", 1)[0] for route in plan.routes)
    for stop_id, times in served.items():
        if stop_id not in stops:
            found.append(f"stop {stop_id} is not in the problem")
        elif times > 1:
            found.append(f"stop {stop_id} is served {times} times")
    reported = {u.stop for u in plan.unplanned}
    for stop in problem.stops:
        if stop.required and stop.id not in served and stop.id not in reported:
            found.append(f"required stop {stop.id} is neither planned nor reported")
        if stop.id in served and stop.id in reported:
            found.append(f"stop {stop.id} is both planned and reported unplanned")
    for vehicle in problem.vehicles:
        if used[vehicle.id] > vehicle.count:
            found.append(f"vehicle {vehicle.id} runs {used[vehicle.id]} routes, has {vehicle.count}")
    for route in plan.routes:
        found.extend(_route_violations(problem, route, depots, index))
    return found


def _route_violations(
    problem: Problem,
    route: Route,
    depots: dict[str, int],
    index: dict[str, int],
) -> list[str]:
    found: list[str] = []
    name = route.vehicle
    vehicle = vehicle_of(problem, route)
    if vehicle is None:
        return [f"route {name}: no such vehicle"]
    visits = route.visits
    if len(visits) < 2 or visits[0].depot != vehicle.start_depot:
        found.append(f"route {name}: does not start at its depot {vehicle.start_depot}")
    end_depot = vehicle.end_depot or vehicle.start_depot
    if not visits or visits[-1].depot != end_depot:
        found.append(f"route {name}: does not end at its depot {end_depot}")
    if found:
        return found
    classes = set()
    load = 0
    by_category: dict[str, int] = {}
    reloads = 0
    distance = 0
    previous = None
    previous_end = 0
    trip_departure = visits[0].start_s
    trip_release = 0
    for k, visit in enumerate(visits):
        if visit.stop is not None:
            stop = problem.stops[index[visit.stop] - len(problem.depots)]
            location = index[visit.stop]
            classes.add(stop.waste_class)
            load += stop.load_kg
            if load > vehicle.capacity_kg:
                found.append(f"route {name}: load {load} kg over capacity {vehicle.capacity_kg} kg")
            if not vehicle.may_carry(stop):
                found.append(f"route {name}: stop {stop.id} has codes its permit does not cover")
            for category in stop.categories:
                by_category[category] = by_category.get(category, 0) + stop.load_kg
                if by_category[category] > vehicle.limit_of(category):
                    found.append(
                        f"route {name}: {by_category[category]} kg of {category} over its limit "
                        f"{vehicle.limit_of(category)} kg"
                    )
            if visit.start_s < stop.open_s or visit.start_s > stop.close_s:
                found.append(
                    f"route {name}: stop {stop.id} served at {visit.start_s}, window "
                    f"[{stop.open_s}, {stop.close_s}]"
                )
            if visit.end_s - visit.start_s < stop.service_s:
                found.append(f"route {name}: stop {stop.id} served shorter than its service time")
            trip_release = max(trip_release, stop.release_s)
        else:
            assert visit.depot is not None
            location = depots[visit.depot]
            depot = problem.depots[location]
            if 0 < k < len(visits) - 1:
                reloads += 1
                if visit.depot not in vehicle.reload_depots:
                    found.append(f"route {name}: unloads at {visit.depot}, not one of its reload depots")
            if k > 0 and trip_departure < trip_release:
                found.append(f"route {name}: a trip leaves before its stops are released")
            if k > 0:
                load = 0
                by_category = {}
                trip_departure = visit.end_s
                trip_release = 0
            if visit.start_s < depot.open_s or visit.start_s > depot.close_s:
                found.append(f"route {name}: at depot {depot.id} outside its opening hours")
        if previous is not None:
            distance += problem.distance[previous][location]
            earliest = previous_end + problem.duration[previous][location]
            if visit.arrival_s < earliest:
                found.append(f"route {name}: reaches visit {k} before it can get there")
            if visit.start_s < visit.arrival_s:
                found.append(f"route {name}: starts visit {k} before arriving")
        previous = location
        previous_end = visit.end_s
    if len(classes) > 1:
        # 固废法 Art. 81: incompatible wastes are never mixed, also not on a truck.
        found.append(f"route {name}: carries incompatible classes {sorted(classes)}")
    for waste_class in classes:
        if vehicle.waste_classes and waste_class not in vehicle.waste_classes:
            found.append(f"route {name}: carries class {waste_class!r} it is not licensed for")
    if vehicle.max_reloads is not None and reloads > vehicle.max_reloads:
        found.append(f"route {name}: {reloads} unloads, at most {vehicle.max_reloads}")
    if visits[0].start_s < vehicle.shift_start_s or visits[-1].start_s > vehicle.shift_end_s:
        found.append(f"route {name}: outside its shift [{vehicle.shift_start_s}, {vehicle.shift_end_s}]")
    if visits[-1].start_s - visits[0].start_s > vehicle.max_duration_s:
        found.append(f"route {name}: lasts longer than {vehicle.max_duration_s} s")
    if distance > vehicle.max_distance:
        found.append(f"route {name}: {distance} over its maximum distance {vehicle.max_distance}")
    if distance != route.distance:
        found.append(f"route {name}: distance {route.distance} does not add up ({distance})")
    return found
