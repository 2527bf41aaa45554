"""Tenancy through the pages: each persona against the objects of Alice's loop (ADR 0002), with the same
expectations as the API suite (api/tenancy.py). Pages of objects one may not see are 404, lists and
dashboards leave them out, and form posts against them change nothing."""

from __future__ import annotations

import pytest
from api.tenancy import PERSONAS, SEES
from conftest import SIGNATURE_CODE
from django.utils import timezone

from greenisle.dispatch.models import PickupRequest
from greenisle.manifests.models import Manifest
from web.helpers import page_text

DETAILS = {"bin": "/bins/{}/", "request": "/requests/{}/", "manifest": "/manifests/{}/", "trip": "/trips/{}/"}


@pytest.fixture
def marks(loop, world, received_manifest):
    """What betrays each object on a page: its link, or the number or code printed for it."""
    return {
        "bin": world.bin.serial,
        "request": f"/requests/{loop['request']}/",
        "manifest": received_manifest.number,
        "production": loop["production"],
        "storage_in": loop["storage_in"],
    }


@pytest.mark.parametrize("persona", PERSONAS)
def test_an_objects_page_is_404_unless_visible(request, browser_as, loop, persona):
    browser = browser_as(request.getfixturevalue(persona))

    statuses = {kind: browser.get(url.format(loop[kind])).status_code for kind, url in DETAILS.items()}

    assert statuses == {kind: 200 if kind in SEES[persona] else 404 for kind in DETAILS}


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_pages_show_an_object_only_if_visible(request, browser_as, marks, persona):
    browser = browser_as(request.getfixturevalue(persona))
    pages = {
        "bin": "/bins/",
        "request": "/requests/",
        "manifest": "/manifests/",
        "production": "/ledger/",
        "storage_in": "/ledger/",
    }

    shown = {kind: marks[kind] in page_text(browser.get(url)) for kind, url in pages.items()}

    assert shown == {kind: kind in SEES[persona] for kind in pages}


@pytest.mark.parametrize("persona", PERSONAS)
def test_audit_page_shows_the_manifests_events_only_if_visible(request, browser_as, loop, persona):
    html = page_text(
        browser_as(request.getfixturevalue(persona)).get("/audit/", {"object_id": loop["manifest"]})
    )

    assert ("manifests.manifest.received" in html) == ("events" in SEES[persona])


@pytest.mark.parametrize("persona", PERSONAS)
def test_map_data_holds_the_bin_only_if_visible(request, browser_as, loop, persona):
    # The regulator's overview map reads the command-centre bin layer: a bureau's jurisdiction only,
    # and no one else's map at all.
    response = browser_as(request.getfixturevalue(persona)).get("/api/v1/map/bins")

    if not persona.startswith("regulator"):
        assert response.status_code == 403
        return
    features = response.json()["features"]
    assert (loop["bin"] in {f["properties"]["id"] for f in features}) == ("bin" in SEES[persona])


# What each role's home lists: the command centre lists bins (and manifests still in transit, not
# received ones), the regulator's and the facility's homes list manifests.
HOME_LISTS = {
    "/producer/": {"bin", "manifest"},
    "/command-centre/": {"bin"},
    "/regulator/": {"manifest"},
    "/facility/": {"manifest"},
}


@pytest.mark.parametrize(
    ("persona", "home"),
    [
        ("regulator", "/regulator/"),
        ("regulator_city", "/regulator/"),
        ("regulator_other", "/regulator/"),
        ("dispatcher", "/command-centre/"),
        ("rival_dispatcher", "/command-centre/"),
        ("alice", "/producer/"),
        ("bob", "/producer/"),
        ("facility_receiver", "/facility/"),
    ],
)
def test_home_dashboards_show_alices_bin_and_manifest_only_if_visible(
    request, browser_as, marks, persona, home
):
    html = page_text(browser_as(request.getfixturevalue(persona)).get(home))

    shown = {kind for kind in HOME_LISTS[home] if marks[kind] in html}

    assert shown == HOME_LISTS[home] & SEES[persona]


def test_regulator_of_the_division_sees_the_manifest_with_timeline_and_its_ledger_lines(
    browser_as, regulator, loop
):
    html = page_text(browser_as(regulator).get(f"/manifests/{loop['manifest']}/"))

    for action in ["manifests.manifest.created", "manifests.manifest.signed", "manifests.manifest.departed",
                   "manifests.manifest.received"]:  # fmt: skip
        assert action in html
    assert loop["production"] in html
    assert loop["storage_in"] not in html  # the warehouse's own ledger is in 320612, not this regulator's


def test_regulator_dashboard_counts_only_its_division(browser_as, regulator, regulator_other, world, loop):
    mine = browser_as(regulator).get("/regulator/").context["rows"]
    theirs = browser_as(regulator_other).get("/regulator/").context["rows"]

    assert [(r.code, r.bins, r.producers) for r in mine] == [("320602", 1, 1)]
    assert all(r.code.startswith("320612") for r in theirs)
    assert not any(r.bins for r in theirs)


# --- form posts ------------------------------------------------------------------------------------


def test_rival_dispatcher_cannot_assign_alices_request(
    browser_as, open_request, rival_dispatcher, rival_fleet
):
    vehicle, rival_driver = rival_fleet

    response = browser_as(rival_dispatcher).submit(
        "/command-centre/assign/",
        {
            "request_ids": [str(open_request.pk)],
            "vehicle_id": str(vehicle.pk),
            "driver_id": str(rival_driver.pk),
            "service_date": timezone.localdate().isoformat(),
        },
        follow=True,
    )

    assert PickupRequest.objects.get(pk=open_request.pk).status == "open"
    assert f'value="{open_request.pk}"' not in page_text(
        response
    )  # not offered on the rival's command centre
    assert any(m.message.startswith("收运请求") for m in response.context["messages"])


@pytest.mark.parametrize("persona", ["alice", "bob", "regulator", "facility_receiver"])
def test_only_a_collector_reaches_the_assign_form(request, browser_as, world, open_request, persona):
    response = browser_as(request.getfixturevalue(persona)).submit(
        "/command-centre/assign/",
        {
            "request_ids": [str(open_request.pk)],
            "vehicle_id": str(world.vehicle.pk),
            "driver_id": str(world.driver.pk),
            "service_date": timezone.localdate().isoformat(),
        },
    )

    assert response.status_code == 404
    assert PickupRequest.objects.get(pk=open_request.pk).status == "open"


def test_rival_driver_cannot_record_containers_on_alices_stop(browser_as, trip, open_request, rival_fleet):
    _vehicle, rival_driver = rival_fleet
    prefix = str(open_request.pk)

    response = browser_as(rival_driver).submit(
        f"/driver/requests/{open_request.pk}/containers/",
        {f"{prefix}-request_id": prefix, f"{prefix}-waste_code": "900-214-08", f"{prefix}-container_code": "X-1",
         f"{prefix}-weight_kg": "10"},
    )  # fmt: skip

    assert response.status_code == 404
    assert not Manifest.objects.exists()
    assert str(open_request.pk) not in page_text(browser_as(rival_driver).get("/driver/"))


@pytest.mark.parametrize(
    ("persona", "data"),
    [
        ("bob", {"method": "session"}),
        ("rival_dispatcher", {"method": "code", "signature_code": SIGNATURE_CODE}),
        ("regulator", {"method": "session"}),
    ],
)
def test_nobody_else_signs_alices_manifest(request, browser_as, draft_manifest, persona, data):
    response = browser_as(request.getfixturevalue(persona)).submit(
        f"/manifests/{draft_manifest.pk}/sign/", data, follow=True
    )

    assert response.status_code in (200, 403, 404)
    assert Manifest.objects.get(pk=draft_manifest.pk).status == "draft"


def test_rival_driver_cannot_depart_with_alices_manifest(browser_as, signed_manifest, rival_fleet):
    response = browser_as(rival_fleet[1]).submit(f"/manifests/{signed_manifest.pk}/depart/", follow=True)

    assert response.status_code in (200, 403, 404)
    assert Manifest.objects.get(pk=signed_manifest.pk).status == "producer_signed"


@pytest.mark.parametrize("persona", ["rival_dispatcher", "facility_receiver", "regulator", "bob"])
def test_nobody_else_receives_alices_manifest(request, browser_as, departed_manifest, persona):
    browser = browser_as(request.getfixturevalue(persona))
    weights = {f"line_{line.pk}": str(line.weight_kg) for line in departed_manifest.lines.all()}

    form = browser.get(f"/manifests/{departed_manifest.pk}/receive/")
    posted = browser.submit(f"/manifests/{departed_manifest.pk}/receive/", weights)

    assert (form.status_code, posted.status_code) == (404, 404)
    assert Manifest.objects.get(pk=departed_manifest.pk).status == "in_transit"
