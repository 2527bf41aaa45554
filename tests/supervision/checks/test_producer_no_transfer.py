"""producer.no_transfer: a producer whose filed plan or ledger says it makes hazardous waste but that
made no transfer in N months (default 6): possible illegal disposal, for the bureau to inspect."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from factories import LedgerRecordFactory, ManifestFactory

from greenisle.ledger.models import RecordType
from greenisle.manifests.choices import ManifestStatus
from greenisle.organizations.models import Organization
from greenisle.supervision.checks import producer_no_transfer
from greenisle.supervision.checks.base import months_before
from supervision.checks.helpers import raised

pytestmark = pytest.mark.django_db
CODE = producer_no_transfer.RULE.code
NOW = timezone.now()
TODAY = timezone.localtime(NOW).date()


def months_ago(months: int, days: int = 0) -> dt.datetime:
    day = months_before(TODAY, months) - dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10)))


@pytest.fixture
def registered(producer: Any) -> Organization:
    """Alice's workshop, on the platform for two years."""
    Organization.objects.filter(pk=producer.pk).update(created_at=NOW - dt.timedelta(days=730))
    return producer


def transfer(producer: Any, site: Any, signed_at: dt.datetime, status: str = ManifestStatus.RECEIVED) -> Any:
    return ManifestFactory(producer=producer, producer_site=site, status=status, producer_signed_at=signed_at)


def test_a_filed_plan_and_no_transfer_for_7_months_is_a_finding_the_bureau_follows_up(
    registered: Any, producer_site: Any, filed_plan: Any, regulator: Any, run: Any
) -> None:
    last = transfer(registered, producer_site, months_ago(7))

    counts = run(producer_no_transfer, NOW)

    assert counts["breaches"] == 1 and counts["raised"] == 1
    [finding] = raised(producer_no_transfer)
    assert finding.organization == registered and finding.division_code == "320602"
    assert finding.owner_organization == regulator.current_membership.organization
    assert finding.object_type == "organizations.organization" and finding.object_id == str(registered.pk)
    assert dt.datetime.fromisoformat(finding.evidence["last_transfer_at"]) == last.producer_signed_at
    assert finding.evidence["planned_t_per_year"] == "10.000"
    assert finding.evidence["no_transfer_since"] == months_before(TODAY, 6).isoformat()


def test_a_transfer_5_months_ago_is_not_a_finding(
    registered: Any, producer_site: Any, filed_plan: Any, run: Any
) -> None:
    transfer(registered, producer_site, months_ago(5))

    assert run(producer_no_transfer, NOW)["raised"] == 0


def test_a_cancelled_manifest_is_no_transfer(
    registered: Any, producer_site: Any, filed_plan: Any, run: Any
) -> None:
    transfer(registered, producer_site, months_ago(1), status=ManifestStatus.CANCELLED)

    assert run(producer_no_transfer, NOW)["raised"] == 1


def test_production_in_the_ledger_counts_as_making_waste(
    registered: Any, producer_site: Any, run: Any
) -> None:
    LedgerRecordFactory(site=producer_site, occurred_at=months_ago(3))

    run(producer_no_transfer, NOW)

    [finding] = raised(producer_no_transfer)
    assert finding.evidence["produced_kg"] == "35.00" and finding.evidence["planned_t_per_year"] is None
    assert finding.evidence["last_transfer_at"] is None


def test_production_older_than_the_history_window_and_no_plan_is_not_a_finding(
    registered: Any, producer_site: Any, run: Any
) -> None:
    LedgerRecordFactory(site=producer_site, occurred_at=months_ago(12, days=2))

    assert run(producer_no_transfer, NOW)["breaches"] == 0


def test_a_producer_on_the_platform_for_less_than_the_months_is_not_judged(
    producer: Any, producer_site: Any, filed_plan: Any, run: Any
) -> None:
    Organization.objects.filter(pk=producer.pk).update(created_at=NOW - dt.timedelta(days=150))

    assert run(producer_no_transfer, NOW)["raised"] == 0


def test_the_months_are_a_parameter(
    registered: Any, producer_site: Any, filed_plan: Any, run: Any, configure: Any
) -> None:
    transfer(registered, producer_site, months_ago(5))
    configure(CODE, months=4)

    assert run(producer_no_transfer, NOW)["raised"] == 1


def test_switched_off_it_raises_nothing(
    registered: Any, producer_site: Any, filed_plan: Any, run: Any, configure: Any
) -> None:
    configure(CODE, enabled=False)

    assert run(producer_no_transfer, NOW) == {"enabled": 0}
    assert not raised(producer_no_transfer)


def test_a_second_run_raises_nothing_more_until_months_after_the_finding(
    registered: Any, producer_site: Any, filed_plan: Any, run: Any
) -> None:
    assert run(producer_no_transfer, NOW)["raised"] == 1
    assert run(producer_no_transfer, NOW + dt.timedelta(days=30))["raised"] == 0
    assert len(raised(producer_no_transfer)) == 1


def test_a_producer_treating_its_own_waste_is_not_asked_to_transfer_it(
    registered: Any, producer_site: Any, filed_plan: Any, run: Any
) -> None:
    # The plan expects no transfer of any of its wastes (HJ 1259 A.5 own treatment, A.7 nothing out),
    # and the ledger shows production used up on site.
    filed_plan.wastes.update(transfer_t=Decimal("0"))
    LedgerRecordFactory(site=producer_site, occurred_at=months_ago(3))
    LedgerRecordFactory(site=producer_site, occurred_at=months_ago(2), record_type=RecordType.OWN_DISPOSAL)

    assert run(producer_no_transfer, NOW)["breaches"] == 0


def test_production_beyond_what_it_treats_itself_is_still_a_finding(
    registered: Any, producer_site: Any, filed_plan: Any, run: Any
) -> None:
    filed_plan.wastes.update(transfer_t=Decimal("0"))
    LedgerRecordFactory(site=producer_site, occurred_at=months_ago(3))  # 35 kg made
    LedgerRecordFactory(
        site=producer_site,
        occurred_at=months_ago(2),
        record_type=RecordType.OWN_UTILISATION,
        weight_kg=Decimal("20"),
    )

    run(producer_no_transfer, NOW)

    [finding] = raised(producer_no_transfer)
    assert finding.evidence["produced_kg"] == "35.00"


def test_one_planned_waste_to_transfer_is_enough(
    registered: Any, producer_site: Any, filed_plan: Any, run: Any
) -> None:
    first, *others = filed_plan.wastes.order_by("waste_code")
    filed_plan.wastes.exclude(pk=first.pk).update(transfer_t=Decimal("0"))

    assert others and run(producer_no_transfer, NOW)["breaches"] == 1
