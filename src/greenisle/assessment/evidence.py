"""Evidence from the platform's own records for an assessment: per item of the checklist, the facts the
platform knows about the organisation in the assessed year (counts, dates, links to the records) and
the score they suggest (``checklists.suggest_*``). An active finding on an item caps its suggestion.

Items the platform cannot know (responsibility system, emergency plan, training) get no suggestion:
the enterprise uploads a document or photo, or writes a note, and the assessor scores them.

The assessed period is the calendar year, up to today for the current year. The declaration item
looks at the year before (the annual declaration due by 31 March of the assessed year, HJ 1259 §7).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from greenisle.assessment import checklists
from greenisle.catalog.models import WasteCode
from greenisle.ledger import core as ledger_core
from greenisle.ledger.models import Declaration, DeclarationStatus, LedgerRecord, RecordType, StorageZone
from greenisle.manifests.choices import LoadingRefusalReason, ManifestKind, ManifestStatus
from greenisle.manifests.models import Container, LoadingRefusal, Manifest, ManifestLine
from greenisle.organizations.choices import LicenceType
from greenisle.organizations.models import Licence
from greenisle.plans.core import plan_due_on
from greenisle.plans.models import IN_FORCE, ManagementPlan, PlanWaste
from greenisle.supervision.models import Finding

SAMPLE = 5  # how many examples (codes, months) a fact lists
OUTSOURCED = sorted(ledger_core.OUTSOURCED_TYPES)
NOT_KNOWN = "平台无此项记录：请上传文件或照片，或填写说明 / the platform has no record of this: upload a document or photo, or write a note"


@dataclass
class ItemEvidence:
    suggested: int | None = None
    facts: list[dict[str, str]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    findings: list[dict[str, str]] = field(default_factory=list)

    def fact(self, label: str, value: Any) -> None:
        self.facts.append({"label": label, "value": str(value)})

    def link(self, label: str, href: str) -> None:
        self.links.append({"label": label, "href": href})

    def as_dict(self) -> dict[str, Any]:
        return {
            "suggested": self.suggested,
            "facts": self.facts,
            "links": self.links,
            "findings": self.findings,
        }


@dataclass(frozen=True)
class Window:
    year: int
    start: dt.date
    end: dt.date  # exclusive
    today: dt.date

    @property
    def start_at(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))

    @property
    def end_at(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.end, dt.time.min))

    def q(self, path: str) -> Q:
        return Q(**{f"{path}__gte": self.start_at, f"{path}__lt": self.end_at})


def window_for(year: int, today: dt.date | None = None) -> Window:
    today = today or timezone.localdate()
    end = min(dt.date(year + 1, 1, 1), today + dt.timedelta(days=1))
    return Window(year, dt.date(year, 1, 1), max(end, dt.date(year, 1, 1)), today)


def _local_date(at: dt.datetime | None) -> dt.date | None:
    return timezone.localtime(at).date() if at is not None else None


def _sample(values: Any) -> str:
    values = sorted(str(v) for v in values)
    shown = "、".join(values[:SAMPLE])
    return shown + (f" …（共{len(values)}）" if len(values) > SAMPLE else "")


def _months(qs: Any, path: str) -> set[str]:
    tz = timezone.get_current_timezone()
    found = qs.annotate(_m=TruncMonth(path, tzinfo=tz)).values_list("_m", flat=True).distinct()
    return {f"{m:%Y-%m}" for m in found if m is not None}


def _live_records(organization: Any, window: Window) -> Any:
    """The unit's ledger records of the period, without reversing entries and the records they undo."""
    return LedgerRecord.objects.filter(
        window.q("occurred_at"), organization=organization, reverses__isnull=True, reversal__isnull=True
    )


# --- shared items -----------------------------------------------------------------------------------


def _not_known() -> ItemEvidence:
    ev = ItemEvidence()
    ev.fact("平台记录 / Platform records", NOT_KNOWN)
    return ev


def _plan(organization: Any, window: Window) -> ItemEvidence:
    """HJ 1259 §5.2.2: each site's plan for the year filed by 31 March; the lowest site counts."""
    ev = ItemEvidence()
    due = plan_due_on(window.year)
    sites = list(organization.sites.order_by("name"))
    if not sites:
        ev.fact("产废场所 / Sites", "未登记场所 / no site registered")
        ev.suggested = 0
        return ev
    plans = ManagementPlan.objects.filter(site__in=sites, year=window.year).exclude(filed_at__isnull=True)
    by_site: dict[Any, list[ManagementPlan]] = defaultdict(list)
    for plan in plans.order_by("revision"):
        by_site[plan.site_id].append(plan)
    scores = []
    for site in sites:
        filed = by_site.get(site.pk, [])
        in_force = next((p for p in filed if p.status in IN_FORCE), None)
        first = _local_date(filed[0].filed_at) if filed else None
        if in_force is None:
            scores.append(0)
            ev.fact(f"{site.name} · {window.year}", "管理计划未备案 / no plan in force")
            continue
        scores.append(checklists.suggest_plan(filed_on=first, due_on=due))
        late = " · 逾期 / late" if first and first > due else ""
        ev.fact(
            f"{site.name} · {window.year}",
            f"备案号 {in_force.filing_number}，{first} 备案{late} / filed {first} (due {due})",
        )
        ev.link(f"{site.name} 管理计划 / plan", f"/management-plans/{in_force.pk}/")
    ev.suggested = min(scores)
    return ev


def _declaration(organization: Any, window: Window) -> ItemEvidence:
    """The annual declaration of the year before, per site with ledger records that year (HJ 1259 §7:
    registration-class units declare by 31 March)."""
    ev = ItemEvidence()
    previous = window.year - 1
    start = dt.date(previous, 1, 1)
    prev_window = Window(previous, start, dt.date(window.year, 1, 1), window.today)
    site_ids = set(
        LedgerRecord.objects.filter(prev_window.q("occurred_at"), organization=organization).values_list(
            "site_id", flat=True
        )
    )
    declarations = {
        d.site_id: d
        for d in Declaration.objects.filter(
            organization=organization, kind=ledger_core.YEAR, period_start=start
        ).select_related("site")
    }
    site_ids |= {sid for sid, d in declarations.items() if d.status == DeclarationStatus.SUBMITTED}
    on_time = late = 0
    for site_id in sorted(site_ids, key=str):
        declaration = declarations.get(site_id)
        if declaration is None or declaration.status != DeclarationStatus.SUBMITTED:
            name = declaration.site.name if declaration else str(site_id)
            ev.fact(f"{previous} 年度申报 / annual declaration", f"{name}：未提交 / not submitted")
            if declaration is not None:
                ev.link(f"{previous} {name}", f"/declarations/{declaration.pk}/")
            continue
        submitted = _local_date(declaration.submitted_at)
        is_late = submitted is not None and submitted > declaration.due_on
        late += int(is_late)
        on_time += int(not is_late)
        ev.fact(
            f"{previous} 年度申报 / annual declaration",
            f"{declaration.site.name}：{submitted} 提交，回执 {declaration.receipt_number}"
            + ("，逾期 / late" if is_late else "")
            + f" / submitted {submitted} (due {declaration.due_on})",
        )
        ev.link(f"{previous} {declaration.site.name}", f"/declarations/{declaration.pk}/")
    if not site_ids:
        ev.fact(
            f"{previous} 年度申报 / annual declaration",
            f"{previous} 年无台账记录，无须申报 / nothing to declare",
        )
    ev.suggested = checklists.suggest_declaration(
        owed=len(site_ids), submitted_on_time=on_time, submitted_late=late
    )
    return ev


def _findings(organization: Any, items: dict[str, ItemEvidence]) -> None:
    """Active findings on the organisation: each caps the suggestion of the item it bears on; the
    others are listed under the responsibility system (the rules are not being carried out)."""
    active = Finding.objects.active().filter(organization=organization).order_by("created_at")
    for finding in active:
        row = {
            "id": str(finding.pk),
            "rule": finding.rule,
            "severity": finding.severity,
            "status": finding.status,
            "message": finding.message[:200],
            "href": f"/api/v1/findings/{finding.pk}",
        }
        code = checklists.item_for_rule(finding.rule)
        target = items.get(code or "") or items.get("responsibility")
        if target is not None:
            target.findings.append(row)
    for ev in items.values():
        if ev.findings:
            ev.suggested = checklists.cap_for_findings(ev.suggested, [f["severity"] for f in ev.findings])
            ev.fact("待整改问题 / Findings open", len(ev.findings))


# --- producers -----------------------------------------------------------------------------------------


def _producer_manifests(organization: Any, window: Window) -> Any:
    return Manifest.objects.filter(
        Q(producer_signed_at__isnull=False) & window.q("producer_signed_at")
        | Q(producer_signed_at__isnull=True, paper=True) & window.q("created_at"),
        producer=organization,
    ).exclude(status=ManifestStatus.CANCELLED)


def _labels_producer(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    produced = _live_records(organization, window).filter(record_type=RecordType.PRODUCTION)
    codes = set(produced.values_list("container_code", flat=True))
    labelled = set(
        Container.objects.filter(producer=organization, code__in=codes).values_list("code", flat=True)
    )
    ev.fact("产生的容器 / Containers produced", len(codes))
    ev.fact("有 HJ 1276 标签 / With an HJ 1276 label", len(labelled))
    if codes - labelled:
        ev.fact("无标签容器 / Without a label", _sample(codes - labelled))
    ev.link("标签 / Labels", "/labels/")
    ev.suggested = checklists.suggest_labels(labelled=len(labelled), containers=len(codes))
    return ev


def _ledger_producer(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    signed = _producer_manifests(organization, window).annotate(
        _at=Coalesce("producer_signed_at", "created_at")
    )
    active = _months(signed, "_at") | {
        f"{d:%Y-%m}"
        for d in Container.objects.filter(
            producer=organization, produced_on__gte=window.start, produced_on__lt=window.end
        ).values_list("produced_on", flat=True)
    }
    recorded = _months(_live_records(organization, window), "occurred_at")
    ev.fact("有危废产生或转移的月份 / Months with waste", _sample(active) if active else "—")
    ev.fact("有台账记录的月份 / Months with ledger records", _sample(recorded) if recorded else "—")
    missing = active - recorded
    if missing:
        ev.fact("缺台账记录的月份 / Months without records", _sample(missing))
    ev.link("台账 / Ledger", "/ledger/")
    ev.suggested = checklists.suggest_ledger(active_months=active, recorded_months=recorded)
    return ev


def _classification_producer(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    used = set(
        _live_records(organization, window)
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
    ev.fact("台账中的废物代码 / Codes in the ledger", _sample(used) if used else "—")
    ev.fact(f"已申明的代码（{source}）/ Declared codes", _sample(planned) if planned else "—")
    if unplanned:
        ev.fact("未列入的代码 / Codes not declared", _sample(unplanned))
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


def _late(manifests: Any, today: dt.date) -> tuple[int, int]:
    """Receipts confirmed after their due day (or still unconfirmed past it, 办法 Art. 18) and paper
    manifests entered after theirs (Art. 20)."""
    receipts = paper = 0
    rows = manifests.values_list("received_at", "receipt_due_on", "paper", "created_at", "paper_entry_due_on")
    for received_at, due, is_paper, created_at, paper_due in rows:
        if due is not None:
            received = _local_date(received_at)
            if (received is not None and received > due) or (received is None and due < today):
                receipts += 1
        entered = _local_date(created_at)
        if is_paper and paper_due is not None and entered is not None and entered > paper_due:
            paper += 1
    return receipts, paper


def _manifests_producer(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    manifests = _producer_manifests(organization, window)
    count = manifests.count()
    off = (
        _live_records(organization, window)
        .filter(record_type__in=OUTSOURCED, manifest__isnull=True)
        .values_list("container_code", flat=True)
    )
    off_codes = set(off)
    receipts_late, paper_late = _late(manifests, window.today)
    ev.fact("电子联单 / Manifests", count)
    ev.fact("未运行联单的转移 / Transfers without a manifest", len(off_codes))
    if off_codes:
        ev.fact("无联单的容器 / Containers without a manifest", _sample(off_codes))
    ev.fact("接收确认逾期 / Receipts confirmed late", receipts_late)
    ev.fact("纸质联单补录逾期 / Paper manifests entered late", paper_late)
    ev.link("联单 / Manifests", "/manifests/")
    ev.suggested = checklists.suggest_manifests(
        transfers=count, off_manifest=len(off_codes), late=receipts_late + paper_late
    )
    return ev


def _licences_by_org(org_ids: set[Any]) -> dict[Any, list[Licence]]:
    found: dict[Any, list[Licence]] = defaultdict(list)
    for licence in (
        Licence.objects.filter(organization_id__in=org_ids)
        .exclude(licence_type=LicenceType.DANGEROUS_GOODS_TRANSPORT)
        .prefetch_related("waste_codes")
    ):
        found[licence.organization_id].append(licence)
    return found


def _covered(licences: list[Licence], code_id: Any, day: dt.date) -> bool:
    return any(
        lic.valid_from <= day <= lic.valid_to and any(w.pk == code_id for w in lic.waste_codes.all())
        for lic in licences
    )


def _receivers(organization: Any, window: Window) -> ItemEvidence:
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
    licences = _licences_by_org({row[1] for row in lines})
    bad: set[str] = set()
    receivers: set[str] = set()
    manifests: set[Any] = set()
    for manifest_id, receiver_id, name, code_id, signed_at, created_at in lines:
        manifests.add(manifest_id)
        receivers.add(name)
        day = _local_date(signed_at or created_at)
        assert day is not None
        if not _covered(licences.get(receiver_id, []), code_id, day):
            bad.add(f"{name} {code_id}")
    ev.fact("接收单位 / Receivers", _sample(receivers) if receivers else "—")
    ev.fact("超出许可证范围的交付 / Handed beyond a licence", _sample(bad) if bad else 0)
    ev.suggested = checklists.suggest_receivers(transfers=len(manifests), unlicensed=len(bad))
    return ev


def _over_limits(organization: Any, today: dt.date) -> tuple[int, int]:
    from greenisle.ledger.storage import COLLECTION_HANDOVER, ONE_YEAR, PASSED, storage_limits

    over_year = handover = 0
    for status in storage_limits(organization, today):
        if status.state != PASSED:
            continue
        over_year += int(status.kind == ONE_YEAR)
        handover += int(status.kind == COLLECTION_HANDOVER)
    return over_year, handover


def _storage_producer(organization: Any, window: Window) -> ItemEvidence:
    from greenisle.devices.models import Bin

    ev = ItemEvidence()
    active_sites = set(
        _live_records(organization, window)
        .filter(record_type=RecordType.PRODUCTION)
        .values_list("site_id", flat=True)
    ) or set(organization.sites.values_list("pk", flat=True))
    with_bins = set(
        Bin.objects.filter(site_id__in=active_sites, enabled=True).values_list("site_id", flat=True)
    )
    with_zones = set(StorageZone.objects.filter(site_id__in=active_sites).values_list("site_id", flat=True))
    stored = with_bins | with_zones
    over_year, _ = _over_limits(organization, window.today)
    ev.fact("产废场所 / Sites", len(active_sites))
    ev.fact("有登记贮存设施（云仓/分区）的场所 / Sites with registered storage", len(stored))
    ev.fact("贮存超过一年的容器 / Containers stored over a year", over_year)
    ev.link("云仓 / Bins", "/bins/")
    ev.suggested = checklists.suggest_storage(
        sites=len(active_sites), sites_with_storage=len(stored), over_one_year=over_year
    )
    return ev


# --- collectors ------------------------------------------------------------------------------------------


def _received(organization: Any, window: Window) -> Any:
    return Manifest.objects.filter(window.q("delivered_at"), receiver=organization).exclude(
        status=ManifestStatus.CANCELLED
    )


def _licence(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    licences = _licences_by_org({organization.pk}).get(organization.pk, [])
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
        day = _local_date(delivered_at)
        assert day is not None
        if not _covered(overlapping, code_id, day):
            outside.add(str(code_id))
    capacity_t = sum((lic.annual_capacity_t for lic in overlapping), Decimal("0"))
    received_t = (total_kg / 1000).quantize(Decimal("0.001"))
    over = bool(overlapping) and received_t > capacity_t
    ev.fact("接收量 / Received (t)", received_t)
    ev.fact("许可能力 / Licensed capacity (t/a)", capacity_t)
    ev.fact("许可范围外的代码 / Codes beyond the licence", _sample(outside) if outside else 0)
    if not overlapping:
        ev.fact("经营许可证 / Licence", "评估期内无有效许可证 / no licence in force in the period")
    ev.suggested = checklists.suggest_licence(
        valid_through_period=through,
        valid_at_all=bool(overlapping),
        codes_outside=len(outside),
        over_capacity=over,
    )
    return ev


def _labels_collector(organization: Any, window: Window) -> ItemEvidence:
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


def _ledger_collector(organization: Any, window: Window) -> ItemEvidence:
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
        ev.fact("缺入库记录 / Without records", _sample(missing))
    ev.link("台账 / Ledger", "/ledger/")
    ev.suggested = checklists.suggest_records(recorded=len(recorded), received=len(received))
    return ev


def _zones(organization: Any, window: Window) -> ItemEvidence:
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
    ev.fact("接收的废物代码 / Codes received", _sample(codes) if codes else "—")
    ev.fact("贮存分区 / Storage zones", zones.count())
    if without:
        ev.fact("无对应分区的代码 / Codes without a zone", _sample(without))
    ev.suggested = checklists.suggest_zones(
        codes_received=len(codes), codes_without_zone=len(without), zoned=zoned
    )
    return ev


def _manifests_collector(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    received = _received(organization, window)
    onward = Manifest.objects.filter(window.q("created_at"), producer=organization).exclude(
        status=ManifestStatus.CANCELLED
    )
    receipts_late, _ = _late(received, window.today)
    _, paper_late = _late(received | onward, window.today)
    off = set(
        _live_records(organization, window)
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


def _storage_collector(organization: Any, window: Window) -> ItemEvidence:
    ev = ItemEvidence()
    sites = set(
        _received(organization, window)
        .exclude(receiver_site__isnull=True)
        .values_list("receiver_site_id", flat=True)
    ) or set(organization.sites.values_list("pk", flat=True))
    zoned = set(StorageZone.objects.filter(site_id__in=sites).values_list("site_id", flat=True))
    over_year, handover = _over_limits(organization, window.today)
    ev.fact("贮存场所 / Storage sites", len(sites))
    ev.fact("已分区登记 / With registered zones", len(zoned))
    ev.fact("贮存超过一年 / Stored over a year", over_year)
    ev.fact("超过90个工作日未转出 / Held past 90 working days", handover)
    ev.suggested = checklists.suggest_storage(
        sites=len(sites), sites_with_storage=len(zoned), over_one_year=over_year, over_handover=handover
    )
    return ev


# --- the lot -----------------------------------------------------------------------------------------------

PRODUCER_SOURCES = {
    "labels": _labels_producer,
    "plan": _plan,
    "ledger": _ledger_producer,
    "declaration": _declaration,
    "classification": _classification_producer,
    "manifests": _manifests_producer,
    "receivers": _receivers,
    "storage": _storage_producer,
}
COLLECTOR_SOURCES = {
    "licence": _licence,
    "labels": _labels_collector,
    "plan": _plan,
    "ledger": _ledger_collector,
    "declaration": _declaration,
    "classification": _zones,
    "manifests": _manifests_collector,
    "storage": _storage_collector,
}
SOURCES = {checklists.PRODUCER: PRODUCER_SOURCES, checklists.COLLECTOR: COLLECTOR_SOURCES}


def evidence_gather(
    *, organization: Any, kind: str, year: int, today: dt.date | None = None
) -> dict[str, dict[str, Any]]:
    """Item code → {"suggested", "facts", "links", "findings"} for every item of the kind's checklist."""
    window = window_for(year, today)
    sources = SOURCES[kind]
    items: dict[str, ItemEvidence] = {}
    for item in checklists.checklist(kind):
        source = sources.get(item.code)
        items[item.code] = source(organization, window) if (item.prefill and source) else _not_known()
    _findings(organization, items)
    return {code: ev.as_dict() for code, ev in items.items()}
