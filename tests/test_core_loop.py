"""The core loop end to end through the services (DESIGN.md "The core loop"), step by step:

a. the bin reports readings; crossing 80 % opens a pickup request;
b. the dispatcher puts it on a truck's trip;
c. at the stop the driver weighs and records each container: the producer's draft manifest;
d. the producer signs (here by its code on the driver's phone): production ledger records, request collected;
e. the truck leaves: the manifest is in transit;
f. the warehouse receives: storage-in records linked to the production batches; the emptied bin
   closes the request.

Each step leaves its audit events; the chain verifies at the end and the district regulator sees it all.
"""

from __future__ import annotations

import io
from decimal import Decimal

from django.core.management import call_command
from django.utils import timezone

from greenisle.audit.models import Event
from greenisle.dispatch.choices import RequestStatus, TripStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.dispatch.services import trip_assign
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.models import Manifest
from greenisle.manifests.receipt import manifest_receive
from greenisle.manifests.services import (
    manifest_add_container,
    manifest_deliver,
    manifest_depart,
    manifest_sign,
)


def new_actions(seen: set[int]) -> list[str]:
    events = list(Event.objects.exclude(pk__in=seen).order_by("id"))
    seen.update(e.pk for e in events)
    return [e.action for e in events]


def test_core_loop_from_bin_reading_to_warehouse(world, ingest, regulator, regulator_other):
    seen: set[int] = set()

    # a. readings: below the threshold nothing happens, crossing it opens one request.
    assert ingest(45).request_opened is None
    opened = ingest(83.5)
    assert ingest(87).request_opened is None
    request = PickupRequest.objects.get(pk=opened.request_opened)
    assert request.status == RequestStatus.OPEN
    assert new_actions(seen) == ["dispatch.pickup_request.opened"]

    # b. dispatch.
    trip = trip_assign(
        actor=world.dispatcher, request_ids=[str(request.pk)], vehicle_id=world.vehicle.pk,
        driver_id=world.driver.pk, service_date=timezone.localdate(),
    )  # fmt: skip
    assert new_actions(seen) == ["dispatch.trip.created", "dispatch.pickup_request.assigned"]

    # c. two containers at the stop: one draft manifest for the producer on this trip.
    oil = manifest_add_container(
        actor=world.driver,
        request_id=request.pk,
        waste_code="900-214-08",
        weight_kg="48.2",
        container_code="RQ-0101",
    )
    rags = manifest_add_container(
        actor=world.driver,
        request_id=request.pk,
        waste_code="900-041-49",
        weight_kg="6.5",
        container_code="RQ-0102",
    )
    manifest = oil.manifest
    assert rags.manifest == manifest
    assert manifest.number.startswith(f"{timezone.localdate().year}3206") and len(manifest.number) == 14
    assert manifest.total_weight_kg == Decimal("54.70")
    assert new_actions(seen) == [
        "manifests.manifest.created", "manifests.manifest.line_added", "manifests.manifest.line_added",
    ]  # fmt: skip

    # d. the producer signs by its code on the driver's phone.
    manifest_sign(actor=world.driver, manifest_id=manifest.pk, method="code", signature_code="246810")
    production = LedgerRecord.objects.filter(manifest=manifest, record_type=RecordType.PRODUCTION)
    assert sorted(r.batch_code[:4] for r in production) == ["HWCS", "HWCS"]
    request.refresh_from_db()
    assert request.status == RequestStatus.COLLECTED
    signing = new_actions(seen)
    assert signing[0] == "manifests.manifest.signed"
    assert sorted(signing[1:]) == [
        "dispatch.pickup_request.collected", "ledger.record.production", "ledger.record.production",
    ]  # fmt: skip

    # e. departure.
    manifest_depart(actor=world.driver, manifest_id=manifest.pk)
    trip.refresh_from_db()
    assert trip.status == TripStatus.IN_PROGRESS
    assert new_actions(seen) == ["manifests.manifest.departed"]

    # f. delivery and receipt at the warehouse, then the bin reports empty.
    manifest_deliver(actor=world.driver, manifest_id=manifest.pk)
    assert new_actions(seen) == ["manifests.manifest.delivered"]
    manifest_receive(actor=world.receiver, manifest_id=manifest.pk, lines={oil.pk: "48.0", rags.pk: "6.5"})
    manifest.refresh_from_db()
    assert manifest.status == ManifestStatus.RECEIVED
    stored = LedgerRecord.objects.filter(manifest=manifest, record_type=RecordType.STORAGE_IN)
    by_container = {r.container_code: r for r in production}
    assert {(r.container_code, r.weight_kg, r.source_batch_code) for r in stored} == {
        ("RQ-0101", Decimal("48.00"), by_container["RQ-0101"].batch_code),
        ("RQ-0102", Decimal("6.50"), by_container["RQ-0102"].batch_code),
    }
    # The collector stores each container; the producer's ledger hands it over (HJ 1259 B.2, B.5).
    assert new_actions(seen) == [
        "manifests.manifest.received",
        "ledger.record.storage_in",
        "ledger.record.outsourced_disposal",
        "ledger.record.storage_in",
        "ledger.record.outsourced_disposal",
    ]
    ingest(3)
    request.refresh_from_db()
    assert request.status == RequestStatus.CLOSED
    assert new_actions(seen) == ["dispatch.pickup_request.closed"]

    # Every step is on the chain, and the chain holds.
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert f"intact: {len(seen)} events" in out.getvalue()

    # The 崇川 branch sees the whole story of its producer; the 通州 branch only the warehouse side.
    assert Manifest.objects.visible_to(regulator).get() == manifest
    assert (
        set(LedgerRecord.objects.visible_to(regulator))
        == set(LedgerRecord.objects.filter(organization=world.producer))
        == {*production, *LedgerRecord.objects.filter(record_type=RecordType.OUTSOURCED_DISPOSAL)}
    )
    assert not Manifest.objects.visible_to(regulator_other).exists()
    assert set(LedgerRecord.objects.visible_to(regulator_other)) == set(stored)
