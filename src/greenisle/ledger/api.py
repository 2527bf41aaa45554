"""Ledger, declarations and bulk filing (HJ 1259-2022 §6–§7) in the API: the same services as the pages."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.api.schemas import ErrorOut
from greenisle.core.errors import NotFound
from greenisle.ledger import core
from greenisle.ledger.bulk import bulk_filing_start
from greenisle.ledger.declarations import (
    declaration_for,
    declaration_prepare,
    declaration_submit,
    fingerprint,
)
from greenisle.ledger.models import BulkFiling, Declaration, RecordType
from greenisle.ledger.selectors import ledger_list_visible_to
from greenisle.ledger.services import ledger_entry_add, ledger_record_reverse
from greenisle.organizations.models import Site

router = Router(tags=["ledger"], auth=person_auth)
WRITE_ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


class LedgerRecordOut(Schema):
    id: uuid.UUID
    organization: str
    site_id: uuid.UUID
    record_type: str
    entry: str
    batch_code: str
    source_batch_code: str
    waste_code: str
    container_code: str
    weight_kg: Decimal
    stock_effect: int
    occurred_at: dt.datetime
    facility_code: str
    handler: str
    destination: str
    method: str
    licence_number: str
    province: str
    manifest_id: uuid.UUID | None
    reverses_id: uuid.UUID | None
    note: str

    @staticmethod
    def resolve_organization(obj: Any) -> str:
        return obj.organization.name

    @staticmethod
    def resolve_waste_code(obj: Any) -> str:
        return obj.waste_code.code


@router.get("/ledger", response=list[LedgerRecordOut], summary="Ledger records (HJ 1259) you may see")
@paginate(Pagination)
def list_ledger(
    request: HttpRequest,
    record_type: RecordType | None = None,
    site_id: uuid.UUID | None = None,
    container_code: str | None = None,
) -> Any:
    qs = ledger_list_visible_to(request.user, record_type=record_type)
    if site_id:
        qs = qs.filter(site_id=site_id)
    if container_code:
        qs = qs.filter(container_code=container_code)
    return qs


class EntryIn(Schema):
    site_id: uuid.UUID
    record_type: RecordType
    waste_code: str
    container_code: str
    weight_kg: Decimal
    occurred_at: dt.datetime
    source_batch_code: str = ""
    facility_code: str = ""
    container_type: str = ""
    destination: str = ""
    method: str = ""
    receiver_name: str = ""
    receiver_type: str = ""
    licence_number: str = ""
    province: str = ""
    note: str = ""


@router.post(
    "/ledger",
    response={201: LedgerRecordOut, **WRITE_ERRORS},
    summary="A manual ledger entry for what no platform event records",
)
def add_entry(request: HttpRequest, payload: EntryIn) -> Any:
    return 201, ledger_entry_add(actor=request.user, **payload.dict())


class ReverseIn(Schema):
    reason: str


@router.post(
    "/ledger/{record_id}/reverse",
    response={201: LedgerRecordOut, **WRITE_ERRORS},
    summary="Correct a record with a reversing entry (records are never edited)",
)
def reverse(request: HttpRequest, record_id: uuid.UUID, payload: ReverseIn) -> Any:
    if not ledger_list_visible_to(request.user).filter(pk=record_id).exists():
        raise NotFound("台账记录不存在 / no such ledger record", field="record_id")
    return 201, ledger_record_reverse(actor=request.user, record_id=record_id, reason=payload.reason)


class DeclarationOut(Schema):
    id: uuid.UUID
    site_id: uuid.UUID
    organization: str
    kind: str
    label: str
    period_start: dt.date
    period_end: dt.date
    due_on: dt.date
    management_class: str
    status: str
    receipt_number: str
    submitted_at: dt.datetime | None
    filed_by_organization: str | None
    fingerprint: str
    content: dict[str, Any]

    @staticmethod
    def resolve_organization(obj: Any) -> str:
        return obj.organization.name

    @staticmethod
    def resolve_filed_by_organization(obj: Any) -> str | None:
        return obj.filed_by_organization.name if obj.filed_by_organization_id else None

    @staticmethod
    def resolve_fingerprint(obj: Any) -> str:
        return fingerprint(obj.content)


class DeclarationSummaryOut(Schema):
    id: uuid.UUID
    site_id: uuid.UUID
    kind: str
    label: str
    due_on: dt.date
    status: str
    receipt_number: str


@router.get("/declarations", response=list[DeclarationSummaryOut], summary="Declarations you may see")
@paginate(Pagination)
def list_declarations(
    request: HttpRequest, status: str | None = None, site_id: uuid.UUID | None = None
) -> Any:
    qs = Declaration.objects.visible_to(request.user).order_by("-period_start", "kind")
    if status:
        qs = qs.filter(status=status)
    if site_id:
        qs = qs.filter(site_id=site_id)
    return qs


class PrepareIn(Schema):
    site_id: uuid.UUID
    kind: Literal["month", "quarter", "year"]
    label: str


@router.post(
    "/declarations",
    response={200: DeclarationOut, **WRITE_ERRORS},
    summary="Prepare (or refresh) the declaration of a site for a period from its ledger (HJ 1259 §7.3.2)",
)
def prepare(request: HttpRequest, payload: PrepareIn) -> Any:
    from greenisle.core.errors import ServiceError

    site = Site.objects.visible_to(request.user).filter(pk=payload.site_id).first()
    if site is None:
        raise NotFound("场所不存在 / no such site", field="site_id")
    try:
        period = core.parse_period(payload.kind, payload.label)
    except ValueError as exc:
        raise ServiceError(str(exc), field="label") from None
    return declaration_prepare(site=site, period=period)


@router.get("/declarations/{declaration_id}", response={200: DeclarationOut, 404: ErrorOut})
def get_declaration(request: HttpRequest, declaration_id: uuid.UUID) -> Any:
    return declaration_for(request.user, declaration_id)


class SubmitIn(Schema):
    # The `fingerprint` of the declaration as the person reviewed it: submission is refused when the
    # ledger has changed the figures since.
    figures_seen: str = Field(min_length=16, max_length=16)


@router.post(
    "/declarations/{declaration_id}/submit",
    response={200: DeclarationOut, **WRITE_ERRORS},
    summary="Confirm and submit (the producer, or its licensed collector on its behalf, §7.1.3)",
)
def submit(request: HttpRequest, declaration_id: uuid.UUID, payload: SubmitIn) -> Any:
    declaration_for(request.user, declaration_id)
    return declaration_submit(
        actor=request.user, declaration_id=declaration_id, figures_seen=payload.figures_seen
    )


@router.get("/declarations/{declaration_id}/report.xlsx", response={200: None, 404: ErrorOut})
def declaration_excel(request: HttpRequest, declaration_id: uuid.UUID) -> Any:
    from greenisle.ledger.exports import declaration_xlsx

    declaration = declaration_for(request.user, declaration_id)
    return HttpResponse(
        declaration_xlsx(declaration),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="declaration-{declaration.label}.xlsx"'},
    )


@router.get("/declarations/{declaration_id}/report.pdf", response={200: None, 404: ErrorOut})
def declaration_document(request: HttpRequest, declaration_id: uuid.UUID) -> Any:
    from greenisle.ledger.exports import declaration_pdf

    return HttpResponse(
        declaration_pdf(declaration_for(request.user, declaration_id)), content_type="application/pdf"
    )


class BulkIn(Schema):
    what: Literal["plans", "declarations"]
    period: str = ""


class BulkOut(Schema):
    id: uuid.UUID
    what: str
    period: str
    status: str
    total: int
    done: int
    skipped: int
    failures: list[dict[str, str]]
    finished_at: dt.datetime | None


@router.post(
    "/bulk-filings",
    response={202: BulkOut, **WRITE_ERRORS},
    summary="A collector files this year's plans, or one period's declarations, for all its clients",
)
def bulk_start(request: HttpRequest, payload: BulkIn) -> Any:
    return 202, bulk_filing_start(actor=request.user, what=payload.what, period_label=payload.period)


@router.get(
    "/bulk-filings/{bulk_id}", response={200: BulkOut, 404: ErrorOut}, summary="Progress of a bulk filing"
)
def bulk_progress(request: HttpRequest, bulk_id: uuid.UUID) -> Any:
    from greenisle.accounts.permissions import membership_of

    bulk = BulkFiling.objects.filter(pk=bulk_id, collector=membership_of(request.user).organization).first()
    if bulk is None:
        raise NotFound("批量任务不存在 / no such bulk filing", field="bulk_id")
    return bulk
