"""Mass balance per waste code: the ledger against the containers and the manifests (HJ 1259-2022 §6)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from greenisle.ledger.balance import mass_balance, mass_balance_sweep
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.ledger.services import ledger_entry_add, ledger_record_reverse
from greenisle.manifests.labels import container_label, container_load
from greenisle.manifests.onward import manifest_onward_create
from greenisle.manifests.receipt import manifest_receive, manifest_record_treatment
from greenisle.manifests.services import (
    manifest_add_container,
    manifest_deliver,
    manifest_depart,
    manifest_sign,
)
from greenisle.supervision.models import Finding

OIL = "900-214-08"


def figures(organization):
    """(waste code, came in, stored, transferred, own, gap) per code, in kg."""
    return [
        (b.waste_code, b.came_in_kg, b.stored_kg, b.transferred_kg, b.own_kg, b.gap_kg)
        for b in mass_balance(organization)
    ]


def kg(value):
    return Decimal(value).quantize(Decimal("0.01"))


@pytest.fixture
def labelled(world):
    """Alice labels a 100 kg drum of waste oil: production 100 kg in her ledger."""

    def _label(weight="100"):
        return container_label(
            actor=world.alice, site_id=world.site.pk, waste_code=OIL, weight_kg=weight, form="liquid",
            main_constituents="矿物油", hazardous_constituents="多环芳烃",
        )  # fmt: skip

    return _label


def ship(world, manifest_id, lines):
    manifest_sign(actor=world.alice, manifest_id=manifest_id, method="session")
    manifest_depart(actor=world.driver, manifest_id=manifest_id)
    manifest_deliver(actor=world.driver, manifest_id=manifest_id)
    return manifest_receive(actor=world.receiver, manifest_id=manifest_id, lines=lines)


def manual(world, weight, container="MANUAL-1"):
    """A manual production entry in Alice's ledger for a container no label backs."""
    return ledger_entry_add(
        actor=world.alice,
        site_id=world.site.pk,
        record_type=RecordType.PRODUCTION,
        waste_code=OIL,
        container_code=container,
        weight_kg=weight,
        occurred_at=timezone.now(),
    )


@pytest.fixture
def received(world, open_request, trip, labelled):
    """Alice's 100 kg drum labelled, loaded, signed for and received in full at the warehouse."""
    drum = labelled()
    assert figures(world.producer) == [(OIL, kg(100), kg(100), kg(0), kg(0), kg(0))]  # in her store
    line = container_load(
        actor=world.driver, request_id=open_request.pk, scanned=drum.code, weight_kg="100"
    ).line
    # Loaded on a draft manifest: still hers until she signs.
    assert figures(world.producer) == [(OIL, kg(100), kg(100), kg(0), kg(0), kg(0))]
    manifest_sign(actor=world.alice, manifest_id=line.manifest_id, method="session")
    # Signed: it has left her store and counts as transferred at the declared weight.
    assert figures(world.producer) == [(OIL, kg(100), kg(0), kg(100), kg(0), kg(0))]
    manifest_depart(actor=world.driver, manifest_id=line.manifest_id)
    manifest_deliver(actor=world.driver, manifest_id=line.manifest_id)
    manifest_receive(actor=world.receiver, manifest_id=line.manifest_id, lines={line.pk: "100"})
    return line


def test_a_labelled_loaded_signed_and_received_container_balances(world, received):
    assert figures(world.producer) == [(OIL, kg(100), kg(0), kg(100), kg(0), kg(0))]
    # The collector: 100 kg accepted on the manifest, 100 kg in its ledger stock.
    assert figures(world.collector) == [(OIL, kg(100), kg(100), kg(0), kg(0), kg(0))]
    assert mass_balance_sweep()["findings"] == 0


def test_a_manual_production_entry_without_a_container_is_a_gap_and_a_finding(world, received):
    entry = manual(world, "30")
    # came in 130 (ledger), stored 0 (no container MANUAL-1), transferred 100 (manifest): gap 30.
    assert figures(world.producer) == [(OIL, kg(130), kg(0), kg(100), kg(0), kg(30))]

    report = mass_balance_sweep()
    assert report == {"units": 2, "off_balance": 1, "findings": 1}
    finding = Finding.objects.get(rule="ledger.mass_balance")
    assert (finding.severity, finding.organization, finding.object_type, finding.object_id) == (
        "B",
        world.producer,
        "organizations.organization",
        str(world.producer.pk),
    )
    assert finding.evidence["balances"] == [
        {
            "waste_code": OIL,
            "came_in_kg": "130.00",
            "stored_kg": "0.00",
            "transferred_kg": "100.00",
            "own_kg": "0.00",
            "gap_kg": "30.00",
        }
    ]
    assert "900-214-08" in finding.message and " / " in finding.message
    # Once while it is open.
    assert mass_balance_sweep()["findings"] == 0
    assert Finding.objects.filter(rule="ledger.mass_balance").count() == 1

    # Reversing the entry (−30 kg, same type) closes the gap.
    ledger_record_reverse(actor=world.alice, record_id=entry.pk, reason="误录")
    assert figures(world.producer) == [(OIL, kg(100), kg(0), kg(100), kg(0), kg(0))]


def test_a_gap_within_the_tolerance_raises_nothing(world, received, settings):
    manual(world, "4")
    # Gap 4 kg: over the 1 kg floor but within 5 % of the 104 kg that came in (5.2 kg).
    assert figures(world.producer)[0][-1] == kg(4)
    assert mass_balance_sweep()["findings"] == 0
    manual(world, "3", container="MANUAL-2")
    # Gap 7 kg: beyond 5 % of 107 kg (5.35 kg).
    assert mass_balance_sweep()["findings"] == 1


def test_the_tolerance_is_configuration(world, received, settings):
    settings.GREENISLE = {**settings.GREENISLE, "MASS_BALANCE_TOLERANCE_KG": 50}
    manual(world, "30")
    assert mass_balance_sweep()["findings"] == 0


def test_a_collector_that_shipped_part_onward_balances_at_every_step(
    world, open_request, trip, facility, facility_receiver
):
    for code, weight in (("RQ-60", "60"), ("RQ-40", "40")):
        line = manifest_add_container(
            actor=world.driver,
            request_id=open_request.pk,
            waste_code=OIL,
            weight_kg=weight,
            container_code=code,
        )
    lines = {line.pk: line.weight_kg for line in line.manifest.lines.all()}
    ship(world, line.manifest_id, lines)
    # Received 100 kg, 100 kg in store.
    assert figures(world.collector) == [(OIL, kg(100), kg(100), kg(0), kg(0), kg(0))]

    sixty = line.manifest.lines.get(container_code="RQ-60")
    onward = manifest_onward_create(actor=world.dispatcher, receiver_id=facility.pk, line_ids=[sixty.pk])
    # A draft onward manifest moves nothing.
    assert figures(world.collector) == [(OIL, kg(100), kg(100), kg(0), kg(0), kg(0))]
    manifest_sign(actor=world.dispatcher, manifest_id=onward.pk, method="session")
    manifest_depart(actor=world.driver, manifest_id=onward.pk)
    # Under way: 60 kg transferred (declared), 40 kg in store.
    assert figures(world.collector) == [(OIL, kg(100), kg(40), kg(60), kg(0), kg(0))]
    manifest_deliver(actor=facility_receiver, manifest_id=onward.pk)
    [onward_line] = onward.lines.all()
    manifest_receive(actor=facility_receiver, manifest_id=onward.pk, lines={onward_line.pk: "60"})
    # Received by the facility: its outsourced record takes the 60 kg out of the collector's ledger.
    assert figures(world.collector) == [(OIL, kg(100), kg(40), kg(60), kg(0), kg(0))]
    assert figures(facility) == [(OIL, kg(60), kg(60), kg(0), kg(0), kg(0))]
    manifest_record_treatment(actor=facility_receiver, manifest_id=onward.pk, method="D10")
    assert figures(facility) == [(OIL, kg(60), kg(0), kg(0), kg(60), kg(0))]
    assert mass_balance_sweep()["findings"] == 0


def test_stock_the_manifests_do_not_show_is_a_gap_for_a_collector(world, delivered_manifest):
    oil, rags = delivered_manifest.lines.order_by("id")
    manifest_receive(
        actor=world.receiver, manifest_id=delivered_manifest.pk, lines={oil.pk: "35.5", rags.pk: "12"}
    )
    stored = LedgerRecord.objects.get(
        organization=world.collector, container_code="RQ-0001", record_type=RecordType.STORAGE_IN
    )
    ledger_record_reverse(actor=world.receiver, record_id=stored.pk, reason="测试")
    # 35.5 kg accepted on the manifest, none left in the ledger: gap 35.5 kg.
    assert (OIL, kg("35.5"), kg(0), kg(0), kg(0), kg("35.5")) in figures(world.collector)
    mass_balance_sweep()
    assert Finding.objects.get(rule="ledger.mass_balance").organization == world.collector


def test_units_other_than_producers_collectors_and_facilities_have_no_balance(regulator):
    assert mass_balance(regulator.current_membership.organization) == []
