"""Obligations pages (HJ 1259-2022 §5 management plans, §7 declarations): a producer's plan and
declarations per site, and the bureau's filing and declaration completeness per district.

Thin views: each POST calls one service; a refusal (``ServiceError``, ``PermissionDenied``) is shown
as a message naming the field. What a person may not see is a 404."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from greenisle.ledger.declarations import (
    declarations_owed,
    sites_declaring,
)
from greenisle.ledger.models import Declaration, DeclarationStatus, PeriodKind
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Division, Site
from greenisle.plans import core as plan_core
from greenisle.plans.classification import site_class_now
from greenisle.plans.models import ManagementPlan
from greenisle.plans.services import (
    COLLECTOR_FILER_ROLES,
    FILER_ROLES,
)
from greenisle.supervision.obligations import (
    annual_declarations,
    obligations_by_division,
    plans_of_year,
    producer_sites,
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


@login_required
def regulator_obligations(request: HttpRequest) -> HttpResponse:
    """Per district: producer sites, plans in force this year, plans overdue (none in force after
    31 March), last year's annual declarations submitted and overdue (``supervision.obligations``)."""
    _regulator(request)
    user = request.user
    today = timezone.localdate()
    year = today.year
    figures = obligations_by_division(user, today)
    context: dict[str, Any] = {
        "year": year,
        "last_year": year - 1,
        "plan_due_on": figures.plan_due_on,
        "declaration_due_on": figures.declaration_due_on,
        "plan_late": figures.plan_late,
        "declaration_late": figures.declaration_late,
    }
    division = request.GET.get("division", "").strip()
    if division:
        # A district outside the bureau's division is not there for it.
        if (
            not division.startswith(_scope_prefix(request))
            or not Division.objects.filter(code=division).exists()
        ):
            raise Http404
        sites = producer_sites(user).filter(division_id=division)
        plans = plans_of_year(user, year)
        declarations = annual_declarations(user, year - 1)
        return _regulator_division(request, division, sites, plans, declarations, context)
    return render(
        request,
        "web/regulator_obligations.html",
        {**context, "rows": figures.rows, "totals": figures.total},
    )


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
