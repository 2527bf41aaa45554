"""licence.code_not_covered: a manifest received with a waste code outside the receiver's licences in
force that day (accepted lines; a rejected line was not taken in)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from greenisle.organizations.models import Licence
from greenisle.supervision.checks import licence_code
from supervision.checks.helpers import raised, receive

pytestmark = pytest.mark.django_db
CODE = licence_code.RULE.code


@pytest.fixture
def narrowed(world: Any, delivered_manifest: Any) -> Any:
    """While the manifest (900-214-08 and 900-041-49) was on its way, the collector's licence was
    renewed without 900-041-49."""
    licence = Licence.objects.get(organization=world.collector)
    licence.waste_codes.remove(*licence.waste_codes.filter(code="900-041-49"))
    return delivered_manifest


def test_accepting_a_code_the_licence_does_not_cover_is_a_grade_a_finding_on_the_receiver(
    narrowed: Any, world: Any, run: Any
) -> None:
    receive(world, narrowed, {})

    counts = run(licence_code, timezone.now())

    assert counts == {"checked": 1, "breaches": 1, "raised": 1}
    [finding] = raised(licence_code)
    assert finding.severity == "A"
    assert finding.organization == world.collector and finding.division_code == world.collector.division_id
    assert finding.object_type == "manifests.manifest" and finding.object_id == str(narrowed.pk)
    assert [line["waste_code"] for line in finding.evidence["lines"]] == ["900-041-49"]
    assert finding.evidence["lines"][0]["container_code"] == "RQ-0002"
    assert finding.evidence["licences_in_force"] == ["JSNT0612OOD001"]
    assert narrowed.number in finding.message


def test_rejecting_the_uncovered_line_is_not_a_finding(narrowed: Any, world: Any, run: Any) -> None:
    receive(
        world,
        narrowed,
        {"RQ-0002": {"received_weight_kg": "12", "decision": "rejected", "note": "超出许可范围"}},
    )

    assert run(licence_code, timezone.now())["raised"] == 0


def test_a_licence_covering_every_code_is_not_a_finding(
    world: Any, delivered_manifest: Any, run: Any
) -> None:
    receive(world, delivered_manifest, {})

    assert run(licence_code, timezone.now()) == {"checked": 1, "breaches": 0, "raised": 0}


def test_a_licence_that_had_ended_on_the_day_of_receipt_covers_nothing(
    world: Any, delivered_manifest: Any, run: Any
) -> None:
    receive(world, delivered_manifest, {})
    Licence.objects.filter(organization=world.collector).update(
        valid_to=timezone.localdate() - dt.timedelta(days=1)
    )

    run(licence_code, timezone.now())

    [finding] = raised(licence_code)
    assert {line["waste_code"] for line in finding.evidence["lines"]} == {"900-214-08", "900-041-49"}
    assert finding.evidence["licences_in_force"] == []


def test_the_lookback_is_a_parameter(narrowed: Any, world: Any, run: Any, configure: Any) -> None:
    receive(world, narrowed, {})
    later = timezone.now() + dt.timedelta(days=31)

    assert run(licence_code, later)["checked"] == 0
    configure(CODE, lookback_days=40)
    assert run(licence_code, later)["raised"] == 1


def test_switched_off_it_raises_nothing(narrowed: Any, world: Any, run: Any, configure: Any) -> None:
    receive(world, narrowed, {})
    configure(CODE, enabled=False)

    assert run(licence_code, timezone.now()) == {"enabled": 0}
    assert not raised(licence_code)


def test_a_second_run_raises_nothing_more(narrowed: Any, world: Any, run: Any) -> None:
    receive(world, narrowed, {})
    assert run(licence_code, timezone.now())["raised"] == 1
    assert run(licence_code, timezone.now() + dt.timedelta(hours=1))["raised"] == 0
