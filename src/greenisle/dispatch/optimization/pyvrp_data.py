"""A :class:`~.model.Problem` as PyVRP's data, and PyVRP's answer read back as a :class:`~.model.Plan`.

Load dimensions carry the rules PyVRP has no word for: one per compatibility group (固废法 Art. 81:
a truck has room only in its group's dimension), one per distinct permit (a stop whose codes the
permit lacks loads one unit where trucks holding that permit have none), one per limited hazard
category (a stop with that category loads its whole weight; a truck's room is its limit). ADR 10.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyvrp

from greenisle.dispatch.optimization.model import (
    UNBOUNDED,
    Plan,
    Problem,
    Route,
    Stop,
    Unplanned,
    Vehicle,
    Visit,
)

# Reasons a stop is left out, stable codes (the UI translates them).
REASON_NO_LICENSED_VEHICLE = "no_licensed_vehicle"
REASON_TOO_HEAVY = "too_heavy"
REASON_WINDOW_UNREACHABLE = "window_unreachable"
REASON_FLEET = "fleet"
REASON_NOT_WORTH = "not_worth_detour"

MAX_COST = np.iinfo(np.int64).max


def _clip(value: int) -> int:
    return min(value, MAX_COST) if value < UNBOUNDED else MAX_COST


def _matrix(values: Sequence[Sequence[int]], keep: Sequence[int]) -> Any:
    full = np.asarray(values, dtype=np.int64)
    return np.ascontiguousarray(full[np.ix_(keep, keep)])


class PyvrpProblem:
    """A Problem translated into PyVRP data, with the maps to translate the answer back."""

    def __init__(
        self,
        problem: Problem,
        fleet: Sequence[tuple[Vehicle, str, int]],
        stops: Sequence[Stop],
        soft: bool,
    ) -> None:
        self.problem = problem
        self.stops = list(stops)
        self.groups = sorted({s.waste_class for s in self.stops} | {g for _v, g, _n in fleet}) or [""]
        self.fleet = list(fleet)
        dim = {g: i for i, g in enumerate(self.groups)}
        # Beyond one dimension per group: one per distinct permit (a stop whose codes the permit
        # lacks loads one unit there, and trucks with that permit have no room for it) and one per
        # limited hazard category (a stop with that category loads its whole weight there: a
        # bound that never lets a truck exceed its limit).
        permits = sorted({v.licensed_codes for v, _g, _n in fleet if v.licensed_codes}, key=sorted)
        limited = sorted({c for v, _g, _n in fleet for c, _kg in v.category_limits})
        permit_dim = {codes: len(dim) + i for i, codes in enumerate(permits)}
        category_dim = {c: len(dim) + len(permits) + i for i, c in enumerate(limited)}
        dims = len(dim) + len(permits) + len(limited)
        roomy = max([v.capacity_kg for v, _g, _n in fleet] + [1]) * (len(stops) + 1)
        depots = problem.depot_index()
        index = problem.stop_index()
        keep = list(range(len(problem.depots))) + [index[s.id] for s in self.stops]
        locations = [pyvrp.Location(d.x, d.y, name=d.id) for d in problem.depots]
        locations += [pyvrp.Location(s.x, s.y, name=s.id) for s in self.stops]
        pv_depots = [
            pyvrp.Depot(
                i, tw_early=d.open_s, tw_late=_clip(d.close_s), service_duration=d.service_s, name=d.id
            )
            for i, d in enumerate(problem.depots)
        ]
        self.distance = _matrix(problem.distance, keep)
        self.duration = _matrix(problem.duration, keep)
        # Far above any route's cost: a soft required stop is dropped only when it cannot fit.
        big = int(min(MAX_COST // 4, 10 * (int(self.distance.max(initial=0)) + 1) * (len(keep) + 1)))
        big = max(big, 10**9)
        clients = []
        for n, stop in enumerate(self.stops):
            load = [0] * dims
            load[dim[stop.waste_class]] = stop.load_kg
            for codes, d in permit_dim.items():
                if not stop.codes <= codes:
                    load[d] = 1
            for category, d in category_dim.items():
                if category in stop.categories:
                    load[d] = stop.load_kg
            required = stop.required and not soft
            prize = stop.prize if not stop.required else (big if soft else 0)
            clients.append(
                pyvrp.Client(
                    len(problem.depots) + n,
                    pickup=load,
                    service_duration=stop.service_s,
                    tw_early=stop.open_s,
                    tw_late=_clip(stop.close_s),
                    release_time=stop.release_s,
                    prize=prize,
                    required=required,
                    name=stop.id,
                )
            )
        types = []
        self.type_vehicle: list[Vehicle] = []
        self.type_group: list[str] = []
        for vehicle, group, count in self.fleet:
            capacity = [0] * dims
            capacity[dim[group]] = vehicle.capacity_kg
            for codes, d in permit_dim.items():
                capacity[d] = 0 if vehicle.licensed_codes == codes else roomy
            for category, d in category_dim.items():
                capacity[d] = vehicle.limit_of(category)
            start = depots[vehicle.start_depot]
            end = depots[vehicle.end_depot or vehicle.start_depot]
            types.append(
                pyvrp.VehicleType(
                    num_available=count,
                    capacity=capacity,
                    start_depot=start,
                    end_depot=end,
                    fixed_cost=vehicle.fixed_cost,
                    tw_early=vehicle.shift_start_s,
                    tw_late=_clip(vehicle.shift_end_s),
                    shift_duration=_clip(vehicle.max_duration_s),
                    max_distance=_clip(vehicle.max_distance),
                    unit_distance_cost=vehicle.unit_distance_cost,
                    unit_duration_cost=vehicle.unit_duration_cost,
                    reload_depots=[depots[d] for d in vehicle.reload_depots],
                    max_reloads=(
                        vehicle.max_reloads if vehicle.max_reloads is not None else np.iinfo(np.uint64).max
                    ),
                    name=vehicle.id,
                )
            )
            self.type_vehicle.append(vehicle)
            self.type_group.append(group)
        self.data = pyvrp.ProblemData(locations, clients, pv_depots, types, [self.distance], [self.duration])

    def plan_of(self, solution: pyvrp.Solution, dropped: dict[str, str]) -> Plan:
        routes: list[Route] = []
        served: set[str] = set()
        used: dict[str, int] = defaultdict(int)
        ndepots = len(self.problem.depots)
        for route in solution.routes():
            t = route.vehicle_type()
            vehicle = self.type_vehicle[t]
            used[vehicle.id] += 1
            name = vehicle.id if vehicle.count == 1 else f"{vehicle.id}#{used[vehicle.id]}"
            visits: list[Visit] = []
            load = 0
            previous: int | None = None
            for activity in route.schedule():
                if activity.is_depot():
                    location = activity.idx
                    depot = self.problem.depots[activity.idx].id
                    load = 0
                    stop_id = None
                else:
                    location = ndepots + activity.idx
                    stop = self.stops[activity.idx]
                    stop_id = stop.id
                    depot = None
                    load += stop.load_kg
                    served.add(stop.id)
                arrival = activity.start_time - activity.wait_duration
                if previous is None:
                    arrival = activity.start_time
                previous = location
                visits.append(
                    Visit(
                        stop=stop_id,
                        depot=depot,
                        arrival_s=int(arrival),
                        start_s=int(activity.start_time),
                        end_s=int(activity.end_time),
                        load_after_kg=load,
                    )
                )
            cost = route.distance_cost() + route.duration_cost() + route.fixed_vehicle_cost()
            routes.append(
                Route(
                    vehicle=name,
                    visits=tuple(visits),
                    distance=int(route.distance()),
                    duration=int(route.duration()),
                    cost=int(cost),
                )
            )
        unplanned = [Unplanned(stop=s, reason=r) for s, r in dropped.items()]
        for stop in self.stops:
            if stop.id not in served:
                unplanned.append(
                    Unplanned(stop=stop.id, reason=REASON_FLEET if stop.required else REASON_NOT_WORTH)
                )
        assignment: dict[str, str] = {}
        for vehicle, group, _count in self.fleet:
            assignment[vehicle.id] = group
        return Plan(
            routes=tuple(routes),
            unplanned=tuple(unplanned),
            distance=sum(r.distance for r in routes),
            cost=sum(r.cost for r in routes),
            feasible=bool(solution.is_feasible()),
            assignment=assignment,
        )
