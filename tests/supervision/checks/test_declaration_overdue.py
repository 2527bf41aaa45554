"""declaration.annual_overdue: a producer site that has not submitted last year's annual declaration
after 31 March — read as the bureau's obligations page reads it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from factories import SiteFactory

from greenisle.ledger import core as ledger_core
from greenisle.ledger.models import Declaration, DeclarationStatus
from greenisle.organizations.models import Site
from greenisle.supervision.checks import declaration_overdue
from supervision.checks.helpers import raised

pytestmark = pytest.mark.django_db
CODE = declaration_overdue.RULE.code
YEAR = 2026


def local(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


APRIL_1 = local(dt.date(YEAR, 4, 1))
MARCH_31 = local(dt.date(YEAR, 3, 31), hour=23)


def registered_last_year(site: Site) -> Site:
    Site.objects.filter(pk=site.pk).update(created_at=local(dt.date(YEAR - 1, 6, 1)))
    return site


def declaration(site: Site, status: str, year: int = YEAR - 1) -> Declaration:
    period = ledger_core.period_of(ledger_core.YEAR, dt.date(year, 1, 1))
    return Declaration.objects.create(
        organization=site.organization,
        site=site,
        kind=period.kind,
        period_start=period.start,
        period_end=period.end,
        label=period.label,
        due_on=period.due_on,
        management_class="registration",
        status=status,
        generated_at=local(dt.date(year + 1, 1, 5)),
    )


@pytest.fixture
def site(producer_site: Site) -> Site:
    return registered_last_year(producer_site)


def test_last_years_declaration_missing_on_1_april_is_a_finding(producer: Any, site: Site, run: Any) -> None:
    counts = run(declaration_overdue, APRIL_1)

    assert counts == {"checked": 1, "breaches": 1, "raised": 1}
    [finding] = raised(declaration_overdue)
    assert finding.organization == producer and finding.object_id == str(site.pk)
    assert finding.evidence["period"] == "2025" and finding.evidence["due_on"] == "2026-03-31"
    assert finding.evidence["days_late"] == 1
    assert "2025" in finding.message


def test_on_31_march_it_is_not_yet_due(site: Site, run: Any) -> None:
    assert run(declaration_overdue, MARCH_31)["raised"] == 0


def test_a_submitted_declaration_counts_a_prepared_one_does_not(producer: Any, site: Site, run: Any) -> None:
    prepared = registered_last_year(SiteFactory(organization=producer))
    declaration(site, DeclarationStatus.SUBMITTED)
    declaration(prepared, DeclarationStatus.DRAFT)

    run(declaration_overdue, APRIL_1)

    assert [f.object_id for f in raised(declaration_overdue)] == [str(prepared.pk)]


def test_a_site_registered_this_year_owes_no_declaration_for_last_year(producer_site: Site, run: Any) -> None:
    Site.objects.filter(pk=producer_site.pk).update(created_at=local(dt.date(YEAR, 1, 10)))

    assert run(declaration_overdue, APRIL_1) == {"checked": 0, "breaches": 0, "raised": 0}


def test_the_grace_days_are_a_parameter(site: Site, run: Any, configure: Any) -> None:
    configure(CODE, grace_days=10)

    assert run(declaration_overdue, local(dt.date(YEAR, 4, 10)))["raised"] == 0
    assert run(declaration_overdue, local(dt.date(YEAR, 4, 11)))["raised"] == 1


def test_switched_off_it_raises_nothing(site: Site, run: Any, configure: Any) -> None:
    configure(CODE, enabled=False)

    assert run(declaration_overdue, APRIL_1) == {"enabled": 0}
    assert not raised(declaration_overdue)


def test_once_a_year_per_site(site: Site, run: Any) -> None:
    assert run(declaration_overdue, APRIL_1)["raised"] == 1
    assert run(declaration_overdue, local(dt.date(YEAR, 7, 1)))["raised"] == 0
