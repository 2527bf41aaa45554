"""manifest.weight_discrepancy: received vs declared weight per line beyond the tolerance (default the
receipt tolerance RECEIPT_WEIGHT_TOLERANCE_PCT, 5 %); the bureau follows it up."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from greenisle.supervision.checks import receipt_weight
from supervision.checks.helpers import raised, receive

pytestmark = pytest.mark.django_db
CODE = receipt_weight.RULE.code

# RQ-0001 is declared at 35.5 kg: 5 % is 1.775 kg.
SHORT = {"RQ-0001": {"received_weight_kg": "33.50", "decision": "accepted"}}  # 5.6 % less
WITHIN = {"RQ-0001": {"received_weight_kg": "33.80"}}  # 4.8 % less


def test_a_line_received_5_6_percent_light_is_a_finding_the_bureau_follows_up(
    world: Any, delivered_manifest: Any, regulator: Any, run: Any
) -> None:
    receive(world, delivered_manifest, SHORT)

    counts = run(receipt_weight, timezone.now())

    assert counts == {"checked": 1, "breaches": 1, "raised": 1}
    [finding] = raised(receipt_weight)
    assert finding.organization == world.producer and finding.division_code == "320602"
    assert finding.owner_organization == regulator.current_membership.organization
    assert finding.object_id == str(delivered_manifest.pk)
    evidence = finding.evidence
    assert evidence["tolerance_pct"] == "5.0"
    assert evidence["lines"] == [
        {
            "line_id": evidence["lines"][0]["line_id"],
            "container_code": "RQ-0001",
            "waste_code": "900-214-08",
            "declared_kg": "35.50",
            "received_kg": "33.50",
            "gap_pct": "-5.6",
        }
    ]
    assert "RQ-0001 35.50→33.50 kg" in finding.message


def test_4_8_percent_is_within_the_tolerance(world: Any, delivered_manifest: Any, run: Any) -> None:
    receive(world, delivered_manifest, WITHIN)

    assert run(receipt_weight, timezone.now()) == {"checked": 1, "breaches": 0, "raised": 0}


def test_heavier_on_arrival_counts_too(world: Any, delivered_manifest: Any, run: Any) -> None:
    receive(world, delivered_manifest, {"RQ-0002": {"received_weight_kg": "13", "decision": "accepted"}})

    run(receipt_weight, timezone.now())

    [finding] = raised(receipt_weight)
    assert finding.evidence["lines"][0]["gap_pct"] == "8.3"


def test_the_tolerance_follows_the_receipt_setting_unless_the_rule_sets_its_own(
    world: Any, delivered_manifest: Any, run: Any, configure: Any, settings: Any
) -> None:
    receive(world, delivered_manifest, WITHIN)
    settings.GREENISLE = {**settings.GREENISLE, "RECEIPT_WEIGHT_TOLERANCE_PCT": 10}
    configure(CODE, tolerance_pct=4)

    assert run(receipt_weight, timezone.now())["raised"] == 1
    assert raised(receipt_weight)[0].evidence["tolerance_pct"] == "4"


def test_a_wider_receipt_setting_widens_the_rule(
    world: Any, delivered_manifest: Any, run: Any, settings: Any
) -> None:
    settings.GREENISLE = {**settings.GREENISLE, "RECEIPT_WEIGHT_TOLERANCE_PCT": 10}
    receive(world, delivered_manifest, {"RQ-0001": {"received_weight_kg": "33.50"}})

    assert run(receipt_weight, timezone.now())["raised"] == 0


def test_switched_off_it_raises_nothing(
    world: Any, delivered_manifest: Any, run: Any, configure: Any
) -> None:
    receive(world, delivered_manifest, SHORT)
    configure(CODE, enabled=False)

    assert run(receipt_weight, timezone.now()) == {"enabled": 0}
    assert not raised(receipt_weight)


def test_a_second_run_raises_nothing_more(world: Any, delivered_manifest: Any, run: Any) -> None:
    receive(world, delivered_manifest, SHORT)
    assert run(receipt_weight, timezone.now())["raised"] == 1
    assert run(receipt_weight, timezone.now() + dt.timedelta(days=1))["raised"] == 0
