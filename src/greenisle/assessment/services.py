"""Assessments: start one (with the platform's evidence), self-assess and submit it (the enterprise, or
its collector for a small producer), review it (the district bureau), spot-check it (the city bureau),
make it final or return it. Evidence files are in ``attachments``, benchmark enterprises in
``benchmarks``, who may act and the checks every step shares in ``access``.

Each step locks the assessment, checks who acts (403) and from which state (409), validates its input
(400, naming the field: ``items.<code>.score`` / ``items.<code>.note``), writes the change and its
audit event in one transaction, and tells whoever acts next.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from greenisle.accounts.permissions import membership_of
from greenisle.assessment import checklists
from greenisle.assessment.access import (
    KIND_OF_ORGANIZATION,
    REGULATOR_ROLES,
    assessment_locked,
    city_bureau,
    covers,
    district_bureau,
    note_text,
    regulator_role,
    require_city,
    require_district,
    require_editable,
    require_state,
    self_role,
)
from greenisle.assessment.choices import AssessmentStatus, Stage
from greenisle.assessment.evidence import evidence_gather
from greenisle.assessment.models import Assessment, AssessmentItem, Attachment
from greenisle.assessment.transitions import ASSESSMENT_TRANSITIONS
from greenisle.audit.services import event_record, transition_apply
from greenisle.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from greenisle.notifications.services import notify


def _write_evidence(assessment: Assessment, today: dt.date | None = None) -> dict[str, Any]:
    gathered = evidence_gather(
        organization=assessment.organization, kind=assessment.kind, year=assessment.year, today=today
    )
    existing = {i.code: i for i in assessment.items.all()}
    for position, item in enumerate(checklists.checklist(assessment.kind)):
        ev = gathered[item.code]
        row = existing.get(item.code)
        if row is None:
            AssessmentItem.objects.create(
                assessment=assessment,
                code=item.code,
                position=position,
                suggested_score=ev["suggested"],
                evidence=ev,
            )
        else:
            row.suggested_score = ev["suggested"]
            row.evidence = ev
            row.save(update_fields=["suggested_score", "evidence", "updated_at"])
    return {code: ev["suggested"] for code, ev in gathered.items()}


@transaction.atomic
def assessment_start(
    *, actor: Any, organization_id: Any, year: int, today: dt.date | None = None
) -> Assessment:
    """Open the organisation's assessment for ``year`` (one per organisation and year), with the
    platform's evidence and suggested score per item. The enterprise, its collector (for a small
    producer) or a bureau covering it may start it."""
    from greenisle.organizations.models import Organization

    membership = membership_of(actor)
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        raise NotFound("单位不存在 / no such organisation", field="organization_id")
    kind = KIND_OF_ORGANIZATION.get(organization.kind)
    if kind is None:
        raise ServiceError(
            "只评估产废单位和收集单位 / only producers and collectors are assessed", field="organization_id"
        )
    if membership.organization.kind == "regulator":
        if membership.role not in REGULATOR_ROLES or not covers(
            membership.organization, organization.division_id
        ):
            raise PermissionDenied("该单位不在您的辖区 / the organisation is outside your division")
    else:
        self_role(membership, organization.pk)
    day = today or timezone.localdate()
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= day.year:
        raise ServiceError(f"评估年度须在2000至{day.year}之间 / year: 2000 to {day.year}", field="year")
    if Assessment.objects.filter(organization=organization, year=year).exists():
        raise Conflict(
            f"{organization.name} 的 {year} 年度评估已存在 / {year} is already being assessed",
            field="year",
            code="exists",
        )
    try:
        with transaction.atomic():
            assessment = Assessment.objects.create(
                organization=organization,
                division_code=organization.division_id,
                year=year,
                kind=kind,
                started_by=actor,
                started_by_organization=membership.organization,
                evidence_at=timezone.now(),
            )
    except IntegrityError:
        raise Conflict(
            f"{organization.name} 的 {year} 年度评估已存在 / {year} is already being assessed",
            field="year",
            code="exists",
        ) from None
    suggested = _write_evidence(assessment, day)
    event_record(
        action="assessment.assessment.started",
        obj=assessment,
        actor=actor,
        organization=membership.organization,
        subject_organization=organization,
        division_code=assessment.division_code,
        payload={"year": year, "kind": kind, "suggested": suggested},
    )
    if membership.organization.pk != organization.pk:
        notify(
            organization=organization,
            kind="assessment.started",
            message=(
                f"{year} 年度危险废物规范化环境管理评估已开始，请完成自评 / the {year} standardised-management "
                "assessment has started: please complete the self-assessment"
            ),
            obj=assessment,
        )
    return assessment


@transaction.atomic
def assessment_refresh(*, actor: Any, assessment_id: Any, today: dt.date | None = None) -> Assessment:
    """Gather the evidence again while the self-assessment is being worked on."""
    assessment = assessment_locked(assessment_id)
    membership = membership_of(actor)
    self_role(membership, assessment.organization_id)
    require_editable(assessment)
    suggested = _write_evidence(assessment, today)
    assessment.evidence_at = timezone.now()
    assessment.save(update_fields=["evidence_at", "updated_at"])
    event_record(
        action="assessment.assessment.evidence_refreshed",
        obj=assessment,
        actor=actor,
        organization=membership.organization,
        subject_organization=assessment.organization,
        division_code=assessment.division_code,
        payload={"suggested": suggested},
    )
    return assessment


# --- scores -----------------------------------------------------------------------------------------


def _entry(value: Any) -> tuple[Any, Any, bool]:
    """(score, note, note given) from ``{"score": …, "note": …}`` or a bare score."""
    if isinstance(value, Mapping):
        return value.get("score"), value.get("note"), "note" in value
    return value, None, False


def _parse_scores(
    assessment: Assessment, scores: Mapping[str, Any], *, allow_blank: bool
) -> dict[str, tuple[int | None, str | None]]:
    """Item code → (score or None, note or None when not sent), validated (400 naming ``items.<code>``)."""
    if not isinstance(scores, Mapping):
        raise ServiceError("评分格式错误 / items: an object of item code → score", field="items")
    codes = {i.code for i in checklists.checklist(assessment.kind)}
    parsed: dict[str, tuple[int | None, str | None]] = {}
    for code, value in scores.items():
        if code not in codes:
            raise ServiceError(f"没有评估项 {code} / no item {code} on this checklist", field=f"items.{code}")
        raw, note, has_note = _entry(value)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if not allow_blank:
                raise ServiceError(
                    "须评分（0、1或2）/ a score of 0, 1 or 2 is required", field=f"items.{code}.score"
                )
            score = None
        else:
            try:
                score = checklists.valid_score(raw)
            except ValueError:
                raise ServiceError(
                    f"评分须为0、1或2，收到 {raw!r} / a score is 0, 1 or 2", field=f"items.{code}.score"
                ) from None
        text = note_text(note, f"items.{code}.note", what="说明") if has_note else None
        parsed[code] = (score, text)
    return parsed


def _items(assessment: Assessment) -> dict[str, AssessmentItem]:
    return {i.code: i for i in assessment.items.select_for_update().order_by("position")}


def _stage_scores(items: Mapping[str, AssessmentItem], stage: str) -> dict[str, int | None]:
    return {code: item.score_at(stage) for code, item in items.items()}


def _outcome_fields(
    assessment: Assessment, stage: str, items: Mapping[str, AssessmentItem], actor: Any
) -> dict[str, Any]:
    result = checklists.outcome(assessment.kind, _stage_scores(items, stage))
    outcomes = dict(assessment.stage_outcomes or {})
    outcomes[stage] = {
        "total": result.total,
        "max": result.maximum,
        "pct": str(result.pct),
        "result": result.result,
        "vetoed": list(result.vetoed),
        "at": timezone.now().isoformat(),
        "by": str(actor),
    }
    return {
        "result_stage": stage,
        "score_total": result.total,
        "score_max": result.maximum,
        "score_pct": result.pct,
        "result": result.result,
        "stage_outcomes": outcomes,
    }


@transaction.atomic
def assessment_self_save(*, actor: Any, assessment_id: Any, scores: Mapping[str, Any]) -> Assessment:
    """Save self-assessment scores and notes (any subset; a blank score clears it). A score other than
    the platform's suggestion needs the reason in its note. Nothing is saved unless all is valid."""
    assessment = assessment_locked(assessment_id)
    membership = membership_of(actor)
    self_role(membership, assessment.organization_id)
    require_editable(assessment)
    parsed = _parse_scores(assessment, scores, allow_blank=True)
    items = _items(assessment)
    changed: dict[str, dict[str, Any]] = {}
    for code, (score, note) in parsed.items():
        item = items[code]
        new_note = item.self_note if note is None else note
        if (
            score is not None
            and item.suggested_score is not None
            and score != item.suggested_score
            and not new_note
        ):
            raise ServiceError(
                f"评分 {score} 与平台建议 {item.suggested_score} 不同，须说明理由 / a score other than the "
                f"suggested {item.suggested_score} needs the reason",
                field=f"items.{code}.note",
            )
        if score != item.self_score or new_note != item.self_note:
            item.self_score = score
            item.self_note = new_note
            item.save(update_fields=["self_score", "self_note", "updated_at"])
            changed[code] = {"score": score, "note": new_note}
    if changed:
        event_record(
            action="assessment.assessment.self_scored",
            obj=assessment,
            actor=actor,
            organization=membership.organization,
            subject_organization=assessment.organization,
            division_code=assessment.division_code,
            payload={"items": changed},
        )
    return assessment


def _has_self_evidence(assessment: Assessment) -> set[str]:
    return set(
        Attachment.objects.filter(assessment=assessment, stage=Stage.SELF).values_list("item_code", flat=True)
    )


@transaction.atomic
def assessment_submit(*, actor: Any, assessment_id: Any) -> Assessment:
    """Submit the self-assessment to the district bureau: every item scored, and each item the platform
    could not suggest a score for, if scored above 0, backed by an uploaded file or a note."""
    assessment = assessment_locked(assessment_id)
    membership = membership_of(actor)
    role = self_role(membership, assessment.organization_id)
    require_state(assessment, AssessmentStatus.SELF_SUBMITTED, ("提交自评", "submitted"))
    items = _items(assessment)
    with_files = _has_self_evidence(assessment)
    for code, item in items.items():
        if item.self_score is None:
            raise ServiceError(
                f"「{checklists.item_of(assessment.kind, code).title_zh}」尚未自评 / item {code} is not scored",
                field=f"items.{code}.score",
            )
        if (
            item.suggested_score is None
            and item.self_score > 0
            and code not in with_files
            and not item.self_note
        ):
            raise ServiceError(
                f"「{checklists.item_of(assessment.kind, code).title_zh}」平台无记录，须上传证明材料或填写说明 / "
                f"item {code}: the platform has no record of it, so upload a file or write a note",
                field=f"items.{code}.note",
            )
    now = timezone.now()
    extra = {
        "self_submitted_at": now,
        "self_submitted_by": actor,
        "self_submitted_by_organization": membership.organization if role == "collector" else None,
        **_outcome_fields(assessment, Stage.SELF, items, actor),
    }
    transition_apply(
        table=ASSESSMENT_TRANSITIONS,
        obj=assessment,
        target=AssessmentStatus.SELF_SUBMITTED,
        role=role,
        actor=actor,
        organization=membership.organization,
        subject_organization=assessment.organization,
        division_code=assessment.division_code,
        payload={
            "scores": _stage_scores(items, Stage.SELF),
            "outcome": extra["stage_outcomes"][Stage.SELF],
            "on_behalf": role == "collector",
        },
        extra_fields=extra,
    )
    bureau = district_bureau(assessment.division_code)
    if bureau is not None:
        notify(
            organization=bureau,
            kind="assessment.self_submitted",
            message=(
                f"{assessment.organization.name} 已提交 {assessment.year} 年度规范化管理自评，请复核 / "
                f"{assessment.organization.name} submitted its {assessment.year} self-assessment for review"
            )[:500],
            obj=assessment,
            key=f"assessment.self_submitted:{assessment.pk}:{now:%Y%m%d%H%M%S%f}",
        )
    return assessment


def _review_scores(
    assessment: Assessment,
    items: Mapping[str, AssessmentItem],
    scores: Mapping[str, Any],
    *,
    stage: str,
    previous: str,
) -> dict[str, dict[str, Any]]:
    """Set ``stage``'s score of every item: as sent, else the previous stage's; a change needs a reason."""
    parsed = _parse_scores(assessment, scores or {}, allow_blank=True)
    changes: dict[str, dict[str, Any]] = {}
    for code, item in items.items():
        before = item.score_at(previous)
        score, note = parsed.get(code, (None, None))
        score = before if score is None else score
        note = note or ""
        if score != before and not note:
            raise ServiceError(
                f"「{checklists.item_of(assessment.kind, code).title_zh}」改分须说明理由 / a changed score needs "
                "the reason",
                field=f"items.{code}.note",
            )
        setattr(item, f"{stage}_score", score)
        setattr(item, f"{stage}_note", note)
        item.save(update_fields=[f"{stage}_score", f"{stage}_note", "updated_at"])
        if score != before:
            changes[code] = {"from": before, "to": score, "reason": note}
    return changes


def _bureau_stage(
    *,
    actor: Any,
    assessment_id: Any,
    scores: Mapping[str, Any] | None,
    note: str,
    stage: str,
    previous: str,
    target: str,
    what: tuple[str, str],
    note_what: str,
) -> tuple[Assessment, Any]:
    """A bureau's stage (district review or city spot check): its score per item (the previous stage's
    unless it changes it, with the reason), its note, the outcome, and the transition with its audit
    event. Returns the assessment and the acting membership."""
    assessment = assessment_locked(assessment_id)
    membership = membership_of(actor)
    if stage == Stage.DISTRICT:
        require_district(membership, assessment)
    else:
        require_city(membership, assessment)
    require_state(assessment, target, what)
    note = note_text(note, "note", what=note_what)
    items = _items(assessment)
    changes = _review_scores(assessment, items, scores or {}, stage=stage, previous=previous)
    done = "district_reviewed" if stage == Stage.DISTRICT else "city_checked"
    extra = {
        f"{done}_at": timezone.now(),
        f"{done}_by": actor,
        f"{stage}_organization": membership.organization,
        f"{stage}_note": note,
        **_outcome_fields(assessment, stage, items, actor),
    }
    transition_apply(
        table=ASSESSMENT_TRANSITIONS,
        obj=assessment,
        target=target,
        role=stage,
        actor=actor,
        organization=membership.organization,
        subject_organization=assessment.organization,
        division_code=assessment.division_code,
        payload={"changes": changes, "note": note, "outcome": extra["stage_outcomes"][stage]},
        extra_fields=extra,
    )
    return assessment, membership


@transaction.atomic
def assessment_review(
    *, actor: Any, assessment_id: Any, scores: Mapping[str, Any] | None = None, note: str = ""
) -> Assessment:
    """The district bureau reviews the self-assessment: its score per item (the self score unless it
    changes it, with the reason)."""
    assessment, membership = _bureau_stage(
        actor=actor,
        assessment_id=assessment_id,
        scores=scores,
        note=note,
        stage=Stage.DISTRICT,
        previous=Stage.SELF,
        target=AssessmentStatus.DISTRICT_REVIEWED,
        what=("复核", "reviewed"),
        note_what="复核意见",
    )
    city = city_bureau(assessment.division_code)
    if city is not None and city.pk != membership.organization.pk:
        notify(
            organization=city,
            kind="assessment.district_reviewed",
            message=(
                f"{assessment.organization.name} {assessment.year} 年度评估已完成区县复核，可抽查 / the district "
                f"review of {assessment.organization.name} ({assessment.year}) is done: open for a spot check"
            )[:500],
            obj=assessment,
        )
    return assessment


@transaction.atomic
def assessment_check(
    *, actor: Any, assessment_id: Any, scores: Mapping[str, Any] | None = None, note: str = ""
) -> Assessment:
    """The city bureau spot-checks a reviewed assessment: its score per item (the district's unless it
    changes it, with the reason). The result follows the city's scores."""
    assessment, _membership = _bureau_stage(
        actor=actor,
        assessment_id=assessment_id,
        scores=scores,
        note=note,
        stage=Stage.CITY,
        previous=Stage.DISTRICT,
        target=AssessmentStatus.CITY_CHECKED,
        what=("抽查", "spot-checked"),
        note_what="抽查意见",
    )
    return assessment


@transaction.atomic
def assessment_finalise(*, actor: Any, assessment_id: Any) -> Assessment:
    """Make the result final: after the city's spot check (the city bureau), or as the district reviewed
    it when the city does not check (either bureau)."""
    assessment = assessment_locked(assessment_id)
    membership = membership_of(actor)
    role = regulator_role(membership, assessment)
    require_state(assessment, AssessmentStatus.FINAL, ("确定结果", "made final"))
    if assessment.status == AssessmentStatus.CITY_CHECKED and role != "city":
        raise PermissionDenied(
            "抽查后的结果由市生态环境局确定 / the city bureau makes a spot-checked result final"
        )
    transition_apply(
        table=ASSESSMENT_TRANSITIONS,
        obj=assessment,
        target=AssessmentStatus.FINAL,
        role=role,
        actor=actor,
        organization=membership.organization,
        subject_organization=assessment.organization,
        division_code=assessment.division_code,
        payload={
            "result": assessment.result,
            "score_pct": str(assessment.score_pct),
            "result_stage": assessment.result_stage,
        },
        extra_fields={"finalised_at": timezone.now(), "finalised_by": actor},
    )
    title = checklists.RESULT_TITLES.get(assessment.result, assessment.result)
    notify(
        organization=assessment.organization,
        kind="assessment.final",
        message=(
            f"{assessment.year} 年度规范化环境管理评估结果：{title}（{assessment.score_pct}%）/ the "
            f"{assessment.year} assessment is final: {assessment.score_pct} %"
        )[:500],
        obj=assessment,
    )
    return assessment


@transaction.atomic
def assessment_return(*, actor: Any, assessment_id: Any, reason: str) -> Assessment:
    """Send the assessment back to the enterprise with the reason: the district bureau a submitted
    self-assessment, the city bureau a reviewed one. The enterprise corrects and submits it again."""
    assessment = assessment_locked(assessment_id)
    membership = membership_of(actor)
    if assessment.status == AssessmentStatus.DISTRICT_REVIEWED:
        require_city(membership, assessment)
        role = "city"
    else:
        require_district(membership, assessment)
        role = "district"
    require_state(assessment, AssessmentStatus.RETURNED, ("退回", "returned"))
    reason = note_text(reason, "reason", required=True, what="退回原因")
    now = timezone.now()
    assessment.return_reason = reason
    transition_apply(
        table=ASSESSMENT_TRANSITIONS,
        obj=assessment,
        target=AssessmentStatus.RETURNED,
        role=role,
        actor=actor,
        organization=membership.organization,
        subject_organization=assessment.organization,
        division_code=assessment.division_code,
        payload={"reason": reason},
        extra_fields={"return_reason": reason, "returned_at": now, "returned_by": actor},
    )
    notify(
        organization=assessment.organization,
        kind="assessment.returned",
        message=(
            f"{assessment.year} 年度规范化管理评估被退回：{reason} / the {assessment.year} assessment was "
            f"returned: {reason}"
        )[:500],
        obj=assessment,
        key=f"assessment.returned:{assessment.pk}:{now:%Y%m%d%H%M%S%f}",
    )
    return assessment
