"""Obligations pages (HJ 1259-2022 §5 management plans, §7 declarations): a producer's plan and
declarations per site, and the bureau's filing and declaration completeness per district.

Thin views: each POST calls one service; a refusal (``ServiceError``, ``PermissionDenied``) is shown
as a message naming the field. What a person may not see is a 404."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from greenisle.ledger import core as ledger_core
from greenisle.ledger.declarations import (
    declarations_owed,
    sites_declaring,
)
from greenisle.ledger.models import Declaration, DeclarationStatus, PeriodKind
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Division, Site
from greenisle.plans import core as plan_core
from greenisle.plans.classification import site_class_now
from greenisle.plans.models import IN_FORCE, ManagementPlan
from greenisle.plans.services import (
    COLLECTOR_FILER_ROLES,
    FILER_ROLES,
)
from greenisle.web.obligations_common import (
    class_label,
    membership_or_404,
    plan_status,
    uuid_or_404,
)


def _obligation_sites(request: HttpRequest) -> tuple[list[Site], Site | None]:
    """The sites whose obligations the person sees: every site of their producer, or (for a collector's
    staff, with ``?site=``) one client's site."""
    membership = membership_or_404(request)
    org = membership.organization
    wanted = request.GET.get("site", "").strip()
    sites = Site.objects.select_related("organization", "division").order_by("name")
    if org.kind == OrganizationKind.PRODUCER and membership.role in FILER_ROLES:
        sites = sites.filter(organization=org)
        if wanted:
            sites = sites.filter(pk=uuid_or_404(wanted))
            if not sites:
                raise Http404
        return list(sites), None
    if org.kind == OrganizationKind.COLLECTOR and membership.role in COLLECTOR_FILER_ROLES and wanted:
        site = sites_declaring(org).filter(pk=uuid_or_404(wanted)).first()
        if site is None:
            raise Http404
        return [site], site
    raise Http404


def _site_obligations(site: Site, today: dt.date) -> dict[str, Any]:
    # The class as the ledger makes it now (§4.2.3), read without writing; the bureau's override wins.
    classification = site_class_now(site, today.year)
    plans = list(ManagementPlan.objects.filter(site=site, year=today.year))
    plan = plan_status(plans)
    periods = list(reversed(declarations_owed(site, today)))
    existing: dict[tuple[str, dt.date], Declaration] = {}
    if periods:
        existing = {
            (d.kind, d.period_start): d
            for d in Declaration.objects.filter(site=site, period_start__gte=min(p.start for p in periods))
        }
    due = plan_core.plan_due_on(today.year)
    declarations = []
    for period in periods:
        declaration = existing.get((period.kind, period.start))
        submitted = declaration is not None and declaration.status == DeclarationStatus.SUBMITTED
        declarations.append(
            {
                "period": period,
                "kind_label": dict(PeriodKind.choices).get(period.kind, period.kind),
                "declaration": declaration,
                "state": declaration.status if declaration else "none",
                "overdue": not submitted and today > period.due_on,
            }
        )
    return {
        "site": site,
        "classification": classification,
        "management_class": classification.effective_class,
        "class_label": class_label(classification.effective_class),
        "plan": plan,
        "plan_due_on": due,
        "plan_overdue": plan["in_force"] is None and today > due,
        "declarations": declarations,
    }


@login_required
def obligations(request: HttpRequest) -> HttpResponse:
    sites, client_site = _obligation_sites(request)
    today = timezone.localdate()
    return render(
        request,
        "web/obligations.html",
        {
            "rows": [_site_obligations(site, today) for site in sites],
            "client_site": client_site,
            "year": today.year,
            "today": today,
        },
    )


def _regulator(request: HttpRequest) -> Any:
    membership = membership_or_404(request)
    if membership.organization.kind != OrganizationKind.REGULATOR:
        raise Http404
    return membership


def _pct(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}" if whole else "—"


@login_required
def regulator_obligations(request: HttpRequest) -> HttpResponse:
    """Per district: producer sites, plans in force this year, plans overdue (none in force after
    31 March), last year's annual declarations submitted and overdue. Four aggregate queries."""
    _regulator(request)
    user = request.user
    today = timezone.localdate()
    year = today.year
    plan_due = plan_core.plan_due_on(year)
    annual = ledger_core.period_of(ledger_core.YEAR, dt.date(year - 1, 1, 1))
    sites = Site.objects.visible_to(user).filter(organization__kind=OrganizationKind.PRODUCER)
    division = request.GET.get("division", "").strip()
    if division:
        # A district outside the bureau's division is not there for it.
        if (
            not division.startswith(_scope_prefix(request))
            or not Division.objects.filter(code=division).exists()
        ):
            raise Http404
        sites = sites.filter(division_id=division)
    plans = ManagementPlan.objects.visible_to(user).filter(
        year=year, site__organization__kind=OrganizationKind.PRODUCER
    )
    declarations = Declaration.objects.visible_to(user).filter(
        kind=ledger_core.YEAR, period_start=annual.start, site__organization__kind=OrganizationKind.PRODUCER
    )
    context: dict[str, Any] = {
        "year": year,
        "last_year": year - 1,
        "plan_due_on": plan_due,
        "declaration_due_on": annual.due_on,
        "plan_late": today > plan_due,
        "declaration_late": today > annual.due_on,
    }
    if division:
        return _regulator_division(request, division, sites, plans, declarations, context)
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
    rows = []
    totals = {"sites": 0, "in_force": 0, "plans_overdue": 0, "submitted": 0, "declarations_overdue": 0}
    for code in sorted(per_division):
        n = per_division[code]["sites"]
        row = {
            "code": code,
            "name": per_division[code]["division__name"],
            "sites": n,
            "in_force": in_force.get(code, 0),
            "submitted": submitted.get(code, 0),
        }
        row["plans_overdue"] = n - row["in_force"] if context["plan_late"] else 0
        row["declarations_overdue"] = n - row["submitted"] if context["declaration_late"] else 0
        for key in totals:
            totals[key] += row[key]
        row["in_force_pct"] = _pct(row["in_force"], n)
        row["submitted_pct"] = _pct(row["submitted"], n)
        rows.append(row)
    totals_view = {
        **totals,
        "in_force_pct": _pct(totals["in_force"], totals["sites"]),
        "submitted_pct": _pct(totals["submitted"], totals["sites"]),
    }
    return render(request, "web/regulator_obligations.html", {**context, "rows": rows, "totals": totals_view})


def _regulator_division(
    request: HttpRequest,
    division: str,
    sites: Any,
    plans: Any,
    declarations: Any,
    context: dict[str, Any],
) -> HttpResponse:
    site_list = list(
        sites.select_related("organization", "classification").order_by("organization__name", "name")
    )
    by_site: dict[Any, list[ManagementPlan]] = {}
    for p in plans.filter(site__division_id=division):
        by_site.setdefault(p.site_id, []).append(p)
    annual = {d.site_id: d for d in declarations.filter(site__division_id=division)}
    rows = []
    for site in site_list:
        classification = getattr(site, "classification", None)
        plan = plan_status(by_site.get(site.pk, []))
        declaration = annual.get(site.pk)
        submitted = declaration is not None and declaration.status == DeclarationStatus.SUBMITTED
        rows.append(
            {
                "site": site,
                "class_label": class_label(classification.effective_class if classification else ""),
                "plan": plan,
                "declaration": declaration,
                "plan_overdue": context["plan_late"] and plan["in_force"] is None,
                "declaration_overdue": context["declaration_late"] and not submitted,
            }
        )
    return render(
        request,
        "web/regulator_obligations.html",
        {
            **context,
            "division": Division.objects.filter(code=division).first(),
            "sites": rows,
            "plans_overdue": [r for r in rows if r["plan_overdue"]],
            "declarations_overdue": [r for r in rows if r["declaration_overdue"]],
            "in_force_count": sum(1 for r in rows if r["plan"]["in_force"]),
            "submitted_count": sum(
                1 for r in rows if r["declaration"] and r["declaration"].status == DeclarationStatus.SUBMITTED
            ),
        },
    )


def _scope_prefix(request: HttpRequest) -> str:
    from greenisle.organizations.visibility import scope_for

    scope = scope_for(request.user)
    return scope.division_prefix if scope else "\0"
