"""A producer's site without a management plan in force for this year after it was due.

The same reading as the bureau's obligations page (``web.views_obligations.regulator_obligations``):
the plan is due by ``plans.core.plan_due_on`` (31 March, HJ 1259 §5.2.2) and counts once filed or
approved (``plans.models.IN_FORCE``). Raised ``grace_days`` after the due date on each producer site
still without one; once a year per site.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from django.db.models import Exists, OuterRef

from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Site
from greenisle.plans import core as plan_core
from greenisle.plans.models import IN_FORCE, ManagementPlan
from greenisle.supervision.checks.base import already_raised, local_day, local_midnight, raise_on
from greenisle.supervision.rules import HJ_1259, OWNER_ORGANIZATION, SOLID_WASTE_LAW, RuleInfo

RULE: Final = RuleInfo(
    code="plan.overdue",
    title_zh="未按期制定并备案危险废物管理计划",
    title_en="Management plan not filed by its due date",
    regulation=(
        f"{SOLID_WASTE_LAW}第七十八条第一款、第二款（制定危险废物管理计划并报所在地生态环境主管部门备案）；"
        f"{HJ_1259}第5章（5.2.2 每年3月31日前备案当年计划）"
    ),
    severity="C",
    owner=OWNER_ORGANIZATION,
    deadline_working_days=10,
)

DEFAULTS: Final[dict[str, Any]] = {"grace_days": 0}


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    today = local_day(now)
    year = today.year
    due = plan_core.plan_due_on(year)
    sites = Site.objects.filter(organization__kind=OrganizationKind.PRODUCER)
    if today <= due + dt.timedelta(days=params["grace_days"]):
        return {"checked": 0, "breaches": 0, "raised": 0}
    in_force = ManagementPlan.objects.filter(site=OuterRef("pk"), year=year, status__in=IN_FORCE)
    missing = list(
        sites.exclude(Exists(in_force))
        .select_related("organization")
        .order_by("organization__name", "name", "pk")
    )
    done = already_raised(RULE.code, Site, (s.pk for s in missing), since=local_midnight(dt.date(year, 1, 1)))
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
                f"{site.organization.name}（{site.name}）{year} 年危险废物管理计划应于 {due} 前备案，至今未备案 / "
                f"{site.organization.name} ({site.name}): no {year} management plan filed, due {due}"
            ),
            evidence={
                "site_id": str(site.pk),
                "producer_id": str(site.organization_id),
                "year": year,
                "due_on": due.isoformat(),
                "days_late": (today - due).days,
            },
            now=now,
        )
    return {"checked": sites.count(), "breaches": len(missing), "raised": raised}
