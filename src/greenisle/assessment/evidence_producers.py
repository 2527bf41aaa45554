"""Evidence for the producers' checklist items from the platform's records: labels, ledger, source
classification, manifests, receivers' licences, storage limits.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Q
from django.db.models.functions import Coalesce

from greenisle.assessment import checklists
from greenisle.assessment.evidence_base import (
    OUTSOURCED,
    ItemEvidence,
    Window,
    live_records,
    local_date,
    months_of,
    sample,
)
from greenisle.catalog.models import WasteCode
from greenisle.ledger.models import RecordType, StorageZone
from greenisle.manifests.choices import LoadingRefusalReason, ManifestStatus
from greenisle.manifests.models import Container, LoadingRefusal, Manifest, ManifestLine
from greenisle.organizations.choices import LicenceType
from greenisle.organizations.models import Licence
from greenisle.plans.models import IN_FORCE, PlanWaste


def _producer_manifests(organization: Any, window: Window) -> Any:
    return Manifest.objects.filter(
        Q(producer_signed_at__isnull=False) & window.q("producer_signed_at")
        | Q(producer_signed_at__isnull=True, paper=True) & window.q("created_at"),
        producer=organization,
    ).exclude(status=ManifestStatus.CANCELLED)


def labels_producer(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    produced = live_records(organization, window).filter(record_type=RecordType.PRODUCTION)
    codes = set(produced.values_list("container_code", flat=True))
    labelled = set(
        Container.objects.filter(producer=organization, code__in=codes).values_list("code", flat=True)
    )
    ev.fact("产生的容器 / Containers produced", len(codes))
    ev.fact("有 HJ 1276 标签 / With an HJ 1276 label", len(labelled))
    if codes - labelled:
        ev.fact("无标签容器 / Without a label", sample(codes - labelled))
    ev.link("标签 / Labels", "/labels/")
    ev.suggested = checklists.suggest_labels(labelled=len(labelled), containers=len(codes))
    return ev


def ledger_producer(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    signed = _producer_manifests(organization, window).annotate(
        _at=Coalesce("producer_signed_at", "created_at")
    )
    active = months_of(signed, "_at") | {
        f"{d:%Y-%m}"
        for d in Container.objects.filter(
            producer=organization, produced_on__gte=window.start, produced_on__lt=window.end
        ).values_list("produced_on", flat=True)
    }
    recorded = months_of(live_records(organization, window), "occurred_at")
    ev.fact("有危废产生或转移的月份 / Months with waste", sample(active) if active else "—")
    ev.fact("有台账记录的月份 / Months with ledger records", sample(recorded) if recorded else "—")
    missing = active - recorded
    if missing:
        ev.fact("缺台账记录的月份 / Months without records", sample(missing))
    ev.link("台账 / Ledger", "/ledger/")
    ev.suggested = checklists.suggest_ledger(active_months=active, recorded_months=recorded)
    return ev


def classification_producer(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    used = set(
        live_records(organization, window)
        .filter(record_type=RecordType.PRODUCTION)
        .values_list("waste_code__code", flat=True)
    )
    planned = set(
        PlanWaste.objects.filter(
            plan__site__organization=organization, plan__year=window.year, plan__status__in=IN_FORCE
        ).values_list("waste_code__code", flat=True)
    )
    source = "管理计划 / plan"
    if not planned:
        planned = set(
            WasteCode.objects.filter(bins__site__organization=organization).values_list("code", flat=True)
        )
        source = "云仓登记 / bins"
    misfiled = _misfiled(organization, window)
    unplanned = used - planned
    ev.fact("台账中的废物代码 / Codes in the ledger", sample(used) if used else "—")
    ev.fact(f"已申明的代码（{source}）/ Declared codes", sample(planned) if planned else "—")
    if unplanned:
        ev.fact("未列入的代码 / Codes not declared", sample(unplanned))
    ev.fact("代码不符被拒装的容器 / Containers refused for their code", misfiled)
    ev.suggested = checklists.suggest_classification(
        unplanned_codes=len(unplanned), misfiled=misfiled, codes_used=len(used)
    )
    return ev


def _misfiled(organization: Any, window: Window) -> int:
    reasons = LoadingRefusal.objects.filter(
        window.q("created_at"), request__producer=organization
    ).values_list("reasons", flat=True)
    return sum(1 for r in reasons if LoadingRefusalReason.WASTE_CODE in (r or []))


def deadlines_missed(manifests: Any, today: dt.date) -> tuple[int, int]:
    """Receipts confirmed after their due day (or still unconfirmed past it, 办法 Art. 18) and paper
    manifests entered after theirs (Art. 20)."""
    receipts = paper = 0
    rows = manifests.values_list("received_at", "receipt_due_on", "paper", "created_at", "paper_entry_due_on")
    for received_at, due, is_paper, created_at, paper_due in rows:
        if due is not None:
            received = local_date(received_at)
            if (received is not None and received > due) or (received is None and due < today):
                receipts += 1
        entered = local_date(created_at)
        if is_paper and paper_due is not None and entered is not None and entered > paper_due:
            paper += 1
    return receipts, paper


def manifests_producer(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    manifests = _producer_manifests(organization, window)
    count = manifests.count()
    off = (
        live_records(organization, window)
        .filter(record_type__in=OUTSOURCED, manifest__isnull=True)
        .values_list("container_code", flat=True)
    )
    off_codes = set(off)
    receipts_late, paper_late = deadlines_missed(manifests, window.today)
    ev.fact("电子联单 / Manifests", count)
    ev.fact("未运行联单的转移 / Transfers without a manifest", len(off_codes))
    if off_codes:
        ev.fact("无联单的容器 / Containers without a manifest", sample(off_codes))
    ev.fact("接收确认逾期 / Receipts confirmed late", receipts_late)
    ev.fact("纸质联单补录逾期 / Paper manifests entered late", paper_late)
    ev.link("联单 / Manifests", "/manifests/")
    ev.suggested = checklists.suggest_manifests(
        transfers=count, off_manifest=len(off_codes), late=receipts_late + paper_late
    )
    return ev


def licences_by_org(org_ids: set[Any]) -> dict[Any, list[Licence]]:
    found: dict[Any, list[Licence]] = defaultdict(list)
    for licence in (
        Licence.objects.filter(organization_id__in=org_ids)
        .exclude(licence_type=LicenceType.DANGEROUS_GOODS_TRANSPORT)
        .prefetch_related("waste_codes")
    ):
        found[licence.organization_id].append(licence)
    return found


def licence_covers(licences: list[Licence], code_id: Any, day: dt.date) -> bool:
    return any(
        lic.valid_from <= day <= lic.valid_to and any(w.pk == code_id for w in lic.waste_codes.all())
        for lic in licences
    )


def receivers_evidence(organization: Any, window: Window) -> ItemEvidence:
    """固废法 Art. 80: waste goes only to holders of a licence for it, valid on the day."""
    ev = ItemEvidence()
    lines = list(
        ManifestLine.objects.filter(manifest__in=_producer_manifests(organization, window))
        .select_related("manifest__receiver")
        .values_list(
            "manifest_id",
            "manifest__receiver_id",
            "manifest__receiver__name",
            "waste_code_id",
            "manifest__producer_signed_at",
            "manifest__created_at",
        )
    )
    licences = licences_by_org({row[1] for row in lines})
    bad: set[str] = set()
    receivers: set[str] = set()
    manifests: set[Any] = set()
    for manifest_id, receiver_id, name, code_id, signed_at, created_at in lines:
        manifests.add(manifest_id)
        receivers.add(name)
        day = local_date(signed_at or created_at)
        assert day is not None
        if not licence_covers(licences.get(receiver_id, []), code_id, day):
            bad.add(f"{name} {code_id}")
    ev.fact("接收单位 / Receivers", sample(receivers) if receivers else "—")
    ev.fact("超出许可证范围的交付 / Handed beyond a licence", sample(bad) if bad else 0)
    ev.suggested = checklists.suggest_receivers(transfers=len(manifests), unlicensed=len(bad))
    return ev


def over_limits(organization: Any, today: dt.date) -> tuple[int, int]:
    from greenisle.ledger.storage import COLLECTION_HANDOVER, ONE_YEAR, PASSED, storage_limits

    over_year = handover = 0
    for status in storage_limits(organization, today):
        if status.state != PASSED:
            continue
        over_year += int(status.kind == ONE_YEAR)
        handover += int(status.kind == COLLECTION_HANDOVER)
    return over_year, handover


def storage_producer(organization: Any, window: Window) -> ItemEvidence:
    from greenisle.devices.models import Bin

    ev = ItemEvidence()
    active_sites = set(
        live_records(organization, window)
        .filter(record_type=RecordType.PRODUCTION)
        .values_list("site_id", flat=True)
    ) or set(organization.sites.values_list("pk", flat=True))
    with_bins = set(
        Bin.objects.filter(site_id__in=active_sites, enabled=True).values_list("site_id", flat=True)
    )
    with_zones = set(StorageZone.objects.filter(site_id__in=active_sites).values_list("site_id", flat=True))
    stored = with_bins | with_zones
    over_year, _ = over_limits(organization, window.today)
    ev.fact("产废场所 / Sites", len(active_sites))
    ev.fact("有登记贮存设施（云仓/分区）的场所 / Sites with registered storage", len(stored))
    ev.fact("贮存超过一年的容器 / Containers stored over a year", over_year)
    ev.link("云仓 / Bins", "/bins/")
    ev.suggested = checklists.suggest_storage(
        sites=len(active_sites), sites_with_storage=len(stored), over_one_year=over_year
    )
    return ev
