"""Changes to a plan after the search: a dispatcher's moves, locked routes, an urgent request.

``route_schedule`` times a given sequence the way a driver would drive it (leave the depot as late
as the first window allows, then as early as possible); the other functions build on it and on
:func:`.check.plan_violations`, so a change that breaks a rule is refused with the rule named.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from greenisle.dispatch.optimization.check import vehicle_of
from greenisle.dispatch.optimization.model import Plan, Problem, Route, Stop, Unplanned
from greenisle.dispatch.optimization.schedule import (
    PlanEditError,
    route_errors,
    route_schedule,
    vehicle_named,
)
from greenisle.dispatch.optimization.solver import plan_solve


@dataclass(frozen=True, slots=True)
class Insertion:
    plan: Plan
    vehicle: str
    position: int
    added_cost: int


def _sequence(route: Route) -> list[str]:
    """A route's stops with its mid-route unloads, without the start and end depots."""
    inner = route.visits[1:-1]
    return [v.stop if v.stop is not None else str(v.depot) for v in inner]


def _with_routes(problem: Problem, plan: Plan, routes: list[Route], unplanned: list[Unplanned]) -> Plan:
    kept = [r for r in routes if r.stop_ids()]
    return Plan(
        routes=tuple(kept),
        unplanned=tuple(unplanned),
        distance=sum(r.distance for r in kept),
        cost=sum(r.cost for r in kept),
        feasible=True,
        assignment=dict(plan.assignment),
    )


def plan_move_stop(problem: Problem, plan: Plan, *, stop: str, vehicle: str, position: int) -> Plan:
    """Move ``stop`` to ``vehicle``'s route at ``position`` (0 = first after the depot); the stop
    may come from another route or from the unplanned list. Refused when a rule would break."""
    routes = {r.vehicle: r for r in plan.routes}
    sequences = {name: _sequence(r) for name, r in routes.items()}
    for seq in sequences.values():
        if stop in seq:
            seq.remove(stop)
    target = sequences.setdefault(vehicle, [])
    if not 0 <= position <= len(target):
        raise PlanEditError(f"position {position} is outside route {vehicle} (0–{len(target)})")
    target.insert(position, stop)
    changed = {name: route_schedule(problem, name, seq) for name, seq in sequences.items()}
    errors = route_errors(problem, changed[vehicle])
    if errors:
        raise PlanEditError("; ".join(errors))
    unplanned = [u for u in plan.unplanned if u.stop != stop]
    new_routes = [changed.get(name, r) for name, r in routes.items()]
    if vehicle not in routes:
        new_routes.append(changed[vehicle])
    return _with_routes(problem, plan, new_routes, unplanned)


def plan_insert(problem: Problem, plan: Plan, stop: str, *, spare: Collection[str] = ()) -> Insertion:
    """Insert an urgent ``stop`` where it disturbs the published routes least: the cheapest feasible
    position in an existing route, other routes untouched; else a new route on a ``spare`` vehicle."""
    index = {s.id: s for s in problem.stops}
    if stop not in index:
        raise PlanEditError(f"stop {stop} is not in the problem")
    waste_class = index[stop].waste_class
    best: Insertion | None = None
    for route in plan.routes:
        if stop in route.stop_ids():
            raise PlanEditError(f"stop {stop} is already on route {route.vehicle}")
        vehicle = vehicle_of(problem, route)
        if vehicle is None or (vehicle.waste_classes and waste_class not in vehicle.waste_classes):
            continue
        classes = {index[s].waste_class for s in route.stop_ids()}
        if classes and classes != {waste_class}:
            continue  # 固废法 Art. 81: never on a truck carrying an incompatible class.
        sequence = _sequence(route)
        for position in range(len(sequence) + 1):
            candidate = route_schedule(
                problem, route.vehicle, [*sequence[:position], stop, *sequence[position:]]
            )
            added = candidate.cost - route.cost
            if best is not None and added >= best.added_cost:
                continue
            if route_errors(problem, candidate):
                continue
            routes = [candidate if r.vehicle == route.vehicle else r for r in plan.routes]
            unplanned = [u for u in plan.unplanned if u.stop != stop]
            best = Insertion(_with_routes(problem, plan, routes, unplanned), route.vehicle, position, added)
    if best is not None:
        return best
    running = {r.vehicle.split("#", 1)[0] for r in plan.routes}
    for name in spare:
        vehicle = vehicle_named(problem, name)
        if name in running:
            continue
        if vehicle.waste_classes and waste_class not in vehicle.waste_classes:
            continue
        candidate = route_schedule(problem, name, [stop])
        if route_errors(problem, candidate):
            continue
        unplanned = [u for u in plan.unplanned if u.stop != stop]
        new = _with_routes(problem, plan, [*plan.routes, candidate], unplanned)
        assignment = dict(new.assignment)
        assignment[name] = waste_class
        return Insertion(replace(new, assignment=assignment), name, 0, candidate.cost)
    raise PlanEditError(f"stop {stop} fits no route and no spare vehicle")


def plan_reoptimise(
    problem: Problem, plan: Plan, *, locked: Collection[str], seconds: float, seed: int = 1
) -> Plan:
    """Plan again everything but the ``locked`` routes, which stay exactly as they are."""
    kept = [r for r in plan.routes if r.vehicle in locked]
    missing = set(locked) - {r.vehicle for r in kept}
    if missing:
        raise PlanEditError(f"no route to lock for {', '.join(sorted(missing))}")
    taken = {s for r in kept for s in r.stop_ids()}
    busy = {r.vehicle.split("#", 1)[0] for r in kept}
    vehicles = []
    for vehicle in problem.vehicles:
        if vehicle.id in busy:
            left = vehicle.count - sum(1 for r in kept if r.vehicle.split("#", 1)[0] == vehicle.id)
            if left <= 0:
                continue
            vehicle = replace(vehicle, count=left)
        vehicles.append(vehicle)
    rest = [s for s in problem.stops if s.id not in taken]
    sub = Problem(
        depots=problem.depots,
        stops=rest,
        vehicles=vehicles,
        distance=_submatrix(problem, problem.distance, rest),
        duration=_submatrix(problem, problem.duration, rest),
    )
    fresh = plan_solve(sub, seconds=seconds, seed=seed)
    routes = kept + list(fresh.routes)
    assignment = {v: g for v, g in plan.assignment.items() if v in busy}
    assignment.update(fresh.assignment)
    return Plan(
        routes=tuple(routes),
        unplanned=fresh.unplanned,
        distance=sum(r.distance for r in routes),
        cost=sum(r.cost for r in routes),
        feasible=fresh.feasible,
        assignment=assignment,
    )


def _submatrix(problem: Problem, matrix: Sequence[Sequence[int]], stops: Sequence[Stop]) -> list[list[int]]:
    index = problem.stop_index()
    keep = list(range(len(problem.depots))) + [index[s.id] for s in stops]
    return [[int(matrix[i][j]) for j in keep] for i in keep]
