"""Findings pages: the findings a person may see (the bureau its division's; an organisation those about
it and those it must rectify) and one finding's follow-up — evidence, repeat chain, audit trail and the
forms for exactly the steps the person may take now (``supervision.actions``, from the same transition
table the services enforce).

Thin views: each POST calls one service. A refusal is shown as a message naming the field, on the page
again with what was typed (nothing valid is lost); success redirects back to the finding. A finding the
person may not see is a 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from greenisle.core.errors import ServiceError
from greenisle.organizations.models import Division
from greenisle.supervision import actions as finding_steps
from greenisle.supervision import rules, services
from greenisle.supervision.choices import AWAITING_RECTIFICATION, FindingStatus, Severity
from greenisle.supervision.models import Finding
from greenisle.supervision.selectors import (
    finding_events,
    finding_list_visible_to,
    finding_repeat_chain,
    finding_visible,
)
from greenisle.web.finding_evidence import audit_href, evidence_rows
from greenisle.web.views import _page

# The finding's states in the words of follow-up. The context keeps "Open"/"Assigned" apart from the
# same English words used for pickup requests (待派车/已派车).
STATUS_LABELS: dict[str, Any] = {
    FindingStatus.OPEN: pgettext_lazy("finding status", "Open"),
    FindingStatus.ASSIGNED: pgettext_lazy("finding status", "Assigned"),
    FindingStatus.RECTIFICATION_SUBMITTED: pgettext_lazy("finding status", "Rectification submitted"),
    FindingStatus.VERIFIED: pgettext_lazy("finding status", "Verified"),
    FindingStatus.CLOSED: pgettext_lazy("finding status", "Closed"),
    FindingStatus.DISMISSED: pgettext_lazy("finding status", "Dismissed"),
}

EVIDENCE_LABELS: dict[str, Any] = {
    "object": gettext_lazy("Object of the finding"),
    "container_code": gettext_lazy("Container code"),
    "waste_code": gettext_lazy("Waste code"),
    "weight_kg": gettext_lazy("Weight (kg)"),
    "manifest_id": gettext_lazy("Manifest"),
    "bin_id": gettext_lazy("Bin"),
    "trip_id": gettext_lazy("Trip"),
    "vehicle_id": gettext_lazy("Vehicle"),
    "request_id": gettext_lazy("Pickup request"),
    "pickup_request_id": gettext_lazy("Pickup request"),
    "manifest_number": gettext_lazy("Manifest number"),
    "site_id": gettext_lazy("Site"),
    "due_on": gettext_lazy("Due on"),
    "balances": gettext_lazy("Balances"),
}

YES = "1"


@dataclass(frozen=True)
class Filters:
    status: str = ""
    severity: str = ""
    rule: str = ""
    division: str = ""
    overdue: bool = False
    mine: bool = False


def _choice(request: HttpRequest, name: str, allowed: Any) -> str:
    value = request.GET.get(name, "").strip()
    if value and value not in allowed:
        messages.error(
            request,
            _("Unknown value “%(value)s”: this filter is left out. [%(field)s]")
            % {"value": value[:60], "field": name},
        )
        return ""
    return value


def _filters(request: HttpRequest) -> Filters:
    division = request.GET.get("division", "").strip()
    if division and not (division.isdigit() and len(division) <= 6):
        messages.error(
            request,
            _("A division code is up to 6 digits: this filter is left out. [%(field)s]")
            % {"field": "division"},
        )
        division = ""
    return Filters(
        status=_choice(request, "status", FindingStatus.values),
        severity=_choice(request, "severity", Severity.values),
        rule=_choice(request, "rule", rules.RULES),
        division=division,
        overdue=request.GET.get("overdue") == YES,
        mine=request.GET.get("mine") == YES,
    )


def is_overdue(finding: Finding, today: dt.date) -> bool:
    """The owner has not answered by the deadline (the same test as the API's ``overdue``)."""
    return bool(finding.status in AWAITING_RECTIFICATION and finding.deadline and finding.deadline < today)


def _decorate(finding: Finding, today: dt.date) -> Finding:
    """What a row and the detail page show beside the model's fields."""
    finding.info = rules.RULES.get(finding.rule)
    finding.overdue = is_overdue(finding, today)
    finding.status_label = STATUS_LABELS.get(finding.status, finding.status)
    return finding


def _division_choices(user: Any) -> list[tuple[str, str]]:
    codes = sorted(set(Finding.objects.visible_to(user).order_by().values_list("division_code", flat=True)))
    names = dict(Division.objects.filter(code__in=codes).values_list("code", "name"))
    return [(code, names.get(code, code)) for code in codes]


@login_required
def findings(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = timezone.localdate()
    f = _filters(request)
    qs = finding_list_visible_to(user, rule=f.rule or None, severity=f.severity or None, division=f.division)
    if f.overdue:
        qs = qs.filter(status__in=AWAITING_RECTIFICATION, deadline__lt=today)
    if f.mine:
        qs = qs.filter(assigned_to=user)
    # Per state, under the other filters: one aggregate query.
    by_status = dict(qs.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n"))
    if f.status:
        qs = qs.filter(status=f.status)
    page = _page(request, qs)
    for finding in page.object_list:
        _decorate(finding, today)
    membership = getattr(user, "current_membership", None)
    is_regulator = membership is not None and membership.organization.kind == "regulator"
    return render(
        request,
        "web/findings.html",
        {
            "page": page,
            "filters": f,
            "counts": [
                {"status": value, "label": STATUS_LABELS[value], "n": by_status.get(value, 0)}
                for value in FindingStatus.values
            ],
            "total": sum(by_status.values()),
            "statuses": [(value, STATUS_LABELS[value]) for value in FindingStatus.values],
            "severities": Severity.choices,
            "rule_choices": [(code, info.title) for code, info in rules.RULES.items()],
            "divisions": _division_choices(user) if is_regulator else [],
            "is_regulator": is_regulator,
        },
    )


def _visible(request: HttpRequest, finding_id: Any) -> Finding:
    finding = finding_visible(request.user, finding_id)
    if finding is None:
        raise Http404
    return finding


def _detail(request: HttpRequest, finding: Finding, *, posted: Any = None, status: int = 200) -> HttpResponse:
    user = request.user
    _decorate(finding, timezone.localdate())
    allowed = finding_steps.finding_actions(user, finding)
    rows = [
        {
            "key": row.key,
            "label": EVIDENCE_LABELS.get(row.key, ""),
            "value": row.value,
            "href": row.href,
            "links": row.links,
        }
        for row in evidence_rows(finding.object_type, finding.object_id, finding.evidence)
    ]
    chain = finding_repeat_chain(finding, user)
    for earlier in chain:
        _decorate(earlier, timezone.localdate())
    return render(
        request,
        "web/finding_detail.html",
        {
            "finding": finding,
            "evidence": rows,
            "repeat_chain": chain,
            "repeated_by": list(
                Finding.objects.visible_to(user).filter(repeat_of=finding).order_by("created_at")
            ),
            "timeline": finding_events(finding).select_related("actor", "organization"),
            "audit_href": audit_href(str(finding.pk)),
            "object_audit_href": audit_href(finding.object_id),
            "can": {step: step in allowed for step in finding_steps.ACTIONS},
            "may_act": bool(allowed),
            "assignees": finding_steps.finding_assignees(user, finding)
            if finding_steps.ASSIGN in allowed
            else [],
            "posted": posted or {},
            "today": timezone.localdate(),
        },
        status=status,
    )


@login_required
def finding_detail(request: HttpRequest, finding_id: Any) -> HttpResponse:
    return _detail(request, _visible(request, finding_id))


def _act(request: HttpRequest, finding_id: Any, call: Callable[[Finding], Any], success: str) -> HttpResponse:
    """Run one follow-up service on a finding the person can see; on refusal show the page again with the
    message naming the field and the form as it was filled in."""
    finding = _visible(request, finding_id)
    try:
        call(finding)
    except ServiceError as exc:
        field = f" [{exc.field}]" if exc.field else ""
        messages.error(request, f"{exc.message}{field}")
        return _detail(request, _visible(request, finding_id), posted=request.POST, status=exc.status)
    messages.success(request, success)
    return redirect("web:finding", finding_id=finding.pk)


def _date(value: str, field: str) -> dt.date | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ServiceError(f"日期格式应为 YYYY-MM-DD / {field}: a date is YYYY-MM-DD", field=field) from None


def _user_id(value: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise ServiceError("须选择监管人员 / assigned_to: choose an inspector", field="assigned_to")
    return int(text)


@require_POST
@login_required
def finding_assign(request: HttpRequest, finding_id: Any) -> HttpResponse:
    post = request.POST
    return _act(
        request,
        finding_id,
        lambda f: services.finding_assign(
            actor=request.user,
            finding_id=f.pk,
            assigned_to_id=_user_id(post.get("assigned_to", "")),
            deadline=_date(post.get("deadline", ""), "deadline"),
        ),
        _("Finding assigned; the organisation that must rectify it has been told."),
    )


@require_POST
@login_required
def finding_rectify(request: HttpRequest, finding_id: Any) -> HttpResponse:
    return _act(
        request,
        finding_id,
        lambda f: services.finding_rectify(
            actor=request.user, finding_id=f.pk, rectification=request.POST.get("rectification", "")
        ),
        _("Rectification submitted; the bureau will verify it."),
    )


@require_POST
@login_required
def finding_verify(request: HttpRequest, finding_id: Any) -> HttpResponse:
    post = request.POST
    decision = post.get("decision", "")
    return _act(
        request,
        finding_id,
        lambda f: services.finding_verify(
            actor=request.user,
            finding_id=f.pk,
            decision=decision,
            note=post.get("note", ""),
            deadline=_date(post.get("deadline", ""), "deadline") if decision == "reject" else None,
        ),
        _("Rectification accepted.") if decision == "accept" else _("Rectification sent back to the owner."),
    )


@require_POST
@login_required
def finding_close(request: HttpRequest, finding_id: Any) -> HttpResponse:
    return _act(
        request,
        finding_id,
        lambda f: services.finding_close(
            actor=request.user, finding_id=f.pk, note=request.POST.get("note", "")
        ),
        _("Finding closed."),
    )


@require_POST
@login_required
def finding_dismiss(request: HttpRequest, finding_id: Any) -> HttpResponse:
    return _act(
        request,
        finding_id,
        lambda f: services.finding_dismiss(
            actor=request.user, finding_id=f.pk, reason=request.POST.get("reason", "")
        ),
        _("Finding dismissed."),
    )
