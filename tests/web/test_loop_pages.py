"""The core loop through the pages: the dispatcher assigns on the command centre, the driver records
containers, takes the producer's signature code and hands over on the phone page, the receiver receives
with weights; form errors name the field."""

from __future__ import annotations

import re

from conftest import SIGNATURE_CODE
from django.utils import timezone

from greenisle.dispatch.models import PickupRequest
from greenisle.ledger.models import LedgerRecord
from greenisle.manifests.models import Manifest
from web.helpers import messages_of, page_text


def container(request_id, waste_code="900-214-08", container_code="RQ-0001", weight="35.5"):
    """The driver page's container form: its fields are prefixed with the request id."""
    return {
        f"{request_id}-request_id": str(request_id),
        f"{request_id}-waste_code": waste_code,
        f"{request_id}-container_code": container_code,
        f"{request_id}-weight_kg": weight,
    }


def test_the_loop_through_the_pages(world, open_request, browser_as):
    dispatcher, driver, receiver, alice = (
        browser_as(u) for u in (world.dispatcher, world.driver, world.receiver, world.alice)
    )

    # The command centre lists the open request and assigns it to the truck and driver.
    centre = page_text(dispatcher.get("/command-centre/"))
    assert f'value="{open_request.pk}"' in centre and world.producer.name in centre
    assigned = dispatcher.submit(
        "/command-centre/assign/",
        {
            "request_ids": [str(open_request.pk)],
            "vehicle_id": str(world.vehicle.pk),
            "driver_id": str(world.driver.pk),
            "service_date": timezone.localdate().isoformat(),
        },
        follow=True,
    )
    assert "已派车。" in messages_of(assigned)
    assert PickupRequest.objects.get(pk=open_request.pk).status == "assigned"

    # The driver's phone page shows the stop; two containers are recorded.
    stops = page_text(driver.get("/driver/"))
    assert world.producer.name in stops and world.bin.serial in stops and "记录称重容器" in stops
    for code, number, kg in [("900-214-08", "RQ-0001", "35.5"), ("900-041-49", "RQ-0002", "12")]:
        added = driver.submit(
            f"/driver/requests/{open_request.pk}/containers/",
            container(open_request.pk, code, number, kg),
            follow=True,
        )
        assert "容器已记录。" in messages_of(added)
    manifest = Manifest.objects.get()
    stops = page_text(driver.get("/driver/"))
    assert manifest.number in stops and "RQ-0002" in stops and "产废单位签字码" in stops

    # A wrong signature code is refused, naming the field; the right one signs.
    wrong = driver.submit(
        f"/manifests/{manifest.pk}/sign/",
        {"method": "code", "signature_code": "111111", "next": "/driver/"},
        follow=True,
    )
    assert any("[signature_code]" in m for m in messages_of(wrong))
    assert Manifest.objects.get().status == "draft"
    signed = driver.submit(
        f"/manifests/{manifest.pk}/sign/",
        {"method": "code", "signature_code": SIGNATURE_CODE, "next": "/driver/"},
        follow=True,
    )
    assert "联单已签署。" in messages_of(signed)
    assert "装车交接" in page_text(signed)

    # Hand over: in transit.
    departed = driver.submit(f"/manifests/{manifest.pk}/depart/", follow=True)
    assert "已交接，联单运输中。" in messages_of(departed)
    assert Manifest.objects.get().status == "in_transit"

    # The receiver finds it on the command centre and receives it with a weight per line.
    centre = page_text(receiver.get("/command-centre/"))
    assert manifest.number in centre and f"/manifests/{manifest.pk}/receive/" in centre
    arrival = page_text(receiver.get(f"/manifests/{manifest.pk}/receive/"))
    assert "记录送达" in arrival and "确认接收" not in arrival
    receiver.submit(
        f"/manifests/{manifest.pk}/deliver/", {"next": f"/manifests/{manifest.pk}/receive/"}, follow=True
    )
    form = page_text(receiver.get(f"/manifests/{manifest.pk}/receive/"))
    assert "确认接收" in form
    lines = {line.container_code: line.pk for line in manifest.lines.all()}
    received = receiver.submit(
        f"/manifests/{manifest.pk}/receive/",
        {f"line_{lines['RQ-0001']}_weight": "35.20", f"line_{lines['RQ-0002']}_weight": "11.90"},
        follow=True,
    )
    assert received.redirect_chain[-1][0] == f"/manifests/{manifest.pk}/"
    assert "已确认接收，台账已生成入库记录。" in messages_of(received)
    detail = page_text(received)
    assert "已接收" in detail and "35.20" in detail and "11.90" in detail
    assert (
        len(set(re.findall(r"HWRK\d{11}", detail))) == 2 and len(set(re.findall(r"HWCS\d{11}", detail))) == 2
    )

    # The producer sees it received, with its own production records in its ledger.
    home = page_text(alice.get("/producer/"))
    assert manifest.number in home and "已接收" in home
    ledger = page_text(alice.get("/ledger/"))
    assert len(set(re.findall(r"HWCS\d{11}", ledger))) == 2 and "HWRK" not in ledger


def test_producer_signs_on_its_own_page(world, draft_manifest, browser_as):
    alice = browser_as(world.alice)
    home = page_text(alice.get("/producer/"))
    assert "待签联单" in home and draft_manifest.number in home

    signed = alice.submit(
        f"/manifests/{draft_manifest.pk}/sign/", {"method": "session", "next": "/producer/"}, follow=True
    )

    assert "联单已签署。" in messages_of(signed)
    assert Manifest.objects.get().producer_signature_method == "session"
    assert "待签联单" not in page_text(signed)


def test_forms_refuse_a_post_without_csrf_token(world, open_request, trip, browser_as):
    driver = browser_as(world.driver)

    response = driver.post(f"/driver/requests/{open_request.pk}/containers/", container(open_request.pk))

    assert response.status_code == 403
    assert not Manifest.objects.exists()


# --- form errors name the field -------------------------------------------------------------------


def test_container_weight_error_names_the_field(world, trip, open_request, browser_as):
    response = browser_as(world.driver).submit(
        f"/driver/requests/{open_request.pk}/containers/",
        container(open_request.pk, weight="-3"),
        follow=True,
    )

    assert [m.split(":")[0] for m in messages_of(response)] == ["重量（千克）"]
    assert not Manifest.objects.exists()


def test_container_code_missing_names_the_field(world, trip, open_request, browser_as):
    response = browser_as(world.driver).submit(
        f"/driver/requests/{open_request.pk}/containers/",
        container(open_request.pk, container_code=""),
        follow=True,
    )

    assert [m.split(":")[0] for m in messages_of(response)] == ["容器编码"]


def test_waste_code_the_bin_does_not_hold_names_the_field(world, trip, open_request, browser_as):
    response = browser_as(world.driver).submit(
        f"/driver/requests/{open_request.pk}/containers/",
        container(open_request.pk, waste_code="900-249-08"),
        follow=True,
    )

    assert [m.split(":")[0] for m in messages_of(response)] == ["废物代码"]


def test_service_refusal_names_the_field(world, draft_manifest, open_request, browser_as):
    # RQ-0001 is already on the manifest.
    response = browser_as(world.driver).submit(
        f"/driver/requests/{open_request.pk}/containers/",
        container(open_request.pk, container_code="RQ-0001"),
        follow=True,
    )

    (message,) = messages_of(response)
    assert message.endswith("[container_code]")
    assert draft_manifest.lines.count() == 2


def test_assigning_nothing_names_the_field(world, open_request, browser_as):
    response = browser_as(world.dispatcher).submit(
        "/command-centre/assign/",
        {
            "vehicle_id": str(world.vehicle.pk),
            "driver_id": str(world.driver.pk),
            "service_date": timezone.localdate().isoformat(),
        },
        follow=True,
    )

    assert [m.split(":")[0] for m in messages_of(response)] == ["收运请求"]
    assert PickupRequest.objects.get(pk=open_request.pk).status == "open"


def test_receive_form_shows_the_error_beside_the_line(world, delivered_manifest, browser_as):
    lines = list(delivered_manifest.lines.order_by("id"))

    response = browser_as(world.receiver).submit(
        f"/manifests/{delivered_manifest.pk}/receive/",
        {f"line_{lines[0].pk}_weight": "35", f"line_{lines[1].pk}_weight": "0"},
    )

    html = page_text(response)
    assert response.context["form"].errors.keys() == {f"line_{lines[1].pk}_weight"}
    assert 'class="errorlist' in html
    assert Manifest.objects.get().status == "delivered"
    assert not LedgerRecord.objects.filter(record_type="storage_in").exists()


def test_form_errors_are_in_english_after_choosing_english(world, trip, open_request, browser_as):
    driver = browser_as(world.driver)
    driver.submit("/i18n/setlang/", {"language": "en", "next": "/driver/"})

    response = driver.submit(
        f"/driver/requests/{open_request.pk}/containers/",
        container(open_request.pk, weight="-3"),
        follow=True,
    )

    assert [m.split(":")[0] for m in messages_of(response)] == ["Weight (kg)"]
