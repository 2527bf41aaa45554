"""device.offline: a smart bin offline longer than N hours (default 24), from its open offline alert."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from greenisle.devices.models import Bin
from greenisle.supervision.checks import device_offline
from greenisle.telemetry.alerts import offline_scan
from greenisle.telemetry.models import Alert, AlertKind
from supervision.checks.helpers import raised

pytestmark = pytest.mark.django_db
CODE = device_offline.RULE.code


@pytest.fixture
def offline(world: Any, ingest: Any) -> Alert:
    """Alice's bin (reporting every 15 min) silent for an hour after a reading: three missed intervals
    later telemetry marks it offline."""
    ingest(40, at=timezone.now() - dt.timedelta(minutes=1))
    assert offline_scan(timezone.now() + dt.timedelta(hours=1)) == (1, 0)
    return Alert.objects.get(kind=AlertKind.OFFLINE)


def test_a_bin_offline_for_25_hours_is_a_finding_on_its_collector(
    offline: Alert, world: Any, run: Any
) -> None:
    counts = run(device_offline, offline.opened_at + dt.timedelta(hours=25))

    assert counts == {"checked": 1, "breaches": 1, "raised": 1}
    [finding] = raised(device_offline)
    assert finding.organization == world.collector and finding.division_code == "320602"
    assert finding.object_type == "telemetry.alert" and finding.object_id == str(offline.pk)
    assert finding.evidence["bin_serial"] == world.bin.serial
    assert finding.evidence["offline_since"] == offline.opened_at.isoformat()
    assert finding.evidence["hours_offline"] == 25.0
    assert finding.evidence["last_received_at"] is not None


def test_23_hours_offline_is_not_yet_a_finding(offline: Alert, run: Any) -> None:
    assert run(device_offline, offline.opened_at + dt.timedelta(hours=23))["raised"] == 0
    assert not raised(device_offline)


def test_a_bin_back_online_or_disabled_is_not_a_finding(offline: Alert, ingest: Any, run: Any) -> None:
    later = offline.opened_at + dt.timedelta(hours=30)
    Bin.objects.filter(pk=offline.device_id).update(enabled=False)
    assert run(device_offline, later)["raised"] == 0

    Bin.objects.filter(pk=offline.device_id).update(enabled=True)
    ingest(42, at=timezone.now())
    offline_scan(timezone.now() + dt.timedelta(minutes=1))
    offline.refresh_from_db()
    assert offline.cleared_at is not None
    assert run(device_offline, later)["raised"] == 0


def test_the_hours_are_a_parameter(offline: Alert, run: Any, configure: Any) -> None:
    configure(CODE, hours=4)

    assert run(device_offline, offline.opened_at + dt.timedelta(hours=3))["raised"] == 0
    assert run(device_offline, offline.opened_at + dt.timedelta(hours=5))["raised"] == 1


def test_switched_off_it_raises_nothing(offline: Alert, run: Any, configure: Any) -> None:
    configure(CODE, enabled=False)

    assert run(device_offline, offline.opened_at + dt.timedelta(days=3)) == {"enabled": 0}
    assert not raised(device_offline)


def test_a_second_run_raises_nothing_more(offline: Alert, run: Any) -> None:
    now = offline.opened_at + dt.timedelta(hours=25)
    assert run(device_offline, now)["raised"] == 1
    assert run(device_offline, now + dt.timedelta(hours=6))["raised"] == 0
    assert len(raised(device_offline)) == 1
