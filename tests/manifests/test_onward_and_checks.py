"""Onward transfers from the collector's warehouse to a facility (办法 Art. 31), traceable to the bin,
and the licence checks that block a signature."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from greenisle.core.errors import ServiceError
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.manifests.choices import ManifestKind, ManifestStatus
from greenisle.manifests.models import Manifest
from greenisle.manifests.onward import manifest_onward_create, stock_lines
from greenisle.manifests.receipt import manifest_receive, manifest_record_treatment
from greenisle.manifests.services import manifest_deliver, manifest_depart, manifest_sign
from greenisle.manifests.validation import ManifestInvalid
from greenisle.organizations.models import Licence


@pytest.fixture
def stored(world, delivered_manifest):
    """Alice's two containers received at the warehouse; the rags only partly accepted."""
    oil, rags = delivered_manifest.lines.order_by("id")
    manifest_receive(
        actor=world.receiver,
        manifest_id=delivered_manifest.pk,
        lines={
            oil.pk: "35.5",
            rags.pk: {
                "received_weight_kg": "12",
                "decision": "partly_accepted",
                "accepted_weight_kg": "10",
                "discrepancies": ["packaging"],
            },
        },
    )
    return Manifest.objects.get(pk=delivered_manifest.pk)


def test_onward_manifest_carries_the_stored_containers_to_the_facility_and_traces_back_to_the_bin(
    world, stored, facility, facility_receiver
):
    ids = [line.pk for line in stored.lines.order_by("id")]
    onward = manifest_onward_create(actor=world.dispatcher, receiver_id=facility.pk, line_ids=ids)
    assert (onward.kind, onward.producer, onward.carrier, onward.receiver) == (
        ManifestKind.ONWARD,
        world.collector,
        world.collector,
        facility,
    )
    assert list(onward.sources.all()) == [stored]
    lines = list(onward.lines.order_by("id"))
    assert [(line.container_code, line.weight_kg) for line in lines] == [
        ("RQ-0001", Decimal("35.50")),
        ("RQ-0002", Decimal("10.00")),  # what the warehouse accepted, not what was declared
    ]
    # From the facility's line back to the bin that asked for the pickup.
    assert lines[0].source_line.request.bin == world.bin
    assert not stock_lines(world.collector).exists()

    manifest_sign(actor=world.dispatcher, manifest_id=onward.pk, method="session")
    out = LedgerRecord.objects.filter(manifest=onward, record_type=RecordType.STORAGE_OUT)
    stored_in = {
        r.container_code: r.batch_code
        for r in LedgerRecord.objects.filter(manifest=stored, record_type=RecordType.STORAGE_IN)
    }
    assert {(r.organization, r.container_code, r.source_batch_code) for r in out} == {
        (world.collector, "RQ-0001", stored_in["RQ-0001"]),
        (world.collector, "RQ-0002", stored_in["RQ-0002"]),
    }
    assert all(r.batch_code.startswith("HWCK") for r in out)
    manifest_depart(actor=world.driver, manifest_id=onward.pk)
    manifest_deliver(actor=facility_receiver, manifest_id=onward.pk)
    manifest_receive(
        actor=facility_receiver, manifest_id=onward.pk, lines={line.pk: line.weight_kg for line in lines}
    )
    manifest_record_treatment(actor=facility_receiver, manifest_id=onward.pk, method="D10")
    assert Manifest.objects.get(pk=onward.pk).status == ManifestStatus.TREATED
    at_facility = LedgerRecord.objects.filter(manifest=onward, record_type=RecordType.STORAGE_IN)
    assert {(r.organization, r.source_batch_code) for r in at_facility} == {
        (facility, r.batch_code) for r in out
    }


def test_a_container_ships_on_only_once(world, stored, facility):
    first = stored.lines.order_by("id").first()
    manifest_onward_create(actor=world.dispatcher, receiver_id=facility.pk, line_ids=[first.pk])
    with pytest.raises(ServiceError) as refused:
        manifest_onward_create(actor=world.dispatcher, receiver_id=facility.pk, line_ids=[first.pk])
    assert refused.value.field == "line_ids"


def test_a_facility_not_licensed_for_the_code_is_refused_with_every_error_and_nothing_drafted(
    world, stored, facility
):
    Licence.objects.filter(organization=facility).first().waste_codes.clear()
    with pytest.raises(ManifestInvalid) as refused:
        manifest_onward_create(
            actor=world.dispatcher, receiver_id=facility.pk, line_ids=[line.pk for line in stored.lines.all()]
        )
    body = refused.value.as_dict()
    assert {e["code"] for e in body["errors"]} == {"receiver_licence_code"}
    assert len(body["errors"]) == 2  # one per waste code, all in one report
    assert not Manifest.objects.filter(kind=ManifestKind.ONWARD).exists()


def test_the_producer_cannot_sign_while_the_receivers_licence_has_expired(world, draft_manifest):
    Licence.objects.filter(organization=world.collector).update(
        valid_from=dt.date(2020, 1, 1), valid_to=timezone.localdate() - dt.timedelta(days=1)
    )
    with pytest.raises(ManifestInvalid) as refused:
        manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session")
    assert refused.value.field == "receiver"
    assert Manifest.objects.get(pk=draft_manifest.pk).status == ManifestStatus.DRAFT


def test_an_expired_truck_permit_and_a_code_off_the_permit_are_reported_together(world, draft_manifest):
    from factories import waste_code

    world.vehicle.dg_permit_valid_to = timezone.localdate() - dt.timedelta(days=3)
    world.vehicle.save(update_fields=["dg_permit_valid_to"])
    world.vehicle.licensed_codes.set([waste_code("900-214-08")])
    with pytest.raises(ManifestInvalid) as refused:
        manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session")
    codes = [e["code"] for e in refused.value.as_dict()["errors"]]
    assert codes == ["vehicle_permit_expired", "vehicle_permit_code"]


def test_a_licence_about_to_expire_is_a_warning_recorded_with_the_signature(world, draft_manifest):
    from greenisle.audit.models import Event

    Licence.objects.filter(organization=world.collector).update(
        valid_to=timezone.localdate() + dt.timedelta(days=10)
    )
    manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session")
    event = Event.objects.get(action="manifests.manifest.signed")
    assert [w["code"] for w in event.payload["warnings"]] == ["receiver_licence_expiring"]


# --- 办法 Art. 14: the producer's filed management plan ----------------------------------------------


def test_art14_a_code_off_the_plan_of_a_registration_class_site_is_a_warning(
    world, draft_manifest, filed_plan
):
    from greenisle.audit.models import Event

    filed_plan.wastes.filter(waste_code__code="900-041-49").delete()
    manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session")
    warnings = Event.objects.get(action="manifests.manifest.signed").payload["warnings"]
    assert [(w["code"], w["field"]) for w in warnings] == [("plan_code", "lines.900-041-49")]


def test_art14_for_a_simplified_class_site_a_receiver_off_the_plan_blocks_the_signature(
    world, draft_manifest, filed_plan, collector_b
):
    filed_plan.management_class = "simplified"
    filed_plan.save(update_fields=["management_class"])
    for row in filed_plan.wastes.all():
        row.receivers.set([collector_b])
    with pytest.raises(ManifestInvalid) as refused:
        manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session")
    assert [e["code"] for e in refused.value.as_dict()["errors"]] == ["plan_receiver", "plan_receiver"]


def test_art14_no_filed_plan_is_a_warning_by_default_and_an_error_when_configured(
    world, draft_manifest, filed_plan, settings
):
    filed_plan.status = "draft"
    filed_plan.save(update_fields=["status"])
    settings.GREENISLE = {**settings.GREENISLE, "PLAN_CHECK_REGISTRATION_SEVERITY": "error"}
    with pytest.raises(ManifestInvalid) as refused:
        manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session")
    assert refused.value.report.errors[0].code == "plan_missing"
