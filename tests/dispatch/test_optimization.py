"""The route model: every plan honours the rules, edits keep them, locked routes stay put."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenisle.dispatch.optimization.check import plan_violations
from greenisle.dispatch.optimization.distances import haversine_m, haversine_matrices
from greenisle.dispatch.optimization.edit import (
    PlanEditError,
    plan_insert,
    plan_move_stop,
    plan_reoptimise,
    route_schedule,
)
from greenisle.dispatch.optimization.model import Depot, Plan, Problem, Stop, Vehicle
from greenisle.dispatch.optimization.solver import (
    REASON_NO_LICENSED_VEHICLE,
    REASON_TOO_HEAVY,
    REASON_WINDOW_UNREACHABLE,
    plan_solve,
)

HOUR = 3600
CODES = ["900-214-08", "900-249-08", "900-252-12", "900-041-49"]


def random_problem(seed: int, *, stops: int = 18, vehicles: int = 4, classes: int = 3) -> Problem:
    rng = random.Random(seed)
    groups = ["oil", "acid", "solid"][:classes]
    depots = [
        Depot("D0", 5000, 5000, open_s=6 * HOUR, close_s=20 * HOUR, service_s=rng.choice([0, 600])),
        Depot("D1", rng.uniform(0, 10000), rng.uniform(0, 10000), service_s=300),
    ]
    stop_list = []
    for i in range(stops):
        opens = rng.choice([8, 9, 13]) * HOUR
        stop_list.append(
            Stop(
                f"S{i}",
                load_kg=rng.randint(20, 900),
                x=rng.uniform(0, 10000),
                y=rng.uniform(0, 10000),
                service_s=rng.choice([300, 600, 900]),
                open_s=opens,
                close_s=opens + rng.choice([2, 3, 4, 9]) * HOUR,
                release_s=rng.choice([0, 0, 0, 10 * HOUR]),
                required=rng.random() < 0.75,
                prize=rng.randint(0, 20000),
                waste_class=rng.choice(groups),
                codes=frozenset(rng.sample(CODES, rng.randint(1, 2))),
                categories=frozenset(rng.sample(["HW08", "HW12", "HW49"], rng.randint(1, 2))),
            )
        )
    fleet = []
    for i in range(vehicles):
        licensed = (
            frozenset(rng.sample(groups, rng.randint(1, len(groups)))) if rng.random() < 0.5 else frozenset()
        )
        fleet.append(
            Vehicle(
                f"V{i}",
                capacity_kg=rng.choice([1000, 1500, 3000]),
                start_depot="D0",
                end_depot=rng.choice([None, "D0", "D1"]),
                shift_start_s=rng.choice([7, 8]) * HOUR,
                shift_end_s=rng.choice([16, 18]) * HOUR,
                max_duration_s=rng.choice([8, 10]) * HOUR,
                unit_distance_cost=rng.choice([1, 2]),
                unit_duration_cost=rng.choice([0, 1]),
                fixed_cost=rng.choice([0, 5000]),
                waste_classes=licensed,
                reload_depots=tuple(rng.sample(["D0", "D1"], rng.randint(0, 2))),
                max_reloads=rng.choice([None, 1, 2]),
                licensed_codes=frozenset(rng.sample(CODES, 3)) if rng.random() < 0.3 else frozenset(),
                category_limits=(("HW08", rng.choice([500, 900])),) if rng.random() < 0.3 else (),
            )
        )
    points = [(d.x, d.y) for d in depots] + [(s.x, s.y) for s in stop_list]
    distance = [[int(math.hypot(a[0] - b[0], a[1] - b[1])) for b in points] for a in points]
    duration = [[d // 8 for d in row] for row in distance]  # about 29 km/h
    return Problem(depots, stop_list, fleet, distance, duration)


def assert_sound(problem: Problem, plan: Plan) -> None:
    assert plan_violations(problem, plan) == []
    planned = {s for r in plan.routes for s in r.stop_ids()}
    reported = {u.stop for u in plan.unplanned}
    for stop in problem.stops:
        if stop.required:
            assert (stop.id in planned) != (stop.id in reported), stop.id


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6))
def test_every_plan_honours_capacity_windows_shifts_and_class_separation(seed: int) -> None:
    problem = random_problem(seed)
    plan = plan_solve(problem, seconds=0.2, seed=1)
    assert_sound(problem, plan)
    classes = {s.id: s.waste_class for s in problem.stops}
    for route in plan.routes:
        # 固废法 Art. 81: one compatibility group per truck.
        assert len({classes[s] for s in route.stop_ids()}) == 1


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6))
def test_reoptimisation_keeps_locked_routes_unchanged(seed: int) -> None:
    problem = random_problem(seed, stops=20, vehicles=4)
    plan = plan_solve(problem, seconds=0.2, seed=1)
    if not plan.routes:
        return
    locked = {plan.routes[0].vehicle}
    again = plan_reoptimise(problem, plan, locked=locked, seconds=0.2, seed=7)
    assert again.route_of(plan.routes[0].vehicle) == plan.routes[0]
    assert_sound(problem, again)


def test_a_checker_catches_a_mixed_truck_and_an_overload() -> None:
    depots = [Depot("D0")]
    stops = [Stop("a", 600, waste_class="oil"), Stop("b", 600, waste_class="acid")]
    problem = Problem(
        depots, stops, [Vehicle("V", 1000, "D0")], [[0, 5, 5], [5, 0, 5], [5, 5, 0]], [[0] * 3] * 3
    )
    mixed = route_schedule(problem, "V", ["a", "b"])
    plan = Plan(routes=(mixed,), unplanned=(), distance=mixed.distance, cost=mixed.cost, feasible=True)
    found = plan_violations(problem, plan)
    assert any("incompatible classes" in v for v in found)
    assert any("over capacity" in v for v in found)


def test_stops_no_truck_could_serve_are_reported_with_their_reason() -> None:
    depots = [Depot("D0")]
    stops = [
        Stop("heavy", 5000),
        Stop("late", 10, open_s=0, close_s=10),
        Stop("acid", 10, waste_class="acid"),
        Stop("fine", 10),
    ]
    far = 100
    distance = [[0 if i == j else far for j in range(5)] for i in range(5)]
    vehicle = Vehicle("V", 1000, "D0", waste_classes=frozenset({""}))
    plan = plan_solve(Problem(depots, stops, [vehicle], distance, distance), seconds=0.1)
    reasons = {u.stop: u.reason for u in plan.unplanned}
    assert reasons == {
        "heavy": REASON_TOO_HEAVY,
        "late": REASON_WINDOW_UNREACHABLE,
        "acid": REASON_NO_LICENSED_VEHICLE,
    }
    assert plan.routes[0].stop_ids() == ["fine"]


def test_when_the_fleet_is_short_the_plan_stays_feasible_and_names_what_is_left() -> None:
    depots = [Depot("D0")]
    stops = [Stop(f"s{i}", 400) for i in range(6)]
    distance = [[0 if i == j else 10 for j in range(7)] for i in range(7)]
    plan = plan_solve(Problem(depots, stops, [Vehicle("V", 1000, "D0")], distance, distance), seconds=0.2)
    assert plan.feasible
    assert len(plan.routes[0].stop_ids()) == 2
    assert sorted(u.reason for u in plan.unplanned) == ["fleet"] * 4


def test_reloading_at_a_depot_lets_one_truck_serve_more_than_its_capacity() -> None:
    depots = [Depot("D0", service_s=600)]
    stops = [Stop(f"s{i}", 400) for i in range(6)]
    distance = [[0 if i == j else 10 for j in range(7)] for i in range(7)]
    truck = Vehicle("V", 1000, "D0", reload_depots=("D0",))
    problem = Problem(depots, stops, [truck], distance, distance)
    plan = plan_solve(problem, seconds=0.2)
    assert plan.unplanned == ()
    assert_sound(problem, plan)
    unloads = [v for v in plan.routes[0].visits[1:-1] if v.depot == "D0"]
    assert len(unloads) == 2


def test_an_urgent_stop_goes_where_it_costs_least_and_other_routes_do_not_move() -> None:
    # On a line: the depot at 0, a and b to the east on V1's route, c to the west on V2's.
    where = {"D0": 0, "a": 10, "b": 30, "c": -20, "u": 20}
    names = list(where)
    distance = [[abs(where[x] - where[y]) for y in names] for x in names]
    depots = [Depot("D0")]
    stops = [Stop("a", 10), Stop("b", 10), Stop("c", 10), Stop("u", 10)]
    vehicles = [Vehicle("V1", 100, "D0"), Vehicle("V2", 100, "D0"), Vehicle("V3", 100, "D0")]
    problem = Problem(depots, stops, vehicles, distance, distance)
    routes = (route_schedule(problem, "V1", ["a", "b"]), route_schedule(problem, "V2", ["c"]))
    plan = Plan(routes=routes, unplanned=(), distance=sum(r.distance for r in routes), cost=0, feasible=True)
    inserted = plan_insert(problem, plan, "u", spare=["V3"])
    # Between a and b it costs nothing more; anywhere else it does.
    assert (inserted.vehicle, inserted.position, inserted.added_cost) == ("V1", 1, 0)
    assert inserted.plan.route_of("V1").stop_ids() == ["a", "u", "b"]
    assert inserted.plan.route_of("V2") == routes[1]
    assert plan_violations(problem, inserted.plan) == []
    # With V1 full, the cheapest feasible place is on V2, and V1 does not move.
    small = [Vehicle("V1", 20, "D0"), Vehicle("V2", 100, "D0"), Vehicle("V3", 100, "D0")]
    moved = plan_insert(Problem(depots, stops, small, distance, distance), plan, "u", spare=["V3"])
    assert moved.vehicle == "V2" and moved.plan.route_of("V1") == routes[0]


def test_moving_a_stop_to_a_truck_of_another_class_is_refused() -> None:
    depots = [Depot("D0")]
    stops = [Stop("a", 10, waste_class="oil"), Stop("b", 10, waste_class="acid")]
    distance = [[0, 5, 5], [5, 0, 5], [5, 5, 0]]
    vehicles = [Vehicle("V1", 1000, "D0"), Vehicle("V2", 1000, "D0")]
    problem = Problem(depots, stops, vehicles, distance, distance)
    plan = plan_solve(problem, seconds=0.1)
    route_a = next(r for r in plan.routes if "a" in r.stop_ids())
    other = next(r for r in plan.routes if r is not route_a)
    with pytest.raises(PlanEditError, match="incompatible"):
        plan_move_stop(problem, plan, stop="a", vehicle=other.vehicle, position=0)


def test_haversine_matrices_are_symmetric_road_estimates() -> None:
    # A degree of latitude is 111.2 km; a degree of longitude shrinks with cos(latitude).
    assert haversine_m(32.0, 120.0, 33.0, 120.0) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m(32.0, 120.0, 32.0, 121.0) == pytest.approx(
        111_195 * math.cos(math.radians(32)), rel=1e-3
    )
    m = haversine_matrices([(32.0, 120.8), (32.1, 120.9), (31.95, 121.0)], circuity=1.3, speed_kmh=36)
    assert m.distance[0][1] == m.distance[1][0] > 0
    assert m.duration[0][1] == round(m.distance[0][1] / 10)
    with pytest.raises(ValueError, match="circuity"):
        haversine_matrices([(0, 0)], circuity=0.5)


def test_a_truck_never_takes_codes_its_permit_lacks_nor_more_of_a_category_than_its_limit() -> None:
    depots = [Depot("D0")]
    stops = [
        Stop("oil1", 400, codes=frozenset({"900-214-08"}), categories=frozenset({"HW08"})),
        Stop("oil2", 400, codes=frozenset({"900-214-08"}), categories=frozenset({"HW08"})),
        Stop("paint", 100, codes=frozenset({"900-252-12"}), categories=frozenset({"HW12"})),
    ]
    distance = [[0 if i == j else 10 for j in range(4)] for i in range(4)]
    narrow = Vehicle(
        "narrow", 5000, "D0", licensed_codes=frozenset({"900-214-08"}), category_limits=(("HW08", 500),)
    )
    wide = Vehicle("wide", 5000, "D0")
    problem = Problem(depots, stops, [narrow, wide], distance, distance)
    plan = plan_solve(problem, seconds=0.2)
    assert_sound(problem, plan)
    narrow_route = plan.route_of("narrow")
    assert narrow_route is None or "paint" not in narrow_route.stop_ids()
    assert narrow_route is None or len(narrow_route.stop_ids()) <= 1  # 500 kg of HW08 at most
    alone = plan_solve(Problem(depots, stops, [narrow], distance, distance), seconds=0.2)
    reasons = {u.stop: u.reason for u in alone.unplanned}
    assert reasons["paint"] == REASON_NO_LICENSED_VEHICLE
    assert "fleet" in reasons.values()  # one of the oils does not fit under the HW08 limit


@pytest.mark.parametrize("classes", [1, 3])
def test_the_groups_are_searched_in_worker_processes_and_the_plan_keeps_every_rule(classes: int) -> None:
    problem = random_problem(5, stops=24, vehicles=5, classes=classes)
    plan = plan_solve(problem, seconds=2.5, seed=3, workers=2)
    assert_sound(problem, plan)
    assert plan.routes
    names = [r.vehicle for r in plan.routes]
    assert len(names) == len(set(names))
