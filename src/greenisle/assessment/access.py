"""Who acts on an assessment and the checks every step makes: the enterprise's own people (or its
collector's, for a small producer), the district bureau, the city bureau; the lock, the state
required (409), the text of a note (400 naming the field) and the bureaus to tell.
"""

from __future__ import annotations

from typing import Any

from greenisle.accounts.permissions import acting_for
from greenisle.assessment import checklists
from greenisle.assessment.choices import EDITABLE
from greenisle.assessment.models import Assessment
from greenisle.assessment.transitions import ASSESSMENT_TRANSITIONS
from greenisle.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from greenisle.organizations.identifiers import division_prefix

OWN_ROLES = {"admin", "clerk"}
COLLECTOR_ROLES = {"admin", "clerk", "dispatcher"}
REGULATOR_ROLES = {"admin", "inspector"}
NOTE_LIMIT = 500
KIND_OF_ORGANIZATION = {"producer": checklists.PRODUCER, "collector": checklists.COLLECTOR}


def is_city_level(code: str) -> bool:
    return code.endswith("00")


def covers(regulator: Any, division_code: str) -> bool:
    return division_code.startswith(division_prefix(regulator.division_id))


def _district_bureau_exists(division_code: str) -> bool:
    from greenisle.organizations.models import Organization

    return Organization.objects.filter(kind="regulator", division_id=division_code).exists()


def regulator_role(membership: Any, assessment: Assessment) -> str:
    """'district' or 'city' for an inspector or admin of a bureau covering the assessment's division. A
    city bureau reviews as the district where no district bureau is registered."""
    org = membership.organization
    if org.kind != "regulator" or membership.role not in REGULATOR_ROLES:
        raise PermissionDenied("只有生态环境部门可以复核评估 / only the bureau reviews assessments")
    if not covers(org, assessment.division_code):
        raise PermissionDenied("该单位不在您的辖区 / the organisation is outside your division")
    return "city" if is_city_level(org.division_id) else "district"


def require_district(membership: Any, assessment: Assessment) -> None:
    role = regulator_role(membership, assessment)
    if role == "city" and _district_bureau_exists(assessment.division_code):
        raise PermissionDenied("复核由区县生态环境局进行 / the district bureau reviews; the city spot-checks")


def require_city(membership: Any, assessment: Assessment) -> None:
    if regulator_role(membership, assessment) != "city":
        raise PermissionDenied("抽查由市生态环境局进行 / the city bureau spot-checks")


def self_role(membership: Any, organization_id: Any) -> str:
    """'enterprise' for the organisation's admin or clerk, 'collector' for its collector's staff."""
    acting = acting_for(
        membership, organization_id, own_roles=OWN_ROLES, collector_roles=COLLECTOR_ROLES, what="自评"
    )
    return "collector" if acting == "collector" else "enterprise"


def assessment_locked(assessment_id: Any) -> Assessment:
    assessment = (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("organization")
        .filter(pk=assessment_id)
        .first()
    )
    if assessment is None:
        raise NotFound("评估不存在 / no such assessment", field="assessment_id")
    return assessment


def require_state(assessment: Assessment, target: str, what: tuple[str, str]) -> None:
    if ASSESSMENT_TRANSITIONS.row(assessment.status, target) is None:
        zh, en = what
        raise Conflict(
            f"评估当前状态为 {assessment.status}，不能{zh} / an assessment that is {assessment.status} cannot be {en}",
            field="status",
            code="transition_not_allowed",
        )


def require_editable(assessment: Assessment) -> None:
    if assessment.status not in EDITABLE:
        raise Conflict(
            f"评估已提交（{assessment.status}），不能修改自评 / the self-assessment is submitted ({assessment.status})",
            field="status",
            code="not_editable",
        )


def note_text(
    value: Any, field: str, *, limit: int = NOTE_LIMIT, required: bool = False, what: str = "说明"
) -> str:
    text = str(value if value is not None else "").strip()
    if "\x00" in text:
        raise ServiceError(f"{field}: 不允许包含NUL字符 / must not contain NUL characters", field=field)
    if required and not text:
        raise ServiceError(f"须填写{what} / {field} is required", field=field)
    if len(text) > limit:
        raise ServiceError(f"{what}不超过{limit}字 / {field}: at most {limit} characters", field=field)
    return text


def district_bureau(division_code: str) -> Any:
    from greenisle.organizations.models import Organization

    codes = [division_code, f"{division_code[:4]}00"]
    for code in codes:
        org = Organization.objects.filter(kind="regulator", division_id=code).order_by("created_at").first()
        if org is not None:
            return org
    return None


def city_bureau(division_code: str) -> Any:
    from greenisle.organizations.models import Organization

    return (
        Organization.objects.filter(kind="regulator", division_id=f"{division_code[:4]}00")
        .order_by("created_at")
        .first()
    )
