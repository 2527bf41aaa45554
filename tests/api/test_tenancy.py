"""Tenancy through the API: each persona against the objects of Alice's loop (ADR 0002).

Alice's workshop is in 崇川区 (320602); her collector's truck and warehouse are in 通州区 (320612). Reads of
objects one may not see are 404 (their existence is not revealed), lists leave them out, and writes are
refused with 403 or 404 and change nothing.
"""

from __future__ import annotations

import pytest
from conftest import SIGNATURE_CODE
from django.utils import timezone

from api.helpers import ids, items
from api.tenancy import PERSONAS, SEES
from greenisle.dispatch.models import PickupRequest
from greenisle.manifests.models import Manifest

DETAILS = {
    "bin": "/bins/{}",
    "request": "/pickup-requests/{}",
    "manifest": "/manifests/{}",
    "trip": "/trips/{}",
}
LISTS = {"bin": "/bins", "request": "/pickup-requests", "manifest": "/manifests", "trip": "/trips"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_reading_an_object_is_404_unless_visible(request, api_as, loop, persona):
    client = api_as(request.getfixturevalue(persona))

    responses = {kind: client.get(url.format(loop[kind])) for kind, url in DETAILS.items()}

    assert {kind: r.status_code for kind, r in responses.items()} == {
        kind: 200 if kind in SEES[persona] else 404 for kind in DETAILS
    }
    for kind, response in responses.items():
        body = response.json()
        assert body["id"] == loop[kind] if response.status_code == 200 else body["code"] == "not_found"


@pytest.mark.parametrize("persona", PERSONAS)
def test_lists_contain_an_object_only_if_visible(request, api_as, loop, persona):
    client = api_as(request.getfixturevalue(persona))

    listed = {kind: loop[kind] in ids(client.get(url)) for kind, url in LISTS.items()}

    assert listed == {kind: kind in SEES[persona] for kind in LISTS}


@pytest.mark.parametrize("persona", PERSONAS)
def test_ledger_lines_are_visible_by_owner_and_site_division(request, api_as, loop, persona):
    batch_codes = {r["batch_code"] for r in items(api_as(request.getfixturevalue(persona)).get("/ledger"))}

    assert (loop["production"] in batch_codes) == ("production" in SEES[persona])
    assert (loop["storage_in"] in batch_codes) == ("storage_in" in SEES[persona])


@pytest.mark.parametrize("persona", PERSONAS)
def test_audit_events_of_the_manifest_are_visible_only_with_it(request, api_as, loop, persona):
    events = items(api_as(request.getfixturevalue(persona)).get("/audit-events", object_id=loop["manifest"]))

    if "events" in SEES[persona]:
        assert {e["action"] for e in events} >= {"manifests.manifest.created", "manifests.manifest.received"}
    else:
        assert events == []


@pytest.mark.parametrize("persona", ["regulator", "regulator_city"])
def test_regulator_of_the_division_sees_the_manifest_with_its_whole_timeline(request, api_as, loop, persona):
    regulator = api_as(request.getfixturevalue(persona))
    alice = api_as(request.getfixturevalue("alice"))

    seen = regulator.get(f"/manifests/{loop['manifest']}").json()

    assert seen["status"] == "received"
    assert [e["id"] for e in seen["timeline"]] == [
        e["id"] for e in alice.get(f"/manifests/{loop['manifest']}").json()["timeline"]
    ]
    assert [e["action"] for e in seen["timeline"]][-1] == "manifests.manifest.received"
    assert {line["container_code"] for line in seen["lines"]} == {"RQ-0001", "RQ-0002"}


def test_another_districts_regulator_lists_only_events_of_its_division(api_as, loop, regulator_other):
    events = items(api_as(regulator_other).get("/audit-events"))
    assert loop["manifest"] not in {e["object_id"] for e in events}
    assert all(e["division_code"].startswith("320612") for e in events)


# --- writes ---------------------------------------------------------------------------------------


def _assign_body(request_id, vehicle, driver):
    return {
        "request_ids": [str(request_id)],
        "vehicle_id": str(vehicle.pk),
        "driver_id": driver.pk,
        "service_date": timezone.localdate().isoformat(),
    }


def test_rival_dispatcher_cannot_assign_alices_request(
    api_as, world, open_request, rival_dispatcher, rival_fleet
):
    vehicle, rival_driver = rival_fleet

    response = api_as(rival_dispatcher).post("/trips", _assign_body(open_request.pk, vehicle, rival_driver))

    assert response.status_code in (403, 404), response.content
    assert response.json()["field"] == "request_ids"
    assert PickupRequest.objects.get(pk=open_request.pk).status == "open"


def test_dispatcher_cannot_put_alices_request_on_a_rivals_truck(api_as, world, open_request, rival_fleet):
    vehicle, rival_driver = rival_fleet

    response = api_as(world.dispatcher).post("/trips", _assign_body(open_request.pk, vehicle, world.driver))

    assert response.status_code in (403, 404)
    assert response.json()["field"] == "vehicle_id"
    assert PickupRequest.objects.get(pk=open_request.pk).status == "open"


@pytest.mark.parametrize("persona", ["alice", "bob", "regulator", "regulator_city", "facility_receiver"])
def test_only_a_collector_dispatches(request, api_as, world, open_request, persona):
    response = api_as(request.getfixturevalue(persona)).post(
        "/trips", _assign_body(open_request.pk, world.vehicle, world.driver)
    )

    assert response.status_code in (403, 404)
    assert PickupRequest.objects.get(pk=open_request.pk).status == "open"


def test_rival_driver_cannot_record_containers_on_alices_stop(api_as, world, trip, open_request, rival_fleet):
    _vehicle, rival_driver = rival_fleet

    response = api_as(rival_driver).post(
        "/manifests/containers",
        {
            "request_id": str(open_request.pk),
            "waste_code": "900-214-08",
            "weight_kg": "10",
            "container_code": "X-1",
        },
    )

    assert response.status_code in (403, 404)
    assert not Manifest.objects.exists()


@pytest.mark.parametrize(
    ("persona", "body"),
    [
        ("bob", {"method": "session"}),
        ("rival_dispatcher", {"method": "code", "signature_code": SIGNATURE_CODE}),
        ("rival_dispatcher", {"method": "delegated"}),
        ("regulator", {"method": "session"}),
        ("facility_receiver", {"method": "session"}),
    ],
)
def test_nobody_else_signs_alices_manifest(request, api_as, draft_manifest, persona, body):
    response = api_as(request.getfixturevalue(persona)).post(f"/manifests/{draft_manifest.pk}/sign", body)

    assert response.status_code in (403, 404), response.content
    assert Manifest.objects.get(pk=draft_manifest.pk).status == "draft"


@pytest.mark.parametrize("persona", ["rival_driver", "alice", "regulator", "facility_receiver"])
def test_nobody_else_departs_with_alices_manifest(request, api_as, signed_manifest, rival_fleet, persona):
    user = rival_fleet[1] if persona == "rival_driver" else request.getfixturevalue(persona)

    response = api_as(user).post(f"/manifests/{signed_manifest.pk}/depart")

    assert response.status_code in (403, 404), response.content
    assert Manifest.objects.get(pk=signed_manifest.pk).status == "producer_signed"


@pytest.mark.parametrize("persona", ["rival_dispatcher", "facility_receiver", "regulator", "alice", "bob"])
def test_nobody_else_receives_alices_manifest(request, api_as, delivered_manifest, persona):
    weights = {str(line.pk): str(line.weight_kg) for line in delivered_manifest.lines.all()}

    response = api_as(request.getfixturevalue(persona)).post(
        f"/manifests/{delivered_manifest.pk}/receive",
        {"lines": {k: {"received_weight_kg": v} for k, v in weights.items()}},
    )

    assert response.status_code in (403, 404), response.content
    assert Manifest.objects.get(pk=delivered_manifest.pk).status == "delivered"
    assert not delivered_manifest.ledger_records.filter(record_type="storage_in").exists()
