"""The route benchmark's readers give the instances their published figures; the Nantong day is
reproducible and shaped as the demo needs it."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import routing_instances as ri  # noqa: E402
from routing_nearest import nearest_neighbour_plan  # noqa: E402

from greenisle.demo.nantong_day import GROUPS, nantong_day  # noqa: E402
from greenisle.dispatch.optimization.check import plan_violations  # noqa: E402

pytestmark = pytest.mark.skipif(not ri.DATA.is_dir(), reason="benchmark instances not present")


def one(key: str, name: str) -> ri.Instance:
    (instance,) = ri.load_set(key, [name])
    return instance


def test_x_instance_reads_with_its_stops_capacity_and_rounded_distances():
    instance = one("x", "X-n101-k25")
    problem = instance.problem
    assert len(problem.depots) == 1 and len(problem.stops) == 100
    assert {v.capacity_kg for v in problem.vehicles} == {206}
    assert instance.bks == 27591 and instance.ortools_fleet == 34
    assert np.asarray(problem.distance).dtype == np.int64


@pytest.mark.parametrize(
    ("key", "name"),
    [("x", "X-n101-k25"), ("solomon", "C101"), ("mdvrptw", "PR11A"), ("pcvrptw", "R1_10_1")],
)
def test_bks_solution_costs_exactly_the_published_value(key, name):
    instance = one(key, name)
    assert ri.solution_cost(instance) / instance.scale == pytest.approx(instance.bks, abs=1e-9)


def test_hfvrp_bks_solution_cost_matches_to_the_cent():
    instance = one("hfvrp", "X115-HVRP")
    assert len({v.capacity_kg for v in instance.problem.vehicles}) == 3
    assert round(ri.solution_cost(instance) / instance.scale, 2) == instance.bks


def test_solomon_reads_with_dimacs_times_and_windows():
    problem = one("solomon", "C101").problem
    assert len(problem.stops) == 100
    first = problem.stops[0]
    assert (first.load_kg, first.open_s, first.close_s, first.service_s) == (10, 9120, 9670, 900)
    assert problem.vehicles[0].count == 25 and problem.vehicles[0].shift_end_s == 12360


def test_kim_instance_has_disposal_facilities_as_reload_depots():
    instance = one("kim2006", "102_stop")
    problem = instance.problem
    assert len(problem.stops) == 99 and [d.id for d in problem.depots] == ["depot", "L1", "L2"]
    (truck,) = problem.vehicles
    assert truck.reload_depots == ("L1", "L2") and truck.capacity_kg == 28000
    # Stop 1 -> facility 1 in the file: Manhattan feet, and the time at 40 mph.
    assert problem.distance[0][1] == abs(1215029 - 1229125) + abs(3461398 - 3460107)
    assert problem.duration[0][1] == round(problem.distance[0][1] * 3600 / (5280 * 40))
    assert any("lunch" in note for note in instance.not_modelled)


def test_nantong_day_is_reproducible_and_has_three_groups():
    day = nantong_day(seed=7)
    again = nantong_day(seed=7)
    assert day.stops == again.stops and day.vehicles == again.vehicles
    assert day.distance == again.distance
    assert nantong_day(seed=8).stops != day.stops
    assert 550 <= len(day.stops) <= 650 and len(day.vehicles) == 25 and len(day.depots) == 2
    assert set(Counter(s.waste_class for s in day.stops)) == set(GROUPS)
    assert all(20 <= s.load_kg <= 500 and 300 <= s.service_s <= 900 for s in day.stops)
    assert all(31.9 <= s.y <= 32.4 and 120.5 <= s.x <= 121.2 for s in day.stops)
    assert any(not s.required and s.prize > 0 for s in day.stops)
    assert all(s.codes and s.categories == {f"HW{c[-2:]}" for c in s.codes} for s in day.stops)


def test_nearest_neighbour_dispatch_breaks_no_rule():
    day = nantong_day(stops=120, trucks=8)
    plan = nearest_neighbour_plan(day, rule="time")
    assert plan.routes and plan_violations(day, plan) == []
