"""Benchmark instances for the route planner, read into its own :class:`Problem`.

Each reader follows the rounding convention the instance's best-known solution (BKS) assumes
(``../shared/data/vrp/README.md``): VRPLIB files go through ``pyvrp.read`` with that convention and
its ``ProblemData`` is translated field by field into our dataclasses; Solomon ``.txt`` files are
read with ``vrplib`` and scaled the DIMACS way by hand; the Kim et al. (2006) waste-collection files
are parsed here. Location numbers are the instance's own (depots first, then clients), so a
VRPLIB ``.sol`` route reads straight into our numbering.

Costs are recomputed from a plan's routes with the instance's matrices and vehicle costs
(:func:`plan_cost`), never taken from the solver, and :func:`solution_cost` applies the same
function to a BKS ``.sol`` file: the tests check that it gives back the published value.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyvrp
import vrplib

from greenisle.dispatch.optimization.model import UNBOUNDED, Depot, Plan, Problem, Stop, Vehicle

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "vrp"


def _bounded(value: int | float) -> int:
    """PyVRP's "unconstrained" (the int64 or uint64 maximum) as our UNBOUNDED."""
    return int(value) if value < UNBOUNDED else UNBOUNDED


@dataclass(frozen=True)
class SetInfo:
    """One benchmark set: where its files are, how they are read, and how costs map to BKS units."""

    key: str
    folder: str
    pattern: str
    round_func: str
    # Our integer cost divided by this is in the BKS's units.
    scale: float
    ortools_first_solution: str | None


SETS: dict[str, SetInfo] = {
    info.key: info
    for info in (
        SetInfo("x", "cvrp_x", "*.vrp", "round", 1, "PATH_CHEAPEST_ARC"),
        SetInfo("solomon", "vrptw_solomon", "*.txt", "dimacs", 10, "PARALLEL_CHEAPEST_INSERTION"),
        SetInfo("gh1000", "vrptw_gh1000", "*.vrp", "dimacs", 10, "PARALLEL_CHEAPEST_INSERTION"),
        # The PCVRPTW BKS is already the x10 integer (distance + uncollected prizes). OR-Tools' insertion
        # heuristics leave every optional client out here, so its first solution is path-cheapest-arc.
        SetInfo("pcvrptw", "pcvrptw_gh1000", "*.vrp", "dimacs", 1, "PATH_CHEAPEST_ARC"),
        # MDVRPTW BKS is in the x1000 integers of round_func="exact".
        SetInfo("mdvrptw", "mdvrptw", "*.vrp", "exact", 1, "PARALLEL_CHEAPEST_INSERTION"),
        # HFVRP: x1000 distances times x100 unit costs (and x100 fixed costs read x1000).
        SetInfo("hfvrp", "hfvrp", "*.vrp", "exact", 100_000, "PARALLEL_CHEAPEST_INSERTION"),
        SetInfo("kim2006", "waste_kim2006", "*_stop.txt", "kim", 1, None),
    )
}


@dataclass
class Instance:
    set: str
    name: str
    problem: Problem
    bks: float | None = None
    bks_routes: int | None = None
    scale: float = 1
    sol_path: Path | None = None
    # Vehicle id of each vehicle index a VRPLIB .sol numbers its routes by.
    vehicle_of_index: list[str] = field(default_factory=list)
    # Fleet OR-Tools is given (baseline_measurements.csv's ``fleet``), when it is not the instance's.
    ortools_fleet: int | None = None
    ortools_first_solution: str | None = None
    # What the instance asks for that the model cannot express, and how it was handled.
    not_modelled: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.problem.stops)


# --- BKS table and solutions --------------------------------------------------------------------------


def read_bks_table(path: Path = DATA / "bks.csv") -> dict[str, dict[str, str]]:
    """bks.csv rows keyed by the instance's file (``cvrp_x/X-n101-k25.vrp``)."""
    with path.open(newline="", encoding="utf-8") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


def read_fleets(path: Path = DATA / "baseline_measurements.csv") -> dict[str, int]:
    """Vehicles OR-Tools was given in the baseline runs, per instance."""
    fleets: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["solver"] == "ortools" and row["fleet"]:
                fleets[row["instance"]] = int(row["fleet"])
    return fleets


def read_solution_routes(path: Path) -> list[list[int]]:
    """A VRPLIB solution's routes as location numbers, one list per vehicle index (empty included)."""
    routes: list[list[int]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lower().startswith("route"):
            _head, _sep, body = line.partition(":")
            routes.append([int(tok) for tok in body.split()])
    return routes


# --- cost ---------------------------------------------------------------------------------------------


def _sequence(problem: Problem, visits: Iterable[tuple[str | None, str | None]]) -> list[int]:
    depots = problem.depot_index()
    stops = problem.stop_index()
    return [stops[stop] if stop is not None else depots[str(depot)] for stop, depot in visits]


def vehicle_by_id(problem: Problem) -> dict[str, Vehicle]:
    return {v.id: v for v in problem.vehicles}


def routes_cost(
    problem: Problem,
    routes: Sequence[tuple[str, Sequence[int]]],
    durations: Sequence[int] | None = None,
) -> int:
    """Objective of ``routes`` (vehicle id, locations from start depot to end depot): fixed costs,
    distance times each vehicle's unit cost, duration costs when ``durations`` are given, plus
    the prize of every optional stop left out. Distances come from the problem's matrix."""
    vehicles = vehicle_by_id(problem)
    total = 0
    visited: set[int] = set()
    for k, (vehicle_id, path) in enumerate(routes):
        vehicle = vehicles[vehicle_id.split("#", 1)[0]]
        distance = sum(int(problem.distance[a][b]) for a, b in zip(path, path[1:], strict=False))
        total += vehicle.fixed_cost + vehicle.unit_distance_cost * distance
        if durations is not None and vehicle.unit_duration_cost:
            total += vehicle.unit_duration_cost * durations[k]
        visited.update(path)
    offset = len(problem.depots)
    for i, stop in enumerate(problem.stops):
        if not stop.required and offset + i not in visited:
            total += stop.prize
    return total


def plan_paths(problem: Problem, plan: Plan) -> list[tuple[str, list[int]]]:
    return [
        (route.vehicle, _sequence(problem, ((v.stop, v.depot) for v in route.visits)))
        for route in plan.routes
    ]


def plan_cost(problem: Problem, plan: Plan) -> int:
    return routes_cost(problem, plan_paths(problem, plan), [r.duration for r in plan.routes])


def plan_distance(problem: Problem, plan: Plan) -> int:
    return sum(
        int(problem.distance[a][b])
        for _vehicle, path in plan_paths(problem, plan)
        for a, b in zip(path, path[1:], strict=False)
    )


def solution_cost(instance: Instance, path: Path | None = None) -> int:
    """Our cost of a VRPLIB ``.sol`` file (default: the instance's BKS), in our integer units."""
    sol = path or instance.sol_path
    if sol is None:
        raise ValueError(f"{instance.name}: no solution file")
    problem = instance.problem
    depots = problem.depot_index()
    vehicles = vehicle_by_id(problem)
    routes: list[tuple[str, list[int]]] = []
    for index, visits in enumerate(read_solution_routes(sol)):
        if not visits:
            continue
        vehicle = vehicles[
            instance.vehicle_of_index[index] if instance.vehicle_of_index else problem.vehicles[0].id
        ]
        start = depots[vehicle.start_depot]
        end = depots[vehicle.end_depot or vehicle.start_depot]
        routes.append((vehicle.id, [start, *visits, end]))
    return routes_cost(problem, routes)


def gap_pct(cost_bks_units: float, bks: float | None) -> float | None:
    if bks is None or bks == 0:
        return None
    return round(100 * (cost_bks_units - bks) / bks, 3)


# --- VRPLIB through PyVRP ----------------------------------------------------------------------------


def problem_from_data(data: pyvrp.ProblemData) -> tuple[Problem, list[str], list[str]]:
    """Our Problem from PyVRP's ProblemData, with the vehicle id of each vehicle index and notes on
    anything dropped. Depots are ``"0"``, ``"1"`` …, stops the clients' location numbers."""
    notes: list[str] = []
    if data.num_profiles != 1:
        raise ValueError("routing profiles (vehicle-specific matrices) are not part of the model")
    if data.num_groups or data.num_shipments:
        raise ValueError("client groups and shipments are not part of the model")
    if data.num_load_dimensions > 1:
        raise ValueError("more than one load dimension is not part of the model")
    locations = data.locations()
    depots = []
    for k, depot in enumerate(data.depots()):
        if depot.location != k:
            raise ValueError("depots must be the first locations")
        loc = locations[depot.location]
        depots.append(
            Depot(
                id=str(k),
                x=float(loc.x),
                y=float(loc.y),
                open_s=int(depot.tw_early),
                close_s=_bounded(depot.tw_late),
                service_s=int(depot.service_duration),
            )
        )
    stops = []
    for k, client in enumerate(data.clients()):
        if client.location != data.num_depots + k:
            raise ValueError("clients must follow the depots in order")
        loc = locations[client.location]
        delivery = int(client.delivery[0]) if len(client.delivery) else 0
        pickup = int(client.pickup[0]) if len(client.pickup) else 0
        if delivery and pickup:
            raise ValueError(f"client {client.location} both delivers and picks up")
        stops.append(
            Stop(
                id=str(client.location),
                load_kg=delivery or pickup,
                x=float(loc.x),
                y=float(loc.y),
                service_s=int(client.service_duration),
                open_s=int(client.tw_early),
                close_s=_bounded(client.tw_late),
                release_s=int(client.release_time),
                required=bool(client.required),
                prize=int(client.prize),
            )
        )
    vehicles = []
    vehicle_of_index = [""] * data.num_vehicles
    for t, vt in enumerate(data.vehicle_types()):
        if vt.max_overtime or vt.initial_load and any(vt.initial_load):
            raise ValueError("overtime and initial loads are not part of the model")
        if vt.start_late is not None and vt.start_late < vt.tw_late:
            notes.append("latest start times dropped")
        vid = f"T{t}"
        vehicles.append(
            Vehicle(
                id=vid,
                capacity_kg=_bounded(vt.capacity[0]) if len(vt.capacity) else UNBOUNDED,
                start_depot=str(vt.start_depot),
                end_depot=str(vt.end_depot),
                count=int(vt.num_available),
                shift_start_s=int(vt.tw_early),
                shift_end_s=_bounded(vt.tw_late),
                max_duration_s=_bounded(vt.shift_duration),
                max_distance=_bounded(vt.max_distance),
                fixed_cost=int(vt.fixed_cost),
                unit_distance_cost=int(vt.unit_distance_cost),
                unit_duration_cost=int(vt.unit_duration_cost),
                reload_depots=tuple(str(d) for d in vt.reload_depots),
                max_reloads=None if vt.max_reloads >= UNBOUNDED else int(vt.max_reloads),
            )
        )
        for index in vt.name.split(","):
            if index:
                vehicle_of_index[int(index)] = vid
    problem = Problem(
        depots=tuple(depots),
        stops=tuple(stops),
        vehicles=tuple(vehicles),
        distance=np.asarray(data.distance_matrix(0), dtype=np.int64),
        duration=np.asarray(data.duration_matrix(0), dtype=np.int64),
    )
    return problem, vehicle_of_index, notes


def read_vrplib(path: Path, round_func: str) -> tuple[Problem, list[str], list[str]]:
    return problem_from_data(pyvrp.read(path, round_func=round_func))


def read_solomon(path: Path) -> Problem:
    """A Solomon ``.txt`` instance with DIMACS conventions: distances and times x10, truncated."""
    inst = vrplib.read_instance(str(path), instance_format="solomon")
    coords = inst["node_coord"]
    matrix = (10 * np.asarray(inst["edge_weight"])).astype(np.int64)
    tw = (10 * np.asarray(inst["time_window"])).astype(np.int64)
    service = (10 * np.asarray(inst["service_time"])).astype(np.int64)
    demand = np.asarray(inst["demand"]).astype(np.int64)
    # As pyvrp.read does: the depot's window is the vehicles' shift.
    depot = Depot(id="0", x=float(coords[0][0]), y=float(coords[0][1]))
    stops = tuple(
        Stop(
            id=str(i),
            load_kg=int(demand[i]),
            x=float(coords[i][0]),
            y=float(coords[i][1]),
            service_s=int(service[i]),
            open_s=int(tw[i][0]),
            close_s=int(tw[i][1]),
        )
        for i in range(1, len(coords))
    )
    vehicle = Vehicle(
        id="T0",
        capacity_kg=int(inst["capacity"]),
        start_depot="0",
        end_depot="0",
        count=int(inst["vehicles"]),
        shift_start_s=int(tw[0][0]),
        shift_end_s=int(tw[0][1]),
    )
    return Problem(depots=(depot,), stops=stops, vehicles=(vehicle,), distance=matrix, duration=matrix)


# --- Kim, Kim & Sahoo (2006) ----------------------------------------------------------------------------

FEET_PER_MILE = 5280
# Load is in cubic yards with two decimals: hundredths of a yard make it an integer.
KIM_LOAD_SCALE = 100
# The paper minimises the number of vehicles first; a fixed cost of 200 miles of driving per truck
# makes the planner prefer fewer trucks without a strict hierarchy.
KIM_FIXED_COST_FT = 200 * FEET_PER_MILE


def _hhmm(token: str) -> int:
    value = int(float(token))
    return (value // 100) * 3600 + (value % 100) * 60


@dataclass(frozen=True)
class KimHeader:
    capacity_yd: float
    max_yards_per_day: float
    max_stops_per_route: int
    lunch_s: int
    speed_mph: float


def read_kim(path: Path) -> Instance:
    """A Kim et al. (2006) WCVRPTW instance: Manhattan distances in feet, travel times at the
    header's speed, disposal facilities as reload depots (with their unloading time as the depot's
    service time), and the last disposal trip folded into the return leg (see below)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    head = [line.split()[0] for line in lines[:5]]
    header = KimHeader(
        float(head[0]), float(head[1]), int(float(head[2])), int(float(head[3])), float(head[4])
    )
    rows = []
    for line in lines[5:]:
        tokens = line.split()
        if len(tokens) < 8:
            continue
        try:
            float(tokens[1])
        except ValueError:
            continue
        rows.append(tokens[:8])
    depot_rows = [r for r in rows if int(float(r[7])) == 0]
    landfill_rows = [r for r in rows if int(float(r[7])) == 2]
    stop_rows = [r for r in rows if int(float(r[7])) == 1]
    if len(depot_rows) != 1 or not landfill_rows:
        raise ValueError(f"{path.name}: expected one depot and at least one disposal facility")
    ordered = depot_rows + landfill_rows + stop_rows
    xy = np.array([[float(r[1]), float(r[2])] for r in ordered])
    feet = np.abs(xy[:, None, 0] - xy[None, :, 0]) + np.abs(xy[:, None, 1] - xy[None, :, 1])
    distance = np.rint(feet).astype(np.int64)
    seconds_per_foot = 3600 / (FEET_PER_MILE * header.speed_mph)
    duration = np.rint(feet * seconds_per_foot).astype(np.int64)

    d = depot_rows[0]
    depots = [Depot(id="depot", x=float(d[1]), y=float(d[2]), open_s=_hhmm(d[3]), close_s=_hhmm(d[4]))]
    for r in landfill_rows:
        depots.append(
            Depot(
                id=f"L{r[0]}",
                x=float(r[1]),
                y=float(r[2]),
                open_s=_hhmm(r[3]),
                close_s=_hhmm(r[4]),
                service_s=int(float(r[5])),
            )
        )
    nl = len(landfill_rows)
    # A truck must come home empty: it goes to a disposal facility after its last stop. That last
    # trip is folded into the return leg, stop -> depot being stop -> best facility -> depot, so
    # the return leg is a disposal trip whatever route the search builds.
    via = np.zeros(len(ordered), dtype=np.int64)
    for i in range(1 + nl, len(ordered)):
        legs = [distance[i][1 + k] + distance[1 + k][0] for k in range(nl)]
        k = int(np.argmin(legs))
        via[i] = 1 + k
        distance[i][0] = legs[k]
        duration[i][0] = duration[i][1 + k] + depots[1 + k].service_s + duration[1 + k][0]
    stops = []
    for r in stop_rows:
        stops.append(
            Stop(
                id=f"S{r[0]}",
                load_kg=int(round(float(r[6]) * KIM_LOAD_SCALE)),
                x=float(r[1]),
                y=float(r[2]),
                service_s=int(float(r[5])),
                open_s=_hhmm(r[3]),
                close_s=_hhmm(r[4]),
            )
        )
    capacity = int(round(header.capacity_yd * KIM_LOAD_SCALE))
    total_load = sum(s.load_kg for s in stops)
    fleet = math.ceil(total_load / capacity) + 3
    # The daily yardage limit caps the trips a truck can fill; as many reloads as it allows is a
    # relaxation that never cuts a plan the limit permits.
    max_reloads = max(0, math.ceil(header.max_yards_per_day * KIM_LOAD_SCALE / capacity) - 1)
    vehicle = Vehicle(
        id="truck",
        capacity_kg=capacity,
        start_depot="depot",
        end_depot="depot",
        count=fleet,
        shift_start_s=depots[0].open_s,
        shift_end_s=depots[0].close_s,
        fixed_cost=KIM_FIXED_COST_FT,
        reload_depots=tuple(dep.id for dep in depots[1:]),
        max_reloads=max_reloads,
    )
    problem = Problem(
        depots=tuple(depots), stops=tuple(stops), vehicles=(vehicle,), distance=distance, duration=duration
    )
    name = path.stem
    not_modelled = [
        f"lunch break ({header.lunch_s} s starting 11:00-12:00) not modelled",
        f"max {header.max_yards_per_day:g} yd per vehicle per day only bounded by at most {max_reloads} "
        "unloads (checked after planning)",
        f"max {header.max_stops_per_route} stops per route not modelled (checked after planning)",
        "the last disposal trip is folded into the return leg; its facility's hours are checked after planning",
        f"fleet bounded at ceil(load/capacity) + 3 = {fleet}; a fixed cost of "
        f"{KIM_FIXED_COST_FT} ft per truck stands in for minimising vehicles first",
    ]
    return Instance(
        set="kim2006",
        name=name,
        problem=problem,
        scale=1,
        not_modelled=not_modelled,
        extra={"header": header, "via": via},
    )


def kim_after_checks(instance: Instance, plan: Plan) -> dict[str, int]:
    """The limits of the Kim instances the model does not hold, counted on a plan: routes over the
    daily yardage or the stop count, and final disposal trips outside their facility's hours."""
    header = instance.extra["header"]
    assert isinstance(header, KimHeader)
    via = instance.extra["via"]
    problem = instance.problem
    stops = {s.id: s for s in problem.stops}
    index = problem.stop_index()
    over_yards = over_stops = final_outside = 0
    for route in plan.routes:
        ids = route.stop_ids()
        if sum(stops[s].load_kg for s in ids) > header.max_yards_per_day * KIM_LOAD_SCALE:
            over_yards += 1
        if len(ids) > header.max_stops_per_route:
            over_stops += 1
        last = route.visits[-2] if len(route.visits) >= 2 else None
        if last is not None and last.stop is not None:
            i = index[last.stop]
            k = int(via[i])  # type: ignore[index]
            arrive = last.end_s + int(problem.duration[i][k])
            facility = problem.depots[k]
            if not facility.open_s <= arrive <= facility.close_s:
                final_outside += 1
    return {
        "routes_over_daily_yards": over_yards,
        "routes_over_max_stops": over_stops,
        "final_disposal_outside_hours": final_outside,
    }


# --- loading sets ----------------------------------------------------------------------------------------


def set_files(key: str) -> list[Path]:
    info = SETS[key]
    return sorted((DATA / info.folder).glob(info.pattern))


def load_instance(key: str, path: Path, bks_rows: dict[str, dict[str, str]] | None = None) -> Instance:
    info = SETS[key]
    if key == "kim2006":
        return read_kim(path)
    rows = bks_rows if bks_rows is not None else read_bks_table()
    row = rows.get(f"{info.folder}/{path.name}")
    notes: list[str] = []
    vehicle_of_index: list[str] = []
    if key == "solomon":
        problem = read_solomon(path)
    else:
        problem, vehicle_of_index, notes = read_vrplib(path, info.round_func)
    sol = path.with_suffix(".sol")
    fleets = read_fleets()
    return Instance(
        set=key,
        name=path.stem,
        problem=problem,
        bks=float(row["bks"]) if row and row["bks"] else None,
        bks_routes=int(row["bks_routes"]) if row and row["bks_routes"] else None,
        scale=info.scale,
        sol_path=sol if sol.exists() else None,
        vehicle_of_index=vehicle_of_index,
        ortools_fleet=fleets.get(path.stem),
        ortools_first_solution=info.ortools_first_solution,
        not_modelled=notes,
    )


def load_set(key: str, names: Iterable[str] | None = None) -> list[Instance]:
    wanted = set(names) if names else None
    rows = read_bks_table()
    return [
        load_instance(key, path, rows)
        for path in set_files(key)
        if wanted is None or path.stem in wanted or path.stem.removesuffix("_stop") in wanted
    ]
