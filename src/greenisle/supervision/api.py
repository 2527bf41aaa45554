"""Findings in the API: the ones you may see, each with its audit trail and repeat chain, and their
follow-up (assign, rectify, verify, close, dismiss)."""

import datetime as dt
import uuid
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.api.schemas import ErrorOut
from greenisle.audit.api import EventOut
from greenisle.core.errors import NotFound
from greenisle.supervision import rules, selectors, services
from greenisle.supervision.choices import AWAITING_RECTIFICATION, FindingStatus, Severity
from greenisle.supervision.models import Finding

router = Router(tags=["findings"], auth=person_auth)
WRITE_ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
MAX_USER_ID = 2**63 - 1


class FindingOut(Schema):
    id: uuid.UUID
    rule: str
    rule_title: str = Field(description="中文 / English")
    regulation: str = Field(description="the regulation the rule enforces")
    severity: str
    status: str
    organization_id: uuid.UUID
    organization_name: str
    owner_organization_id: uuid.UUID = Field(description="the organisation that must rectify")
    owner_organization_name: str
    division_code: str
    object_type: str
    object_id: str
    message: str
    evidence: dict[str, Any]
    deadline: dt.date | None
    overdue: bool
    assigned_to_id: int | None
    assigned_to_name: str
    assigned_at: dt.datetime | None
    rectification: str
    rectification_submitted_at: dt.datetime | None
    verification_note: str
    verified_at: dt.datetime | None
    closed_at: dt.datetime | None
    dismissed_reason: str
    dismissed_at: dt.datetime | None
    repeat_of_id: uuid.UUID | None
    reminder_sent_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_rule_title(obj: Any) -> str:
        info = rules.RULES.get(obj.rule)
        return info.title if info else obj.rule

    @staticmethod
    def resolve_regulation(obj: Any) -> str:
        info = rules.RULES.get(obj.rule)
        return info.regulation if info else ""

    @staticmethod
    def resolve_organization_name(obj: Any) -> str:
        return str(obj.organization.name)

    @staticmethod
    def resolve_owner_organization_name(obj: Any) -> str:
        return str(obj.owner_organization.name)

    @staticmethod
    def resolve_overdue(obj: Any) -> bool:
        return bool(
            obj.status in AWAITING_RECTIFICATION and obj.deadline and obj.deadline < timezone.localdate()
        )

    @staticmethod
    def resolve_assigned_to_name(obj: Any) -> str:
        return str(obj.assigned_to) if obj.assigned_to_id else ""


class LinkOut(Schema):
    rel: str
    href: str


class RepeatOut(Schema):
    id: uuid.UUID
    status: str
    message: str
    created_at: dt.datetime
    closed_at: dt.datetime | None


class FindingDetailOut(FindingOut):
    evidence_links: list[LinkOut]
    events: list[EventOut] = Field(description="the finding's audit trail, oldest first")
    repeat_chain: list[RepeatOut] = Field(description="the earlier findings it repeats, most recent first")
    repeated_by: list[uuid.UUID] = Field(description="later findings that repeat this one")

    @staticmethod
    def resolve_evidence_links(obj: Any) -> list[dict[str, str]]:
        return selectors.evidence_links(obj)

    @staticmethod
    def resolve_events(obj: Any) -> list[Any]:
        return list(selectors.finding_events(obj))

    @staticmethod
    def resolve_repeat_chain(obj: Any) -> list[Any]:
        return list(getattr(obj, "repeat_chain", []))

    @staticmethod
    def resolve_repeated_by(obj: Any) -> list[uuid.UUID]:
        return [pk for pk in getattr(obj, "repeated_by", [])]


def _visible(request: HttpRequest, finding_id: uuid.UUID) -> Finding:
    finding = selectors.finding_visible(request.user, finding_id)
    if finding is None:
        raise NotFound("问题不存在 / no such finding", field="finding_id")
    return finding


def _detail(request: HttpRequest, finding_id: uuid.UUID) -> Finding:
    finding = _visible(request, finding_id)
    # What the person may see of the chain, for the schema's resolvers.
    finding.repeat_chain = selectors.finding_repeat_chain(finding, request.user)
    finding.repeated_by = list(
        Finding.objects.visible_to(request.user).filter(repeat_of=finding).values_list("pk", flat=True)
    )
    return finding


class FindingFilters(Schema):
    status: FindingStatus | None = None
    rule: str | None = Field(None, max_length=60)
    severity: Severity | None = None
    division: str | None = Field(None, max_length=6, description="a division code or its prefix")
    organization: uuid.UUID | None = Field(None, description="the organisation concerned or the owner")


@router.get("/findings", response=list[FindingOut], summary="Findings you may see, newest first")
@paginate(Pagination)
def list_findings(request: HttpRequest, filters: Query[FindingFilters]) -> Any:
    return selectors.finding_list_visible_to(
        request.user,
        status=filters.status,
        rule=filters.rule,
        severity=filters.severity,
        division=filters.division,
        organization_id=filters.organization,
    )


@router.get("/findings/{finding_id}", response={200: FindingDetailOut, 404: ErrorOut})
def get_finding(request: HttpRequest, finding_id: uuid.UUID) -> Any:
    return _detail(request, finding_id)


class AssignIn(Schema):
    assigned_to: int = Field(
        ge=1, le=MAX_USER_ID, description="user id of an inspector of a bureau covering it"
    )
    deadline: dt.date | None = Field(None, description="a new rectification deadline")


@router.post(
    "/findings/{finding_id}/assign",
    response={200: FindingDetailOut, **WRITE_ERRORS},
    summary="The bureau assigns (or hands over) the finding to an inspector, and may set the deadline",
)
def assign(request: HttpRequest, finding_id: uuid.UUID, payload: AssignIn) -> Any:
    _visible(request, finding_id)
    services.finding_assign(
        actor=request.user,
        finding_id=finding_id,
        assigned_to_id=payload.assigned_to,
        deadline=payload.deadline,
    )
    return _detail(request, finding_id)


class RectifyIn(Schema):
    rectification: str = Field(max_length=services.TEXT_LIMIT, description="what was done to put it right")


@router.post(
    "/findings/{finding_id}/rectify",
    response={200: FindingDetailOut, **WRITE_ERRORS},
    summary="The owner organisation (or its collector for a small producer) submits its rectification",
)
def rectify(request: HttpRequest, finding_id: uuid.UUID, payload: RectifyIn) -> Any:
    _visible(request, finding_id)
    services.finding_rectify(actor=request.user, finding_id=finding_id, rectification=payload.rectification)
    return _detail(request, finding_id)


class VerifyIn(Schema):
    decision: Literal["accept", "reject"]
    note: str = Field("", max_length=services.NOTE_LIMIT, description="required to reject")
    deadline: dt.date | None = Field(None, description="on reject: a new rectification deadline")


@router.post(
    "/findings/{finding_id}/verify",
    response={200: FindingDetailOut, **WRITE_ERRORS},
    summary="The bureau accepts the rectification (verified) or sends it back with the reasons",
)
def verify(request: HttpRequest, finding_id: uuid.UUID, payload: VerifyIn) -> Any:
    _visible(request, finding_id)
    services.finding_verify(
        actor=request.user,
        finding_id=finding_id,
        decision=payload.decision,
        note=payload.note,
        deadline=payload.deadline,
    )
    return _detail(request, finding_id)


class CloseIn(Schema):
    note: str = Field("", max_length=services.NOTE_LIMIT)


@router.post(
    "/findings/{finding_id}/close",
    response={200: FindingDetailOut, **WRITE_ERRORS},
    summary="The bureau closes a verified finding",
)
def close(request: HttpRequest, finding_id: uuid.UUID, payload: CloseIn) -> Any:
    _visible(request, finding_id)
    services.finding_close(actor=request.user, finding_id=finding_id, note=payload.note)
    return _detail(request, finding_id)


class DismissIn(Schema):
    reason: str = Field(max_length=services.NOTE_LIMIT, description="why the finding does not stand")


@router.post(
    "/findings/{finding_id}/dismiss",
    response={200: FindingDetailOut, **WRITE_ERRORS},
    summary="The bureau dismisses a finding, with its reason, before the rectification is verified",
)
def dismiss(request: HttpRequest, finding_id: uuid.UUID, payload: DismissIn) -> Any:
    _visible(request, finding_id)
    services.finding_dismiss(actor=request.user, finding_id=finding_id, reason=payload.reason)
    return _detail(request, finding_id)
