"""Evidence for the collectors' checklist items from the platform's records: licence, labels, ledger,
storage zones, manifests received, storage limits.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from greenisle.assessment import checklists
from greenisle.assessment.evidence_base import (
    OUTSOURCED,
    ItemEvidence,
    Window,
    live_records,
    local_date,
    sample,
)
from greenisle.assessment.evidence_producers import (
    deadlines_missed,
    licence_covers,
    licences_by_org,
    over_limits,
)
from greenisle.ledger.models import LedgerRecord, RecordType, StorageZone
from greenisle.manifests.choices import ManifestKind, ManifestStatus
from greenisle.manifests.models import Manifest, ManifestLine


def _received(organization: Any, window: Window) -> Any:
    return Manifest.objects.filter(window.q("delivered_at"), receiver=organization).exclude(
        status=ManifestStatus.CANCELLED
    )


def licence_evidence(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    licences = licences_by_org({organization.pk}).get(organization.pk, [])
    last_day = window.end - dt.timedelta(days=1)
    overlapping = [lic for lic in licences if lic.valid_from <= last_day and lic.valid_to >= window.start]
    through = any(lic.valid_from <= window.start and lic.valid_to >= last_day for lic in overlapping)
    for lic in overlapping:
        ev.fact(
            f"{lic.get_licence_type_display()} {lic.number}",
            f"{lic.valid_from} – {lic.valid_to}，{lic.annual_capacity_t} t/a",
        )
    lines = ManifestLine.objects.filter(manifest__in=_received(organization, window)).values_list(
        "waste_code_id", "manifest__delivered_at", "received_weight_kg", "weight_kg"
    )
    outside: set[str] = set()
    total_kg = Decimal("0")
    for code_id, delivered_at, received_kg, weight_kg in lines:
        total_kg += Decimal(received_kg if received_kg is not None else weight_kg)
        day = local_date(delivered_at)
        assert day is not None
        if not licence_covers(overlapping, code_id, day):
            outside.add(str(code_id))
    capacity_t = sum((lic.annual_capacity_t for lic in overlapping), Decimal("0"))
    received_t = (total_kg / 1000).quantize(Decimal("0.001"))
    over = bool(overlapping) and received_t > capacity_t
    ev.fact("接收量 / Received (t)", received_t)
    ev.fact("许可能力 / Licensed capacity (t/a)", capacity_t)
    ev.fact("许可范围外的代码 / Codes beyond the licence", sample(outside) if outside else 0)
    if not overlapping:
        ev.fact("经营许可证 / Licence", "评估期内无有效许可证 / no licence in force in the period")
    ev.suggested = checklists.suggest_licence(
        valid_through_period=through,
        valid_at_all=bool(overlapping),
        codes_outside=len(outside),
        over_capacity=over,
    )
    return ev


def labels_collector(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    lines = ManifestLine.objects.filter(
        manifest__in=_received(organization, window).filter(kind=ManifestKind.COLLECTION)
    )
    total = lines.count()
    labelled = lines.filter(container__isnull=False).count()
    ev.fact("接收的容器 / Containers received", total)
    ev.fact("有 HJ 1276 标签 / With an HJ 1276 label", labelled)
    ev.suggested = checklists.suggest_labels(labelled=labelled, containers=total)
    return ev


def ledger_collector(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    received = set(
        _received(organization, window).filter(received_at__isnull=False).values_list("pk", flat=True)
    )
    recorded = set(
        LedgerRecord.objects.filter(
            organization=organization, record_type=RecordType.STORAGE_IN, manifest_id__in=received
        ).values_list("manifest_id", flat=True)
    )
    ev.fact("已接收的联单 / Manifests received", len(received))
    ev.fact("有入库记录的联单 / With storage-in records", len(recorded))
    missing = Manifest.objects.filter(pk__in=received - recorded).values_list("number", flat=True)
    if received - recorded:
        ev.fact("缺入库记录 / Without records", sample(missing))
    ev.link("台账 / Ledger", "/ledger/")
    ev.suggested = checklists.suggest_records(recorded=len(recorded), received=len(received))
    return ev


def zones_evidence(organization: Any, window: Window) -> ItemEvidence:
    """GB 18597-2023: each received code has a zone at the receiving site for its hazard category."""
    ev = ItemEvidence()
    rows = set(
        ManifestLine.objects.filter(manifest__in=_received(organization, window)).values_list(
            "manifest__receiver_site_id", "waste_code__code", "waste_code__category__code"
        )
    )
    zones = StorageZone.objects.filter(site__organization=organization)
    zoned = zones.exists()
    covered = set(
        zones.filter(groups__collector_id=organization.pk).values_list("site_id", "groups__categories__code")
    )
    without = {code for site_id, code, category in rows if (site_id, category) not in covered}
    codes = {code for _, code, _ in rows}
    ev.fact("接收的废物代码 / Codes received", sample(codes) if codes else "—")
    ev.fact("贮存分区 / Storage zones", zones.count())
    if without:
        ev.fact("无对应分区的代码 / Codes without a zone", sample(without))
    ev.suggested = checklists.suggest_zones(
        codes_received=len(codes), codes_without_zone=len(without), zoned=zoned
    )
    return ev


def manifests_collector(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    received = _received(organization, window)
    onward = Manifest.objects.filter(window.q("created_at"), producer=organization).exclude(
        status=ManifestStatus.CANCELLED
    )
    receipts_late, _ = deadlines_missed(received, window.today)
    _, paper_late = deadlines_missed(received | onward, window.today)
    off = set(
        live_records(organization, window)
        .filter(record_type__in=OUTSOURCED, manifest__isnull=True)
        .values_list("container_code", flat=True)
    )
    ev.fact("接收的联单 / Manifests received", received.count())
    ev.fact("转出的联单 / Onward manifests", onward.count())
    ev.fact("接收确认逾期 / Receipts confirmed late", receipts_late)
    ev.fact("纸质联单补录逾期 / Paper manifests entered late", paper_late)
    ev.fact("未运行联单的转出 / Transfers without a manifest", len(off))
    ev.link("联单 / Manifests", "/manifests/")
    ev.suggested = checklists.suggest_manifests(
        transfers=received.count() + onward.count(), off_manifest=len(off), late=receipts_late + paper_late
    )
    return ev


def storage_collector(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    sites = set(
        _received(organization, window)
        .exclude(receiver_site__isnull=True)
        .values_list("receiver_site_id", flat=True)
    ) or set(organization.sites.values_list("pk", flat=True))
    zoned = set(StorageZone.objects.filter(site_id__in=sites).values_list("site_id", flat=True))
    over_year, handover = over_limits(organization, window.today)
    ev.fact("贮存场所 / Storage sites", len(sites))
    ev.fact("已分区登记 / With registered zones", len(zoned))
    ev.fact("贮存超过一年 / Stored over a year", over_year)
    ev.fact("超过90个工作日未转出 / Held past 90 working days", handover)
    ev.suggested = checklists.suggest_storage(
        sites=len(sites), sites_with_storage=len(zoned), over_one_year=over_year, over_handover=handover
    )
    return ev
