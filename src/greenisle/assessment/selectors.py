"""Reads for the assessment pages and API: the assessments a person may see, one assessment's items with
their checklist text and evidence, an enterprise's history, the audit trail, and the benchmark ranking."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q

from greenisle.assessment import checklists
from greenisle.assessment.choices import AssessmentResult, AssessmentStatus
from greenisle.assessment.models import Assessment, Attachment, BenchmarkList
from greenisle.organizations.identifiers import IdentifierError, division_prefix
from greenisle.organizations.models import Organization
from greenisle.plans.prefill import INDUSTRY_CODES


def assessment_list_visible_to(
    user: Any,
    *,
    year: int | None = None,
    status: str | None = None,
    result: str | None = None,
    organization_id: Any = None,
    division: str | None = None,
) -> Any:
    """Assessments the person may see (the enterprise its own, a collector its clients', a bureau its
    division's), newest year first."""
    qs = Assessment.objects.visible_to(user).select_related("organization")
    if year:
        qs = qs.filter(year=year)
    if status:
        qs = qs.filter(status=status)
    if result:
        qs = qs.filter(result=result)
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if division:
        try:
            prefix = division_prefix(division)
        except IdentifierError:
            prefix = division
        qs = qs.filter(division_code__startswith=prefix)
    return qs.order_by("-year", "organization__name")


def assessment_visible(user: Any, assessment_id: Any) -> Assessment | None:
    found: Assessment | None = assessment_list_visible_to(user).filter(pk=assessment_id).first()
    return found


def assessment_history(user: Any, organization_id: Any) -> Any:
    """Every assessment of one enterprise the person may see, by year."""
    return assessment_list_visible_to(user, organization_id=organization_id)


def assessment_events(assessment: Assessment) -> Any:
    from greenisle.audit.models import Event

    return Event.objects.filter(object_type="assessment.assessment", object_id=str(assessment.pk)).order_by(
        "id"
    )


@dataclass
class ItemRow:
    """One item for display: the checklist's text with the assessment's scores and evidence."""

    item: checklists.Item
    row: Any
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.item.code

    @property
    def evidence(self) -> dict[str, Any]:
        value: dict[str, Any] = self.row.evidence or {}
        return value

    @property
    def guidance(self) -> list[tuple[int, str]]:
        return [(score, self.item.guidance_for(score)) for score in (2, 1, 0)]


def assessment_items(assessment: Assessment) -> list[ItemRow]:
    rows = {r.code: r for r in assessment.items.all()}
    files: dict[str, list[Attachment]] = defaultdict(list)
    for attachment in assessment.attachments.select_related("uploaded_by").order_by("created_at"):
        files[attachment.item_code].append(attachment)
    return [
        ItemRow(item, rows[item.code], files.get(item.code, []))
        for item in checklists.checklist(assessment.kind)
        if item.code in rows
    ]


def general_attachments(assessment: Assessment) -> list[Attachment]:
    return list(assessment.attachments.filter(item_code="").select_related("uploaded_by"))


def attachment_visible(user: Any, attachment_id: Any) -> Attachment | None:
    found: Attachment | None = (
        Attachment.objects.filter(pk=attachment_id, assessment__in=Assessment.objects.visible_to(user))
        .select_related("assessment")
        .first()
    )
    return found


def organizations_assessable(user: Any) -> Any:
    """Producers and collectors the person may start an assessment for: its own organisation, a
    collector's clients, a bureau's division."""
    return (
        Organization.objects.visible_to(user)
        .filter(kind__in=["producer", "collector"])
        .order_by("kind", "name")
    )


# --- benchmarks ---------------------------------------------------------------------------------------


def industry_key(industry: str) -> tuple[str, str]:
    """Group key and name of an industry as typed: its GB/T 4754 code where the platform knows the name
    (机动车维修 and 汽车修理与维护 are both 8111), else the text."""
    name = (industry or "").strip()
    if not name:
        return "-", "未填写行业 / industry not given"
    return INDUSTRY_CODES.get(name, name), name


@dataclass(frozen=True)
class BenchmarkRow:
    assessment_id: Any
    organization_id: Any
    organization_name: str
    division_code: str
    score_pct: Decimal
    result: str


@dataclass
class IndustryGroup:
    key: str
    name: str
    rows: list[BenchmarkRow] = field(default_factory=list)


def benchmark_ranking(user: Any, *, year: int, per_industry: int = 3) -> list[IndustryGroup]:
    """Per industry, the best ``per_industry`` final assessments of ``year`` the person may see that meet
    the standard (达标), highest score first (ties: the earlier final result first)."""
    qs = (
        Assessment.objects.visible_to(user)
        .filter(year=year, status=AssessmentStatus.FINAL, result=AssessmentResult.PASS)
        .select_related("organization")
        .order_by("-score_pct", "finalised_at", "organization__name")
    )
    groups: dict[str, IndustryGroup] = {}
    for assessment in qs:
        key, name = industry_key(assessment.organization.industry)
        group = groups.setdefault(key, IndustryGroup(key, name))
        if len(group.rows) < per_industry:
            group.rows.append(
                BenchmarkRow(
                    assessment.pk,
                    assessment.organization_id,
                    assessment.organization.name,
                    assessment.division_code,
                    assessment.score_pct or Decimal("0"),
                    assessment.result,
                )
            )
    return sorted(groups.values(), key=lambda g: (g.key == "-", g.key))


def benchmark_lists(*, year: int | None = None) -> Any:
    """Published benchmark lists, newest first. Published for the bureau to promote: every logged-in
    person sees them."""
    qs = BenchmarkList.objects.select_related("published_by_organization")
    if year:
        qs = qs.filter(year=year)
    return qs.order_by("-published_at")


def results_summary(user: Any, *, year: int) -> dict[str, int]:
    """How many visible assessments of the year are in each result (final ones) and still open."""
    qs = Assessment.objects.visible_to(user).filter(year=year)
    summary = {r: qs.filter(status=AssessmentStatus.FINAL, result=r).count() for r in AssessmentResult.values}
    summary["open"] = qs.filter(~Q(status=AssessmentStatus.FINAL)).count()
    return summary
