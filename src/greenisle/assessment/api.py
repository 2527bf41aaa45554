"""Assessments in the API: the checklists, the assessments you may see with their items, evidence,
attachments and audit trail, each step of the flow, evidence uploads, an enterprise's history, and
the benchmark enterprises."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, UploadedFile
from ninja.pagination import paginate

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.api.schemas import ErrorOut
from greenisle.assessment import access, attachments, benchmarks, checklists, selectors, services
from greenisle.assessment.choices import AssessmentResult, AssessmentStatus
from greenisle.assessment.models import Assessment
from greenisle.audit.api import EventOut
from greenisle.core.errors import NotFound

router = Router(tags=["assessments"], auth=person_auth)
WRITE_ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


# --- checklists -------------------------------------------------------------------------------------


class ChecklistItemOut(Schema):
    code: str
    title_zh: str
    title_en: str
    requirement: str
    basis: str
    guidance: dict[str, str] = Field(description="what earns 2, 1 and 0")
    veto: bool = Field(description="否决项: a 0 here fails the assessment")
    prefill: bool = Field(description="the platform suggests the score from its own records")
    max_score: int


class ChecklistOut(Schema):
    kind: str
    pass_pct: Decimal
    basic_pct: Decimal
    items: list[ChecklistItemOut]


@router.get("/assessment-checklists/{kind}", response={200: ChecklistOut, 404: ErrorOut})
def get_checklist(request: HttpRequest, kind: Literal["producer", "collector"]) -> Any:
    return {
        "kind": kind,
        "pass_pct": checklists.PASS_PCT,
        "basic_pct": checklists.BASIC_PCT,
        "items": [
            {
                "code": i.code,
                "title_zh": i.title_zh,
                "title_en": i.title_en,
                "requirement": i.requirement,
                "basis": i.basis,
                "guidance": {str(s): i.guidance_for(s) for s in checklists.SCORES},
                "veto": i.veto,
                "prefill": i.prefill,
                "max_score": checklists.MAX_SCORE,
            }
            for i in checklists.checklist(kind)
        ],
    }


# --- assessments ------------------------------------------------------------------------------------


class AssessmentOut(Schema):
    id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    industry: str
    division_code: str
    year: int
    kind: str
    status: str
    result: str = Field(
        description="pass (达标), basic (基本达标), fail (不达标), or empty before submission"
    )
    result_stage: str = Field(description="the stage whose scores the result follows: self, district, city")
    score_total: int | None
    score_max: int | None
    score_pct: Decimal | None
    stage_outcomes: dict[str, Any]
    self_submitted_at: dt.datetime | None
    district_reviewed_at: dt.datetime | None
    district_note: str
    city_checked_at: dt.datetime | None
    city_note: str
    finalised_at: dt.datetime | None
    returned_at: dt.datetime | None
    return_reason: str
    evidence_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_organization_name(obj: Any) -> str:
        return str(obj.organization.name)

    @staticmethod
    def resolve_industry(obj: Any) -> str:
        return str(obj.organization.industry)


class AttachmentOut(Schema):
    id: uuid.UUID
    item_code: str
    stage: str
    original_name: str
    content_type: str
    size: int
    sha256: str
    note: str
    uploaded_by: str
    created_at: dt.datetime
    href: str

    @staticmethod
    def resolve_uploaded_by(obj: Any) -> str:
        return str(obj.uploaded_by)

    @staticmethod
    def resolve_href(obj: Any) -> str:
        return f"/assessment/attachments/{obj.pk}/"


class ItemOut(Schema):
    code: str
    title: str
    veto: bool
    prefill: bool
    suggested_score: int | None
    evidence: dict[str, Any] = Field(description="facts, links and findings behind the suggestion")
    self_score: int | None
    self_note: str
    district_score: int | None
    district_note: str
    city_score: int | None
    city_note: str
    attachments: list[AttachmentOut]


class AssessmentDetailOut(AssessmentOut):
    items: list[ItemOut]
    attachments: list[AttachmentOut] = Field(description="files for the assessment as a whole")
    events: list[EventOut] = Field(description="the assessment's audit trail, oldest first")

    @staticmethod
    def resolve_items(obj: Any) -> list[dict[str, Any]]:
        return [
            {
                "code": r.code,
                "title": r.item.title,
                "veto": r.item.veto,
                "prefill": r.item.prefill,
                "suggested_score": r.row.suggested_score,
                "evidence": r.evidence,
                "self_score": r.row.self_score,
                "self_note": r.row.self_note,
                "district_score": r.row.district_score,
                "district_note": r.row.district_note,
                "city_score": r.row.city_score,
                "city_note": r.row.city_note,
                "attachments": r.attachments,
            }
            for r in selectors.assessment_items(obj)
        ]

    @staticmethod
    def resolve_attachments(obj: Any) -> list[Any]:
        return selectors.general_attachments(obj)

    @staticmethod
    def resolve_events(obj: Any) -> list[Any]:
        return list(selectors.assessment_events(obj))


def _visible(request: HttpRequest, assessment_id: uuid.UUID) -> Assessment:
    assessment = selectors.assessment_visible(request.user, assessment_id)
    if assessment is None:
        raise NotFound("评估不存在 / no such assessment", field="assessment_id")
    return assessment


class AssessmentFilters(Schema):
    year: int | None = Field(None, ge=2000, le=2100)
    status: AssessmentStatus | None = None
    result: AssessmentResult | None = None
    organization: uuid.UUID | None = None
    division: str | None = Field(None, max_length=6, description="a division code or its prefix")


@router.get(
    "/assessments", response=list[AssessmentOut], summary="Assessments you may see, newest year first"
)
@paginate(Pagination)
def list_assessments(request: HttpRequest, filters: Query[AssessmentFilters]) -> Any:
    return selectors.assessment_list_visible_to(
        request.user,
        year=filters.year,
        status=filters.status,
        result=filters.result,
        organization_id=filters.organization,
        division=filters.division,
    )


@router.get("/assessments/{assessment_id}", response={200: AssessmentDetailOut, 404: ErrorOut})
def get_assessment(request: HttpRequest, assessment_id: uuid.UUID) -> Any:
    return _visible(request, assessment_id)


@router.get(
    "/organizations/{organization_id}/assessments",
    response=list[AssessmentOut],
    summary="An enterprise's assessments by year (its history)",
)
def organization_history(request: HttpRequest, organization_id: uuid.UUID) -> Any:
    return list(selectors.assessment_history(request.user, organization_id))


class StartIn(Schema):
    organization_id: uuid.UUID
    year: int = Field(ge=2000, le=2100)


@router.post(
    "/assessments",
    response={201: AssessmentDetailOut, **WRITE_ERRORS},
    summary="Start an organisation's assessment of a year, with the platform's evidence per item",
)
def start(request: HttpRequest, payload: StartIn) -> Any:
    assessment = services.assessment_start(
        actor=request.user, organization_id=payload.organization_id, year=payload.year
    )
    return 201, _visible(request, assessment.pk)


@router.post(
    "/assessments/{assessment_id}/refresh",
    response={200: AssessmentDetailOut, **WRITE_ERRORS},
    summary="Gather the platform's evidence again (while self-assessing)",
)
def refresh(request: HttpRequest, assessment_id: uuid.UUID) -> Any:
    _visible(request, assessment_id)
    services.assessment_refresh(actor=request.user, assessment_id=assessment_id)
    return _visible(request, assessment_id)


class ScoreIn(Schema):
    score: int | None = Field(None, ge=0, le=2)
    note: str | None = Field(None, max_length=access.NOTE_LIMIT)


class ScoresIn(Schema):
    items: dict[str, ScoreIn] = Field(
        description="item code → score (0–2) and note (the reason for a change)"
    )


class ReviewIn(ScoresIn):
    items: dict[str, ScoreIn] = Field(default_factory=dict)
    note: str = Field("", max_length=access.NOTE_LIMIT)


def _scores(items: dict[str, ScoreIn]) -> dict[str, dict[str, Any]]:
    return {code: entry.dict(exclude_unset=True) for code, entry in items.items()}


@router.post(
    "/assessments/{assessment_id}/self-scores",
    response={200: AssessmentDetailOut, **WRITE_ERRORS},
    summary="Save self-assessment scores and notes (a score other than the suggestion needs its reason)",
)
def self_scores(request: HttpRequest, assessment_id: uuid.UUID, payload: ScoresIn) -> Any:
    _visible(request, assessment_id)
    services.assessment_self_save(
        actor=request.user, assessment_id=assessment_id, scores=_scores(payload.items)
    )
    return _visible(request, assessment_id)


@router.post(
    "/assessments/{assessment_id}/submit",
    response={200: AssessmentDetailOut, **WRITE_ERRORS},
    summary="Submit the self-assessment to the district bureau",
)
def submit(request: HttpRequest, assessment_id: uuid.UUID) -> Any:
    _visible(request, assessment_id)
    services.assessment_submit(actor=request.user, assessment_id=assessment_id)
    return _visible(request, assessment_id)


@router.post(
    "/assessments/{assessment_id}/review",
    response={200: AssessmentDetailOut, **WRITE_ERRORS},
    summary="The district bureau reviews: its scores (the self scores unless changed, with the reason)",
)
def review(request: HttpRequest, assessment_id: uuid.UUID, payload: ReviewIn) -> Any:
    _visible(request, assessment_id)
    services.assessment_review(
        actor=request.user, assessment_id=assessment_id, scores=_scores(payload.items), note=payload.note
    )
    return _visible(request, assessment_id)


@router.post(
    "/assessments/{assessment_id}/check",
    response={200: AssessmentDetailOut, **WRITE_ERRORS},
    summary="The city bureau spot-checks: its scores (the district's unless changed, with the reason)",
)
def check(request: HttpRequest, assessment_id: uuid.UUID, payload: ReviewIn) -> Any:
    _visible(request, assessment_id)
    services.assessment_check(
        actor=request.user, assessment_id=assessment_id, scores=_scores(payload.items), note=payload.note
    )
    return _visible(request, assessment_id)


@router.post(
    "/assessments/{assessment_id}/finalise",
    response={200: AssessmentDetailOut, **WRITE_ERRORS},
    summary="Make the result final (the district result stands unless the city spot-checked)",
)
def finalise(request: HttpRequest, assessment_id: uuid.UUID) -> Any:
    _visible(request, assessment_id)
    services.assessment_finalise(actor=request.user, assessment_id=assessment_id)
    return _visible(request, assessment_id)


class ReturnIn(Schema):
    reason: str = Field(max_length=access.NOTE_LIMIT)


@router.post(
    "/assessments/{assessment_id}/return",
    response={200: AssessmentDetailOut, **WRITE_ERRORS},
    summary="Return the assessment to the enterprise with the reason",
)
def return_(request: HttpRequest, assessment_id: uuid.UUID, payload: ReturnIn) -> Any:
    _visible(request, assessment_id)
    services.assessment_return(actor=request.user, assessment_id=assessment_id, reason=payload.reason)
    return _visible(request, assessment_id)


@router.post(
    "/assessments/{assessment_id}/attachments",
    response={201: AttachmentOut, **WRITE_ERRORS},
    summary="Upload a photo (JPG, PNG, WebP) or PDF of at most 10 MB as evidence",
)
def upload(
    request: HttpRequest,
    assessment_id: uuid.UUID,
    file: File[UploadedFile],
    item_code: Form[str] = "",
    note: Form[str] = "",
) -> Any:
    _visible(request, assessment_id)
    attachment = attachments.attachment_add(
        actor=request.user, assessment_id=assessment_id, upload=file, item_code=item_code, note=note
    )
    return 201, attachment


# --- benchmarks -------------------------------------------------------------------------------------


class BenchmarkRowOut(Schema):
    assessment_id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    division_code: str
    score_pct: Decimal
    result: str


class IndustryOut(Schema):
    key: str
    name: str
    rows: list[BenchmarkRowOut]


class RankingFilters(Schema):
    year: int = Field(ge=2000, le=2100)
    per_industry: int = Field(3, ge=1, le=benchmarks.BENCHMARK_MAX_PER_INDUSTRY)


@router.get(
    "/assessment-benchmarks/ranking",
    response=list[IndustryOut],
    summary="Per industry, the best final assessments that meet the standard (those you may see)",
)
def ranking(request: HttpRequest, filters: Query[RankingFilters]) -> Any:
    return selectors.benchmark_ranking(request.user, year=filters.year, per_industry=filters.per_industry)


class BenchmarkListOut(Schema):
    id: uuid.UUID
    year: int
    division_code: str
    per_industry: int
    entries: list[dict[str, Any]]
    note: str
    published_at: dt.datetime
    published_by_organization: str

    @staticmethod
    def resolve_published_by_organization(obj: Any) -> str:
        return str(obj.published_by_organization.name)


@router.get(
    "/assessment-benchmarks",
    response=list[BenchmarkListOut],
    summary="Published lists of benchmark enterprises (标杆企业), newest first",
)
def benchmark_lists(request: HttpRequest, year: int | None = None) -> Any:
    return list(selectors.benchmark_lists(year=year))


class PublishIn(Schema):
    year: int = Field(ge=2000, le=2100)
    per_industry: int = Field(3, ge=1, le=benchmarks.BENCHMARK_MAX_PER_INDUSTRY)
    note: str = Field("", max_length=access.NOTE_LIMIT)


@router.post(
    "/assessment-benchmarks",
    response={201: BenchmarkListOut, **WRITE_ERRORS},
    summary="The city bureau publishes the benchmark enterprises of a year",
)
def publish(request: HttpRequest, payload: PublishIn) -> Any:
    published = benchmarks.benchmark_publish(
        actor=request.user, year=payload.year, per_industry=payload.per_industry, note=payload.note
    )
    return 201, published
