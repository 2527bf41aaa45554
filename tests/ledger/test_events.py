"""The ledger written by platform events, one record per container and step (HJ 1259 Appendix B),
each naming the batch it follows, from the label at the bin to the facility's incinerator."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from greenisle.ledger.batch_codes import parse_batch_code
from greenisle.ledger.core import period_of
from greenisle.ledger.declarations import declaration_prepare
from greenisle.ledger.models import LedgerRecord
from greenisle.manifests.labels import container_label, container_load
from greenisle.manifests.onward import manifest_onward_create
from greenisle.manifests.receipt import manifest_receive, manifest_record_treatment
from greenisle.manifests.services import manifest_deliver, manifest_depart, manifest_sign


def chain(org, code):
    return [
        (r.record_type, r.weight_kg, r.stock_effect, r.source_batch_code)
        for r in LedgerRecord.objects.filter(organization=org, container_code=code).order_by(
            "occurred_at", "created_at"
        )
    ]


def test_from_the_label_to_treatment(world, open_request, trip, facility, facility_receiver):
    container = container_label(
        actor=world.alice,
        site_id=world.site.pk,
        waste_code="900-214-08",
        weight_kg="30",
        form="liquid",
        main_constituents="矿物油",
        hazardous_constituents="多环芳烃",
        request_id=open_request.pk,
    )
    produced, stored = LedgerRecord.objects.filter(container_code=container.code).order_by("created_at")
    assert (produced.record_type, produced.batch_code[:4], produced.stock_effect) == ("production", "HWCS", 1)
    # Put into the producer's own storage point, its smart bin: nothing leaves the producer yet.
    assert (stored.record_type, stored.source_batch_code, stored.stock_effect) == (
        "storage_in",
        produced.batch_code,
        0,
    )
    assert stored.facility_code == world.bin.serial

    result = container_load(
        actor=world.driver, request_id=open_request.pk, scanned=container.code, weight_kg="30.4"
    )
    manifest = result.line.manifest
    manifest_sign(actor=world.alice, manifest_id=manifest.pk, method="session")
    # The label recorded the production: signing adds no second one.
    assert [r[0] for r in chain(world.producer, container.code)] == [
        "production",
        "storage_in",
        "storage_out",
    ]
    manifest_depart(actor=world.driver, manifest_id=manifest.pk)
    manifest_deliver(actor=world.driver, manifest_id=manifest.pk)
    [line] = manifest.lines.all()
    manifest_receive(actor=world.receiver, manifest_id=manifest.pk, lines={line.pk: "30.4"})

    out = LedgerRecord.objects.get(
        organization=world.producer, container_code=container.code, record_type="storage_out"
    )
    handed = LedgerRecord.objects.get(
        organization=world.producer, container_code=container.code, stock_effect=-1
    )
    # B.5: the producer's outsourced record names the receiver, its licence, the method and when the
    # waste left the site.
    assert handed.record_type == "outsourced_disposal" and handed.batch_code.startswith("HWWWCZ")
    assert (handed.counterparty, handed.licence_number, handed.method, handed.province) == (
        world.collector,
        "JSNT0612OOD001",
        "C1",
        "江苏省",
    )
    assert handed.left_site_at == manifest.__class__.objects.get(pk=manifest.pk).departed_at
    assert handed.source_batch_code == out.batch_code and handed.weight_kg == Decimal("30.40")
    received = LedgerRecord.objects.get(organization=world.collector, container_code=container.code)
    assert (received.record_type, received.stock_effect, received.source_batch_code) == (
        "storage_in",
        1,
        out.batch_code,
    )

    # The producer's stock of the code is back to nothing: 30 produced… and 30.4 handed over (the
    # scale's weight); the 0.4 kg is the label's tolerance, which the mass balance reports.
    month = period_of("month", timezone.localdate())
    [row] = [
        r
        for r in declaration_prepare(site=world.site, period=month).content["rows"]
        if r["waste_code"] == "900-214-08"
    ]
    assert (row["generated_t"], row["outsourced"][0]["t"], row["closing_t"]) == ("0.030", "0.030", "0.000")

    onward = manifest_onward_create(actor=world.dispatcher, receiver_id=facility.pk, line_ids=[line.pk])
    manifest_sign(actor=world.dispatcher, manifest_id=onward.pk, method="session")
    manifest_depart(actor=world.driver, manifest_id=onward.pk)
    manifest_deliver(actor=facility_receiver, manifest_id=onward.pk)
    [onward_line] = onward.lines.all()
    manifest_receive(actor=facility_receiver, manifest_id=onward.pk, lines={onward_line.pk: "30.4"})
    manifest_record_treatment(actor=facility_receiver, manifest_id=onward.pk, method="D10")

    assert [(t, e) for t, _kg, e, _src in chain(world.collector, container.code)] == [
        ("storage_in", 1),
        ("storage_out", 0),
        ("outsourced_disposal", -1),
    ]
    facility_chain = chain(facility, container.code)
    assert [(t, e) for t, _kg, e, _src in facility_chain] == [("storage_in", 1), ("own_disposal", -1)]
    burnt = LedgerRecord.objects.get(organization=facility, record_type="own_disposal")
    assert burnt.method == "D10" and parse_batch_code(burnt.batch_code).record_type == "own_disposal"
