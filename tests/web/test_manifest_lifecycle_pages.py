"""The manifest's later life on its pages: delivery, receipt with discrepancies, treatment,
corrections and paper entry; and the pages refusing exactly what the API refuses."""

from __future__ import annotations

import datetime as dt

import pytest
from api.helpers import JsonClient, bearer_headers
from django.utils import timezone

from greenisle.manifests.models import Manifest, ManifestCorrection
from greenisle.notifications.models import Notification
from web.helpers import messages_of, page_text

# (fixture, persona, page path, API path, form/JSON body, API status)
ILLEGAL = [
    ("signed_manifest", "driver", "deliver/", "deliver", {}, 409),
    ("draft_manifest", "receiver", "deliver/", "deliver", {}, 409),
    ("delivered_manifest", "receiver", "treatment/", "treatment", {"method": "D10"}, 409),
    ("signed_manifest", "alice", "cancel/", "cancel", {"reason": "不要了"}, 409),
    ("departed_manifest", "alice", "deliver/", "deliver", {}, 403),
    ("received_manifest", "driver", "treatment/", "treatment", {"method": "D10"}, 403),
]


@pytest.mark.parametrize(("fixture", "persona", "page", "api", "body", "status"), ILLEGAL)
def test_pages_and_api_refuse_the_same_transitions(
    request, world, browser_as, fixture, persona, page, api, body, status
):
    manifest = request.getfixturevalue(fixture)
    before = Manifest.objects.get(pk=manifest.pk).status
    actor = getattr(world, persona)
    response = JsonClient(bearer_headers(actor)).post(f"/manifests/{manifest.pk}/{api}", body)
    assert response.status_code == status, response.content
    shown = browser_as(actor).submit(f"/manifests/{manifest.pk}/{page}", body, follow=True)
    said = messages_of(shown)
    assert said and response.json()["detail"] in said[0]
    assert Manifest.objects.get(pk=manifest.pk).status == before


def test_receipt_page_records_delivery_then_discrepancies_and_tells_the_producer(
    world, departed_manifest, browser_as
):
    receiver = browser_as(world.receiver)
    path = f"/manifests/{departed_manifest.pk}/receive/"
    assert "记录送达" in page_text(receiver.get(path))
    delivered = receiver.submit(f"/manifests/{departed_manifest.pk}/deliver/", {"next": path}, follow=True)
    assert any("5个工作日" in m for m in messages_of(delivered))
    oil, rags = departed_manifest.lines.order_by("id")
    form = {
        f"line_{oil.pk}_weight": "30.00",
        f"line_{oil.pk}_discrepancies": ["packaging"],
        f"line_{oil.pk}_decision": "partly_accepted",
        f"line_{oil.pk}_accepted": "28",
        f"line_{oil.pk}_note": "桶盖破损",
        f"line_{rags.pk}_weight": "12.00",
    }
    done = receiver.submit(path, form, follow=True)
    assert "已确认接收" in messages_of(done)[0]
    manifest = Manifest.objects.get(pk=departed_manifest.pk)
    assert (manifest.status, manifest.receipt_outcome) == ("received", "partly_accepted")
    text = page_text(done)
    assert "部分接受" in text and "包装方式" in text and "数量" in text
    assert Notification.objects.filter(organization=world.producer, kind="manifest.discrepancy").exists()
    producer = browser_as(world.alice)
    assert '<span class="badge">1</span>' in page_text(producer.get("/producer/"))
    told = page_text(producer.get("/notifications/"))
    assert "接收有差异" in told and "RQ-0001" in told and f"/manifests/{manifest.pk}/" in told
    assert '<span class="badge">' not in page_text(producer.get("/producer/"))  # read now
    treated = receiver.submit(f"/manifests/{manifest.pk}/treatment/", {"method": "C1"}, follow=True)
    assert "已记录利用处置。" in messages_of(treated)


def test_receipt_page_names_the_line_that_needs_a_decision(world, delivered_manifest, browser_as):
    receiver = browser_as(world.receiver)
    oil, rags = delivered_manifest.lines.order_by("id")
    shown = receiver.submit(
        f"/manifests/{delivered_manifest.pk}/receive/",
        {f"line_{oil.pk}_weight": "20.00", f"line_{rags.pk}_weight": "12.00"},
        follow=True,
    )
    assert any(f"[lines.{oil.pk}.decision]" in m for m in messages_of(shown))
    assert Manifest.objects.get(pk=delivered_manifest.pk).status == "delivered"


def test_correction_proposed_by_the_driver_applied_by_the_producer_and_the_old_version_readable(
    world, departed_manifest, browser_as
):
    oil, rags = departed_manifest.lines.order_by("id")
    driver = browser_as(world.driver)
    proposed = driver.submit(
        f"/manifests/{departed_manifest.pk}/corrections/",
        {
            f"line_{oil.pk}_weight": "33.00",
            f"line_{oil.pk}_waste_code": oil.waste_code.code,
            f"line_{rags.pk}_weight": str(rags.weight_kg),
            f"line_{rags.pk}_waste_code": rags.waste_code.code,
            "reason": "地磅读数录错",
        },
        follow=True,
    )
    assert "已提出更正，等待对方确认。" in messages_of(proposed)
    correction = ManifestCorrection.objects.get()
    alice = browser_as(world.alice)
    page = page_text(alice.get(f"/manifests/{departed_manifest.pk}/"))
    assert "同意更正" in page and "地磅读数录错" in page
    applied = alice.submit(f"/corrections/{correction.pk}/", {"target": "applied"}, follow=True)
    assert "更正已处理。" in messages_of(applied)
    assert Manifest.objects.get(pk=departed_manifest.pk).version == 2
    old = page_text(alice.get(f"/manifests/{departed_manifest.pk}/versions/1/"))
    assert "35.50" in old and "此版本已被更正取代" in old


def test_paper_entry_page_enters_a_manifest_and_names_a_bad_field(world, browser_as):
    receiver = browser_as(world.receiver)
    assert world.site.name in page_text(receiver.get("/manifests/paper/"))
    ended = timezone.localtime() - dt.timedelta(days=1)
    fmt = "%Y-%m-%dT%H:%M"
    form = {
        "producer_site_id": str(world.site.pk),
        "paper_reference": "JS-PAPER-7",
        "producer_signed_at": (ended - dt.timedelta(hours=3)).strftime(fmt),
        "departed_at": (ended - dt.timedelta(hours=2)).strftime(fmt),
        "delivered_at": (ended - dt.timedelta(hours=1)).strftime(fmt),
        "received_at": ended.strftime(fmt),
        "container_0": "P-1",
        "waste_code_0": "900-214-99",
        "weight_0": "20",
    }
    refused = receiver.submit("/manifests/paper/", form, follow=True)
    assert any("[lines.0.waste_code]" in m for m in messages_of(refused))
    assert not Manifest.objects.filter(paper=True).exists()
    entered = receiver.submit("/manifests/paper/", {**form, "waste_code_0": "900-214-08"}, follow=True)
    assert "纸质联单已补录。" in messages_of(entered)
    manifest = Manifest.objects.get(paper=True)
    assert manifest.paper_reference == "JS-PAPER-7" and manifest.status == "received"


def test_only_receivers_see_the_paper_entry_page(world, browser_as):
    assert browser_as(world.alice).get("/manifests/paper/").status_code == 404
    assert browser_as(world.driver).get("/manifests/paper/").status_code == 404


# --- labels, loading and printing ---------------------------------------------------------------------


def test_producer_labels_a_container_prints_it_and_the_qr_page_shows_it(world, browser_as, bob):
    alice = browser_as(world.alice)
    assert "容器标签" in page_text(alice.get("/labels/"))
    made = alice.submit(
        "/labels/",
        {
            "site_id": str(world.site.pk),
            "waste_code": "900-214-08",
            "weight_kg": "30",
            "form": "liquid",
            "main_constituents": "矿物油",
            "hazardous_constituents": "多环芳烃",
        },
        follow=True,
    )
    assert "标签已生成" in messages_of(made)[0]
    from greenisle.manifests.models import Container

    container = Container.objects.get()
    assert made.redirect_chain[-1][0] == f"/c/{container.code}/"
    assert "多环芳烃" in page_text(made)
    printed = alice.get(f"/c/{container.code}/label.pdf")
    assert printed["Content-Type"] == "application/pdf" and printed.content.startswith(b"%PDF")
    sheet = alice.get("/labels/sheet.pdf")
    assert sheet["Content-Type"] == "application/pdf"
    assert browser_as(bob).get(f"/c/{container.code}/").status_code == 404  # another producer
    assert browser_as(world.dispatcher).get(f"/c/{container.code}/").status_code == 200  # its collector


def test_driver_scans_a_label_that_disagrees_and_is_told_why(world, open_request, trip, browser_as):
    from greenisle.manifests.labels import container_label

    container = container_label(
        actor=world.alice,
        site_id=world.site.pk,
        waste_code="900-214-08",
        weight_kg="30",
        form="liquid",
        main_constituents="矿物油",
        hazardous_constituents="多环芳烃",
    )
    driver = browser_as(world.driver)
    assert "核对标签并装车" in page_text(driver.get("/driver/"))
    refused = driver.submit(
        f"/driver/requests/{open_request.pk}/load/",
        {"scanned": container.code, "weight_kg": "40"},
        follow=True,
    )
    assert any(m.startswith("未装车") and "40" in m for m in messages_of(refused))
    loaded = driver.submit(
        f"/driver/requests/{open_request.pk}/load/",
        {"scanned": f"http://testserver/c/{container.code}/", "weight_kg": "30.2"},
        follow=True,
    )
    assert f"已装车：{container.code}" in messages_of(loaded)
    manifest = Manifest.objects.get()
    pdf = driver.get(f"/manifests/{manifest.pk}/document.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_api_load_answers_422_with_the_refusal_and_201_with_the_line(world, open_request, trip):
    from greenisle.manifests.models import LoadingRefusal

    client = JsonClient(bearer_headers(world.alice))
    made = client.post(
        "/containers",
        {
            "site_id": str(world.site.pk),
            "waste_code": "900-214-08",
            "weight_kg": "30",
            "form": "liquid",
            "main_constituents": "矿物油",
            "hazardous_constituents": "多环芳烃",
        },
    )
    assert made.status_code == 201, made.content
    code = made.json()["code"]
    driver = JsonClient(bearer_headers(world.driver))
    refused = driver.post(
        "/manifests/load", {"request_id": str(open_request.pk), "scanned": code, "weight_kg": "20"}
    )
    assert refused.status_code == 422 and refused.json()["reasons"] == ["weight"]
    assert LoadingRefusal.objects.count() == 1
    loaded = driver.post(
        "/manifests/load", {"request_id": str(open_request.pk), "scanned": code, "weight_kg": "30"}
    )
    assert loaded.status_code == 201 and loaded.json()["container_code"] == code
    label = client.get(f"/containers/{code}/label.pdf", layout="a4")
    assert label.status_code == 200 and label.content.startswith(b"%PDF")


def test_a_draft_shows_its_checks_and_the_api_reports_them(world, draft_manifest, filed_plan, browser_as):
    filed_plan.wastes.filter(waste_code__code="900-041-49").delete()
    page = page_text(browser_as(world.alice).get(f"/manifests/{draft_manifest.pk}/"))
    assert "签署前检查" in page and "900-041-49 不在已备案的管理计划中" in page
    report = JsonClient(bearer_headers(world.alice)).get(f"/manifests/{draft_manifest.pk}/check").json()
    assert report["errors"] == [] and [w["code"] for w in report["warnings"]] == ["plan_code"]


def test_the_facility_receives_an_onward_manifest_on_its_pages(
    world, delivered_manifest, facility, facility_receiver, browser_as
):
    from greenisle.manifests.receipt import manifest_receive
    from greenisle.manifests.services import manifest_depart, manifest_sign

    manifest_receive(
        actor=world.receiver,
        manifest_id=delivered_manifest.pk,
        lines={line.pk: line.weight_kg for line in delivered_manifest.lines.all()},
    )
    dispatcher = browser_as(world.dispatcher)
    stock = page_text(dispatcher.get("/manifests/onward/"))
    assert "RQ-0001" in stock and "RQ-0002" in stock
    drafted = dispatcher.submit(
        "/manifests/onward/",
        {
            "receiver_id": str(facility.pk),
            "line_ids": [str(line.pk) for line in delivered_manifest.lines.all()],
        },
        follow=True,
    )
    assert "转运联单已生成" in messages_of(drafted)[0]
    onward = Manifest.objects.get(kind="onward")
    assert delivered_manifest.number in page_text(drafted)
    manifest_sign(actor=world.dispatcher, manifest_id=onward.pk, method="session")
    manifest_depart(actor=world.driver, manifest_id=onward.pk)
    plant = browser_as(facility_receiver)
    assert onward.number in page_text(plant.get("/facility/"))
    plant.submit(f"/manifests/{onward.pk}/deliver/", follow=True)
    lines = list(onward.lines.order_by("id"))
    done = plant.submit(
        f"/manifests/{onward.pk}/receive/",
        {f"line_{line.pk}_weight": str(line.weight_kg) for line in lines},
        follow=True,
    )
    assert "已确认接收" in messages_of(done)[0]
    treated = plant.submit(f"/manifests/{onward.pk}/treatment/", {"method": "D10"}, follow=True)
    assert "已记录利用处置。" in messages_of(treated)
    assert Manifest.objects.get(pk=onward.pk).status == "treated"
