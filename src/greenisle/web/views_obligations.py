"""Obligations pages (HJ 1259-2022 §5 management plans, §7 declarations): a producer's plan and
declarations per site, the plan by section with its filing and review, a declaration's Appendix C
figures with one-click submission, a collector filing for all its clients, and the bureau's
completeness per district.

Thin views: each POST calls one service; a refusal (``ServiceError``, ``PermissionDenied``) is shown
as a message naming the field. What a person may not see is a 404."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.ledger import core as ledger_core
from greenisle.ledger.declarations import (
    declaration_for,
    declaration_prepare,
    declaration_submit,
    declarations_owed,
    declarer_role,
    fingerprint,
    sites_declaring,
)
from greenisle.ledger.models import BulkFiling, BulkFilingStatus, Declaration, DeclarationStatus, PeriodKind
from greenisle.manifests.choices import WasteForm
from greenisle.manifests.receipt import TREATMENT_METHODS
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Division, Organization, ServiceContract, Site
from greenisle.plans import core as plan_core
from greenisle.plans.models import IN_FORCE, ManagementClass, ManagementPlan, PlanStatus, TransferType
from greenisle.plans.services import (
    COLLECTOR_FILER_ROLES,
    EDITABLE,
    FILER_ROLES,
    REGULATOR_ROLES,
    PlanIncomplete,
    filer_role,
    plan_amend,
    plan_check,
    plan_file,
    plan_prepare,
    plan_review,
    plan_update,
    site_classify,
)
from greenisle.web.views import _service_call

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_WASTE_ROWS = 100

# A.3/A.4/A.7 of one waste, as the plan form names its inputs (``w<i>-<name>``).
WASTE_TEXT_FIELDS = (
    "waste_code",
    "internal_name",
    "facility_code",
    "hazardous_constituents",
    "form",
    "annual_t",
    "storage_facility_code",
    "storage_type",
    "packaging",
    "year_end_stock_t",
    "transfer_type",
    "transfer_t",
    "method",
)
# Table A.2 and A.5 rows as typed in their textareas: one per line, parts separated by "|".
FACILITY_KEYS = ("name", "code", "parameters")
OWN_TREATMENT_KEYS = ("facility", "method", "capacity")


# --- who is asking ----------------------------------------------------------------------------------


def _membership(request: HttpRequest) -> Any:
    membership = getattr(request.user, "current_membership", None)
    if membership is None:
        raise Http404
    return membership


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None


def _allowed(check: Any) -> bool:
    try:
        check()
    except PermissionDenied:
        return False
    return True


def _error(request: HttpRequest, exc: ServiceError) -> None:
    field = f" [{exc.field}]" if exc.field else ""
    messages.error(request, f"{exc.message}{field}")


def _class_label(value: str) -> str:
    return str(dict(ManagementClass.choices).get(value, "—")) if value else "—"


def _plan_status(plans: Sequence[ManagementPlan]) -> dict[str, Any]:
    """One site's plans of one year (any order): the revision in force, the one being worked on, and
    the state the pages show: approved, filed, returned, draft or none."""
    ordered = sorted(plans, key=lambda p: p.revision, reverse=True)
    in_force = next((p for p in ordered if p.status in IN_FORCE), None)
    working = next((p for p in ordered if p.status in EDITABLE), None)
    if in_force is not None:
        state = in_force.status
    elif working is not None:
        state = working.status
    else:
        state = "none"
    return {
        "in_force": in_force,
        "working": working,
        "state": state,
        "latest": ordered[0] if ordered else None,
    }


# --- 1. a producer's obligations -------------------------------------------------------------------


def _obligation_sites(request: HttpRequest) -> tuple[list[Site], Site | None]:
    """The sites whose obligations the person sees: every site of their producer, or (for a collector's
    staff, with ``?site=``) one client's site."""
    membership = _membership(request)
    org = membership.organization
    wanted = request.GET.get("site", "").strip()
    sites = Site.objects.select_related("organization", "division").order_by("name")
    if org.kind == OrganizationKind.PRODUCER and membership.role in FILER_ROLES:
        sites = sites.filter(organization=org)
        if wanted:
            sites = sites.filter(pk=_uuid_or_404(wanted))
            if not sites:
                raise Http404
        return list(sites), None
    if org.kind == OrganizationKind.COLLECTOR and membership.role in COLLECTOR_FILER_ROLES and wanted:
        site = sites_declaring(org).filter(pk=_uuid_or_404(wanted)).first()
        if site is None:
            raise Http404
        return [site], site
    raise Http404


def _site_obligations(site: Site, today: dt.date) -> dict[str, Any]:
    # Keeps the class current from the ledger (§4.2.3); an override by the bureau stays in force.
    classification = site_classify(site_id=site.pk, year=today.year)
    plans = list(ManagementPlan.objects.filter(site=site, year=today.year))
    plan = _plan_status(plans)
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
        "class_label": _class_label(classification.effective_class),
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


def _obligations_url(site_id: Any, membership: Any) -> str:
    url = reverse("web:obligations")
    if membership.organization.kind == OrganizationKind.COLLECTOR and site_id:
        url += "?" + urlencode({"site": str(site_id)})
    return url


@require_POST
@login_required
def plan_new(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    site_id = request.POST.get("site_id", "").strip()
    try:
        year = int(request.POST.get("year", ""))
    except ValueError:
        messages.error(request, _("The year must be a number.") + " [year]")
        return redirect(_obligations_url(site_id, membership))
    created: dict[str, ManagementPlan] = {}

    def call() -> None:
        created["plan"] = plan_prepare(actor=request.user, site_id=_uuid_or_404(site_id), year=year)

    if _service_call(request, call, _("Here is the plan to complete.")):
        return redirect("web:management_plan", plan_id=created["plan"].pk)
    return redirect(_obligations_url(site_id, membership))


# --- 2. a management plan ----------------------------------------------------------------------------


def _plan_or_404(request: HttpRequest, plan_id: Any) -> ManagementPlan:
    plan = (
        ManagementPlan.objects.visible_to(request.user)
        .select_related(
            "site__organization",
            "site__division",
            "amends",
            "filed_by",
            "filed_by_organization",
            "reviewed_by",
        )
        .filter(pk=plan_id)
        .first()
    )
    if plan is None:
        raise Http404
    return plan


def _lines(text: str, keys: Sequence[str]) -> list[dict[str, str]]:
    """ "名称 | 编码 | 参数" per line into dicts of ``keys``; extra parts stay in the last one."""
    rows = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in re.split(r"[|｜]", line)]
        if len(parts) > len(keys):
            parts = [*parts[: len(keys) - 1], " | ".join(parts[len(keys) - 1 :])]
        parts += [""] * (len(keys) - len(parts))
        rows.append(dict(zip(keys, parts, strict=True)))
    return rows


def _lines_text(rows: Iterable[dict[str, Any]], keys: Sequence[str]) -> str:
    return "\n".join(" | ".join(str(row.get(k) or "") for k in keys) for row in rows)


def _waste_rows_from_plan(plan: ManagementPlan) -> list[dict[str, Any]]:
    rows = []
    for w in plan.wastes.select_related("waste_code").prefetch_related("receivers").order_by("waste_code"):
        row = {name: getattr(w, name) for name in WASTE_TEXT_FIELDS if name != "waste_code"}
        row = {k: "" if v is None else str(v) for k, v in row.items()}
        row["waste_code"] = w.waste_code.code
        row["name"] = w.waste_code.short_name
        row["receivers"] = [str(r.pk) for r in w.receivers.all()]
        rows.append(row)
    return rows


def _waste_rows_from_post(post: Any) -> tuple[list[dict[str, Any]], list[int]]:
    """The waste rows the form sent (left out: rows marked for removal and the blank extra row), with
    each kept row's number on the form."""
    try:
        count = min(int(post.get("waste_count", "0")), MAX_WASTE_ROWS)
    except ValueError:
        count = 0
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    for i in range(count):
        prefix = f"w{i}-"
        if post.get(prefix + "delete"):
            continue
        row: dict[str, Any] = {name: post.get(prefix + name, "").strip() for name in WASTE_TEXT_FIELDS}
        row["receivers"] = [r for r in post.getlist(prefix + "receivers") if r]
        typed = [v for k, v in row.items() if k not in ("transfer_type", "receivers") and v]
        if not typed and not row["receivers"]:
            continue
        rows.append(row)
        numbers.append(i)
    return rows, numbers


def _form_field(field: str | None, numbers: Sequence[int]) -> str | None:
    """The service names ``wastes[j]`` by its place in the list sent; the form by its row number."""
    if not field:
        return field
    match = re.match(r"wastes\[(\d+)\]", field)
    if match and int(match.group(1)) < len(numbers):
        return f"wastes[{numbers[int(match.group(1))]}]" + field[match.end() :]
    return field


def _receiver_choices(plan: ManagementPlan, rows: Sequence[dict[str, Any]]) -> list[Organization]:
    """Collectors the producer has a contract with, and the receivers already listed."""
    contracted = ServiceContract.objects.active().filter(producer_id=plan.site.organization_id)
    listed = {r for row in rows for r in row.get("receivers", [])}
    ids = {str(c) for c in contracted.values_list("collector_id", flat=True)} | listed
    valid = []
    for value in ids:
        try:
            valid.append(uuid.UUID(value))
        except ValueError:
            continue
    return list(
        Organization.objects.filter(
            pk__in=valid, kind__in=[OrganizationKind.COLLECTOR, OrganizationKind.FACILITY]
        ).order_by("kind", "name")
    )


def _plan_context(
    request: HttpRequest, plan: ManagementPlan, *, posted: dict[str, Any] | None = None
) -> dict[str, Any]:
    membership = _membership(request)
    org = membership.organization
    may_file = org.kind in (OrganizationKind.PRODUCER, OrganizationKind.COLLECTOR) and _allowed(
        lambda: filer_role(membership, plan.site)
    )
    may_review = org.kind == OrganizationKind.REGULATOR and membership.role in REGULATOR_ROLES
    sections = plan_core.SECTIONS[plan.management_class]
    editable = may_file and plan.status in EDITABLE
    if posted is not None:
        form = posted
    else:
        form = {
            "basic": {name: plan.basic.get(name, "") for name in plan_core.BASIC_FIELDS},
            "wastes": _waste_rows_from_plan(plan),
            "facilities": _lines_text(plan.facilities, FACILITY_KEYS),
            "own_treatment": _lines_text(plan.own_treatment, OWN_TREATMENT_KEYS),
            "measures": str((plan.reduction or {}).get("measures") or ""),
        }
    receivers = _receiver_choices(plan, form["wastes"])
    names = {str(o.pk): o.name for o in receivers}
    form_labels = dict(WasteForm.choices)
    wastes = list(
        plan.wastes.select_related("waste_code").prefetch_related("receivers").order_by("waste_code")
    )
    for w in wastes:
        w.form_label = form_labels.get(w.form, w.form)
    form_wastes = [
        {**row, "i": i, "receiver_names": [names.get(r, r) for r in row.get("receivers", [])]}
        for i, row in enumerate(form["wastes"])
    ]
    # One blank row to add a waste.
    form_wastes.append(
        {
            **{name: "" for name in WASTE_TEXT_FIELDS},
            "transfer_type": TransferType.IN_PROVINCE,
            "receivers": [],
            "i": len(form_wastes),
            "new": True,
        }
    )
    revisions = list(
        ManagementPlan.objects.filter(site=plan.site, year=plan.year).exclude(pk=plan.pk).order_by("revision")
    )
    today = timezone.localdate()
    due = plan_core.plan_due_on(plan.year)
    return {
        "plan": plan,
        "site": plan.site,
        "sections": sections,
        "section_titles": [(s, plan_core.SECTION_TITLES[s]) for s in sections],
        "titles": {code.replace(".", ""): title for code, title in plan_core.SECTION_TITLES.items()},
        "basic_fields": [
            (name, label, form["basic"].get(name, "")) for name, label in plan_core.BASIC_FIELDS.items()
        ],
        "form": form,
        "form_wastes": form_wastes,
        "waste_count": len(form_wastes),
        "wastes": wastes,
        "receivers": receivers,
        "forms": WasteForm.choices,
        "form_labels": form_labels,
        "class_label": _class_label(plan.management_class),
        "transfer_types": TransferType.choices,
        "methods": sorted(TREATMENT_METHODS.items()),
        "problems": plan_check(plan) if plan.status in EDITABLE else [],
        "editable": editable,
        "may_file": may_file,
        "may_review": may_review and plan.status == PlanStatus.FILED,
        "may_amend": may_file and plan.in_force and not ManagementPlan.objects.filter(amends=plan).exists(),
        "amendment": ManagementPlan.objects.filter(amends=plan).first(),
        "revisions": revisions,
        "due_on": due,
        "overdue": plan.status in EDITABLE and today > due,
        "obligations_url": _obligations_url(plan.site_id, membership) if may_file else "",
    }


def _posted_plan(post: Any) -> tuple[dict[str, Any], list[int]]:
    rows, numbers = _waste_rows_from_post(post)
    return (
        {
            "basic": {name: post.get(f"basic-{name}", "") for name in plan_core.BASIC_FIELDS},
            "wastes": rows,
            "facilities": post.get("facilities", ""),
            "own_treatment": post.get("own_treatment", ""),
            "measures": post.get("measures", ""),
        },
        numbers,
    )


def _plan_save(request: HttpRequest, plan: ManagementPlan, form: dict[str, Any], numbers: list[int]) -> bool:
    sections = plan_core.SECTIONS[plan.management_class]
    seen: dict[str, int] = {}
    for row, number in zip(form["wastes"], numbers, strict=True):
        code = row["waste_code"]
        if code and code in seen:
            messages.error(
                request,
                _("Waste code %(code)s is listed twice.") % {"code": code}
                + f" [wastes[{number}].waste_code]",
            )
            return False
        seen[code] = number
    try:
        plan_update(
            actor=request.user,
            plan_id=plan.pk,
            basic=form["basic"],
            wastes=form["wastes"],
            facilities=_lines(form["facilities"], FACILITY_KEYS) if "A.2" in sections else None,
            own_treatment=_lines(form["own_treatment"], OWN_TREATMENT_KEYS) if "A.5" in sections else None,
            reduction={**(plan.reduction or {}), "measures": form["measures"].strip()}
            if "A.6" in sections
            else None,
        )
    except ServiceError as exc:
        field = _form_field(exc.field, numbers)
        messages.error(request, f"{exc.message}" + (f" [{field}]" if field else ""))
        return False
    return True


def _problem_messages(request: HttpRequest, problems: Iterable[plan_core.Problem]) -> None:
    for p in problems:
        messages.error(request, f"{p.section} · {p.message} [{p.field}]")


@login_required
def management_plan(request: HttpRequest, plan_id: Any) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    if request.method != "POST":
        return render(request, "web/management_plan.html", _plan_context(request, plan))
    form, numbers = _posted_plan(request.POST)
    if not _plan_save(request, plan, form, numbers):
        # Nothing typed is lost: the form comes back as it was sent, with the refusal above it.
        plan.refresh_from_db()
        return render(request, "web/management_plan.html", _plan_context(request, plan, posted=form))
    if request.POST.get("action") != "file":
        messages.success(request, _("Plan saved."))
        return redirect("web:management_plan", plan_id=plan.pk)
    try:
        filed = plan_file(actor=request.user, plan_id=plan.pk)
    except PlanIncomplete as exc:
        messages.error(request, exc.message)
        _problem_messages(request, exc.problems)
    except ServiceError as exc:
        _error(request, exc)
    else:
        messages.success(
            request, _("Plan filed. Filing number: %(number)s") % {"number": filed.filing_number}
        )
    return redirect("web:management_plan", plan_id=plan.pk)


@require_POST
@login_required
def management_plan_review(request: HttpRequest, plan_id: Any) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    decision = request.POST.get("decision", "")
    _service_call(
        request,
        lambda: plan_review(
            actor=request.user, plan_id=plan.pk, decision=decision, note=request.POST.get("note", "")
        ),
        _("Plan approved.") if decision == "approve" else _("Plan returned to the producer."),
    )
    return redirect("web:management_plan", plan_id=plan.pk)


@require_POST
@login_required
def management_plan_amend(request: HttpRequest, plan_id: Any) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    created: dict[str, ManagementPlan] = {}

    def call() -> None:
        created["plan"] = plan_amend(actor=request.user, plan_id=plan.pk)

    if _service_call(request, call, _("Amendment started: the plan in force stays until it is filed.")):
        return redirect("web:management_plan", plan_id=created["plan"].pk)
    return redirect("web:management_plan", plan_id=plan.pk)


@login_required
def management_plan_receipt(request: HttpRequest, plan_id: Any) -> HttpResponse:
    from greenisle.ledger.exports import plan_receipt_pdf

    plan = _plan_or_404(request, plan_id)
    if not plan.filing_number:
        raise Http404
    response = HttpResponse(plan_receipt_pdf(plan), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="plan-receipt-{plan.filing_number}.pdf"'
    return response


# --- 3. a declaration --------------------------------------------------------------------------------


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
    membership = _membership(request)
    today = timezone.localdate()
    may_declare = membership.organization.kind in (
        OrganizationKind.PRODUCER,
        OrganizationKind.COLLECTOR,
    ) and _allowed(lambda: declarer_role(request.user, declaration.site))
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
            "class_label": _class_label(declaration.management_class),
            "kind_label": dict(PeriodKind.choices).get(declaration.kind, declaration.kind),
            "totals": content.get("totals", {}),
            "fingerprint": fingerprint(content),
            "ended": ended,
            "overdue": declaration.status != DeclarationStatus.SUBMITTED and today > declaration.due_on,
            "may_submit": may_declare and ended and declaration.status != DeclarationStatus.SUBMITTED,
            "obligations_url": _obligations_url(declaration.site_id, membership) if may_declare else "",
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
        _error(request, exc)
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
    membership = _membership(request)
    if membership.organization.kind not in (OrganizationKind.PRODUCER, OrganizationKind.COLLECTOR):
        raise Http404
    site_id = request.POST.get("site_id", "")
    site = Site.objects.visible_to(request.user).filter(pk=_uuid_or_404(site_id)).first()
    if site is None:
        raise Http404
    back = _obligations_url(site.pk, membership)
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


# --- 4. a collector filing for its clients -------------------------------------------------------------


def _collector(request: HttpRequest) -> Any:
    membership = _membership(request)
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
                "class_label": _class_label(classification.effective_class if classification else ""),
                "plan": _plan_status(plans.get(site.pk, [])),
                "declaration": annual.get(site.pk),
            }
        )
    wanted = request.GET.get("bulk", "").strip()
    bulks = BulkFiling.objects.filter(collector=collector)
    bulk = bulks.filter(pk=_uuid_or_404(wanted)).first() if wanted else bulks.order_by("-created_at").first()
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


# --- 5. the bureau: completeness per district ----------------------------------------------------------


def _regulator(request: HttpRequest) -> Any:
    membership = _membership(request)
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
        plan = _plan_status(by_site.get(site.pk, []))
        declaration = annual.get(site.pk)
        submitted = declaration is not None and declaration.status == DeclarationStatus.SUBMITTED
        rows.append(
            {
                "site": site,
                "class_label": _class_label(classification.effective_class if classification else ""),
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
