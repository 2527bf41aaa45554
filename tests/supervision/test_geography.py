"""District boundaries named as today: the 2018 and 2020 adjustments of Nantong's divisions applied to
the pre-2020 features of the npm boundary file, and the merged 崇川区 drawn as one polygon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from greenisle.organizations.divisions import DIVISIONS
from greenisle.supervision import geography
from greenisle.supervision.geography import (
    UnknownDistrict,
    annotate_districts,
    dissolve,
    district_alias,
    district_codes,
)

BOUNDARY_FILE = Path(settings.BASE_DIR) / "node_modules" / geography.NPM_PACKAGE / geography.BOUNDARY_FILE


def square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def feature(name: str, ring: list[list[float]], code: str = "", cp: list[float] | None = None) -> dict:
    return {
        "type": "Feature",
        "id": code,
        "properties": {"name": name, "cp": cp or ring[0], "childNum": 1},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


# --- the alias table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "code", "name"),
    [
        ("港闸区", "320602", "崇川区"),  # merged into the new 崇川区 (2020)
        ("海门市", "320614", "海门区"),  # county-level city became a district (2020)
        ("海安县", "320685", "海安市"),  # county became a county-level city (2018)
        ("崇川区", "320602", "崇川区"),
        ("如东县", "320623", "如东县"),
    ],
)
def test_old_names_map_to_todays_division(source, code, name):
    alias = district_alias(source)
    assert (alias.code, alias.name) == (code, name)


def test_a_feature_is_found_by_its_old_code_when_its_name_is_unknown():
    assert district_alias("Gangzha", "320611").code == "320602"
    assert district_alias("", "320684").name == "海门区"


def test_current_names_and_codes_are_accepted_too():
    assert district_alias("海门区").code == "320614"
    assert district_alias("", "320685").name == "海安市"


def test_a_feature_outside_nantong_is_refused():
    with pytest.raises(UnknownDistrict, match="玄武区"):
        district_alias("玄武区", "320102")


def test_the_alias_table_covers_exactly_the_shipped_county_level_divisions():
    shipped = {code: name for code, name, parent in DIVISIONS if parent == geography.CITY_CODE}
    aliases = {alias.code: alias.name for alias in geography.ALIASES}
    assert aliases == shipped
    assert district_codes() == sorted(shipped)


# --- dissolving merged districts ------------------------------------------------------------------


def test_two_squares_sharing_an_edge_dissolve_into_one_ring():
    left = square(0, 0, 1, 1)
    right = [[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]]
    merged = dissolve([[left], [right]])
    assert merged["type"] == "Polygon"
    ring = merged["coordinates"][0]
    assert ring[0] == ring[-1]
    # The outline has the six outer edges; the shared edge x = 1 is gone.
    assert len(ring) == 7
    assert {tuple(p) for p in ring} == {(0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0, 1)}


def test_repeated_vertices_do_not_stop_the_dissolve():
    left = [[0, 0], [1, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
    right = [[1, 1], [1, 0], [2, 0], [2, 1], [1, 1]]
    assert dissolve([[left], [right]])["type"] == "Polygon"


def test_polygons_that_do_not_touch_stay_a_multipolygon():
    apart = dissolve([[square(0, 0, 1, 1)], [square(5, 5, 6, 6)]])
    assert apart["type"] == "MultiPolygon"
    assert len(apart["coordinates"]) == 2


def test_polygons_touching_at_a_corner_only_stay_a_multipolygon():
    corner = dissolve([[square(0, 0, 1, 1)], [square(1, 1, 2, 2)]])
    assert corner["type"] == "MultiPolygon"


# --- annotating the collection ---------------------------------------------------------------------


def test_annotation_names_features_as_today_and_flags_the_jurisdiction():
    raw = collection(
        feature("崇川区", square(0, 0, 1, 1), "320602", cp=[0.5, 0.5]),
        feature("港闸区", [[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]], "320611", cp=[1.5, 0.5]),
        feature("海门市", square(5, 5, 6, 6), "320684"),
    )
    out = annotate_districts(raw, scope_prefix="320602", selected="320602")
    by_code = {f["properties"]["code"]: f for f in out["features"]}
    assert list(by_code) == ["320602", "320614"]
    chongchuan = by_code["320602"]
    assert chongchuan["properties"]["name"] == "崇川区"
    assert chongchuan["properties"]["source_names"] == ["崇川区", "港闸区"]
    assert "港闸区" in chongchuan["properties"]["change"]
    # Labelled where the seat is (the old 崇川区), drawn as one polygon.
    assert chongchuan["properties"]["label"] == [0.5, 0.5]
    assert chongchuan["geometry"]["type"] == "Polygon"
    assert chongchuan["properties"]["in_scope"] and chongchuan["properties"]["selected"]
    haimen = by_code["320614"]["properties"]
    assert (haimen["name"], haimen["in_scope"], haimen["selected"]) == ("海门区", False, False)


def test_the_city_bureau_has_every_district_in_scope_and_none_selected():
    raw = collection(feature("通州区", square(0, 0, 1, 1), "320612"), feature("如皋市", square(2, 2, 3, 3)))
    out = annotate_districts(raw, scope_prefix="3206")
    assert [f["properties"]["in_scope"] for f in out["features"]] == [True, True]
    assert not any(f["properties"]["selected"] for f in out["features"])


def test_a_collection_with_a_foreign_feature_is_refused():
    with pytest.raises(UnknownDistrict):
        annotate_districts(collection(feature("玄武区", square(0, 0, 1, 1), "320102")))


def test_only_a_feature_collection_is_accepted():
    with pytest.raises(ValueError, match="FeatureCollection"):
        annotate_districts({"type": "Feature"})


@pytest.mark.skipif(not BOUNDARY_FILE.exists(), reason="npm package not installed (make install)")
def test_the_npm_boundary_file_gives_the_seven_districts_of_today():
    raw = json.loads(BOUNDARY_FILE.read_text(encoding="utf-8"))
    assert len(raw["features"]) == 8
    out = annotate_districts(raw, scope_prefix="3206")
    names = {f["properties"]["code"]: f["properties"]["name"] for f in out["features"]}
    assert names == {
        "320602": "崇川区",
        "320612": "通州区",
        "320614": "海门区",
        "320623": "如东县",
        "320681": "启东市",
        "320682": "如皋市",
        "320685": "海安市",
    }
    chongchuan = next(f for f in out["features"] if f["properties"]["code"] == "320602")
    # The old 崇川区 and 港闸区 share their border's vertices: it dissolves into one outline.
    assert chongchuan["geometry"]["type"] == "Polygon"
    assert len(chongchuan["geometry"]["coordinates"]) == 1
