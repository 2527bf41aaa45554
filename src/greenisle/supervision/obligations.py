"""Filing completeness per district for a bureau: producer sites, management plans in force this year
and overdue (none in force after the plan's due date, 固废法 Art. 78 and HJ 1259-2022 §4), last year's
annual declarations submitted and overdue. Four aggregate queries whatever the number of sites; the
regulator's obligations page and the monthly supervision report read the same figures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from greenisle.ledger import core as ledger_core
from greenisle.ledger.models import Declaration, DeclarationStatus
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Site
from greenisle.plans import core as plan_core
from greenisle.plans.models import IN_FORCE, ManagementPlan


def pct(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}" if whole else "—"


@dataclass
class ObligationRow:
    code: str
    name: str
    sites: int = 0
    in_force: int = 0
    plans_overdue: int = 0
    submitted: int = 0
    declarations_overdue: int = 0

    @property
    def in_force_pct(self) -> str:
        return pct(self.in_force, self.sites)

    @property
    def submitted_pct(self) -> str:
        return pct(self.submitted, self.sites)


@dataclass
class Obligations:
    today: dt.date
    year: int
    plan_due_on: dt.date
    declaration_due_on: dt.date
    rows: list[ObligationRow] = field(default_factory=list)

    @property
    def plan_late(self) -> bool:
        return self.today > self.plan_due_on

    @property
    def declaration_late(self) -> bool:
        return self.today > self.declaration_due_on

    @property
    def total(self) -> ObligationRow:
        total = ObligationRow(code="", name="")
        for row in self.rows:
            for key in ("sites", "in_force", "plans_overdue", "submitted", "declarations_overdue"):
                setattr(total, key, getattr(total, key) + getattr(row, key))
        return total


def producer_sites(user: Any) -> Any:
    return Site.objects.visible_to(user).filter(organization__kind=OrganizationKind.PRODUCER)


def plans_of_year(user: Any, year: int) -> Any:
    return ManagementPlan.objects.visible_to(user).filter(
        year=year, site__organization__kind=OrganizationKind.PRODUCER
    )


def annual_declarations(user: Any, year: int) -> Any:
    """The producers' annual declarations for ``year`` (filed the next year)."""
    annual = ledger_core.period_of(ledger_core.YEAR, dt.date(year, 1, 1))
    return Declaration.objects.visible_to(user).filter(
        kind=ledger_core.YEAR, period_start=annual.start, site__organization__kind=OrganizationKind.PRODUCER
    )


def obligations_by_division(user: Any, today: dt.date, *, prefix: str = "") -> Obligations:
    """Per district in the user's jurisdiction (and under ``prefix`` if given), as of ``today``: this
    year's plans and last year's annual declarations."""
    year = today.year
    result = Obligations(
        today=today,
        year=year,
        plan_due_on=plan_core.plan_due_on(year),
        declaration_due_on=ledger_core.period_of(ledger_core.YEAR, dt.date(year - 1, 1, 1)).due_on,
    )
    sites = producer_sites(user)
    plans = plans_of_year(user, year)
    declarations = annual_declarations(user, year - 1)
    if prefix:
        sites = sites.filter(division__code__startswith=prefix)
        plans = plans.filter(site__division__code__startswith=prefix)
        declarations = declarations.filter(site__division__code__startswith=prefix)
    per_division = {
        row["division_id"]: row
        for row in sites.values("division_id", "division__name").annotate(sites=Count("id")).order_by()
    }
    in_force = dict(
        plans.filter(status__in=IN_FORCE)
        .values("site__division_id")
        .annotate(n=Count("site_id", distinct=True))
        .order_by()
        .values_list("site__division_id", "n")
    )
    submitted = dict(
        declarations.filter(status=DeclarationStatus.SUBMITTED)
        .values("site__division_id")
        .annotate(n=Count("site_id", distinct=True))
        .order_by()
        .values_list("site__division_id", "n")
    )
    for code in sorted(per_division):
        n = per_division[code]["sites"]
        row = ObligationRow(
            code=code,
            name=per_division[code]["division__name"],
            sites=n,
            in_force=in_force.get(code, 0),
            submitted=submitted.get(code, 0),
        )
        row.plans_overdue = n - row.in_force if result.plan_late else 0
        row.declarations_overdue = n - row.submitted if result.declaration_late else 0
        result.rows.append(row)
    return result
