"""Management plans and site classes (HJ 1259-2022 §4.2, §5) in the API."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.pagination import paginate

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.api.schemas import ErrorOut
from greenisle.core.errors import NotFound
from greenisle.organizations.models import Site
from greenisle.plans import classification as classification_mod
from greenisle.plans import services
from greenisle.plans.models import ManagementPlan

router = Router(tags=["management plans"], auth=person_auth)
WRITE_ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


class WasteRowOut(Schema):
    waste_code: str
    internal_name: str
    hazardous_constituents: str
    form: str
    facility_code: str
    annual_t: Decimal
    storage_facility_code: str
    storage_type: str
    packaging: str
    year_end_stock_t: Decimal | None
    transfer_type: str
    transfer_t: Decimal | None
    method: str
    receivers: list[uuid.UUID]

    @staticmethod
    def resolve_waste_code(obj: Any) -> str:
        return obj.waste_code.code

    @staticmethod
    def resolve_receivers(obj: Any) -> list[uuid.UUID]:
        return [r.pk for r in obj.receivers.all()]


class PlanOut(Schema):
    id: uuid.UUID
    site_id: uuid.UUID
    year: int
    revision: int
    amends_id: uuid.UUID | None
    management_class: str
    status: str
    filing_number: str
    filed_at: dt.datetime | None
    filed_by_organization: str | None
    review_note: str
    basic: dict[str, Any]
    facilities: list[dict[str, Any]]
    own_treatment: list[dict[str, Any]]
    reduction: dict[str, Any]
    wastes: list[WasteRowOut]
    problems: list[dict[str, str]]

    @staticmethod
    def resolve_filed_by_organization(obj: Any) -> str | None:
        return obj.filed_by_organization.name if obj.filed_by_organization_id else None

    @staticmethod
    def resolve_wastes(obj: Any) -> list[Any]:
        return list(obj.wastes.select_related("waste_code").prefetch_related("receivers"))

    @staticmethod
    def resolve_problems(obj: Any) -> list[dict[str, str]]:
        return [p.as_dict() for p in services.plan_check(obj)]


class PlanSummaryOut(Schema):
    id: uuid.UUID
    site_id: uuid.UUID
    year: int
    revision: int
    management_class: str
    status: str
    filing_number: str


def _plan(request: HttpRequest, plan_id: uuid.UUID) -> ManagementPlan:
    plan = ManagementPlan.objects.visible_to(request.user).filter(pk=plan_id).first()
    if plan is None:
        raise NotFound("管理计划不存在 / no such plan", field="plan_id")
    return plan


@router.get("/management-plans", response=list[PlanSummaryOut], summary="Management plans you may see")
@paginate(Pagination)
def list_plans(request: HttpRequest, year: int | None = None, status: str | None = None) -> Any:
    qs = ManagementPlan.objects.visible_to(request.user)
    if year:
        qs = qs.filter(year=year)
    if status:
        qs = qs.filter(status=status)
    return qs


class PrepareIn(Schema):
    site_id: uuid.UUID
    year: int


@router.post(
    "/management-plans",
    response={200: PlanOut, **WRITE_ERRORS},
    summary="The site's plan for a year: the open draft, or a new one pre-filled from the registry and last year's ledger",
)
def prepare(request: HttpRequest, payload: PrepareIn) -> Any:
    return services.plan_prepare(actor=request.user, site_id=payload.site_id, year=payload.year)


@router.get("/management-plans/{plan_id}", response={200: PlanOut, 404: ErrorOut})
def get_plan(request: HttpRequest, plan_id: uuid.UUID) -> Any:
    return _plan(request, plan_id)


class PlanPatch(Schema):
    basic: dict[str, Any] | None = None
    wastes: list[dict[str, Any]] | None = None
    facilities: list[dict[str, Any]] | None = None
    own_treatment: list[dict[str, Any]] | None = None
    reduction: dict[str, Any] | None = None


@router.patch("/management-plans/{plan_id}", response={200: PlanOut, **WRITE_ERRORS})
def update(request: HttpRequest, plan_id: uuid.UUID, payload: PlanPatch) -> Any:
    _plan(request, plan_id)
    return services.plan_update(actor=request.user, plan_id=plan_id, **payload.dict())


@router.post(
    "/management-plans/{plan_id}/file",
    response={200: PlanOut, **WRITE_ERRORS},
    summary="File the plan (§5.2.2): the platform issues the filing number",
)
def file_plan(request: HttpRequest, plan_id: uuid.UUID) -> Any:
    _plan(request, plan_id)
    return services.plan_file(actor=request.user, plan_id=plan_id)


class ReviewIn(Schema):
    decision: Literal["approve", "return"]
    note: str = ""


@router.post("/management-plans/{plan_id}/review", response={200: PlanOut, **WRITE_ERRORS})
def review(request: HttpRequest, plan_id: uuid.UUID, payload: ReviewIn) -> Any:
    _plan(request, plan_id)
    return services.plan_review(
        actor=request.user, plan_id=plan_id, decision=payload.decision, note=payload.note
    )


@router.post(
    "/management-plans/{plan_id}/amend",
    response={200: PlanOut, **WRITE_ERRORS},
    summary="Start an amendment (§5.2.3): a new draft revision",
)
def amend(request: HttpRequest, plan_id: uuid.UUID) -> Any:
    _plan(request, plan_id)
    return services.plan_amend(actor=request.user, plan_id=plan_id)


@router.get("/management-plans/{plan_id}/receipt.pdf", response={200: None, 404: ErrorOut})
def receipt(request: HttpRequest, plan_id: uuid.UUID) -> Any:
    from greenisle.plans.documents import plan_receipt_pdf

    plan = _plan(request, plan_id)
    if not plan.filing_number:
        raise NotFound("计划尚未备案 / the plan is not filed", field="plan_id")
    return HttpResponse(plan_receipt_pdf(plan), content_type="application/pdf")


class ClassOut(Schema):
    site_id: uuid.UUID
    effective_class: str
    computed_class: str
    annual_t: Decimal
    basis: str
    override_class: str
    override_reason: str


class ClassIn(Schema):
    management_class: Literal["", "key", "simplified", "registration"]
    reason: str = ""


@router.get("/sites/{site_id}/classification", response={200: ClassOut, 404: ErrorOut})
def classification(request: HttpRequest, site_id: uuid.UUID) -> Any:
    if not Site.objects.visible_to(request.user).filter(pk=site_id).exists():
        raise NotFound("场所不存在 / no such site", field="site_id")
    return classification_mod.site_classify(site_id=site_id)


@router.post(
    "/sites/{site_id}/classification",
    response={200: ClassOut, **WRITE_ERRORS},
    summary="The bureau sets a site's management class (§4.2.2); an empty class removes it",
)
def override(request: HttpRequest, site_id: uuid.UUID, payload: ClassIn) -> Any:
    return classification_mod.site_class_override(
        actor=request.user, site_id=site_id, management_class=payload.management_class, reason=payload.reason
    )
