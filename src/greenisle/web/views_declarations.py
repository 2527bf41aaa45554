"""Declaration pages (HJ 1259-2022 §7): the Appendix C figures with one-click submission, the
exports, and a collector filing for all its clients with progress."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from greenisle.core.errors import ServiceError
from greenisle.ledger import core as ledger_core
from greenisle.ledger.declarations import (
    declaration_for,
    declaration_prepare,
    declaration_submit,
    declarer_role,
    fingerprint,
    sites_declaring,
)
from greenisle.ledger.models import BulkFiling, BulkFilingStatus, Declaration, DeclarationStatus, PeriodKind
from greenisle.manifests.receipt import TREATMENT_METHODS
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Site
from greenisle.plans import core as plan_core
from greenisle.plans.models import ManagementPlan
from greenisle.plans.services import (
    COLLECTOR_FILER_ROLES,
)
from greenisle.web.obligations_common import (
    allowed,
    class_label,
    membership_or_404,
    obligations_url,
    plan_status,
    show_error,
    uuid_or_404,
)
from greenisle.web.views import _service_call

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _declaration_or_404(request: HttpRequest, declaration_id: Any) -> Declaration:
    try:
        declaration = declaration_for(request.user, declaration_id)
    except ServiceError:
        raise Http404 from None
    if declaration.status == DeclarationStatus.DRAFT:
        # A draft follows the ledger: what is shown (and fingerprinted) is what it says now.
        period = ledger_core.period_of(declaration.kind, declaration.period_start)
        declaration = declaration_prepare(site=declaration.site, period=period)
    return declaration


@login_required
def declaration_detail(request: HttpRequest, declaration_id: Any) -> HttpResponse:
    declaration = _declaration_or_404(request, declaration_id)
    membership = membership_or_404(request)
    today = timezone.localdate()
    may_declare = membership.organization.kind in (
        OrganizationKind.PRODUCER,
        OrganizationKind.COLLECTOR,
    ) and allowed(lambda: declarer_role(request.user, declaration.site))
    content = declaration.content or {}
    ended = declaration.period_end <= today
    rows = []
    for row in content.get("rows", []):
        own_t = sum((Decimal(o["t"]) for o in row.get("own", [])), Decimal("0.000"))
        out_t = sum((Decimal(o["t"]) for o in row.get("outsourced", [])), Decimal("0.000"))
        rows.append({**row, "own_t": own_t, "outsourced_t": out_t})
    return render(
        request,
        "web/declaration.html",
        {
            "declaration": declaration,
            "content": content,
            "unit": content.get("unit", {}),
            "period": content.get("period", {}),
            "rows": rows,
            "last_day": declaration.period_end - dt.timedelta(days=1),
            "class_label": class_label(declaration.management_class),
            "kind_label": dict(PeriodKind.choices).get(declaration.kind, declaration.kind),
            "totals": content.get("totals", {}),
            "fingerprint": fingerprint(content),
            "ended": ended,
            "overdue": declaration.status != DeclarationStatus.SUBMITTED and today > declaration.due_on,
            "may_submit": may_declare and ended and declaration.status != DeclarationStatus.SUBMITTED,
            "obligations_url": obligations_url(declaration.site_id, membership) if may_declare else "",
            "methods": TREATMENT_METHODS,
        },
    )


@require_POST
@login_required
def declaration_submit_view(request: HttpRequest, declaration_id: Any) -> HttpResponse:
    declaration = _declaration_or_404(request, declaration_id)
    submitted: dict[str, Declaration] = {}

    def call() -> None:
        submitted["d"] = declaration_submit(
            actor=request.user,
            declaration_id=declaration.pk,
            figures_seen=request.POST.get("figures_seen", ""),
        )

    try:
        call()
    except ServiceError as exc:
        if exc.code == "figures_changed":
            messages.warning(request, _("The figures below are the refreshed ones: review them again."))
        show_error(request, exc)
    else:
        messages.success(
            request,
            _("Declaration submitted. Receipt number: %(number)s")
            % {"number": submitted["d"].receipt_number},
        )
    return redirect("web:declaration", declaration_id=declaration.pk)


def _export(request: HttpRequest, declaration_id: Any, what: str) -> HttpResponse:
    from greenisle.ledger import exports

    declaration = _declaration_or_404(request, declaration_id)
    if what == "xlsx":
        body, content_type = exports.declaration_xlsx(declaration), XLSX
    else:
        body, content_type = exports.declaration_pdf(declaration), "application/pdf"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="declaration-{declaration.label}.{what}"'
    return response


@login_required
def declaration_xlsx_view(request: HttpRequest, declaration_id: Any) -> HttpResponse:
    return _export(request, declaration_id, "xlsx")


@login_required
def declaration_pdf_view(request: HttpRequest, declaration_id: Any) -> HttpResponse:
    return _export(request, declaration_id, "pdf")


@require_POST
@login_required
def declaration_prepare_view(request: HttpRequest) -> HttpResponse:
    """Prepare (or refresh) one site's declaration of one period and open it. Only for the site's own
    organisation or its collector: Site.visible_to gives exactly those to a producer or collector."""
    membership = membership_or_404(request)
    if membership.organization.kind not in (OrganizationKind.PRODUCER, OrganizationKind.COLLECTOR):
        raise Http404
    site_id = request.POST.get("site_id", "")
    site = Site.objects.visible_to(request.user).filter(pk=uuid_or_404(site_id)).first()
    if site is None:
        raise Http404
    back = obligations_url(site.pk, membership)
    kind = request.POST.get("kind", "")
    label = request.POST.get("label", "").strip()
    try:
        period = ledger_core.parse_period(kind, label)
    except ValueError:
        messages.error(
            request,
            _("%(label)s is not a period (2026-03, 2026-Q1 or 2026).") % {"label": label} + " [label]",
        )
        return redirect(back)
    if period.start > timezone.localdate():
        messages.error(request, _("That period has not started.") + " [label]")
        return redirect(back)
    declaration = declaration_prepare(site=site, period=period)
    return redirect("web:declaration", declaration_id=declaration.pk)


def _collector(request: HttpRequest) -> Any:
    membership = membership_or_404(request)
    if (
        membership.organization.kind != OrganizationKind.COLLECTOR
        or membership.role not in COLLECTOR_FILER_ROLES
    ):
        raise Http404
    return membership.organization


def _bulk_view(bulk: BulkFiling | None) -> dict[str, Any]:
    if bulk is None:
        return {"bulk": None}
    processed = bulk.done + bulk.skipped + len(bulk.failures or [])
    if bulk.total:
        pct = min(100, processed * 100 // bulk.total)
    else:
        pct = 100 if bulk.status in (BulkFilingStatus.DONE, BulkFilingStatus.FAILED) else 0
    return {
        "bulk": bulk,
        "bulk_processed": processed,
        "bulk_pct": pct,
        "bulk_working": bulk.status in (BulkFilingStatus.QUEUED, BulkFilingStatus.RUNNING),
    }


@login_required
def client_filing(request: HttpRequest) -> HttpResponse:
    collector = _collector(request)
    today = timezone.localdate()
    if request.method == "POST":
        what = request.POST.get("what", "")
        started: dict[str, BulkFiling] = {}

        def call() -> None:
            from greenisle.ledger.bulk import bulk_filing_start

            started["bulk"] = bulk_filing_start(
                actor=request.user, what=what, period_label=request.POST.get("period", "")
            )

        if _service_call(request, call, _("Filing for all clients started.")):
            return redirect(reverse("web:client_filing") + "?" + urlencode({"bulk": started["bulk"].pk}))
        return redirect("web:client_filing")
    sites = list(
        sites_declaring(collector).select_related("classification").order_by("organization__name", "name")
    )
    plans: dict[Any, list[ManagementPlan]] = {}
    for p in ManagementPlan.objects.filter(site__in=sites, year=today.year):
        plans.setdefault(p.site_id, []).append(p)
    last_year = dt.date(today.year - 1, 1, 1)
    annual = {
        d.site_id: d
        for d in Declaration.objects.filter(site__in=sites, kind=ledger_core.YEAR, period_start=last_year)
    }
    rows = []
    for site in sites:
        classification = getattr(site, "classification", None)
        rows.append(
            {
                "site": site,
                "class_label": class_label(classification.effective_class if classification else ""),
                "plan": plan_status(plans.get(site.pk, [])),
                "declaration": annual.get(site.pk),
            }
        )
    wanted = request.GET.get("bulk", "").strip()
    bulks = BulkFiling.objects.filter(collector=collector)
    bulk = bulks.filter(pk=uuid_or_404(wanted)).first() if wanted else bulks.order_by("-created_at").first()
    if wanted and bulk is None:
        raise Http404
    return render(
        request,
        "web/client_filing.html",
        {
            "rows": rows,
            "year": today.year,
            "last_year": today.year - 1,
            "plan_due_on": plan_core.plan_due_on(today.year),
            **_bulk_view(bulk),
        },
    )


@login_required
def client_filing_progress(request: HttpRequest, bulk_id: Any) -> HttpResponse:
    collector = _collector(request)
    bulk = BulkFiling.objects.filter(pk=bulk_id, collector=collector).first()
    if bulk is None:
        raise Http404
    if not request.headers.get("HX-Request"):
        return redirect(reverse("web:client_filing") + "?" + urlencode({"bulk": bulk.pk}))
    return render(request, "web/_bulk_progress.html", _bulk_view(bulk))
