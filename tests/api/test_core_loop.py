"""The core loop through HTTP only (foundation issue §5 a–f): reading → request → trip → containers →
producer's signature → departure → receipt → ledger → the regulator's timeline."""

from __future__ import annotations

from decimal import Decimal

from conftest import SIGNATURE_CODE
from django.utils import timezone

from api.helpers import items, reading
from greenisle.dispatch.models import PickupRequest
from greenisle.manifests.models import Manifest


def test_the_core_loop_through_the_api(world, device, api_as, regulator):
    dispatcher, driver, receiver, alice = (
        api_as(u) for u in (world.dispatcher, world.driver, world.receiver, world.alice)
    )

    # a) the bin reports it is over its threshold: one open request appears.
    posted = device(world.bin).post("/readings", reading(86.5))
    assert posted.status_code == 201, posted.content
    request_id = posted.json()["request_opened"]
    open_requests = items(dispatcher.get("/pickup-requests", status="open"))
    assert [r["id"] for r in open_requests] == [request_id]
    assert open_requests[0]["producer"] == world.producer.name

    # b) the dispatcher puts it on today's trip of the truck, with the driver.
    assigned = dispatcher.post(
        "/trips",
        {
            "request_ids": [request_id],
            "vehicle_id": str(world.vehicle.pk),
            "driver_id": world.driver.pk,
            "service_date": timezone.localdate().isoformat(),
        },
    )
    assert assigned.status_code == 201, assigned.content
    trip = assigned.json()
    assert trip["vehicle"] == world.vehicle.plate and trip["status"] == "planned"
    assert [s["request"]["id"] for s in trip["stops"]] == [request_id]
    assert trip["stops"][0]["request"]["status"] == "assigned"
    assert items(dispatcher.get("/pickup-requests", status="open")) == []

    # c) at the stop the driver records two weighed containers: one draft manifest for the producer.
    lines = []
    for code, kg, container in [("900-214-08", "35.50", "RQ-0001"), ("900-041-49", "12.00", "RQ-0002")]:
        added = driver.post(
            "/manifests/containers",
            {"request_id": request_id, "waste_code": code, "weight_kg": kg, "container_code": container},
        )
        assert added.status_code == 201, added.content
        lines.append(added.json())
    manifest_id = lines[0]["manifest_id"]
    assert lines[1]["manifest_id"] == manifest_id
    number = lines[0]["manifest_number"]
    assert (
        len(number) == 14 and number.isdigit() and number[4:8] == "3206"
    )  # 办法 Art. 15: year + 32 + 06 + serial

    # d) the producer signs with its code on the driver's phone; a wrong code is refused, naming the field.
    wrong = driver.post(f"/manifests/{manifest_id}/sign", {"method": "code", "signature_code": "000000"})
    assert wrong.status_code == 403
    assert wrong.json()["field"] == "signature_code"
    assert Manifest.objects.get(pk=manifest_id).status == "draft"
    signed = driver.post(
        f"/manifests/{manifest_id}/sign", {"method": "code", "signature_code": SIGNATURE_CODE}
    )
    assert signed.status_code == 200, signed.content
    assert signed.json()["status"] == "producer_signed"
    assert signed.json()["producer_signature_method"] == "code"
    assert PickupRequest.objects.get(pk=request_id).status == "collected"

    # ... and the driver hands over: in transit.
    departed = driver.post(f"/manifests/{manifest_id}/depart")
    assert departed.status_code == 200, departed.content
    assert departed.json()["status"] == "in_transit" and departed.json()["departed_at"]

    # e) it arrives, and the collector's receiver weighs each line and accepts (办法 Art. 18).
    delivered = receiver.post(f"/manifests/{manifest_id}/deliver")
    assert delivered.status_code == 200, delivered.content
    assert delivered.json()["status"] == "delivered" and delivered.json()["receipt_due_on"]
    line_ids = {line["line"]["container_code"]: line["line"]["id"] for line in lines}
    received = receiver.post(
        f"/manifests/{manifest_id}/receive",
        {
            "lines": {
                str(line_ids["RQ-0001"]): {"received_weight_kg": "35.20"},
                str(line_ids["RQ-0002"]): {"received_weight_kg": "12.10"},
            }
        },
    )
    assert received.status_code == 200, received.content
    body = received.json()
    assert body["status"] == "received" and body["received_at"]
    assert {line["container_code"]: Decimal(line["received_weight_kg"]) for line in body["lines"]} == {
        "RQ-0001": Decimal("35.20"),
        "RQ-0002": Decimal("12.10"),
    }
    assert {line["decision"] for line in body["lines"]} == {"accepted"}

    # The ledger: a production record per container at the producer (HWCS…) and, once received, its
    # outsourced record (HWWWCZ…); a storage-in record per container at the warehouse (HWRK…) pointing
    # back at the production.
    producer_ledger = items(alice.get("/ledger"))
    assert sorted((r["record_type"], r["container_code"]) for r in producer_ledger) == [
        ("outsourced_disposal", "RQ-0001"),
        ("outsourced_disposal", "RQ-0002"),
        ("production", "RQ-0001"),
        ("production", "RQ-0002"),
    ]
    producer_ledger = [r for r in producer_ledger if r["record_type"] == "production"]
    assert all(r["batch_code"].startswith("HWCS") for r in producer_ledger)
    production = {r["container_code"]: r["batch_code"] for r in producer_ledger}
    storage_in = items(receiver.get("/ledger", record_type="storage_in"))
    assert sorted(r["container_code"] for r in storage_in) == ["RQ-0001", "RQ-0002"]
    for r in storage_in:
        assert r["batch_code"].startswith("HWRK") and r["manifest_id"] == manifest_id
        assert r["source_batch_code"] == production[r["container_code"]]
        assert r["organization"] == world.collector.name
    assert {r["record_type"] for r in items(receiver.get("/ledger"))} == {
        "production",
        "storage_in",
        "outsourced_disposal",
    }

    # f) the regulator of the producer's district sees the manifest with its whole timeline.
    seen = api_as(regulator).get(f"/manifests/{manifest_id}")
    assert seen.status_code == 200, seen.content
    manifest = seen.json()
    assert manifest["number"] == number and manifest["division_code"] == "320602"
    assert [e["action"] for e in manifest["timeline"]] == [
        "manifests.manifest.created",
        "manifests.manifest.line_added",
        "manifests.manifest.line_added",
        "manifests.manifest.signed",
        "manifests.manifest.departed",
        "manifests.manifest.delivered",
        "manifests.manifest.received",
    ]
    assert all(len(e["hash"]) == 64 for e in manifest["timeline"])
    assert [e["id"] for e in manifest["timeline"]] == sorted(e["id"] for e in manifest["timeline"])


def test_producer_signs_in_its_own_session(world, draft_manifest, api_as):
    alice = api_as(world.alice, session=True)

    response = alice.post(f"/manifests/{draft_manifest.pk}/sign", {"method": "session"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "producer_signed" and body["producer_signature_method"] == "session"
    assert body["timeline"][-1]["action"] == "manifests.manifest.signed"
    assert body["timeline"][-1]["actor_label"]
    assert {r["record_type"] for r in items(alice.get("/ledger"))} == {"production"}


def test_only_the_producer_signs_in_session(world, draft_manifest, api_as):
    response = api_as(world.driver).post(f"/manifests/{draft_manifest.pk}/sign", {"method": "session"})

    assert response.status_code == 403
    assert response.json()["field"] == "method"
    assert Manifest.objects.get(pk=draft_manifest.pk).status == "draft"


def test_receipt_must_weigh_every_line(world, delivered_manifest, api_as):
    first = delivered_manifest.lines.order_by("id").first()

    response = api_as(world.receiver).post(
        f"/manifests/{delivered_manifest.pk}/receive",
        {"lines": {str(first.pk): {"received_weight_kg": "35"}}},
    )

    assert response.status_code == 400
    assert response.json()["field"].startswith("lines.")
    assert Manifest.objects.get(pk=delivered_manifest.pk).status == "delivered"


def test_the_same_receipt_twice_is_a_conflict_not_a_second_ledger_entry(world, delivered_manifest, api_as):
    receiver = api_as(world.receiver)
    weights = {
        "lines": {
            str(line.pk): {"received_weight_kg": str(line.weight_kg)}
            for line in delivered_manifest.lines.all()
        }
    }

    first = receiver.post(f"/manifests/{delivered_manifest.pk}/receive", weights)
    second = receiver.post(f"/manifests/{delivered_manifest.pk}/receive", weights)

    assert first.status_code == 200
    assert second.status_code in (400, 409), second.content
    assert len(items(receiver.get("/ledger", record_type="storage_in"))) == delivered_manifest.lines.count()


def test_container_with_a_code_the_bin_does_not_hold_names_waste_code(world, trip, open_request, api_as):
    response = api_as(world.driver).post(
        "/manifests/containers",
        {
            "request_id": str(open_request.pk),
            "waste_code": "900-249-08",
            "weight_kg": "5",
            "container_code": "X1",
        },
    )

    assert response.status_code == 400, response.content
    assert response.json()["field"] == "waste_code"
