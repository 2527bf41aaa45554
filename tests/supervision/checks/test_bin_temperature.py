"""bin.temperature_high: a bin's temperature alert open longer than N minutes (default 30) — the demo
simulator's "hot" fault held on."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from greenisle.supervision.checks import bin_temperature
from greenisle.telemetry.models import Alert, AlertKind
from supervision.checks.helpers import raised

pytestmark = pytest.mark.django_db
CODE = bin_temperature.RULE.code


@pytest.fixture
def hot(world: Any, ingest: Any) -> Alert:
    """A reading at 52 °C (over the 45 °C limit) opens the bin's temperature alert at ingest."""
    ingest(40, at=timezone.now() - dt.timedelta(minutes=5), temperature_c="52.0")
    return Alert.objects.get(kind=AlertKind.TEMPERATURE, cleared_at__isnull=True)


def test_heat_lasting_31_minutes_is_a_grade_b_finding_on_the_collector(
    hot: Alert, world: Any, run: Any
) -> None:
    counts = run(bin_temperature, hot.opened_at + dt.timedelta(minutes=31))

    assert counts == {"checked": 1, "breaches": 1, "raised": 1}
    [finding] = raised(bin_temperature)
    assert finding.severity == "B"
    assert finding.organization == world.collector and finding.division_code == "320602"
    assert finding.object_type == "telemetry.alert" and finding.object_id == str(hot.pk)
    assert finding.evidence["value"] == "52.0 °C" and finding.evidence["minutes"] == 31
    assert finding.evidence["temperature_now_c"] == "52.00"
    assert "GB 18597-2023" in bin_temperature.RULE.regulation


def test_heat_for_29_minutes_is_not_yet_a_finding(hot: Alert, run: Any) -> None:
    assert run(bin_temperature, hot.opened_at + dt.timedelta(minutes=29))["raised"] == 0


def test_a_bin_cooled_down_is_not_a_finding(hot: Alert, ingest: Any, run: Any) -> None:
    ingest(40, at=timezone.now() - dt.timedelta(minutes=1), temperature_c="30.0")
    hot.refresh_from_db()
    assert hot.cleared_at is not None

    assert run(bin_temperature, hot.opened_at + dt.timedelta(hours=2))["raised"] == 0


def test_the_minutes_are_a_parameter(hot: Alert, run: Any, configure: Any) -> None:
    configure(CODE, minutes=10)

    assert run(bin_temperature, hot.opened_at + dt.timedelta(minutes=9))["raised"] == 0
    assert run(bin_temperature, hot.opened_at + dt.timedelta(minutes=11))["raised"] == 1


def test_switched_off_it_raises_nothing(hot: Alert, run: Any, configure: Any) -> None:
    configure(CODE, enabled=False)

    assert run(bin_temperature, hot.opened_at + dt.timedelta(hours=5)) == {"enabled": 0}
    assert not raised(bin_temperature)


def test_a_second_run_raises_nothing_more(hot: Alert, run: Any) -> None:
    now = hot.opened_at + dt.timedelta(minutes=31)
    assert run(bin_temperature, now)["raised"] == 1
    assert run(bin_temperature, now + dt.timedelta(minutes=30))["raised"] == 0
