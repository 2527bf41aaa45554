"""One test per article of 《危险废物转移管理办法》 (in force 2022-01-01) the manifests enforce."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from greenisle.manifests.labels import container_label, container_load
from greenisle.manifests.models import Manifest
from greenisle.manifests.onward import manifest_onward_create
from greenisle.manifests.paper import manifest_paper_enter
from greenisle.manifests.receipt import manifest_receive
from greenisle.manifests.services import manifest_deliver, manifest_sign
from greenisle.manifests.validation import ManifestInvalid
from greenisle.organizations.models import Licence
from greenisle.supervision.models import Finding

LOCAL = dt.timezone(dt.timedelta(hours=8))


def test_art13_a_label_that_disagrees_with_the_manifest_is_not_loaded(world, open_request, trip):
    label = container_label(
        actor=world.alice, site_id=world.site.pk, waste_code="900-214-08", weight_kg="20", form="liquid",
        main_constituents="矿物油", hazardous_constituents="多环芳烃",
    )  # fmt: skip
    result = container_load(
        actor=world.driver, request_id=open_request.pk, scanned=label.code, weight_kg="25"
    )
    assert result.line is None and result.refusal.reasons == ["weight"]
    assert not Manifest.objects.exists()


def test_art15_the_number_is_year_province_city_and_a_serial_per_city(draft_manifest):
    year = timezone.localdate().year
    assert re.fullmatch(rf"{year}3206\d{{6}}", draft_manifest.number)


def test_art16_one_manifest_per_producer_on_a_trip(world, draft_manifest):
    with pytest.raises(IntegrityError), transaction.atomic():
        Manifest.objects.create(
            number="20269999000001", trip=draft_manifest.trip, producer=world.producer, producer_site=world.site,
            carrier=world.collector, receiver=world.collector,
        )  # fmt: skip


def test_art18_receipt_is_due_five_working_days_after_delivery_and_differences_are_typed(
    world, departed_manifest, monkeypatch
):
    at = dt.datetime(2026, 9, 30, 10, 0, tzinfo=LOCAL)  # before the National Day holiday
    Manifest.objects.filter(pk=departed_manifest.pk).update(
        producer_signed_at=at - dt.timedelta(hours=2), departed_at=at - dt.timedelta(hours=1)
    )
    monkeypatch.setattr(timezone, "now", lambda: at)
    manifest = manifest_deliver(actor=world.driver, manifest_id=departed_manifest.pk)
    # 8, 9 Oct, make-up Sat 10 Oct, 12, 13 Oct.
    assert manifest.receipt_due_on == dt.date(2026, 10, 13)
    monkeypatch.undo()
    oil, rags = manifest.lines.order_by("id")
    received = manifest_receive(
        actor=world.receiver,
        manifest_id=manifest.pk,
        lines={oil.pk: {"received_weight_kg": "20", "decision": "rejected"}, rags.pk: "12"},
    )
    assert received.lines.get(pk=oil.pk).discrepancies == ["quantity"]
    assert received.receipt_outcome == "partly_accepted"


def test_art20_a_paper_manifest_entered_after_ten_working_days_raises_a_finding(world):
    ended = dt.datetime(2026, 1, 5, 16, 0, tzinfo=LOCAL)
    manifest_paper_enter(
        actor=world.receiver, producer_site_id=world.site.pk, paper_reference="JS-P-1",
        times={"producer_signed_at": ended - dt.timedelta(hours=2), "departed_at": ended - dt.timedelta(hours=1),
               "delivered_at": ended - dt.timedelta(minutes=30), "received_at": ended},
        lines=[{"container_code": "P-1", "waste_code": "900-214-08", "weight_kg": "10"}],
    )  # fmt: skip
    assert Finding.objects.filter(rule="manifest.paper_entry_late").count() == 1


def test_art31_the_collector_is_the_consignor_of_an_onward_transfer(world, delivered_manifest, facility):
    manifest_receive(
        actor=world.receiver,
        manifest_id=delivered_manifest.pk,
        lines={line.pk: line.weight_kg for line in delivered_manifest.lines.all()},
    )
    onward = manifest_onward_create(
        actor=world.dispatcher,
        receiver_id=facility.pk,
        line_ids=[line.pk for line in delivered_manifest.lines.all()],
    )
    assert (onward.producer, onward.receiver) == (world.collector, facility)
    assert {line.source_line.manifest for line in onward.lines.all()} == {delivered_manifest}


def test_gufa_art80_waste_goes_only_to_a_receiver_licensed_for_it(world, draft_manifest):
    Licence.objects.filter(organization=world.collector).delete()
    with pytest.raises(ManifestInvalid) as refused:
        manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session")
    assert refused.value.report.errors[0].code == "receiver_unlicensed"
