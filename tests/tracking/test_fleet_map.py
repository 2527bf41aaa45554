"""The command centre's live fleet map: ``/fleet.geojson`` (vehicle_positions_geojson) and its section."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation
from web.helpers import Browser, page_text

from greenisle.tracking.alerts import Fix
from greenisle.tracking.models import TruckAlert
from greenisle.tracking.selectors import truck_alert_summary, vehicle_positions_geojson
from tracking.factories import fleet_truck, track

pytestmark = pytest.mark.django_db


def browser(user: Any) -> Browser:
    client = Browser()
    client.force_login(user)
    return client


@pytest.fixture
def trucks(collector: Any, collector_b: Any) -> dict[str, Any]:
    now = timezone.now().replace(microsecond=0)
    ours = fleet_truck(collector)
    idle = fleet_truck(collector, depot=ours.depot)
    theirs = fleet_truck(collector_b)
    track(ours, [Fix(now - dt.timedelta(minutes=m), 32.07 + m / 1000, 121.08, 30.0) for m in (3, 2, 1)])
    track(theirs, [Fix(now, 31.9, 120.9, 0.0)])
    TruckAlert.objects.create(
        vehicle=ours,
        kind="off_route",
        started_at=now - dt.timedelta(minutes=10),
        latitude=Decimal("32.080000"),
        longitude=Decimal("121.100000"),
        detail={"max_distance_m": 2400, "duration_s": 600},
    )
    TruckAlert.objects.create(
        vehicle=ours,
        kind="cabin_hot",
        started_at=now - dt.timedelta(hours=3),
        cleared_at=now - dt.timedelta(hours=2),
        latitude=Decimal("32.0"),
        longitude=Decimal("121.0"),
    )
    TruckAlert.objects.create(
        vehicle=idle, kind="overtime", started_at=now - dt.timedelta(minutes=5), latitude=32, longitude=121
    )
    TruckAlert.objects.create(
        vehicle=theirs,
        kind="unplanned_stop",
        started_at=now,
        latitude=Decimal("31.9"),
        longitude=Decimal("120.9"),
    )
    return {"ours": ours, "idle": idle, "theirs": theirs, "now": now}


def test_the_fleet_map_shows_the_collectors_trucks_where_they_last_were(
    trucks: dict[str, Any], collector: Any
) -> None:
    with translation.override("en"):
        data = vehicle_positions_geojson(collector)
    assert data["type"] == "FeatureCollection"
    (feature,) = data["features"]  # the idle truck has no position
    props = feature["properties"]
    assert props["plate"] == trucks["ours"].plate and props["vehicle"] == str(trucks["ours"].pk)
    assert feature["geometry"]["coordinates"] == [121.08, 32.071]  # the newest point
    assert props["speed_kmh"] == 30.0
    assert props["recorded_at"] == (trucks["now"] - dt.timedelta(minutes=1)).isoformat()
    assert [a["kind"] for a in props["alerts"]] == ["off_route"]
    # Every open alert of the collector, also of a truck without a position; newest first.
    assert [(a["plate"], a["kind"]) for a in data["alerts"]] == [
        (trucks["idle"].plate, "overtime"),
        (trucks["ours"].plate, "off_route"),
    ]
    assert data["alerts"][1]["label"] == "off route"
    assert data["alerts"][1]["summary"] == "up to 2400 m off the route for 10 min"


def test_fleet_geojson_is_scoped_to_the_members_collector(
    trucks: dict[str, Any], dispatcher: Any, driver: Any, rival_dispatcher: Any
) -> None:
    ours = browser(dispatcher).get("/fleet.geojson")
    assert ours.status_code == 200 and ours["Content-Type"] == "application/json"
    assert [f["properties"]["plate"] for f in ours.json()["features"]] == [trucks["ours"].plate]
    assert [f["properties"]["plate"] for f in browser(driver).get("/fleet.geojson").json()["features"]] == [
        trucks["ours"].plate
    ]
    theirs = browser(rival_dispatcher).get("/fleet.geojson").json()
    assert [f["properties"]["plate"] for f in theirs["features"]] == [trucks["theirs"].plate]
    assert [a["kind"] for a in theirs["alerts"]] == ["unplanned_stop"]


def test_fleet_geojson_is_not_found_for_anyone_else(
    trucks: dict[str, Any], alice: Any, regulator: Any, facility_receiver: Any
) -> None:
    for user in (alice, regulator, facility_receiver):
        assert browser(user).get("/fleet.geojson").status_code == 404
    assert Browser().get("/fleet.geojson").status_code == 302  # to the login page


def test_the_command_centre_has_the_trucks_now_section(trucks: dict[str, Any], dispatcher: Any) -> None:
    text = page_text(browser(dispatcher).get("/command-centre/"))
    assert 'id="fleet-map"' in text and 'data-src="/fleet.geojson"' in text
    assert 'id="truck-alerts"' in text and "web/fleet_map.js" in text and "leaflet.js" in text


def test_alert_summaries_say_what_was_measured() -> None:
    with translation.override("en"):
        assert truck_alert_summary("unplanned_stop", {"duration_s": 900, "nearest_planned_m": 1800}) == (
            "stopped 15 min, 1800 m from the nearest planned place"
        )
        assert truck_alert_summary("overtime", {"overtime_s": 1800, "max_distance_m": 5000}) == (
            "30 min after the shift end, up to 5000 m from the depot"
        )
        assert (
            truck_alert_summary("cabin_hot", {"max_temp_c": 41, "limit_c": 35.0})
            == "up to 41 °C (limit 35 °C)"
        )
        assert truck_alert_summary("cabin_hot", {}) == "up to 0 °C (limit 0 °C)"
