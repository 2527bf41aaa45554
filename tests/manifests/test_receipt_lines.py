"""The received lines the statistics count (manifests.ReceiptLine, ADR 15): written in the transaction
of the receipt, of a correction after it and of a paper manifest; rejected containers left out; the
Beijing-time day and month; ``receipt_lines --check`` finds a table that drifted, ``--rebuild`` mends it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from greenisle.manifests.choices import ManifestKind
from greenisle.manifests.corrections import correction_decide, correction_open
from greenisle.manifests.models import Manifest, ReceiptLine
from greenisle.manifests.paper import manifest_paper_enter
from greenisle.manifests.receipt import manifest_receive
from greenisle.manifests.receipt_lines import collector_of, counted_kg, month_key

UTC = dt.UTC


def _rows(manifest):
    return {
        row.line.container_code: (row.kg, row.category, row.division_id, row.collector_id)
        for row in ReceiptLine.objects.filter(manifest=manifest).select_related("line")
    }


def test_the_counted_weight_is_accepted_else_received_else_declared():
    assert counted_kg(Decimal("30"), Decimal("29"), Decimal("25")) == Decimal("25")
    assert counted_kg(Decimal("30"), Decimal("29"), None) == Decimal("29")
    assert counted_kg(Decimal("30"), None, None) == Decimal("30")
    assert counted_kg(Decimal("30"), Decimal("29"), Decimal("0")) == Decimal("0")
    assert month_key(dt.date(2025, 1, 31)) == 202501
    assert collector_of(ManifestKind.COLLECTION, "producer", "receiver") == "receiver"
    assert collector_of(ManifestKind.ONWARD, "collector", "facility") == "collector"


def test_nothing_is_counted_before_receipt_and_the_receipt_writes_its_lines(world, delivered_manifest):
    assert not ReceiptLine.objects.filter(manifest=delivered_manifest).exists()
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

    # The rejected container goes back to its producer (办法 Art. 18): not counted.
    assert _rows(delivered_manifest) == {
        "RQ-0001": (Decimal("30.00"), "HW08", world.site.division_id, world.collector.pk)
    }
    row = ReceiptLine.objects.get(manifest=delivered_manifest)
    manifest = Manifest.objects.get(pk=delivered_manifest.pk)
    assert row.received_at == manifest.received_at
    assert row.received_on == timezone.localtime(manifest.received_at).date()
    assert (row.producer_id, row.site_id, row.kind) == (world.producer.pk, world.site.pk, "collection")
    call_command("receipt_lines", "--check")


def test_a_correction_after_receipt_rewrites_the_counted_lines(world, delivered_manifest):
    lines = {line.pk: str(line.weight_kg) for line in delivered_manifest.lines.all()}
    manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines=lines)
    oil = delivered_manifest.lines.get(container_code="RQ-0002")
    correction = correction_open(
        actor=world.receiver,
        manifest_id=delivered_manifest.pk,
        reason="代码填错 / wrong code",
        changes={"lines": {str(oil.pk): {"waste_code": "900-249-08"}}},
    )
    assert _rows(delivered_manifest)["RQ-0002"][1] == "HW49"

    correction_decide(actor=world.alice, correction_id=correction.pk, target="applied")

    assert _rows(delivered_manifest)["RQ-0002"][1] == "HW08"
    call_command("receipt_lines", "--check")


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

    row = ReceiptLine.objects.get(manifest=manifest)
    assert (row.received_on, row.month, row.kg) == (dt.date(2026, 2, 1), 202602, Decimal("19.60"))


def test_the_check_finds_a_drifted_table_and_the_rebuild_mends_it(world, delivered_manifest):
    lines = {line.pk: str(line.weight_kg) for line in delivered_manifest.lines.all()}
    manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines=lines)
    expected = _rows(delivered_manifest)
    ReceiptLine.objects.filter(line__container_code="RQ-0001").update(kg=Decimal("1.00"))
    ReceiptLine.objects.filter(line__container_code="RQ-0002").delete()

    with pytest.raises(CommandError, match="differ"):
        call_command("receipt_lines", "--check")

    call_command("receipt_lines", "--rebuild")
    assert _rows(delivered_manifest) == expected
    call_command("receipt_lines", "--check")
