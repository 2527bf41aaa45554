"""What each received manifest counts per HW category, for the statistics (``ReceiptTotal``, ADR 15).

Every count of tonnes collected and transferred, producers served and coverage (the regulator's
statistics, the monthly report, the overview) reads this one table instead of joining each manifest
line to its manifest, site, waste code and category and converting each receipt time to a local
month. It holds, for every manifest received or treated (办法 Art. 18), one row per category of its
lines, weighing what the receiver accepted (containers it rejected go back to their producer and
count nothing), and is rewritten from the lines inside the transaction that changes them: the
receipt, a correction applied after it, a paper manifest entered as received. A manifest's own page,
the ledgers and the finding rules keep reading the lines, which stay the record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.manifests.choices import LineDecision, ManifestKind, ManifestStatus
from greenisle.manifests.models import Manifest, ManifestLine, ReceiptTotal

COUNTED = (ManifestStatus.RECEIVED, ManifestStatus.TREATED)
CHUNK = 2000


# --- pure -------------------------------------------------------------------------------------------


def counted_kg(declared: Decimal, received: Decimal | None, accepted: Decimal | None) -> Decimal:
    """The weight a line counts: what the receiver accepted, else what it weighed, else the declared."""
    for value in (accepted, received, declared):
        if value is not None:
            return value
    return Decimal("0.00")


def month_key(day: dt.date) -> int:
    """yyyymm as an integer (202506), the month column's value."""
    return day.year * 100 + day.month


def collector_of(kind: str, producer_id: Any, receiver_id: Any) -> Any:
    """The collector a manifest counts for: it receives collection manifests and sends onward ones."""
    return producer_id if kind == ManifestKind.ONWARD else receiver_id


@dataclass(frozen=True)
class CountedLine:
    """A line as the totals read it: its manifest, its category and its three weights."""

    manifest_id: Any
    category: str
    declared: Decimal
    received: Decimal | None
    accepted: Decimal | None


def per_category(lines: Iterable[CountedLine]) -> dict[tuple[Any, str], tuple[Decimal, int]]:
    """(manifest, category) → (kg counted, lines), in the order first met."""
    out: dict[tuple[Any, str], tuple[Decimal, int]] = {}
    for line in lines:
        key = (line.manifest_id, line.category)
        kg, n = out.get(key, (Decimal("0.00"), 0))
        out[key] = (kg + counted_kg(line.declared, line.received, line.accepted), n + 1)
    return out


# --- database ---------------------------------------------------------------------------------------


def _rows(manifest_ids: list[Any]) -> Iterator[ReceiptTotal]:
    manifests = {
        row[0]: row
        for row in Manifest.objects.filter(
            pk__in=manifest_ids, status__in=COUNTED, received_at__isnull=False
        ).values_list(
            "pk",
            "kind",
            "received_at",
            "producer_site_id",
            "producer_site__division_id",
            "producer_id",
            "receiver_id",
        )
    }
    lines = (
        ManifestLine.objects.filter(manifest_id__in=list(manifests))
        .exclude(decision=LineDecision.REJECTED)
        .order_by("manifest_id", "id")
        .values_list(
            "manifest_id",
            "waste_code__category__code",
            "weight_kg",
            "received_weight_kg",
            "accepted_weight_kg",
        )
    )
    totals = per_category(CountedLine(*row) for row in lines)
    for (manifest_id, category), (kg, count) in totals.items():
        _pk, kind, received_at, site_id, division_id, producer_id, receiver_id = manifests[manifest_id]
        day = timezone.localtime(received_at).date()
        yield ReceiptTotal(
            manifest_id=manifest_id,
            category=category,
            kind=kind,
            received_at=received_at,
            received_on=day,
            month=month_key(day),
            site_id=site_id,
            division_id=division_id,
            producer_id=producer_id,
            collector_id=collector_of(kind, producer_id, receiver_id),
            kg=kg,
            lines=count,
        )


def receipt_totals_refresh(manifest_ids: Iterable[Any]) -> int:
    """Rewrite the rows of these manifests from their lines; call it inside the transaction that
    changed them. Returns the rows written."""
    ids = list(manifest_ids)
    written = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        ReceiptTotal.objects.filter(manifest_id__in=chunk).delete()
        written += len(ReceiptTotal.objects.bulk_create(list(_rows(chunk)), batch_size=1000))
    return written


def _counted_manifest_ids() -> list[Any]:
    return list(Manifest.objects.filter(status__in=COUNTED).order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def receipt_totals_rebuild() -> int:
    """Rewrite the whole table from the lines (bulk loads, repair)."""
    ReceiptTotal.objects.all().delete()
    return receipt_totals_refresh(_counted_manifest_ids())


def _key(row: ReceiptTotal) -> tuple[Any, ...]:
    return (
        row.kind,
        row.received_at,
        row.received_on,
        row.month,
        row.site_id,
        row.division_id,
        row.producer_id,
        row.collector_id,
        Decimal(row.kg).quantize(Decimal("0.01")),
        row.lines,
    )


def receipt_totals_differences(limit: int = 20) -> list[str]:
    """Where the table and the lines disagree ((manifest, category) with what differs), at most
    ``limit``."""
    wanted: dict[tuple[Any, str], tuple[Any, ...]] = {}
    ids = _counted_manifest_ids()
    for start in range(0, len(ids), CHUNK):
        for row in _rows(ids[start : start + CHUNK]):
            wanted[(row.manifest_id, row.category)] = _key(row)
    have = {
        (row.manifest_id, row.category): _key(row) for row in ReceiptTotal.objects.iterator(chunk_size=CHUNK)
    }
    out = []
    for key in sorted(set(wanted) | set(have), key=str):
        if wanted.get(key) != have.get(key):
            out.append(f"manifest {key[0]} {key[1]}: lines say {wanted.get(key)}, table says {have.get(key)}")
            if len(out) >= limit:
                break
    return out
