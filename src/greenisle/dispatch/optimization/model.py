"""The route-planning problem and its answer as plain data: no ORM, no solver types.

Units are integers throughout, as the solver wants them: distances in the problem's distance unit
(metres for real plans; the benchmark instances bring their own), durations and times in seconds
from the plan's origin (midnight of the service day, local time), loads in kilograms, costs and
prizes in the problem's cost unit.

Locations are numbered: the depots first (``Problem.depots``), then the stops (``Problem.stops``),
in the order given. ``distance[i][j]`` and ``duration[i][j]`` are over that numbering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

UNBOUNDED = 2**62


@dataclass(frozen=True, slots=True)
class Depot:
    """A collector's warehouse: where trucks start, end and unload mid-shift."""

    id: str
    x: float = 0.0
    y: float = 0.0
    open_s: int = 0
    close_s: int = UNBOUNDED
    # Time spent at the depot when a truck unloads there mid-shift (or loads at the start).
    service_s: int = 0


@dataclass(frozen=True, slots=True)
class Stop:
    """A place to collect from: a bin's pickup request or a producer's own request.

    ``waste_class`` names the compatibility group of what is collected there: stops of different
    groups never share a truck (固废法 Art. 81). ``required`` stops must be planned or reported;
    optional ones (bins predicted to fill soon) are taken when their ``prize`` outweighs the detour.
    """

    id: str
    load_kg: int
    x: float = 0.0
    y: float = 0.0
    service_s: int = 0
    open_s: int = 0
    close_s: int = UNBOUNDED
    release_s: int = 0
    required: bool = True
    prize: int = 0
    waste_class: str = ""
    # What is collected: waste codes (NNN-NNN-NN) and their hazard categories (HW08 …).
    codes: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A truck (or, with ``count`` > 1, that many identical trucks).

    ``waste_classes`` are the compatibility groups it is licensed for (empty: any). ``reload_depots``
    are where it may unload mid-shift (ids of depots; empty: none, one trip only).
    """

    id: str
    capacity_kg: int
    start_depot: str
    end_depot: str | None = None
    count: int = 1
    shift_start_s: int = 0
    shift_end_s: int = UNBOUNDED
    max_duration_s: int = UNBOUNDED
    max_distance: int = UNBOUNDED
    fixed_cost: int = 0
    unit_distance_cost: int = 1
    unit_duration_cost: int = 0
    waste_classes: frozenset[str] = frozenset()
    reload_depots: tuple[str, ...] = ()
    max_reloads: int | None = None
    # Waste codes on the truck's permit (empty: any); the most it may carry per hazard category.
    licensed_codes: frozenset[str] = frozenset()
    category_limits: tuple[tuple[str, int], ...] = ()

    def may_carry(self, stop: Stop) -> bool:
        """Whether the permit covers every code collected at ``stop`` (its group aside)."""
        return not self.licensed_codes or stop.codes <= self.licensed_codes

    def limit_of(self, category: str) -> int:
        return dict(self.category_limits).get(category, self.capacity_kg)


@dataclass(frozen=True, slots=True)
class Problem:
    depots: Sequence[Depot]
    stops: Sequence[Stop]
    vehicles: Sequence[Vehicle]
    distance: Sequence[Sequence[int]]
    duration: Sequence[Sequence[int]]

    def depot_index(self) -> dict[str, int]:
        return {depot.id: i for i, depot in enumerate(self.depots)}

    def stop_index(self) -> dict[str, int]:
        """Stop id to its location number (after the depots)."""
        offset = len(self.depots)
        return {stop.id: offset + i for i, stop in enumerate(self.stops)}


@dataclass(frozen=True, slots=True)
class Visit:
    """A stop on a route (``stop`` is a stop id) or a depot (``depot`` is a depot id)."""

    stop: str | None
    depot: str | None
    arrival_s: int
    start_s: int
    end_s: int
    load_after_kg: int


@dataclass(frozen=True, slots=True)
class Route:
    """One truck's day: visits in order, from the start depot to the end depot, with the unloads
    at reload depots in between."""

    vehicle: str
    visits: tuple[Visit, ...]
    distance: int
    duration: int
    cost: int

    def stop_ids(self) -> list[str]:
        return [v.stop for v in self.visits if v.stop is not None]


@dataclass(frozen=True, slots=True)
class Unplanned:
    stop: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    routes: tuple[Route, ...]
    unplanned: tuple[Unplanned, ...]
    distance: int
    cost: int
    feasible: bool
    # Which compatibility group each truck was given for the day (truck id → group).
    assignment: dict[str, str] = field(default_factory=dict)

    def route_of(self, vehicle: str) -> Route | None:
        return next((r for r in self.routes if r.vehicle == vehicle), None)
