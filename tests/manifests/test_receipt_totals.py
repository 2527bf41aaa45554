"""What each received manifest counts per category for the statistics (manifests.ReceiptTotal, ADR 15):
written in the transaction of the receipt, of a correction after it and of a paper manifest; rejected
containers left out; the Beijing-time day and month; ``receipt_totals --check`` finds a table that
drifted, ``--rebuild`` mends it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from greenisle.manifests.choices import ManifestKind
from greenisle.manifests.corrections import correction_decide, correction_open
from greenisle.manifests.models import Manifest, ReceiptTotal
from greenisle.manifests.paper import manifest_paper_enter
from greenisle.manifests.receipt import manifest_receive
from greenisle.manifests.receipt_totals import CountedLine, collector_of, counted_kg, month_key, per_category

UTC = dt.UTC


def _totals(manifest):
    return {
        row.category: (row.kg, row.lines, row.division_id, row.collector_id)
        for row in ReceiptTotal.objects.filter(manifest=manifest)
    }


def test_the_counted_weight_is_accepted_else_received_else_declared():
    assert counted_kg(Decimal("30"), Decimal("29"), Decimal("25")) == Decimal("25")
    assert counted_kg(Decimal("30"), Decimal("29"), None) == Decimal("29")
    assert counted_kg(Decimal("30"), None, None) == Decimal("30")
    assert counted_kg(Decimal("30"), Decimal("29"), Decimal("0")) == Decimal("0")
    assert month_key(dt.date(2025, 1, 31)) == 202501
    assert collector_of(ManifestKind.COLLECTION, "producer", "receiver") == "receiver"
    assert collector_of(ManifestKind.ONWARD, "collector", "facility") == "collector"


def test_lines_add_up_per_manifest_and_category():
    lines = [
        CountedLine("m1", "HW08", Decimal("10"), Decimal("9.5"), Decimal("9.5")),
        CountedLine("m1", "HW49", Decimal("3"), None, None),
        CountedLine("m1", "HW08", Decimal("4"), Decimal("4.2"), None),
        CountedLine("m2", "HW08", Decimal("1"), Decimal("1"), Decimal("0.5")),
    ]
    assert per_category(lines) == {
        ("m1", "HW08"): (Decimal("13.7"), 2),
        ("m1", "HW49"): (Decimal("3"), 1),
        ("m2", "HW08"): (Decimal("0.5"), 1),
    }


def test_nothing_is_counted_before_receipt_and_the_receipt_writes_its_totals(world, delivered_manifest):
    assert not ReceiptTotal.objects.filter(manifest=delivered_manifest).exists()
    oil, rags = delivered_manifest.lines.order_by("id")

    manifest_receive(
        actor=world.receiver,
        manifest_id=delivered_manifest.pk,
        lines={
            oil.pk: {
                "received_weight_kg": "35.5",
                "decision": "partly_accepted",
                "accepted_weight_kg": "30",
                "discrepancies": ["packaging"],
            },
            rags.pk: {"received_weight_kg": "12", "decision": "rejected", "discrepancies": ["name"]},
        },
    )

    # The rejected container (HW49) goes back to its producer (办法 Art. 18): not counted.
    assert _totals(delivered_manifest) == {
        "HW08": (Decimal("30.00"), 1, world.site.division_id, world.collector.pk)
    }
    row = ReceiptTotal.objects.get(manifest=delivered_manifest)
    manifest = Manifest.objects.get(pk=delivered_manifest.pk)
    assert row.received_at == manifest.received_at
    assert row.received_on == timezone.localtime(manifest.received_at).date()
    assert (row.producer_id, row.site_id, row.kind) == (world.producer.pk, world.site.pk, "collection")
    call_command("receipt_totals", "--check")


def test_a_correction_after_receipt_rewrites_the_totals(world, delivered_manifest):
    lines = {line.pk: str(line.weight_kg) for line in delivered_manifest.lines.all()}
    manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines=lines)
    assert set(_totals(delivered_manifest)) == {"HW08", "HW49"}
    rags = delivered_manifest.lines.get(container_code="RQ-0002")
    correction = correction_open(
        actor=world.receiver,
        manifest_id=delivered_manifest.pk,
        reason="代码填错 / wrong code",
        changes={"lines": {str(rags.pk): {"waste_code": "900-249-08"}}},
    )

    correction_decide(actor=world.alice, correction_id=correction.pk, target="applied")

    # Both containers are HW08 now: 35.5 + 12 kg.
    assert _totals(delivered_manifest) == {
        "HW08": (Decimal("47.50"), 2, world.site.division_id, world.collector.pk)
    }
    call_command("receipt_totals", "--check")


def test_a_paper_manifest_counts_on_its_beijing_day(world):
    # 16:30 UTC on 31 January is 00:30 on 1 February in Nantong.
    ended = dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC)
    manifest = manifest_paper_enter(
        actor=world.receiver,
        producer_site_id=world.site.pk,
        paper_reference="JS-2026-000777",
        times={
            "producer_signed_at": ended - dt.timedelta(hours=3),
            "departed_at": ended - dt.timedelta(hours=2),
            "delivered_at": ended - dt.timedelta(hours=1),
            "received_at": ended,
        },
        lines=[
            {
                "container_code": "P-1",
                "waste_code": "900-214-08",
                "weight_kg": "20",
                "received_weight_kg": "19.6",
            }
        ],
    )

    row = ReceiptTotal.objects.get(manifest=manifest)
    assert (row.received_on, row.month, row.kg, row.category) == (
        dt.date(2026, 2, 1),
        202602,
        Decimal("19.60"),
        "HW08",
    )


def test_the_check_finds_a_drifted_table_and_the_rebuild_mends_it(world, delivered_manifest):
    lines = {line.pk: str(line.weight_kg) for line in delivered_manifest.lines.all()}
    manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines=lines)
    expected = _totals(delivered_manifest)
    ReceiptTotal.objects.filter(category="HW08").update(kg=Decimal("1.00"))
    ReceiptTotal.objects.filter(category="HW49").delete()

    with pytest.raises(CommandError, match="differ"):
        call_command("receipt_totals", "--check")

    call_command("receipt_totals", "--rebuild")
    assert _totals(delivered_manifest) == expected
    call_command("receipt_totals", "--check")
