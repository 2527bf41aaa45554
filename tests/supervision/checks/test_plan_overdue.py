"""plan.overdue: a producer site without a management plan in force for the year after 31 March —
read as the bureau's obligations page reads it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from factories import SiteFactory

from greenisle.plans.models import ManagementPlan, PlanStatus
from greenisle.supervision.checks import plan_overdue
from supervision.checks.helpers import raised

pytestmark = pytest.mark.django_db
CODE = plan_overdue.RULE.code
YEAR = 2026


def local(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


APRIL_1 = local(dt.date(YEAR, 4, 1))
MARCH_31 = local(dt.date(YEAR, 3, 31), hour=23)


def plan(site: Any, status: str = PlanStatus.FILED, year: int = YEAR) -> ManagementPlan:
    return ManagementPlan.objects.create(site=site, year=year, status=status)


def test_a_site_without_a_plan_on_1_april_is_a_finding_on_its_producer(
    producer: Any, producer_site: Any, run: Any
) -> None:
    counts = run(plan_overdue, APRIL_1)

    assert counts == {"checked": 1, "breaches": 1, "raised": 1}
    [finding] = raised(plan_overdue)
    assert finding.organization == producer and finding.division_code == producer_site.division_id
    assert finding.object_type == "organizations.site" and finding.object_id == str(producer_site.pk)
    assert finding.evidence == {
        "rule": CODE,
        "site_id": str(producer_site.pk),
        "producer_id": str(producer.pk),
        "year": YEAR,
        "due_on": "2026-03-31",
        "days_late": 1,
    }
    # The rectification deadline counts from the local day the check ran.
    assert finding.deadline > dt.date(YEAR, 4, 1)


def test_on_31_march_it_is_not_yet_due(producer_site: Any, run: Any) -> None:
    assert run(plan_overdue, MARCH_31)["raised"] == 0


def test_a_filed_or_approved_plan_counts_a_draft_or_last_years_does_not(producer: Any, run: Any) -> None:
    filed, approved, draft, old = (SiteFactory(organization=producer) for _ in range(4))
    plan(filed)
    plan(approved, PlanStatus.APPROVED)
    plan(draft, PlanStatus.DRAFT)
    plan(old, year=YEAR - 1)

    run(plan_overdue, APRIL_1)

    assert {f.object_id for f in raised(plan_overdue)} == {str(draft.pk), str(old.pk)}


def test_collector_and_facility_sites_are_not_judged(warehouse: Any, run: Any) -> None:
    assert run(plan_overdue, APRIL_1) == {"checked": 0, "breaches": 0, "raised": 0}


def test_the_grace_days_are_a_parameter(producer_site: Any, run: Any, configure: Any) -> None:
    configure(CODE, grace_days=5)

    assert run(plan_overdue, local(dt.date(YEAR, 4, 5)))["raised"] == 0
    assert run(plan_overdue, local(dt.date(YEAR, 4, 6)))["raised"] == 1


def test_switched_off_it_raises_nothing(producer_site: Any, run: Any, configure: Any) -> None:
    configure(CODE, enabled=False)

    assert run(plan_overdue, APRIL_1) == {"enabled": 0}
    assert not raised(plan_overdue)


def test_once_a_year_per_site(producer_site: Any, run: Any) -> None:
    assert run(plan_overdue, APRIL_1)["raised"] == 1
    assert run(plan_overdue, local(dt.date(YEAR, 6, 1)))["raised"] == 0
    assert len(raised(plan_overdue)) == 1
