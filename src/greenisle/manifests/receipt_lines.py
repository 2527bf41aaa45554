"""The received lines flattened for the statistics (``ReceiptLine``, ADR 15).

Every count of tonnes collected and transferred, producers served and coverage (the regulator's
statistics, the monthly report, the overview) reads this one table instead of joining each manifest
line to its manifest, site, division, waste code and category. It holds one row per line of a manifest
that is received or treated (办法 Art. 18), except containers the receiver rejected (they go back to
their producer), and is rewritten from the lines inside the transaction that changes them: the
receipt, a correction applied after it, a paper manifest entered as received. Nothing reads it for a
manifest's own page; the lines stay the record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.manifests.choices import LineDecision, ManifestKind, ManifestStatus
from greenisle.manifests.models import ManifestLine, ReceiptLine

COUNTED = (ManifestStatus.RECEIVED, ManifestStatus.TREATED)
CHUNK = 2000

_FIELDS = (
    "pk",
    "manifest_id",
    "manifest__kind",
    "manifest__received_at",
    "manifest__producer_site_id",
    "manifest__producer_site__division_id",
    "manifest__producer_id",
    "manifest__receiver_id",
    "waste_code_id",
    "waste_code__category__code",
    "weight_kg",
    "received_weight_kg",
    "accepted_weight_kg",
)


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
    """The collector a line counts for: it receives collection manifests and sends onward ones."""
    return producer_id if kind == ManifestKind.ONWARD else receiver_id


# --- database ---------------------------------------------------------------------------------------


def _rows(manifest_ids: list[Any]) -> Iterator[ReceiptLine]:
    lines = (
        ManifestLine.objects.filter(
            manifest_id__in=manifest_ids, manifest__status__in=COUNTED, manifest__received_at__isnull=False
        )
        .exclude(decision=LineDecision.REJECTED)
        .values_list(*_FIELDS)
    )
    for (
        pk,
        manifest_id,
        kind,
        received_at,
        site_id,
        division_id,
        producer_id,
        receiver_id,
        waste_code_id,
        category,
        declared,
        received,
        accepted,
    ) in lines:
        day = timezone.localtime(received_at).date()
        yield ReceiptLine(
            line_id=pk,
            manifest_id=manifest_id,
            kind=kind,
            received_at=received_at,
            received_on=day,
            month=month_key(day),
            site_id=site_id,
            division_id=division_id,
            producer_id=producer_id,
            collector_id=collector_of(kind, producer_id, receiver_id),
            waste_code_id=waste_code_id,
            category=category,
            kg=counted_kg(declared, received, accepted),
        )


def receipt_lines_refresh(manifest_ids: Iterable[Any]) -> int:
    """Rewrite the rows of these manifests from their lines; call it inside the transaction that
    changed them. Returns the rows written."""
    ids = list(manifest_ids)
    written = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        ReceiptLine.objects.filter(manifest_id__in=chunk).delete()
        written += len(ReceiptLine.objects.bulk_create(list(_rows(chunk)), batch_size=1000))
    return written


def _all_manifest_ids() -> list[Any]:
    from greenisle.manifests.models import Manifest

    return list(Manifest.objects.filter(status__in=COUNTED).order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def receipt_lines_rebuild() -> int:
    """Rewrite the whole table from the lines (bulk loads, repair)."""
    ReceiptLine.objects.all().delete()
    return receipt_lines_refresh(_all_manifest_ids())


def receipt_lines_differences(limit: int = 20) -> list[str]:
    """Where the table and the lines disagree (line ids with what differs), at most ``limit``."""
    wanted: dict[Any, tuple[Any, ...]] = {}
    ids = _all_manifest_ids()
    for start in range(0, len(ids), CHUNK):
        for row in _rows(ids[start : start + CHUNK]):
            wanted[row.line_id] = _key(row)
    have = {row.line_id: _key(row) for row in ReceiptLine.objects.all().iterator(chunk_size=CHUNK)}
    out = []
    for line_id in sorted(set(wanted) | set(have), key=str):
        if wanted.get(line_id) != have.get(line_id):
            out.append(f"line {line_id}: lines say {wanted.get(line_id)}, table says {have.get(line_id)}")
            if len(out) >= limit:
                break
    return out


def _key(row: ReceiptLine) -> tuple[Any, ...]:
    return (
        row.manifest_id,
        row.kind,
        row.received_at,
        row.received_on,
        row.month,
        row.site_id,
        row.division_id,
        row.producer_id,
        row.collector_id,
        row.waste_code_id,
        row.category,
        Decimal(row.kg).quantize(Decimal("0.01")),
    )
