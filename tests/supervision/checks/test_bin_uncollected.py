"""bin.over_threshold_uncollected: a bin over its threshold not collected within N hours (default 48)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from greenisle.dispatch.choices import RequestOrigin, RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.supervision.checks import bin_uncollected
from greenisle.supervision.services import finding_dismiss
from supervision.checks.helpers import raised

pytestmark = pytest.mark.django_db
CODE = bin_uncollected.RULE.code


@pytest.fixture
def over(world: Any, ingest: Any) -> PickupRequest:
    """Alice's bin crossed its 80 % threshold (a reading at 85 %): the request opened at that reading."""
    outcome = ingest(85, at=timezone.now() - dt.timedelta(hours=1))
    return PickupRequest.objects.get(pk=outcome.request_opened)


def test_a_bin_over_its_threshold_49_hours_is_a_finding_on_its_collector(
    over: Any, world: Any, run: Any
) -> None:
    now = over.opened_at + dt.timedelta(hours=49)

    counts = run(bin_uncollected, now)

    assert counts == {"checked": 1, "breaches": 1, "raised": 1}
    [finding] = raised(bin_uncollected)
    assert finding.organization == world.collector
    assert finding.division_code == world.site.division_id == "320602"
    assert finding.object_type == "dispatch.pickuprequest" and finding.object_id == str(over.pk)
    assert finding.severity == "C"
    evidence = finding.evidence
    assert evidence["bin_serial"] == world.bin.serial and evidence["bin_id"] == str(world.bin.pk)
    assert evidence["over_threshold_since"] == over.opened_at.isoformat()
    assert evidence["hours_waiting"] == 49.0 and evidence["limit_hours"] == 48
    assert evidence["threshold_pct"] == "80.00" and evidence["fill_pct_now"] == "85.00"
    assert world.bin.serial in finding.message


def test_47_hours_is_not_yet_a_finding(over: Any, run: Any) -> None:
    counts = run(bin_uncollected, over.opened_at + dt.timedelta(hours=47))

    assert counts["raised"] == 0 and counts["breaches"] == 0
    assert not raised(bin_uncollected)


def test_an_assigned_request_still_waits_but_a_bin_emptied_or_collected_does_not(
    over: Any, world: Any, ingest: Any, run: Any
) -> None:
    PickupRequest.objects.filter(pk=over.pk).update(status=RequestStatus.ASSIGNED)
    assert run(bin_uncollected, over.opened_at + dt.timedelta(hours=49))["raised"] == 1

    # The next fill cycle: a bin emptied (a reading at 10 %) closes its request, whenever that is.
    PickupRequest.objects.filter(pk=over.pk).update(status=RequestStatus.CLOSED)
    second = ingest(90, at=timezone.now() - dt.timedelta(minutes=20)).request_opened
    assert second is not None
    ingest(10, at=timezone.now() - dt.timedelta(minutes=10))
    assert PickupRequest.objects.get(pk=second).status == RequestStatus.CLOSED
    assert run(bin_uncollected, timezone.now() + dt.timedelta(hours=60))["raised"] == 0


def test_a_request_whose_waste_is_on_a_truck_is_not_a_finding(
    world: Any, signed_manifest: Any, run: Any
) -> None:
    request = PickupRequest.objects.get(bin=world.bin)
    assert request.status == RequestStatus.COLLECTED

    assert run(bin_uncollected, request.opened_at + dt.timedelta(hours=72))["raised"] == 0


def test_the_hours_are_a_parameter(over: Any, run: Any, configure: Any) -> None:
    configure(CODE, hours=24)

    assert run(bin_uncollected, over.opened_at + dt.timedelta(hours=23))["raised"] == 0
    assert run(bin_uncollected, over.opened_at + dt.timedelta(hours=25))["raised"] == 1


def test_switched_off_it_raises_nothing(over: Any, run: Any, configure: Any) -> None:
    configure(CODE, enabled=False)

    assert run(bin_uncollected, over.opened_at + dt.timedelta(hours=100)) == {"enabled": 0}
    assert not raised(bin_uncollected)


def test_a_second_run_raises_nothing_more_nor_after_the_bureau_dismissed_it(
    over: Any, run: Any, regulator: Any
) -> None:
    now = over.opened_at + dt.timedelta(hours=49)
    run(bin_uncollected, now)

    assert run(bin_uncollected, now + dt.timedelta(hours=1))["raised"] == 0
    [finding] = raised(bin_uncollected)
    finding_dismiss(actor=regulator, finding_id=finding.pk, reason="收运车辆故障，已安排次日清运")
    assert run(bin_uncollected, now + dt.timedelta(hours=2))["raised"] == 0
    assert len(raised(bin_uncollected)) == 1


def _forecast_request(world: Any, opened_at: dt.datetime) -> PickupRequest:
    """A stop the route plan opened for the bin before it filled (one waiting request per bin)."""
    return PickupRequest.objects.create(
        bin=world.bin,
        site=world.site,
        producer=world.producer,
        collector=world.collector,
        origin=RequestOrigin.FORECAST,
        status=RequestStatus.OPEN,
        opened_at=opened_at,
    )


def test_a_bin_that_fills_under_an_earlier_request_is_judged_from_its_first_reading_over(
    world: Any, ingest: Any, run: Any
) -> None:
    start = timezone.now() - dt.timedelta(hours=6)
    forecast = _forecast_request(world, start)
    ingest(60, at=start + dt.timedelta(hours=1))
    crossed = start + dt.timedelta(hours=2)
    assert ingest(85, at=crossed).request_opened is None  # the forecast's request stands in
    ingest(90, at=start + dt.timedelta(hours=3))

    assert run(bin_uncollected, crossed + dt.timedelta(hours=47))["breaches"] == 0
    assert run(bin_uncollected, crossed + dt.timedelta(hours=49))["raised"] == 1
    [finding] = raised(bin_uncollected)
    assert finding.object_id == str(forecast.pk)
    assert dt.datetime.fromisoformat(finding.evidence["over_threshold_since"]) == crossed
    assert finding.evidence["request_origin"] == RequestOrigin.FORECAST


def test_an_earlier_request_for_a_bin_still_under_its_threshold_is_no_finding(
    world: Any, ingest: Any, run: Any
) -> None:
    start = timezone.now() - dt.timedelta(days=5)
    _forecast_request(world, start)
    ingest(70, at=start + dt.timedelta(hours=1))

    assert run(bin_uncollected, timezone.now())["checked"] == 0
    assert not raised(bin_uncollected)
