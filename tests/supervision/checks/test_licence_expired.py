"""licence.expired_operating: a collector or facility whose licences all ended, still receiving
manifests after the end or still holding waste in stock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from factories import LedgerRecordFactory, LicenceFactory, ManifestFactory, SiteFactory

from greenisle.ledger.models import RecordType
from greenisle.manifests.choices import ManifestStatus
from greenisle.organizations.models import Licence
from greenisle.supervision.checks import licence_expired
from supervision.checks.helpers import raised

pytestmark = pytest.mark.django_db
CODE = licence_expired.RULE.code
NOW = timezone.now()
TODAY = timezone.localtime(NOW).date()
ENDED = TODAY - dt.timedelta(days=10)


def _midday(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


@pytest.fixture
def lapsed(collector: Any) -> Licence:
    """The collector's licence ended ten days ago."""
    licence = Licence.objects.get(organization=collector)
    licence.valid_to = ENDED
    licence.save(update_fields=["valid_to"])
    return licence


def delivered(collector: Any, day: dt.date) -> Any:
    return ManifestFactory(
        carrier=collector, receiver=collector, status=ManifestStatus.DELIVERED, delivered_at=_midday(day)
    )


def test_receiving_after_the_licence_ended_is_a_grade_a_finding(
    lapsed: Licence, collector: Any, run: Any
) -> None:
    manifest = delivered(collector, ENDED + dt.timedelta(days=1))

    counts = run(licence_expired, NOW)

    assert counts == {"checked": 1, "breaches": 1, "raised": 1}
    [finding] = raised(licence_expired)
    assert finding.severity == "A"
    assert finding.organization == collector and finding.division_code == "320612"
    assert finding.object_type == "organizations.licence" and finding.object_id == str(lapsed.pk)
    assert finding.evidence["licence_number"] == "JSNT0612OOD001"
    assert finding.evidence["valid_to"] == ENDED.isoformat()
    assert finding.evidence["manifests_since"] == 1
    assert finding.evidence["manifests"][0]["number"] == manifest.number
    assert finding.evidence["holds_stock"] is False


def test_receiving_on_the_last_day_of_the_licence_is_not_a_finding(
    lapsed: Licence, collector: Any, run: Any
) -> None:
    delivered(collector, ENDED)

    assert run(licence_expired, NOW) == {"checked": 1, "breaches": 0, "raised": 0}


def test_waste_still_in_stock_after_the_end_is_a_finding(lapsed: Licence, collector: Any, run: Any) -> None:
    LedgerRecordFactory(
        site=SiteFactory(organization=collector),
        record_type=RecordType.STORAGE_IN,
        stock_effect=1,
        weight_kg=Decimal("120.00"),
        occurred_at=_midday(ENDED - dt.timedelta(days=30)),
    )

    run(licence_expired, NOW)

    [finding] = raised(licence_expired)
    assert finding.evidence["holds_stock"] is True and finding.evidence["manifests_since"] == 0


def test_a_renewed_licence_ends_the_breach(lapsed: Licence, collector: Any, run: Any) -> None:
    delivered(collector, ENDED + dt.timedelta(days=1))
    LicenceFactory(
        organization=collector,
        valid_from=ENDED + dt.timedelta(days=1),
        valid_to=TODAY.replace(year=TODAY.year + 3),
    )

    assert run(licence_expired, NOW)["raised"] == 0


def test_a_licence_in_force_is_not_a_finding(collector: Any, run: Any) -> None:
    delivered(collector, TODAY)

    assert run(licence_expired, NOW) == {"checked": 1, "breaches": 0, "raised": 0}


def test_the_grace_days_are_a_parameter(lapsed: Licence, collector: Any, run: Any, configure: Any) -> None:
    delivered(collector, ENDED + dt.timedelta(days=1))
    configure(CODE, grace_days=10)
    assert run(licence_expired, NOW)["raised"] == 0

    configure(CODE, grace_days=9)
    assert run(licence_expired, NOW)["raised"] == 1


def test_switched_off_it_raises_nothing(lapsed: Licence, collector: Any, run: Any, configure: Any) -> None:
    delivered(collector, ENDED + dt.timedelta(days=1))
    configure(CODE, enabled=False)

    assert run(licence_expired, NOW) == {"enabled": 0}
    assert not raised(licence_expired)


def test_a_second_run_raises_nothing_more(lapsed: Licence, collector: Any, run: Any) -> None:
    delivered(collector, ENDED + dt.timedelta(days=1))
    assert run(licence_expired, NOW)["raised"] == 1
    delivered(collector, ENDED + dt.timedelta(days=2))
    assert run(licence_expired, NOW + dt.timedelta(hours=1))["raised"] == 0
    assert len(raised(licence_expired)) == 1
