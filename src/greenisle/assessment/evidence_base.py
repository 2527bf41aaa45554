"""What every evidence source shares: the evidence of one item (facts, links, suggested score), the
assessed period, small helpers, and the items producers and collectors have alike (management plan,
annual declaration, active findings capping a suggestion).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from greenisle.assessment import checklists
from greenisle.ledger import core as ledger_core
from greenisle.ledger.models import Declaration, DeclarationStatus, LedgerRecord
from greenisle.plans.core import plan_due_on
from greenisle.plans.models import IN_FORCE, ManagementPlan
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


def local_date(at: dt.datetime | None) -> dt.date | None:
    return timezone.localtime(at).date() if at is not None else None


def sample(values: Any) -> str:
    values = sorted(str(v) for v in values)
    shown = "、".join(values[:SAMPLE])
    return shown + (f" …（共{len(values)}）" if len(values) > SAMPLE else "")


def months_of(qs: Any, path: str) -> set[str]:
    tz = timezone.get_current_timezone()
    found = qs.annotate(_m=TruncMonth(path, tzinfo=tz)).values_list("_m", flat=True).distinct()
    return {f"{m:%Y-%m}" for m in found if m is not None}


def live_records(organization: Any, window: Window) -> Any:
    """The unit's ledger records of the period, without reversing entries and the records they undo."""
    return LedgerRecord.objects.filter(
        window.q("occurred_at"), organization=organization, reverses__isnull=True, reversal__isnull=True
    )


# --- shared items -----------------------------------------------------------------------------------


def not_known() -> ItemEvidence:
    ev = ItemEvidence()
    ev.fact("平台记录 / Platform records", NOT_KNOWN)
    return ev


def plan_evidence(organization: Any, window: Window) -> ItemEvidence:
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
        first = local_date(filed[0].filed_at) if filed else None
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


def declaration_evidence(organization: Any, window: Window) -> ItemEvidence:
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
        submitted = local_date(declaration.submitted_at)
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


def findings_cap(organization: Any, items: dict[str, ItemEvidence]) -> None:
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
