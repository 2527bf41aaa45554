"""At the stop and at the warehouse: containers, signatures, departure, receipt (办法 Art. 15, 16)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from factories import (
    BinFactory,
    ManifestFactory,
    ProducerFactory,
    ServiceContractFactory,
    SiteFactory,
    division,
)

from greenisle.accounts.choices import Role
from greenisle.audit.models import Event
from greenisle.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from greenisle.dispatch.choices import RequestStatus, TripStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.dispatch.services import trip_assign
from greenisle.ledger.batch_codes import parse_batch_code
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.manifests.choices import LineDecision, ManifestStatus
from greenisle.manifests.models import Manifest
from greenisle.manifests.numbering import parse_number
from greenisle.manifests.receipt import manifest_receive
from greenisle.manifests.services import (
    manifest_add_container,
    manifest_depart,
    manifest_sign,
)


def add(world, request, *, actor=None, code="900-214-08", weight="20", container="RQ-0001"):
    return manifest_add_container(
        actor=actor or world.driver,
        request_id=request.pk,
        waste_code=code,
        weight_kg=weight,
        container_code=container,
    )


# --- containers and the draft manifest ------------------------------------------------------------


def test_first_container_creates_the_producers_draft_manifest(world, open_request, trip):
    line = add(world, open_request, weight="35.456")
    manifest = line.manifest
    assert manifest.status == ManifestStatus.DRAFT
    assert (manifest.trip, manifest.producer, manifest.producer_site) == (trip, world.producer, world.site)
    assert (manifest.carrier, manifest.receiver, manifest.receiver_site) == (
        world.collector, world.collector, world.warehouse,
    )  # fmt: skip
    assert manifest.vehicle == world.vehicle
    assert line.weight_kg == Decimal("35.46")
    assert (line.request, line.waste_code.code, line.container_code) == (
        open_request,
        "900-214-08",
        "RQ-0001",
    )


def test_manifest_number_is_14_digits_of_year_and_nantong(world, open_request, trip):
    number = add(world, open_request).manifest.number
    assert re.fullmatch(r"\d{14}", number)
    assert number.startswith(f"{timezone.localdate().year}3206")
    assert parse_number(number).serial == 1


def test_manifest_numbers_count_up_per_city_and_year(world, open_request, trip, producer_site):
    first = add(world, open_request).manifest
    other_producer = ProducerFactory(division=division("320612"))
    ServiceContractFactory(collector=world.collector, producer=other_producer)
    other_bin = BinFactory(site=SiteFactory(organization=other_producer), collector=world.collector)
    request = PickupRequest.objects.create(
        bin=other_bin, site=other_bin.site, producer=other_producer, collector=world.collector,
        origin="producer", opened_at=timezone.now(),
    )  # fmt: skip
    trip_assign(
        actor=world.dispatcher, request_ids=[request.pk], vehicle_id=world.vehicle.pk, driver_id=world.driver.pk,
        service_date=trip.service_date,
    )  # fmt: skip
    second = add(world, request, container="RQ-9001").manifest
    assert second != first
    # Another district of the same city (320612): the same per-city counter (办法 Art. 15).
    assert parse_number(second.number).province_city == "3206"
    assert parse_number(second.number).serial == parse_number(first.number).serial + 1


def test_more_containers_of_the_same_producer_go_on_the_same_manifest(world, draft_manifest):
    assert Manifest.objects.count() == 1
    assert list(draft_manifest.lines.values_list("container_code", flat=True)) == ["RQ-0001", "RQ-0002"]


def test_one_manifest_per_producer_even_for_several_requests_on_a_trip(
    world, open_request, trip, producer_site
):
    second_bin = BinFactory(site=producer_site, collector=world.collector)
    second = PickupRequest.objects.create(
        bin=second_bin, site=producer_site, producer=world.producer, collector=world.collector,
        origin="threshold", opened_at=timezone.now(),
    )  # fmt: skip
    trip_assign(
        actor=world.dispatcher, request_ids=[second.pk], vehicle_id=world.vehicle.pk, driver_id=world.driver.pk,
        service_date=trip.service_date,
    )  # fmt: skip
    first_manifest = add(world, open_request).manifest
    assert add(world, second, container="RQ-0002").manifest == first_manifest


def test_each_producer_on_a_trip_gets_its_own_manifest(world, open_request, trip):
    neighbour = ProducerFactory(name="崇川某家具厂", division=division("320602"))
    ServiceContractFactory(collector=world.collector, producer=neighbour)
    neighbour_bin = BinFactory(site=SiteFactory(organization=neighbour), collector=world.collector)
    request = PickupRequest.objects.create(
        bin=neighbour_bin, site=neighbour_bin.site, producer=neighbour, collector=world.collector,
        origin="threshold", opened_at=timezone.now(),
    )  # fmt: skip
    trip_assign(
        actor=world.dispatcher, request_ids=[request.pk], vehicle_id=world.vehicle.pk, driver_id=world.driver.pk,
        service_date=trip.service_date,
    )  # fmt: skip
    ours = add(world, open_request).manifest
    theirs = add(world, request).manifest  # the same container code is fine on another manifest
    assert ours != theirs
    assert (ours.producer, theirs.producer) == (world.producer, neighbour)
    assert ours.trip == theirs.trip == trip


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"code": "900-052-31"}, "waste_code"),  # in the catalogue but not in this bin
        ({"code": "999-999-99"}, "waste_code"),
        ({"code": ""}, "waste_code"),
        ({"weight": "0"}, "weight_kg"),
        ({"weight": "-3"}, "weight_kg"),
        ({"weight": "heavy"}, "weight_kg"),
        ({"weight": "100001"}, "weight_kg"),
        ({"code": "900-214-08\x00"}, "waste_code"),  # PostgreSQL text cannot hold NUL
        ({"container": "  "}, "container_code"),
        ({"container": "RQ\x00-0001"}, "container_code"),
        ({"container": "RQ-\t0001"}, "container_code"),
        ({"container": "R" * 65}, "container_code"),
    ],
)
def test_bad_container_is_refused_naming_the_field(world, open_request, trip, kwargs, field):
    with pytest.raises(ServiceError) as refused:
        add(world, open_request, **kwargs)
    assert refused.value.field == field
    assert not Manifest.objects.exists()


def test_container_code_is_trimmed(world, open_request, trip):
    assert add(world, open_request, container=" RQ-0007\n").container_code == "RQ-0007"


def test_duplicate_container_code_on_a_manifest_is_refused(world, draft_manifest, open_request):
    with pytest.raises(ServiceError) as refused:
        add(world, open_request, container="RQ-0001")
    assert refused.value.field == "container_code"


def test_only_the_trips_driver_records_containers(world, open_request, trip, make_member):
    other_driver = make_member(world.collector, Role.DRIVER, "other_driver", "赵师傅")
    for actor in (other_driver, world.alice, world.receiver):
        with pytest.raises(PermissionDenied):
            add(world, open_request, actor=actor)
    assert add(world, open_request, actor=world.dispatcher).manifest is not None


def test_request_not_on_a_trip_is_refused(world, open_request):
    with pytest.raises(NotFound) as refused:
        add(world, open_request)
    assert refused.value.field == "request_id"


def test_no_container_once_the_request_is_collected(world, signed_manifest, open_request):
    with pytest.raises(ServiceError) as refused:
        add(world, open_request, container="RQ-0009")
    assert refused.value.field == "request_id"


# --- signing --------------------------------------------------------------------------------------


def test_producer_signs_in_session(world, draft_manifest):
    manifest = manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session")
    manifest.refresh_from_db()
    assert manifest.status == ManifestStatus.PRODUCER_SIGNED
    assert (manifest.producer_signed_by, manifest.producer_signature_method) == (world.alice, "session")
    assert manifest.producer_signed_at is not None
    signed = Event.objects.get(action="manifests.manifest.signed")
    assert (signed.actor, signed.organization, signed.subject_organization) == (
        world.alice,
        world.producer,
        world.producer,
    )
    assert signed.payload == {
        "from": "draft",
        "to": "producer_signed",
        "role": "producer",
        "method": "session",
    }


def test_signature_writes_one_production_record_per_container(world, signed_manifest):
    records = LedgerRecord.objects.filter(manifest=signed_manifest).order_by("batch_code")
    assert [r.record_type for r in records] == [RecordType.PRODUCTION] * 2
    assert {(r.container_code, r.waste_code.code, r.weight_kg) for r in records} == {
        ("RQ-0001", "900-214-08", Decimal("35.50")),
        ("RQ-0002", "900-041-49", Decimal("12.00")),
    }
    for serial, record in enumerate(records, start=1):
        assert (record.organization, record.site, record.counterparty) == (
            world.producer,
            world.site,
            world.collector,
        )
        code = parse_batch_code(record.batch_code)
        assert code.record_type == "production"
        assert code.day == timezone.localtime(record.occurred_at).date()
        assert code.serial == serial
        assert record.batch_code.startswith("HWCS")
    assert Event.objects.filter(action="ledger.record.production").count() == 2


def test_signature_marks_the_request_collected(world, signed_manifest, open_request):
    open_request.refresh_from_db()
    assert open_request.status == RequestStatus.COLLECTED
    event = Event.objects.get(action="dispatch.pickup_request.collected")
    assert event.payload["manifest"] == signed_manifest.number


def test_bin_emptied_before_the_signature_closes_the_request_on_signing(
    world, ingest, draft_manifest, open_request
):
    ingest(2)
    manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session")
    open_request.refresh_from_db()
    assert open_request.status == RequestStatus.CLOSED
    assert open_request.closed_at is not None


def test_bin_emptied_after_the_signature_closes_the_collected_request(
    world, ingest, signed_manifest, open_request
):
    ingest(4)
    open_request.refresh_from_db()
    assert open_request.status == RequestStatus.CLOSED


def test_another_organisation_cannot_sign_in_the_producers_name(world, draft_manifest, bob):
    for actor in (world.dispatcher, bob):
        with pytest.raises(PermissionDenied) as refused:
            manifest_sign(actor=actor, manifest_id=draft_manifest.pk, method="session")
        assert refused.value.field == "method"
    draft_manifest.refresh_from_db()
    assert draft_manifest.status == ManifestStatus.DRAFT


def test_driver_enters_the_producers_signature_code(world, draft_manifest):
    manifest = manifest_sign(
        actor=world.driver, manifest_id=draft_manifest.pk, method="code", signature_code="246810"
    )
    manifest.refresh_from_db()
    assert manifest.status == ManifestStatus.PRODUCER_SIGNED
    assert manifest.producer_signature_method == "code"
    assert manifest.producer_signed_by is None  # the driver is not the producer
    assert Event.objects.get(action="manifests.manifest.signed").payload["role"] == "producer_code"


@pytest.mark.parametrize("code", ["135790", "", None])
def test_wrong_signature_code_is_refused_naming_the_field(world, draft_manifest, code):
    with pytest.raises(PermissionDenied) as refused:
        manifest_sign(actor=world.driver, manifest_id=draft_manifest.pk, method="code", signature_code=code)
    assert refused.value.field == "signature_code"
    draft_manifest.refresh_from_db()
    assert draft_manifest.status == ManifestStatus.DRAFT
    assert not LedgerRecord.objects.exists()


def test_signature_code_is_entered_only_on_the_carriers_phone(world, draft_manifest):
    with pytest.raises(PermissionDenied) as refused:
        manifest_sign(
            actor=world.alice, manifest_id=draft_manifest.pk, method="code", signature_code="246810"
        )
    assert refused.value.field == "method"


def test_producer_without_a_signature_code_cannot_sign_by_code(world, draft_manifest):
    world.producer.signature_code_hash = ""
    world.producer.save()
    with pytest.raises(PermissionDenied) as refused:
        manifest_sign(actor=world.driver, manifest_id=draft_manifest.pk, method="code", signature_code="")
    assert refused.value.field == "signature_code"


def test_collector_cannot_sign_for_the_producer_without_delegation(world, draft_manifest):
    with pytest.raises(PermissionDenied) as refused:
        manifest_sign(actor=world.dispatcher, manifest_id=draft_manifest.pk, method="delegated")
    assert refused.value.field == "method"


def test_collector_signs_under_delegation_in_the_contract(world, draft_manifest):
    world.contract.delegated_signing = True
    world.contract.save()
    manifest = manifest_sign(actor=world.dispatcher, manifest_id=draft_manifest.pk, method="delegated")
    manifest.refresh_from_db()
    assert (manifest.status, manifest.producer_signature_method) == (
        ManifestStatus.PRODUCER_SIGNED,
        "delegated",
    )
    assert Event.objects.get(action="manifests.manifest.signed").organization == world.collector


def test_expired_delegation_does_not_count(world, draft_manifest):
    world.contract.delegated_signing = True
    world.contract.valid_to = timezone.localdate() - dt.timedelta(days=1)
    world.contract.save()
    with pytest.raises(PermissionDenied):
        manifest_sign(actor=world.dispatcher, manifest_id=draft_manifest.pk, method="delegated")


def test_unknown_signature_method_is_refused(world, draft_manifest):
    with pytest.raises(ServiceError) as refused:
        manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="fax")
    assert refused.value.field == "method"


def test_signing_twice_is_a_conflict(world, signed_manifest):
    with pytest.raises(Conflict) as refused:
        manifest_sign(actor=world.alice, manifest_id=signed_manifest.pk, method="session")
    assert refused.value.field == "status"
    assert LedgerRecord.objects.count() == 2  # no second set of production records


def test_manifest_without_containers_cannot_be_signed(world, producer_site, trip):
    empty = ManifestFactory(producer_site=producer_site, carrier=world.collector, trip=trip)
    with pytest.raises(Conflict) as refused:
        manifest_sign(actor=world.alice, manifest_id=empty.pk, method="session")
    assert refused.value.code == "guard_failed"


def test_unknown_manifest_is_not_found(world):
    with pytest.raises(NotFound):
        manifest_sign(actor=world.alice, manifest_id="00000000-0000-0000-0000-000000000000", method="session")


# --- departure ------------------------------------------------------------------------------------


def test_driver_departs_with_the_signed_manifest(world, signed_manifest, trip):
    manifest = manifest_depart(actor=world.driver, manifest_id=signed_manifest.pk)
    manifest.refresh_from_db()
    assert manifest.status == ManifestStatus.IN_TRANSIT
    assert manifest.departed_at is not None
    trip.refresh_from_db()
    assert trip.status == TripStatus.IN_PROGRESS
    assert Event.objects.filter(action="manifests.manifest.departed", object_id=str(manifest.pk)).count() == 1


def test_departure_before_signature_is_a_conflict(world, draft_manifest):
    with pytest.raises(Conflict):
        manifest_depart(actor=world.driver, manifest_id=draft_manifest.pk)


@pytest.mark.parametrize("persona", ["alice", "receiver"])
def test_only_the_carrier_departs(world, signed_manifest, persona):
    with pytest.raises(PermissionDenied):
        manifest_depart(actor=getattr(world, persona), manifest_id=signed_manifest.pk)


# --- receipt --------------------------------------------------------------------------------------


def weights(manifest, **overrides):
    return {str(line.pk): overrides.get(line.container_code, line.weight_kg) for line in manifest.lines.all()}


def test_receiver_confirms_weights_and_stores_each_container(world, delivered_manifest):
    lines = list(delivered_manifest.lines.order_by("id"))
    manifest = manifest_receive(
        actor=world.receiver, manifest_id=delivered_manifest.pk,
        lines={lines[0].pk: "35.2", str(lines[1].pk): Decimal("12")},
    )  # fmt: skip
    manifest.refresh_from_db()
    assert manifest.status == ManifestStatus.RECEIVED
    assert (manifest.received_by, manifest.received_at is not None) == (world.receiver, True)
    assert [(line.received_weight_kg, line.decision) for line in manifest.lines.order_by("id")] == [
        (Decimal("35.20"), LineDecision.ACCEPTED),
        (Decimal("12.00"), LineDecision.ACCEPTED),
    ]


def test_receipt_writes_storage_in_records_linked_to_the_production_batch(world, delivered_manifest):
    manifest_receive(
        actor=world.receiver, manifest_id=delivered_manifest.pk, lines=weights(delivered_manifest)
    )
    production = {
        r.container_code: r.batch_code
        for r in LedgerRecord.objects.filter(manifest=delivered_manifest, record_type=RecordType.PRODUCTION)
    }
    stored = LedgerRecord.objects.filter(manifest=delivered_manifest, record_type=RecordType.STORAGE_IN)
    assert stored.count() == 2
    for record in stored:
        assert record.batch_code.startswith("HWRK")
        assert parse_batch_code(record.batch_code).record_type == "storage_in"
        assert record.source_batch_code == production[record.container_code]
        assert parse_batch_code(record.source_batch_code).record_type == "production"
        assert (record.organization, record.site, record.counterparty) == (
            world.collector,
            world.warehouse,
            world.producer,
        )
    assert Event.objects.filter(action="ledger.record.storage_in").count() == 2
    received = Event.objects.get(action="manifests.manifest.received")
    assert received.division_code == "320602"  # the producer's district follows its waste


def test_missing_received_weight_is_refused_naming_the_line(world, delivered_manifest):
    first, second = delivered_manifest.lines.order_by("id")
    with pytest.raises(ServiceError) as refused:
        manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines={first.pk: "35.5"})
    assert refused.value.field == f"lines.{second.pk}"
    delivered_manifest.refresh_from_db()
    assert delivered_manifest.status == ManifestStatus.DELIVERED
    assert not LedgerRecord.objects.filter(record_type=RecordType.STORAGE_IN).exists()


def test_invalid_received_weight_is_refused_naming_the_line(world, delivered_manifest):
    line = delivered_manifest.lines.get(container_code="RQ-0002")
    with pytest.raises(ServiceError) as refused:
        manifest_receive(
            actor=world.receiver,
            manifest_id=delivered_manifest.pk,
            lines=weights(delivered_manifest, **{"RQ-0002": "0"}),
        )
    assert refused.value.field == f"lines.{line.pk}.received_weight_kg"


def test_weights_for_lines_not_on_the_manifest_are_refused(world, delivered_manifest):
    given = {**weights(delivered_manifest), "999999": "1"}
    with pytest.raises(ServiceError) as refused:
        manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines=given)
    assert refused.value.field == "lines"


@pytest.mark.parametrize("persona", ["driver", "alice", "facility_receiver"])
def test_only_the_receiving_organisation_confirms_receipt(world, delivered_manifest, persona, request):
    actor = getattr(world, persona, None) or request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        manifest_receive(actor=actor, manifest_id=delivered_manifest.pk, lines=weights(delivered_manifest))


def test_receipt_before_departure_is_a_conflict(world, signed_manifest):
    with pytest.raises(Conflict):
        manifest_receive(actor=world.receiver, manifest_id=signed_manifest.pk, lines=weights(signed_manifest))


def test_second_receipt_is_a_conflict_and_stores_nothing_more(world, delivered_manifest, make_member):
    other_receiver = make_member(world.collector, Role.RECEIVER, "night_receiver", "夜班库管")
    manifest_receive(
        actor=world.receiver, manifest_id=delivered_manifest.pk, lines=weights(delivered_manifest)
    )
    with pytest.raises(Conflict) as refused:
        manifest_receive(
            actor=other_receiver,
            manifest_id=delivered_manifest.pk,
            lines=weights(delivered_manifest),
        )
    assert refused.value.status == 409
    assert LedgerRecord.objects.filter(record_type=RecordType.STORAGE_IN).count() == 2
