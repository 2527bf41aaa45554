"""A producer's site that has not submitted last year's annual declaration after it was due.

The same reading as the bureau's obligations page (``web.views_obligations.regulator_obligations``):
last year's annual period is ``ledger.core.period_of(YEAR, …)``, due on its ``due_on`` (31 March, HJ
1259 §7.2), and counts once submitted (``DeclarationStatus.SUBMITTED``; a collector may file for its
small client). Sites registered this year owe no declaration for last year. Raised ``grace_days``
after the due date; once a year per site.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from django.db.models import Exists, OuterRef

from greenisle.ledger import core as ledger_core
from greenisle.ledger.models import Declaration, DeclarationStatus
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Site
from greenisle.supervision.checks.base import already_raised, local_day, local_midnight, raise_on
from greenisle.supervision.rules import HJ_1259, OWNER_ORGANIZATION, SOLID_WASTE_LAW, RuleInfo

RULE: Final = RuleInfo(
    code="declaration.annual_overdue",
    title_zh="未按期申报上一年度危险废物年度报告",
    title_en="Annual declaration not submitted by its due date",
    regulation=(
        f"{SOLID_WASTE_LAW}第七十八条第一款（通过国家危险废物信息管理系统申报危险废物有关资料）；"
        f"{HJ_1259}第7章（7.2 年度报告于次年3月31日前申报）"
    ),
    severity="C",
    owner=OWNER_ORGANIZATION,
    deadline_working_days=10,
)

DEFAULTS: Final[dict[str, Any]] = {"grace_days": 0}


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    today = local_day(now)
    annual = ledger_core.period_of(ledger_core.YEAR, dt.date(today.year - 1, 1, 1))
    year_start = local_midnight(annual.end)
    sites = Site.objects.filter(organization__kind=OrganizationKind.PRODUCER, created_at__lt=year_start)
    if today <= annual.due_on + dt.timedelta(days=params["grace_days"]):
        return {"checked": 0, "breaches": 0, "raised": 0}
    submitted = Declaration.objects.filter(
        site=OuterRef("pk"),
        kind=ledger_core.YEAR,
        period_start=annual.start,
        status=DeclarationStatus.SUBMITTED,
    )
    missing = list(
        sites.exclude(Exists(submitted))
        .select_related("organization")
        .order_by("organization__name", "name", "pk")
    )
    done = already_raised(RULE.code, Site, (s.pk for s in missing), since=year_start)
    raised = 0
    for site in missing:
        if str(site.pk) in done:
            continue
        raised += raise_on(
            RULE,
            organization=site.organization,
            division_code=site.division_id,
            obj=site,
            message=(
                f"{site.organization.name}（{site.name}）{annual.label_zh}危险废物年度申报应于 {annual.due_on} 前提交，"
                f"至今未提交 / {site.organization.name} ({site.name}): {annual.label} annual declaration not "
                f"submitted, due {annual.due_on}"
            ),
            evidence={
                "site_id": str(site.pk),
                "producer_id": str(site.organization_id),
                "period": annual.label,
                "due_on": annual.due_on.isoformat(),
                "days_late": (today - annual.due_on).days,
            },
            now=now,
        )
    return {"checked": sites.count(), "breaches": len(missing), "raised": raised}
