"""Solve a :class:`~.model.Problem` with PyVRP and read the answer back as a :class:`~.model.Plan`.

Incompatible waste classes (固废法 Art. 81: incompatible wastes are never mixed, also not on a truck)
are kept apart with load dimensions: each compatibility group is a dimension, a stop loads only
into its group's dimension, and each truck is given one group for the day, with capacity in that
dimension alone. A truck can then never hold two groups at once, whatever the search does, and
the check in :mod:`.check` confirms it for every plan. Trucks are shared out between the groups
in proportion to each group's work before the search (ADR 10).

Stops that no truck could ever serve (too heavy for every licensed truck, no truck licensed for
their class, a window no truck can reach within its shift) are reported before the search. When
the fleet cannot serve all the rest, the required stops become optional with a prize far above
any route's cost, so the search serves all it can and reports the remainder as ``fleet``.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import multiprocessing
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace

import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.search import NeighbourhoodParams

from greenisle.dispatch.optimization.model import (
    Plan,
    Problem,
    Route,
    Stop,
    Unplanned,
    Vehicle,
)
from greenisle.dispatch.optimization.pyvrp_data import (
    MAX_COST,
    REASON_FLEET,
    REASON_NO_LICENSED_VEHICLE,
    REASON_NOT_WORTH,
    REASON_TOO_HEAVY,
    REASON_WINDOW_UNREACHABLE,
    PyvrpProblem,
)
from greenisle.dispatch.optimization.schedule import route_errors, route_schedule

__all__ = [
    "REASON_FLEET",
    "REASON_NO_LICENSED_VEHICLE",
    "REASON_NOT_WORTH",
    "REASON_TOO_HEAVY",
    "REASON_WINDOW_UNREACHABLE",
    "assign_groups",
    "groups_of",
    "plan_solve",
]


def groups_of(problem: Problem) -> list[str]:
    return sorted({stop.waste_class for stop in problem.stops})


def _licensed(vehicle: Vehicle, group: str) -> bool:
    return not vehicle.waste_classes or group in vehicle.waste_classes


def assign_groups(problem: Problem) -> list[tuple[Vehicle, str, int]]:
    """Share the trucks out between the compatibility groups: ``(vehicle, group, count)`` rows.

    Each group's share of the work is the mean of its share of the load and of the stops; trucks
    licensed for fewer groups are placed first, each to the licensed group furthest below its share.
    """
    groups = groups_of(problem)
    if len(groups) <= 1:
        group = groups[0] if groups else ""
        return [(v, group, v.count) for v in problem.vehicles if _licensed(v, group)]
    load: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    for stop in problem.stops:
        load[stop.waste_class] += stop.load_kg
        count[stop.waste_class] += 1
    total_load = sum(load.values()) or 1
    total_count = sum(count.values()) or 1
    weight = {g: (load[g] / total_load + count[g] / total_count) / 2 for g in groups}
    units = sum(v.count for v in problem.vehicles)
    assigned: dict[str, int] = defaultdict(int)
    rows: dict[tuple[str, str], int] = defaultdict(int)
    order = sorted(
        problem.vehicles,
        key=lambda v: (len([g for g in groups if _licensed(v, g)]), v.id),
    )
    for vehicle in order:
        allowed = [g for g in groups if _licensed(vehicle, g)]
        if not allowed:
            continue
        for _ in range(vehicle.count):
            # A group with no truck yet comes first; then the one furthest below its share.
            group = min(
                allowed,
                key=lambda g: (assigned[g] > 0, assigned[g] - weight[g] * units, g),
            )
            assigned[group] += 1
            rows[(vehicle.id, group)] += 1
    by_id = {v.id: v for v in problem.vehicles}
    return [(by_id[vid], group, n) for (vid, group), n in rows.items()]


def _precheck(problem: Problem, fleet: Sequence[tuple[Vehicle, str, int]]) -> dict[str, str]:
    """Stops no truck could serve alone, with the reason."""
    depots = problem.depot_index()
    index = problem.stop_index()
    reasons: dict[str, str] = {}
    for stop in problem.stops:
        candidates = [v for v, group, _n in fleet if group == stop.waste_class and v.may_carry(stop)]
        if not candidates:
            reasons[stop.id] = REASON_NO_LICENSED_VEHICLE
            continue
        if all(
            stop.load_kg > min([v.capacity_kg, *(v.limit_of(c) for c in stop.categories)]) for v in candidates
        ):
            reasons[stop.id] = REASON_TOO_HEAVY
            continue
        i = index[stop.id]
        reachable = False
        for v in candidates:
            start = depots[v.start_depot]
            end = depots[v.end_depot or v.start_depot]
            depart = max(v.shift_start_s, problem.depots[start].open_s, stop.release_s)
            arrive = max(depart + problem.duration[start][i], stop.open_s)
            back = arrive + stop.service_s + problem.duration[i][end]
            # The truck may leave later instead of waiting at the stop: only driving and service
            # count against its longest route.
            busy = problem.duration[start][i] + stop.service_s + problem.duration[i][end]
            if (
                arrive <= stop.close_s
                and back <= v.shift_end_s
                and busy <= v.max_duration_s
                and problem.distance[start][i] + problem.distance[i][end] <= v.max_distance
            ):
                reachable = True
                break
        if not reachable:
            reasons[stop.id] = REASON_WINDOW_UNREACHABLE
    return reasons


class _Budget:
    """Stops a search at its time limit, or at half of it when no feasible solution has turned up
    (the fleet cannot serve every required stop: the rest of the time goes to the soft search)."""

    def __init__(self, seconds: float, give_up: float | None) -> None:
        self.seconds = seconds
        self.give_up = give_up
        self.start: float | None = None

    def __call__(self, best_cost: int) -> bool:
        now = time.perf_counter()
        if self.start is None:
            self.start = now
        elapsed = now - self.start
        if self.give_up is not None and elapsed > self.give_up and best_cost >= MAX_COST // 2:
            return True
        return elapsed > self.seconds


def _params(variant: int) -> pyvrp.SolveParams:
    """PyVRP's defaults, or (variant 1) a greedier search: a shorter late-acceptance history and
    smaller neighbourhoods, which converges faster on large instances within seconds. Two workers
    searching one problem run one of each, and the better plan is kept."""
    if variant == 0:
        return pyvrp.SolveParams()
    return pyvrp.SolveParams(
        ils=pyvrp.IteratedLocalSearchParams(history_length=100),
        neighbourhood=NeighbourhoodParams(num_neighbours=30),
    )


def _search(data: pyvrp.ProblemData, stop: _Budget, seed: int, variant: int = 0) -> pyvrp.Result:
    with warnings.catch_warnings():
        # Expected when the fleet cannot serve every required stop: the soft search follows.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        return pyvrp.solve(data, stop, seed=seed, collect_stats=False, display=False, params=_params(variant))


def _solve_part(
    problem: Problem,
    fleet: Sequence[tuple[Vehicle, str, int]],
    stops: Sequence[Stop],
    seconds: float,
    seed: int,
    variant: int = 0,
) -> Plan:
    """One compatibility group: its trucks and its stops, within ``seconds``."""
    started = time.perf_counter()
    built = PyvrpProblem(problem, fleet, stops, soft=False)
    result = _search(built.data, _Budget(seconds, seconds / 2), seed, variant)
    if result.is_feasible():
        return built.plan_of(result.best, {})
    # Not every required stop fits the fleet: the rest of the time goes to a search with them as
    # heavily rewarded options, so that it serves all it can and reports the rest.
    soft = PyvrpProblem(problem, fleet, stops, soft=True)
    left = max(seconds - (time.perf_counter() - started), 0.1)
    retry = _search(soft.data, _Budget(left, None), seed, variant)
    plan = soft.plan_of(retry.best, {})
    return plan if plan.feasible else _repair(problem, plan)


# Below this search time the parts are solved in this process.
PARALLEL_MIN_SECONDS = 4.0
# Time for handing the problem to the workers and the plans back.
_HANDOVER_S = 0.3

_POOL: concurrent.futures.ProcessPoolExecutor | None = None
_POOL_SIZE = 0


def _ready(_n: int) -> bool:
    time.sleep(0.05)  # so that each worker process takes one of these
    return True


def _pool(size: int) -> tuple[concurrent.futures.ProcessPoolExecutor, float]:
    """Worker processes kept for the life of this process (a task worker plans many days): the
    first plan pays their start, about a second, and later plans none. Returns the pool and the
    seconds spent starting it now."""
    global _POOL, _POOL_SIZE
    if _POOL is not None and size <= _POOL_SIZE:
        return _POOL, 0.0
    if _POOL is not None:
        _POOL.shutdown(cancel_futures=True)
    started = time.perf_counter()
    _POOL = concurrent.futures.ProcessPoolExecutor(
        max_workers=size, mp_context=multiprocessing.get_context("spawn")
    )
    atexit.register(_drop_pool)
    list(_POOL.map(_ready, range(size)))
    _POOL_SIZE = size
    return _POOL, time.perf_counter() - started


def _drop_pool() -> None:
    global _POOL, _POOL_SIZE
    if _POOL is not None:
        _POOL.shutdown(cancel_futures=True)
    _POOL, _POOL_SIZE = None, 0


_Job = tuple[list[tuple[Vehicle, str, int]], list[Stop], float, int, int]


def _run_jobs(problem: Problem, jobs: list[_Job]) -> list[Plan]:
    return [_solve_part(problem, *job) for job in jobs]


def _parts(
    fleet: Sequence[tuple[Vehicle, str, int]], stops: Sequence[Stop]
) -> list[tuple[list[tuple[Vehicle, str, int]], list[Stop]]]:
    """Once every truck has its group, the day splits into one independent problem per group."""
    groups = sorted({g for _v, g, _n in fleet} | {s.waste_class for s in stops})
    out = []
    for group in groups:
        part_fleet = [row for row in fleet if row[1] == group]
        part_stops = [s for s in stops if s.waste_class == group]
        if part_stops and part_fleet:
            out.append((part_fleet, part_stops))
    return out


def _better(a: Plan, b: Plan) -> Plan:
    def key(p: Plan) -> tuple[int, int, int]:
        return (sum(1 for u in p.unplanned if u.reason == REASON_FLEET), 0 if p.feasible else 1, p.cost)

    return a if key(a) <= key(b) else b


def plan_solve(
    problem: Problem,
    *,
    seconds: float,
    seed: int = 1,
    workers: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> Plan:
    """Plan ``problem`` within about ``seconds`` of wall time.

    Each compatibility group is its own search (its trucks serve no other group). With
    ``workers`` > 1 (default: the machine's cores, up to 2, when ``seconds`` allows) the searches
    run in parallel processes: the groups are shared out between them, largest first, each worker
    splitting its time between its groups by their size; a single group is searched by every
    worker with its own seed and search settings (see ``_params``), and the better answer kept.
    """
    fleet = assign_groups(problem)
    dropped = _precheck(problem, fleet)
    stops = [s for s in problem.stops if s.id not in dropped]
    parts = _parts(fleet, stops)
    if not parts:
        return _empty_plan(problem, dropped, fleet)
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if seconds >= PARALLEL_MIN_SECONDS else 1
    pool = None
    budget = seconds
    if workers > 1:
        started = time.perf_counter()
        try:
            pool, _spent = _pool(workers)
        except (OSError, concurrent.futures.process.BrokenProcessPool):
            _drop_pool()
            workers = 1
        budget = max(seconds - (time.perf_counter() - started) - _HANDOVER_S, 0.1)
    if len(parts) == 1:
        per_worker: list[list[_Job]] = [
            [(parts[0][0], parts[0][1], budget, seed + w, w % 2)] for w in range(max(workers, 1))
        ]
    else:
        loads = [0] * max(workers, 1)
        buckets: list[list[int]] = [[] for _ in loads]
        for n in sorted(range(len(parts)), key=lambda n: -len(parts[n][1])):
            w = loads.index(min(loads))
            buckets[w].append(n)
            loads[w] += len(parts[n][1])
        per_worker = [
            [
                (parts[n][0], parts[n][1], budget * len(parts[n][1]) / max(loads[w], 1), seed, 0)
                for n in bucket
            ]
            for w, bucket in enumerate(buckets)
            if bucket
        ]
    answers: list[list[Plan]] | None = None
    if len(per_worker) > 1 and pool is not None:
        try:
            futures = [pool.submit(_run_jobs, problem, jobs) for jobs in per_worker]
            answers = [f.result() for f in futures]
        except concurrent.futures.process.BrokenProcessPool:
            # A worker died (out of memory, killed): plan here instead, within what is left.
            _drop_pool()
            answers = None
    if answers is None:
        answers = [_run_jobs(problem, [job for jobs in per_worker[:1] for job in jobs])]
        if len(parts) > 1:
            answers = [
                _run_jobs(problem, [(f, st, budget * len(st) / len(stops), seed, 0) for f, st in parts])
            ]
    if progress is not None:
        progress(1.0)
    if len(parts) == 1:
        best = answers[0][0]
        for other in answers[1:]:
            best = _better(best, other[0])
        pieces = [best]
    else:
        pieces = [plan for answer in answers for plan in answer]
    return _merge(problem, pieces, dropped, fleet)


def _merge(
    problem: Problem,
    pieces: Sequence[Plan],
    dropped: dict[str, str],
    fleet: Sequence[tuple[Vehicle, str, int]],
) -> Plan:
    """One plan from the groups' plans; trucks of a vehicle with ``count`` > 1 numbered across them."""
    counts = {v.id: v.count for v in problem.vehicles}
    used: dict[str, int] = defaultdict(int)
    routes: list[Route] = []
    for piece in pieces:
        for route in piece.routes:
            base = route.vehicle.split("#", 1)[0]
            used[base] += 1
            name = base if counts.get(base, 1) == 1 else f"{base}#{used[base]}"
            routes.append(replace(route, vehicle=name))
    unplanned = [Unplanned(stop=s, reason=r) for s, r in dropped.items()]
    unplanned += [u for piece in pieces for u in piece.unplanned]
    planned = {s for r in routes for s in r.stop_ids()} | {u.stop for u in unplanned}
    # Stops of a group no truck was given: the fleet is too small for all groups.
    unplanned += [Unplanned(stop=s.id, reason=REASON_FLEET) for s in problem.stops if s.id not in planned]
    return Plan(
        routes=tuple(routes),
        unplanned=tuple(unplanned),
        distance=sum(r.distance for r in routes),
        cost=sum(r.cost for r in routes),
        feasible=all(p.feasible for p in pieces),
        assignment={v.id: g for v, g, _n in fleet},
    )


def _repair(problem: Problem, plan: Plan) -> Plan:
    """Make every route keep the rules by leaving out, in visiting order, each stop that would break
    one: what a search cut short by its time limit left infeasible becomes feasible and reported."""
    routes: list[Route] = []
    unplanned = list(plan.unplanned)
    for route in plan.routes:
        if not route_errors(problem, route):
            routes.append(route)
            continue
        kept: list[str] = []
        for visit in route.visits[1:-1]:
            if visit.stop is None:
                if kept and kept[-1] != visit.depot:
                    kept.append(str(visit.depot))
                continue
            trial = route_schedule(problem, route.vehicle, [*kept, visit.stop])
            if route_errors(problem, trial):
                unplanned.append(Unplanned(stop=visit.stop, reason=REASON_FLEET))
            else:
                kept.append(visit.stop)
        depots = {d.id for d in problem.depots}
        while kept and kept[-1] in depots:
            kept.pop()
        if any(k not in depots for k in kept):
            routes.append(route_schedule(problem, route.vehicle, kept))
    return Plan(
        routes=tuple(routes),
        unplanned=tuple(unplanned),
        distance=sum(r.distance for r in routes),
        cost=sum(r.cost for r in routes),
        feasible=True,
        assignment=plan.assignment,
    )


def _empty_plan(problem: Problem, dropped: dict[str, str], fleet: Sequence[tuple[Vehicle, str, int]]) -> Plan:
    unplanned = [Unplanned(stop=s, reason=r) for s, r in dropped.items()]
    for stop in problem.stops:
        if stop.id not in dropped:
            unplanned.append(Unplanned(stop=stop.id, reason=REASON_FLEET))
    return Plan(
        routes=(),
        unplanned=tuple(unplanned),
        distance=0,
        cost=0,
        feasible=True,
        assignment={v.id: g for v, g, _n in fleet},
    )
