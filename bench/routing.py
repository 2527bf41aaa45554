"""Route planner against the literature: gap to the best-known solutions, next to OR-Tools.

    .venv/bin/python bench/routing.py [--set x,solomon] [--seconds 10] [--instances C101,R101]
                                      [--no-ortools] [--seed 1]

Runs the planner's own path (``Problem`` -> ``plan_solve`` -> ``Plan``, checked by
``plan_violations``) on the instances in ``../shared/data/vrp`` and prints one JSON object with a
key per set: ``x``, ``solomon``, ``gh1000``, ``pcvrptw``, ``mdvrptw``, ``hfvrp``, ``kim2006`` and
``nantong_day`` (plus ``environment``). Each benchmark set holds its ``instances`` and the set
means ``gap_10s_pct``, ``gap_60s_pct``, ``ortools_gap_10s_pct`` and ``ortools_gap_60s_pct`` (with
``--seconds S`` the keys name S instead). Per instance: ``n``, ``bks``, and per time limit our
``cost``, ``gap``, ``feasible``, ``violations``, ``routes`` and wall time, then OR-Tools' (routing
solver, GUIDED_LOCAL_SEARCH, the same time limit, the first-solution strategy and fleet of
``baseline_measurements.csv``). Costs are recomputed from each plan's routes with the instance's
matrices, in the BKS's units. A gap is given only for a plan without violations that serves every
required stop; a set mean only when every instance has a gap.

``kim2006`` (waste collection with disposal trips, no BKS) reports distance, vehicles and disposal
trips, and what the model cannot express. ``nantong_day`` plans the demo's Nantong day
(:mod:`greenisle.demo.nantong_day`) with a 58 s search (a 60 s budget less 2 s to build and check;
``seconds`` is the wall time ``plan_solve`` really took) and compares it with a
nearest-neighbour dispatch (``seconds``, ``violations``, ``unplanned_required``,
``distance_saving_vs_nearest_neighbour_pct``).

Instances run one after the other. ``plan_solve`` uses both cores when the limit is 4 s or more
(ADR 10): each compatibility group is its own search, the groups shared out between two worker
processes; a single group is searched by both with different seeds and the better plan kept. The
workers' start-up (about 1 s) comes out of the limit. OR-Tools runs on one core. The full run
(both limits, all sets) takes about 85 minutes; ``--seconds 10`` about 15; ``make bench-routing``
runs it in full.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from routing_instances import (  # noqa: E402
    SETS,
    Instance,
    gap_pct,
    kim_after_checks,
    load_set,
    plan_cost,
    plan_distance,
)
from routing_nearest import nearest_neighbour_plan  # noqa: E402
from routing_ortools import ortools_solve  # noqa: E402

from greenisle.demo.nantong_day import nantong_day  # noqa: E402
from greenisle.dispatch.optimization.check import plan_violations  # noqa: E402
from greenisle.dispatch.optimization.model import Plan, Problem  # noqa: E402
from greenisle.dispatch.optimization.solver import groups_of, plan_solve  # noqa: E402

ALL_SETS = ("x", "solomon", "gh1000", "pcvrptw", "mdvrptw", "hfvrp", "kim2006", "nantong_day")
DEFAULT_LIMITS = (10.0, 60.0)
NANTONG_BUDGET_S = 60.0
# Building the model, translating the answer and checking it fit in what is left of the budget.
NANTONG_MARGIN_S = 2.0


def label(seconds: float) -> str:
    return f"{seconds:g}s"


def unplanned_required(problem: Problem, plan: Plan) -> int:
    required = {s.id for s in problem.stops if s.required}
    return sum(1 for u in plan.unplanned if u.stop in required)


def judge(instance: Instance, plan: Plan) -> dict[str, Any]:
    """Cost in BKS units, gap, and whether the plan holds, for any solver's plan."""
    problem = instance.problem
    violations = plan_violations(problem, plan)
    missing = unplanned_required(problem, plan)
    ok = plan.feasible and not violations and not missing
    cost = plan_cost(problem, plan) / instance.scale
    figures: dict[str, Any] = {
        "cost": round(cost, 3),
        "gap_pct": gap_pct(cost, instance.bks) if ok else None,
        "feasible": ok,
        "violations": len(violations),
        "unplanned_required": missing,
        "routes": len(plan.routes),
    }
    if missing:
        required = {s.id for s in problem.stops if s.required}
        figures["unplanned_reasons"] = dict(Counter(u.reason for u in plan.unplanned if u.stop in required))
    return figures


def run_planner(instance: Instance, seconds: float, seed: int) -> tuple[Plan, dict[str, Any]]:
    started = time.perf_counter()
    plan = plan_solve(instance.problem, seconds=seconds, seed=seed)
    wall = time.perf_counter() - started
    figures = judge(instance, plan)
    figures["wall_s"] = round(wall, 1)
    return plan, figures


def run_ortools(instance: Instance, seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    plan, reason = ortools_solve(
        instance.problem,
        seconds=seconds,
        first_solution=instance.ortools_first_solution or "PATH_CHEAPEST_ARC",
        fleet=instance.ortools_fleet,
    )
    wall = time.perf_counter() - started
    if plan is None:
        return {"cost": None, "gap_pct": None, "note": reason, "wall_s": round(wall, 1)}
    figures = judge(instance, plan)
    figures["wall_s"] = round(wall, 1)
    return figures


def mean(values: list[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return round(statistics.fmean(v for v in values if v is not None), 3)


def bench_set(
    key: str, limits: list[float], names: set[str] | None, ortools: bool, seed: int
) -> dict[str, Any]:
    instances = load_set(key, names)
    out: dict[str, Any] = {"instances": {}}
    for instance in instances:
        row: dict[str, Any] = {"n": instance.n, "bks": instance.bks}
        if instance.bks_routes is not None:
            row["bks_routes"] = instance.bks_routes
        if instance.not_modelled:
            row["not_modelled"] = "; ".join(instance.not_modelled)
        for seconds in limits:
            tag = label(seconds)
            plan, ours = run_planner(instance, seconds, seed)
            row[f"cost_{tag}"] = ours["cost"]
            row[f"gap_{tag}_pct"] = ours["gap_pct"]
            for field in ("feasible", "violations", "unplanned_required", "unplanned_reasons", "routes"):
                if field in ours:
                    row[f"{field}_{tag}"] = ours[field]
            row[f"wall_{tag}_s"] = ours["wall_s"]
            if key == "kim2006":
                row.update(kim_figures(instance, plan, tag))
            if ortools and instance.ortools_first_solution:
                peer = run_ortools(instance, seconds)
                row[f"ortools_cost_{tag}"] = peer["cost"]
                row[f"ortools_gap_{tag}_pct"] = peer["gap_pct"]
                for field in ("feasible", "violations", "routes", "note"):
                    if field in peer:
                        row[f"ortools_{field}_{tag}"] = peer[field]
                row[f"ortools_wall_{tag}_s"] = peer["wall_s"]
            elif ortools:
                row[f"ortools_cost_{tag}"] = None
                row[f"ortools_gap_{tag}_pct"] = None
                row[f"ortools_note_{tag}"] = "reloads at disposal facilities are not modelled for OR-Tools"
        if ortools and instance.ortools_first_solution:
            row["ortools_first_solution"] = instance.ortools_first_solution
            row["ortools_fleet"] = instance.ortools_fleet or sum(v.count for v in instance.problem.vehicles)
        out["instances"][instance.name] = row
        print(f"{key}/{instance.name}: {json.dumps(row, ensure_ascii=False)}", file=sys.stderr, flush=True)
    rows = list(out["instances"].values())
    for seconds in limits:
        tag = label(seconds)
        out[f"gap_{tag}_pct"] = mean([r[f"gap_{tag}_pct"] for r in rows])
        if ortools:
            out[f"ortools_gap_{tag}_pct"] = mean([r.get(f"ortools_gap_{tag}_pct") for r in rows])
        if key == "kim2006":
            out[f"distance_{tag}_mi"] = round(sum(r[f"distance_{tag}_mi"] for r in rows), 1)
            out[f"vehicles_{tag}"] = sum(r[f"vehicles_{tag}"] for r in rows)
    return out


def kim_figures(instance: Instance, plan: Plan, tag: str) -> dict[str, Any]:
    """Distance in miles, vehicles and disposal trips (mid-route unloads plus the final one)."""
    problem = instance.problem
    feet = plan_distance(problem, plan)
    unloads = sum(1 for r in plan.routes for v in r.visits[1:-1] if v.depot is not None)
    checks = kim_after_checks(instance, plan)
    figures: dict[str, Any] = {
        f"distance_{tag}_mi": round(feet / 5280, 1),
        f"vehicles_{tag}": len(plan.routes),
        f"disposal_trips_{tag}": unloads + len(plan.routes),
    }
    figures.update({f"{k}_{tag}": v for k, v in checks.items()})
    return figures


# --- the Nantong day ---------------------------------------------------------------------------------


def bench_nantong(budget: float, seed: int) -> dict[str, Any]:
    problem = nantong_day()
    required = sum(1 for s in problem.stops if s.required)
    search = max(budget - NANTONG_MARGIN_S, 1.0)
    started = time.perf_counter()
    plan = plan_solve(problem, seconds=search, seed=seed)
    wall = time.perf_counter() - started
    violations = plan_violations(problem, plan)
    ours_m = plan_distance(problem, plan)

    baselines = {}
    for rule in ("distance", "time"):
        nn = nearest_neighbour_plan(problem, rule=rule)
        baselines[rule] = {
            "rule": rule,
            "distance_km": round(plan_distance(problem, nn) / 1000, 1),
            "unplanned_required": unplanned_required(problem, nn),
            "violations": len(plan_violations(problem, nn)),
            "trucks_used": len(nn.routes),
        }
    # The baseline is the nearest-neighbour rule that serves the most, then drives the least.
    baseline = min(baselines.values(), key=lambda b: (b["unplanned_required"], b["distance_km"]))

    def saving(distance_m: int) -> float:
        return round(
            100 * (baseline["distance_km"] * 1000 - distance_m) / (baseline["distance_km"] * 1000), 2
        )

    return {
        "seconds": round(wall, 1),
        "time_limit_s": search,
        "budget_s": budget,
        "violations": len(violations),
        "unplanned_required": unplanned_required(problem, plan),
        "distance_saving_vs_nearest_neighbour_pct": saving(ours_m),
        "feasible": plan.feasible,
        "stops": len(problem.stops),
        "required_stops": required,
        "optional_planned": sum(1 for s in problem.stops if not s.required)
        - sum(1 for u in plan.unplanned if u.reason == "not_worth_detour"),
        "trucks": sum(v.count for v in problem.vehicles),
        "trucks_used": len(plan.routes),
        "groups": len(groups_of(problem)),
        "unloads": sum(1 for r in plan.routes for v in r.visits[1:-1] if v.depot is not None),
        "distance_km": round(ours_m / 1000, 1),
        "cost_yuan": round(plan_cost(problem, plan) / 1000, 2),
        "nearest_neighbour": baseline,
        "nearest_neighbour_rules": baselines,
        "ortools": None,
        "ortools_note": "reloads and compatibility groups are not modelled for OR-Tools",
    }


# --- main ----------------------------------------------------------------------------------------------


def environment(seed: int) -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "pyvrp": version("pyvrp"),
        "ortools": version("ortools"),
        "seed": seed,
        "planner_processes": 2 if (os.cpu_count() or 1) > 1 else 1,
        "ortools_threads": 1,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--set",
        action="append",
        dest="sets",
        help=f"set(s) to run, repeatable or comma-separated: {', '.join(ALL_SETS)} (default: all)",
    )
    parser.add_argument("--seconds", type=float, help="run only this time limit (default: 10 and 60)")
    parser.add_argument("--instances", help="comma-separated instance names to keep (e.g. X-n101-k25,C101)")
    parser.add_argument("--no-ortools", action="store_true", help="skip the OR-Tools runs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sets = [s.strip() for chunk in (args.sets or [",".join(ALL_SETS)]) for s in chunk.split(",") if s.strip()]
    unknown = [s for s in sets if s not in ALL_SETS]
    if unknown:
        parser.error(f"unknown set(s) {unknown}; choose from {', '.join(ALL_SETS)}")
    args.sets = sets
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    limits = [args.seconds] if args.seconds else list(DEFAULT_LIMITS)
    names = {n.strip() for n in args.instances.split(",")} if args.instances else None
    result: dict[str, Any] = {}
    for key in args.sets:
        if key == "nantong_day":
            result[key] = bench_nantong(args.seconds or NANTONG_BUDGET_S, args.seed)
        else:
            assert key in SETS
            result[key] = bench_set(key, limits, names, not args.no_ortools, args.seed)
    result["environment"] = environment(args.seed)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
