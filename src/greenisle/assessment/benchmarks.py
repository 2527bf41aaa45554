"""Benchmark enterprises (标杆企业): the city bureau publishes the best-assessed final results of a year
per industry, as a list it can promote.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.accounts.permissions import membership_of
from greenisle.assessment.access import REGULATOR_ROLES, is_city_level, note_text
from greenisle.assessment.models import BenchmarkList
from greenisle.audit.services import event_record
from greenisle.core.errors import PermissionDenied, ServiceError

BENCHMARK_MAX_PER_INDUSTRY = 10


@transaction.atomic
def benchmark_publish(*, actor: Any, year: int, per_industry: int = 3, note: str = "") -> BenchmarkList:
    """The city bureau publishes its benchmark enterprises (标杆企业) of ``year``: the best final
    assessments per industry that meet the standard (达标), as ranked by ``selectors.benchmark_ranking``,
    frozen as published."""
    from greenisle.assessment.selectors import benchmark_ranking

    membership = membership_of(actor)
    org = membership.organization
    if (
        org.kind != "regulator"
        or membership.role not in REGULATOR_ROLES
        or not is_city_level(org.division_id)
    ):
        raise PermissionDenied(
            "标杆企业名单由市生态环境局发布 / the city bureau publishes the benchmark list"
        )
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= timezone.localdate().year:
        raise ServiceError("评估年度无效 / year is not a valid assessment year", field="year")
    if (
        isinstance(per_industry, bool)
        or not isinstance(per_industry, int)
        or not 1 <= per_industry <= BENCHMARK_MAX_PER_INDUSTRY
    ):
        raise ServiceError(
            f"每个行业1至{BENCHMARK_MAX_PER_INDUSTRY}家 / per_industry: 1 to {BENCHMARK_MAX_PER_INDUSTRY}",
            field="per_industry",
        )
    note = note_text(note, "note", what="说明")
    groups = benchmark_ranking(actor, year=year, per_industry=per_industry)
    entries = [
        {
            "industry_key": group.key,
            "industry": group.name,
            "rank": rank,
            "assessment_id": str(row.assessment_id),
            "organization_id": str(row.organization_id),
            "organization": row.organization_name,
            "division_code": row.division_code,
            "score_pct": str(row.score_pct),
            "result": row.result,
        }
        for group in groups
        for rank, row in enumerate(group.rows, start=1)
    ]
    if not entries:
        raise ServiceError(
            f"{year} 年度没有达标的最终评估，无法发布 / no final assessment of {year} meets the standard yet",
            field="year",
            code="empty",
        )
    published = BenchmarkList.objects.create(
        year=year,
        division_code=org.division_id,
        per_industry=per_industry,
        entries=entries,
        note=note,
        published_at=timezone.now(),
        published_by=actor,
        published_by_organization=org,
    )
    event_record(
        action="assessment.benchmarks.published",
        obj=published,
        actor=actor,
        organization=org,
        division_code=org.division_id,
        payload={"year": year, "per_industry": per_industry, "entries": entries, "note": note},
    )
    return published
