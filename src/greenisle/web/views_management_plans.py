"""Management plan pages (HJ 1259-2022 §5): prepare, edit by section for the site's class, file,
review by the bureau, amend, and the filing receipt."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from greenisle.core.errors import ServiceError
from greenisle.manifests.choices import WasteForm
from greenisle.manifests.receipt import TREATMENT_METHODS
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Organization, ServiceContract
from greenisle.plans import core as plan_core
from greenisle.plans.classification import REGULATOR_ROLES
from greenisle.plans.models import ManagementPlan, PlanStatus, TransferType
from greenisle.plans.services import (
    EDITABLE,
    PlanIncomplete,
    filer_role,
    plan_amend,
    plan_check,
    plan_file,
    plan_prepare,
    plan_review,
    plan_update,
)
from greenisle.web.obligations_common import (
    allowed,
    class_label,
    membership_or_404,
    obligations_url,
    show_error,
    uuid_or_404,
)
from greenisle.web.views import _service_call

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


@require_POST
@login_required
def plan_new(request: HttpRequest) -> HttpResponse:
    membership = membership_or_404(request)
    site_id = request.POST.get("site_id", "").strip()
    try:
        year = int(request.POST.get("year", ""))
    except ValueError:
        messages.error(request, _("The year must be a number.") + " [year]")
        return redirect(obligations_url(site_id, membership))
    created: dict[str, ManagementPlan] = {}

    def call() -> None:
        created["plan"] = plan_prepare(actor=request.user, site_id=uuid_or_404(site_id), year=year)

    if _service_call(request, call, _("Here is the plan to complete.")):
        return redirect("web:management_plan", plan_id=created["plan"].pk)
    return redirect(obligations_url(site_id, membership))


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
    membership = membership_or_404(request)
    org = membership.organization
    may_file = org.kind in (OrganizationKind.PRODUCER, OrganizationKind.COLLECTOR) and allowed(
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
        "class_label": class_label(plan.management_class),
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
        "obligations_url": obligations_url(plan.site_id, membership) if may_file else "",
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
        show_error(request, exc)
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
    from greenisle.plans.documents import plan_receipt_pdf

    plan = _plan_or_404(request, plan_id)
    if not plan.filing_number:
        raise Http404
    response = HttpResponse(plan_receipt_pdf(plan), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="plan-receipt-{plan.filing_number}.pdf"'
    return response
