"""A collection day in Nantong as a route-planning :class:`~greenisle.dispatch.optimization.model.Problem`.

Pure and seeded (no ORM, no I/O): the route benchmark plans it, and the demo uses the same day. It
is fictional but shaped like the real thing: about 600 small producers' pickups, most of them in
the industrial parks of the central divisions (崇川, 通州, 海门, 如皋, 如东) and the rest scattered
over their towns; loads of 20-500 kg; 5-15 minutes at each producer; time windows from the
producers' opening hours; three groups of wastes that must never share a truck (固废法 Art. 81);
two collector warehouses where trucks start, end and unload; 25 trucks of 2-8 t, each licensed for
one or more groups, on a 07:30-18:30 shift; and a few optional pickups of bins at 60-79 % that are
predicted to cross their threshold soon, worth a prize when a truck passes by.

Units are the model's: metres, seconds from midnight, kilograms, and costs in thousandths of a
yuan (厘). Coordinates are longitude (``x``) and latitude (``y``). Distances and driving times are
haversine distances times a circuity of 1.3 at 35 km/h.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from greenisle.demo import nantong
from greenisle.dispatch.optimization.distances import haversine_matrices
from greenisle.dispatch.optimization.model import Depot, Problem, Stop, Vehicle

DEFAULT_STOPS = 600
DEFAULT_TRUCKS = 25
CIRCUITY = 1.3
SPEED_KMH = 35.0
# The area the day covers: the central divisions of Nantong.
LAT_RANGE = (31.90, 32.40)
LON_RANGE = (120.50, 121.20)


def hm(text: str) -> int:
    """``"07:30"`` as seconds from midnight."""
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


SHIFT = (hm("07:30"), hm("18:30"))
WAREHOUSE_HOURS = (hm("07:00"), hm("19:00"))
# Weighing in and unloading at a warehouse (and the pre-trip check in the morning).
UNLOAD_S = 20 * 60

# Compatibility groups: wastes of different groups never share a truck.
OIL_SOLVENT = "oil_solvent"  # HW08 废矿物油, HW06/HW12 有机溶剂与废油漆
ACID_ALKALI = "acid_alkali"  # HW17 表面处理, HW34 废酸, HW35 废碱 and other inorganic liquids
SOLID_PACKAGING = "solid_packaging"  # HW49 沾染包装物、含油抹布手套、废活性炭
GROUPS = (OIL_SOLVENT, ACID_ALKALI, SOLID_PACKAGING)
# Waste codes (国家危险废物名录 2021) each group's small producers hand over, with their weights.
GROUP_CODES: dict[str, tuple[tuple[str, int], ...]] = {
    OIL_SOLVENT: (
        ("900-214-08", 40),  # 车辆维修废矿物油
        ("900-249-08", 15),
        ("900-252-12", 15),  # 废油漆
        ("900-253-12", 8),  # 丝网印刷油墨
        ("900-402-06", 10),  # 废清洗溶剂
        ("900-006-09", 12),  # 废切削液乳化液
    ),
    ACID_ALKALI: (
        ("336-064-17", 35),  # 酸碱洗表面处理废液
        ("900-300-34", 30),
        ("900-349-34", 15),
        ("900-399-35", 20),
    ),
    SOLID_PACKAGING: (
        ("900-041-49", 65),  # 沾染包装物、抹布手套
        ("900-039-49", 25),  # 废活性炭
        ("900-047-49", 10),  # 实验室废物
    ),
}
GROUP_NAMES = {
    OIL_SOLVENT: "废矿物油、有机溶剂与废油漆",
    ACID_ALKALI: "废酸、废碱与无机废液",
    SOLID_PACKAGING: "沾染包装物、含油抹布与废活性炭",
}

# Producers' opening hours: (share, open, close). Service must end by closing time.
OPENING_HOURS: tuple[tuple[float, str, str], ...] = (
    (0.45, "08:00", "17:30"),
    (0.25, "08:30", "11:30"),
    (0.20, "13:30", "17:00"),
    (0.10, "09:00", "16:00"),
)
OPTIONAL_SHARE = 0.06
SCATTERED_SHARE = 0.15


@dataclass(frozen=True)
class Park:
    """An industrial park or a dense cluster of small producers."""

    name: str
    division: str  # county-level division code
    lat: float
    lon: float
    spread_km: float
    weight: int
    # Share of the park's pickups per group (oils/solvents, acids/alkalis, solids).
    mix: tuple[float, float, float]


PARKS: tuple[Park, ...] = (
    Park("南通经济技术开发区", "320602", 31.955, 120.960, 2.5, 16, (0.40, 0.25, 0.35)),
    Park("崇川区主城汽修集聚区", "320602", 32.010, 120.880, 2.0, 14, (0.55, 0.05, 0.40)),
    Park("南通市北高新区", "320602", 32.060, 120.835, 1.8, 9, (0.40, 0.20, 0.40)),
    Park("通州高新技术产业开发区", "320612", 32.085, 121.075, 2.0, 12, (0.45, 0.15, 0.40)),
    Park("通州川姜家纺产业园", "320612", 31.995, 121.030, 1.5, 6, (0.35, 0.10, 0.55)),
    Park("海门经济技术开发区", "320614", 31.905, 121.160, 2.0, 10, (0.40, 0.20, 0.40)),
    Park("海门临江新区", "320614", 31.945, 121.010, 1.5, 5, (0.35, 0.30, 0.35)),
    Park("如皋经济技术开发区", "320682", 32.355, 120.600, 2.0, 9, (0.45, 0.15, 0.40)),
    Park("如皋港城产业园", "320682", 32.040, 120.590, 1.8, 6, (0.40, 0.25, 0.35)),
    Park("如东经济开发区", "320623", 32.315, 121.170, 1.8, 5, (0.45, 0.15, 0.40)),
)
GROUP_MIX_SCATTERED = (0.55, 0.05, 0.40)  # mostly vehicle-repair shops in the towns


@dataclass(frozen=True)
class Warehouse:
    id: str
    name: str
    division: str
    lat: float
    lon: float


WAREHOUSES: tuple[Warehouse, ...] = (
    Warehouse("WH-TZ", "通州区危废贮存中心", "320612", 32.040, 121.010),
    Warehouse("WH-RG", "如皋市危废贮存中心", "320682", 32.300, 120.640),
)

# The fleet, cycled when more or fewer than 25 trucks are asked for: (capacity kg, groups licensed,
# home warehouse index). Costs follow the size: 厘 per metre and 厘 per second (driver and escort).
FLEET: tuple[tuple[int, tuple[str, ...], int], ...] = (
    (8000, (OIL_SOLVENT,), 0),
    (5000, (OIL_SOLVENT,), 0),
    (5000, (SOLID_PACKAGING,), 0),
    (3000, (OIL_SOLVENT, SOLID_PACKAGING), 0),
    (2000, (ACID_ALKALI,), 0),
    (8000, (SOLID_PACKAGING,), 1),
    (5000, (OIL_SOLVENT,), 1),
    (3000, (ACID_ALKALI,), 1),
    (3000, (OIL_SOLVENT,), 0),
    (5000, (SOLID_PACKAGING,), 0),
    (2000, (OIL_SOLVENT, ACID_ALKALI, SOLID_PACKAGING), 0),
    (3000, (SOLID_PACKAGING,), 1),
    (5000, (ACID_ALKALI,), 0),
    (8000, (OIL_SOLVENT,), 0),
    (3000, (OIL_SOLVENT, SOLID_PACKAGING), 1),
    (2000, (SOLID_PACKAGING,), 0),
    (5000, (OIL_SOLVENT,), 0),
    (2000, (ACID_ALKALI, SOLID_PACKAGING), 1),
    (3000, (SOLID_PACKAGING,), 0),
    (5000, (OIL_SOLVENT,), 1),
    (3000, (OIL_SOLVENT,), 0),
    (8000, (SOLID_PACKAGING,), 0),
    (2000, (OIL_SOLVENT, SOLID_PACKAGING), 0),
    (3000, (ACID_ALKALI,), 0),
    (5000, (SOLID_PACKAGING,), 1),
)
FIXED_COST_PER_TRUCK = 300_000  # 300 yuan a truck-day


def _unit_distance_cost(capacity_kg: int) -> int:
    """厘 per metre: 2 yuan/km for a 2 t truck, 4 yuan/km for an 8 t truck."""
    return 2 if capacity_kg <= 3000 else 3 if capacity_kg <= 5000 else 4


UNIT_DURATION_COST = 25  # 厘 per second: about 90 yuan an hour for driver and escort


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _near(rng: random.Random, lat: float, lon: float, spread_km: float) -> tuple[float, float]:
    km_per_deg_lon = 111.32 * math.cos(math.radians(lat))
    d_lat = rng.gauss(0.0, spread_km) / 110.57
    d_lon = rng.gauss(0.0, spread_km) / km_per_deg_lon
    return (
        round(_clamp(lat + d_lat, *LAT_RANGE), 6),
        round(_clamp(lon + d_lon, *LON_RANGE), 6),
    )


def _scattered(rng: random.Random) -> tuple[str, tuple[float, float]]:
    divisions = [d for d in nantong.DIVISIONS if LAT_RANGE[0] - 0.05 <= d.lat <= LAT_RANGE[1]]
    divisions = [d for d in divisions if LON_RANGE[0] <= d.lon <= LON_RANGE[1]]
    division = rng.choices(divisions, weights=[d.producer_weight for d in divisions])[0]
    lat, lon = nantong.point_in(rng, division)
    return division.code, (round(_clamp(lat, *LAT_RANGE), 6), round(_clamp(lon, *LON_RANGE), 6))


def _load_kg(rng: random.Random) -> int:
    """A pickup's weight: skewed, median about 110 kg, 20-500 kg, in 5 kg steps."""
    value = _clamp(rng.lognormvariate(math.log(110), 0.75), 20, 500)
    return int(5 * round(value / 5))


def _service_s(rng: random.Random, load_kg: int) -> int:
    """5-15 minutes: weighing, labels and the producer's signature, longer for heavier loads."""
    value = 300 + 900 * load_kg / 500 + rng.uniform(-60, 120)
    return int(30 * round(_clamp(value, 300, 900) / 30))


def nantong_day(
    seed: int = nantong.DEFAULT_SEED,
    *,
    stops: int = DEFAULT_STOPS,
    trucks: int = DEFAULT_TRUCKS,
) -> Problem:
    """One day's pickups for a collector serving Nantong's central divisions."""
    rng = random.Random(seed)
    depots = tuple(
        Depot(
            id=w.id,
            x=w.lon,
            y=w.lat,
            open_s=WAREHOUSE_HOURS[0],
            close_s=WAREHOUSE_HOURS[1],
            service_s=UNLOAD_S,
        )
        for w in WAREHOUSES
    )
    hours_weights = [h[0] for h in OPENING_HOURS]
    pickups: list[Stop] = []
    points: list[tuple[float, float]] = [(w.lat, w.lon) for w in WAREHOUSES]
    for k in range(stops):
        if rng.random() < SCATTERED_SHARE:
            division, (lat, lon) = _scattered(rng)
            mix = GROUP_MIX_SCATTERED
        else:
            park = rng.choices(PARKS, weights=[p.weight for p in PARKS])[0]
            division = park.division
            lat, lon = _near(rng, park.lat, park.lon, park.spread_km)
            mix = park.mix
        group = rng.choices(GROUPS, weights=mix)[0]
        choices = GROUP_CODES[group]
        codes = frozenset(
            rng.choices(
                [c for c, _w in choices], weights=[w for _c, w in choices], k=rng.choice((1, 1, 1, 2))
            )
        )
        optional = rng.random() < OPTIONAL_SHARE
        load = _load_kg(rng)
        if optional:
            # A bin at 60-79 %: less on board than a full one.
            load = max(20, int(5 * round(load * rng.uniform(0.6, 0.79) / 5)))
        service = _service_s(rng, load)
        _share, opens, closes = rng.choices(OPENING_HOURS, weights=hours_weights)[0]
        pickups.append(
            Stop(
                id=f"{division}-{k + 1:04d}",
                load_kg=load,
                x=lon,
                y=lat,
                service_s=service,
                open_s=hm(opens),
                close_s=hm(closes) - service,
                required=not optional,
                # What an early pickup saves: a later dedicated visit, 20-60 yuan.
                prize=rng.randint(20, 60) * 1000 if optional else 0,
                waste_class=group,
                codes=codes,
                categories=frozenset(f"HW{code[-2:]}" for code in codes),
            )
        )
        points.append((lat, lon))
    vehicles = []
    for k in range(trucks):
        capacity, groups, home = FLEET[k % len(FLEET)]
        depot = WAREHOUSES[home].id
        vehicles.append(
            Vehicle(
                id=f"truck-{k + 1:02d}",
                capacity_kg=capacity,
                start_depot=depot,
                end_depot=depot,
                shift_start_s=SHIFT[0],
                shift_end_s=SHIFT[1],
                fixed_cost=FIXED_COST_PER_TRUCK,
                unit_distance_cost=_unit_distance_cost(capacity),
                unit_duration_cost=UNIT_DURATION_COST,
                waste_classes=frozenset(groups),
                reload_depots=tuple(w.id for w in WAREHOUSES),
            )
        )
    matrices = haversine_matrices(points, circuity=CIRCUITY, speed_kmh=SPEED_KMH)
    return Problem(
        depots=depots,
        stops=tuple(pickups),
        vehicles=tuple(vehicles),
        distance=matrices.distance,
        duration=matrices.duration,
    )
