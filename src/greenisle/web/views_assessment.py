"""Standardised-management assessment pages (规范化环境管理评估): the list by role, one assessment with
its items, the platform's evidence and a form per stage (self-assessment, district review, city spot
check), evidence uploads, an enterprise's history, and the benchmark enterprises."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from greenisle.assessment import access, attachments, checklists, selectors, services
from greenisle.assessment.benchmarks import BENCHMARK_MAX_PER_INDUSTRY, benchmark_publish
from greenisle.assessment.choices import EDITABLE, AssessmentResult, AssessmentStatus
from greenisle.assessment.models import Assessment
from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.web.obligations_common import allowed, membership_or_404, show_error
from greenisle.web.views import _page, _service_call

STAGE_FIELDS = {"self": ("s", "n"), "district": ("d", "dn"), "city": ("c", "cn")}


def _year(value: Any, default: int | None = None) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _assessment_or_404(request: HttpRequest, assessment_id: Any) -> Assessment:
    assessment = selectors.assessment_visible(request.user, assessment_id)
    if assessment is None:
        raise Http404
    return assessment


@login_required
def assessments(request: HttpRequest) -> HttpResponse:
    membership = membership_or_404(request)
    year = _year(request.GET.get("year"))
    status = request.GET.get("status") or None
    if status not in AssessmentStatus.values:
        status = None
    qs = selectors.assessment_list_visible_to(request.user, year=year, status=status)
    this_year = timezone.localdate().year
    org = membership.organization
    starters = org.kind == "regulator" and membership.role in access.REGULATOR_ROLES
    starters = starters or (
        org.kind in ("producer", "collector") and membership.role in access.COLLECTOR_ROLES
    )
    return render(
        request,
        "web/assessment_list.html",
        {
            "page": _page(request, qs),
            "year": year,
            "status": status or "",
            "statuses": AssessmentStatus.choices,
            "years": list(range(this_year, this_year - 6, -1)),
            "default_year": this_year - 1,
            "organizations": list(selectors.organizations_assessable(request.user)[:500]) if starters else [],
            "summary": selectors.results_summary(request.user, year=year or this_year - 1)
            if org.kind == "regulator"
            else None,
            "summary_year": year or this_year - 1,
            "results": AssessmentResult.choices,
        },
    )


@require_POST
@login_required
def assessment_start(request: HttpRequest) -> HttpResponse:
    year = _year(request.POST.get("year"))
    try:
        organization_id = uuid.UUID(request.POST.get("organization_id", "").strip())
    except ValueError:
        messages.error(request, _("Choose an organisation.") + " [organization_id]")
        return redirect("web:assessments")
    if year is None:
        messages.error(request, _("The year must be a number.") + " [year]")
        return redirect("web:assessments")
    created: dict[str, Assessment] = {}

    def call() -> None:
        created["a"] = services.assessment_start(
            actor=request.user, organization_id=organization_id, year=year
        )

    if _service_call(request, call, _("Assessment started: the platform's evidence is filled in.")):
        return redirect("web:assessment", assessment_id=created["a"].pk)
    return redirect("web:assessments")


def _permissions(request: HttpRequest, assessment: Assessment) -> dict[str, bool]:
    membership = membership_or_404(request)
    org = membership.organization
    is_bureau = org.kind == "regulator"
    status = assessment.status

    def district() -> None:
        access.require_district(membership, assessment)

    def city() -> None:
        access.require_city(membership, assessment)

    may_self = not is_bureau and allowed(lambda: access.self_role(membership, assessment.organization_id))
    may_district = is_bureau and allowed(district)
    may_city = is_bureau and allowed(city)
    return {
        "may_self": may_self and status in EDITABLE,
        "may_review": may_district and status == AssessmentStatus.SELF_SUBMITTED,
        "may_check": may_city and status == AssessmentStatus.DISTRICT_REVIEWED,
        "may_finalise": (status == AssessmentStatus.DISTRICT_REVIEWED and (may_district or may_city))
        or (status == AssessmentStatus.CITY_CHECKED and may_city),
        "may_return": (status == AssessmentStatus.SELF_SUBMITTED and may_district)
        or (status == AssessmentStatus.DISTRICT_REVIEWED and may_city),
    }


def _form_rows(assessment: Assessment, posted: dict[str, Any] | None, stage: str) -> list[dict[str, Any]]:
    """Per item: checklist text, evidence, attachments, and the values the stage's form shows (as sent,
    after a refusal; else as saved, defaulting to the suggestion or the previous stage's score)."""
    previous = {"self": None, "district": "self", "city": "district"}[stage]
    score_field, note_field = STAGE_FIELDS[stage]
    rows = []
    for r in selectors.assessment_items(assessment):
        saved = r.row.score_at(stage)
        if saved is None:
            saved = r.row.score_at(previous) if previous else r.row.suggested_score
        note = getattr(r.row, f"{stage}_note")
        if posted is not None:
            value = posted.get(f"{score_field}-{r.code}", "")
            note = posted.get(f"{note_field}-{r.code}", "")
        else:
            value = "" if saved is None else str(saved)
        rows.append(
            {
                "r": r,
                "value": value,
                "note": note,
                "score_name": f"{score_field}-{r.code}",
                "note_name": f"{note_field}-{r.code}",
                "previous": r.row.score_at(previous) if previous else r.row.suggested_score,
            }
        )
    return rows


def _detail_context(
    request: HttpRequest,
    assessment: Assessment,
    *,
    posted: dict[str, Any] | None = None,
    stage: str | None = None,
) -> dict[str, Any]:
    perms = _permissions(request, assessment)
    form_stage = stage or (
        "self"
        if perms["may_self"]
        else "district"
        if perms["may_review"]
        else "city"
        if perms["may_check"]
        else None
    )
    live = checklists.outcome(
        assessment.kind,
        {
            i.code: (i.self_score if i.self_score is not None else i.suggested_score)
            for i in assessment.items.all()
        },
    )
    results = dict(AssessmentResult.choices)
    outcomes = assessment.stage_outcomes or {}
    stage_rows = [
        {
            "name": name,
            "at": at,
            "by": by,
            "where": where,
            "note": note,
            "pct": (outcomes.get(stage) or {}).get("pct"),
            "result": results.get((outcomes.get(stage) or {}).get("result", ""), ""),
        }
        for stage, name, at, by, where, note in (
            (
                "self",
                _("Self-assessment"),
                assessment.self_submitted_at,
                assessment.self_submitted_by,
                assessment.self_submitted_by_organization,
                "",
            ),
            (
                "district",
                _("District review"),
                assessment.district_reviewed_at,
                assessment.district_reviewed_by,
                assessment.district_organization,
                assessment.district_note,
            ),
            (
                "city",
                _("City spot check"),
                assessment.city_checked_at,
                assessment.city_checked_by,
                assessment.city_organization,
                assessment.city_note,
            ),
        )
    ]
    return {
        "a": assessment,
        "stage_rows": stage_rows,
        **perms,
        "may_upload": perms["may_self"] or perms["may_review"] or perms["may_check"],
        "form_stage": form_stage,
        "rows": _form_rows(assessment, posted if form_stage == stage else None, form_stage or "self"),
        "general_files": selectors.general_attachments(assessment),
        "history": list(selectors.assessment_history(request.user, assessment.organization_id)),
        "events": list(selectors.assessment_events(assessment)),
        "result_title": checklists.RESULT_TITLES.get(assessment.result, ""),
        "preview": live,
        "preview_title": checklists.RESULT_TITLES[live.result],
        "pass_pct": checklists.PASS_PCT,
        "basic_pct": checklists.BASIC_PCT,
        "scores": checklists.SCORES,
        "posted_note": (posted or {}).get("note", ""),
    }


def _posted_scores(post: Any, assessment: Assessment, stage: str) -> dict[str, dict[str, str]]:
    score_field, note_field = STAGE_FIELDS[stage]
    return {
        i.code: {
            "score": post.get(f"{score_field}-{i.code}", ""),
            "note": post.get(f"{note_field}-{i.code}", ""),
        }
        for i in checklists.checklist(assessment.kind)
        if f"{score_field}-{i.code}" in post
    }


def _refused(request: HttpRequest, assessment: Assessment, exc: ServiceError, stage: str) -> HttpResponse:
    """Nothing typed is lost: the form comes back as sent, with the refusal above it."""
    show_error(request, exc)
    assessment.refresh_from_db()
    context = _detail_context(request, assessment, posted=dict(request.POST.items()), stage=stage)
    return render(request, "web/assessment_detail.html", context, status=400)


@login_required
def assessment_detail(request: HttpRequest, assessment_id: Any) -> HttpResponse:
    assessment = _assessment_or_404(request, assessment_id)
    if request.method != "POST":
        return render(request, "web/assessment_detail.html", _detail_context(request, assessment))
    # The self-assessment form: save, or save and submit.
    try:
        services.assessment_self_save(
            actor=request.user,
            assessment_id=assessment.pk,
            scores=_posted_scores(request.POST, assessment, "self"),
        )
        if request.POST.get("action") == "submit":
            services.assessment_submit(actor=request.user, assessment_id=assessment.pk)
            messages.success(request, _("Self-assessment submitted to the district bureau."))
        else:
            messages.success(request, _("Self-assessment saved."))
    except ServiceError as exc:
        if isinstance(exc, PermissionDenied):
            raise Http404 from None
        return _refused(request, assessment, exc, "self")
    return redirect("web:assessment", assessment_id=assessment.pk)


def _stage_post(
    request: HttpRequest,
    assessment_id: Any,
    stage: str,
    call: Callable[[Assessment, dict[str, Any]], Any],
    done: str,
) -> HttpResponse:
    assessment = _assessment_or_404(request, assessment_id)
    try:
        call(assessment, _posted_scores(request.POST, assessment, stage))
    except ServiceError as exc:
        return _refused(request, assessment, exc, stage)
    messages.success(request, done)
    return redirect("web:assessment", assessment_id=assessment.pk)


@require_POST
@login_required
def assessment_review(request: HttpRequest, assessment_id: Any) -> HttpResponse:
    return _stage_post(
        request,
        assessment_id,
        "district",
        lambda a, scores: services.assessment_review(
            actor=request.user, assessment_id=a.pk, scores=scores, note=request.POST.get("note", "")
        ),
        _("District review recorded."),
    )


@require_POST
@login_required
def assessment_check(request: HttpRequest, assessment_id: Any) -> HttpResponse:
    return _stage_post(
        request,
        assessment_id,
        "city",
        lambda a, scores: services.assessment_check(
            actor=request.user, assessment_id=a.pk, scores=scores, note=request.POST.get("note", "")
        ),
        _("City spot check recorded."),
    )


@require_POST
@login_required
def assessment_finalise(request: HttpRequest, assessment_id: Any) -> HttpResponse:
    assessment = _assessment_or_404(request, assessment_id)
    _service_call(
        request,
        lambda: services.assessment_finalise(actor=request.user, assessment_id=assessment.pk),
        _("The result is final."),
    )
    return redirect("web:assessment", assessment_id=assessment.pk)


@require_POST
@login_required
def assessment_return(request: HttpRequest, assessment_id: Any) -> HttpResponse:
    assessment = _assessment_or_404(request, assessment_id)
    _service_call(
        request,
        lambda: services.assessment_return(
            actor=request.user, assessment_id=assessment.pk, reason=request.POST.get("reason", "")
        ),
        _("Assessment returned to the enterprise."),
    )
    return redirect("web:assessment", assessment_id=assessment.pk)


@require_POST
@login_required
def assessment_refresh(request: HttpRequest, assessment_id: Any) -> HttpResponse:
    assessment = _assessment_or_404(request, assessment_id)
    _service_call(
        request,
        lambda: services.assessment_refresh(actor=request.user, assessment_id=assessment.pk),
        _("Evidence gathered again from the platform's records."),
    )
    return redirect("web:assessment", assessment_id=assessment.pk)


@require_POST
@login_required
def assessment_upload(request: HttpRequest, assessment_id: Any) -> HttpResponse:
    assessment = _assessment_or_404(request, assessment_id)
    item_code = request.POST.get("item_code", "")
    _service_call(
        request,
        lambda: attachments.attachment_add(
            actor=request.user,
            assessment_id=assessment.pk,
            upload=request.FILES.get("file"),
            item_code=item_code,
            note=request.POST.get("note", ""),
        ),
        _("File uploaded."),
    )
    anchor = f"#item-{item_code}" if item_code else "#files"
    return redirect(reverse("web:assessment", kwargs={"assessment_id": assessment.pk}) + anchor)


@login_required
def attachment_download(request: HttpRequest, attachment_id: Any) -> FileResponse:
    attachment = selectors.attachment_visible(request.user, attachment_id)
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=attachment.content_type, filename=attachment.original_name)
    response["Content-Disposition"] = response["Content-Disposition"].replace("attachment", "inline", 1)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def organization_history(request: HttpRequest, organization_id: Any) -> HttpResponse:
    rows = list(selectors.assessment_history(request.user, organization_id))
    if not rows:
        raise Http404
    return render(
        request,
        "web/assessment_history.html",
        {"organization": rows[0].organization, "rows": rows},
    )


@login_required
def benchmarks(request: HttpRequest) -> HttpResponse:
    """The published benchmark enterprises (every logged-in person); for the bureau, the ranking of this
    year's candidates, and for the city bureau the action to publish it."""
    membership = membership_or_404(request)
    org = membership.organization
    this_year = timezone.localdate().year
    year = _year(request.GET.get("year") or request.POST.get("year"), this_year - 1) or this_year - 1
    per_industry = _year(request.GET.get("per_industry") or request.POST.get("per_industry"), 3) or 3
    per_industry = max(1, min(per_industry, BENCHMARK_MAX_PER_INDUSTRY))
    is_bureau = org.kind == "regulator" and membership.role in access.REGULATOR_ROLES
    may_publish = is_bureau and access.is_city_level(org.division_id)
    if request.method == "POST":
        if not may_publish:
            raise Http404
        try:
            benchmark_publish(
                actor=request.user, year=year, per_industry=per_industry, note=request.POST.get("note", "")
            )
        except ServiceError as exc:
            show_error(request, exc)
        else:
            messages.success(request, _("Benchmark list published."))
        return redirect(f"{request.path}?year={year}&per_industry={per_industry}")
    return render(
        request,
        "web/assessment_benchmarks.html",
        {
            "lists": list(selectors.benchmark_lists()[:20]),
            "ranking": selectors.benchmark_ranking(request.user, year=year, per_industry=per_industry)
            if is_bureau
            else None,
            "year": year,
            "years": list(range(this_year, this_year - 6, -1)),
            "per_industry": per_industry,
            "may_publish": may_publish,
        },
    )


# Mounted under /assessment/ by web/urls.py (names in the ``web`` namespace).
urlpatterns = [
    path("", assessments, name="assessments"),
    path("start/", assessment_start, name="assessment_start"),
    path("benchmarks/", benchmarks, name="assessment_benchmarks"),
    path("<uuid:assessment_id>/", assessment_detail, name="assessment"),
    path("<uuid:assessment_id>/refresh/", assessment_refresh, name="assessment_refresh"),
    path("<uuid:assessment_id>/upload/", assessment_upload, name="assessment_upload"),
    path("<uuid:assessment_id>/review/", assessment_review, name="assessment_review"),
    path("<uuid:assessment_id>/check/", assessment_check, name="assessment_check"),
    path("<uuid:assessment_id>/finalise/", assessment_finalise, name="assessment_finalise"),
    path("<uuid:assessment_id>/return/", assessment_return, name="assessment_return"),
    path("attachments/<uuid:attachment_id>/", attachment_download, name="assessment_attachment"),
    path("organizations/<uuid:organization_id>/", organization_history, name="assessment_history"),
]
