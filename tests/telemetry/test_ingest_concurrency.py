"""Two readings over the threshold racing for the same bin open exactly one request."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.telemetry.models import BinState, Reading
from greenisle.telemetry.services import reading_ingest, reading_validate

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _ingest_call(device, fill, at):
    reading = reading_validate(observed_at=at, fill_pct=fill)
    return lambda: reading_ingest(device=device, reading=reading, transport="mqtt")


def test_two_readings_over_the_threshold_at_once_open_one_request(world, run_concurrently):
    now = timezone.now()
    outcome = run_concurrently(
        _ingest_call(world.bin, 86, now - dt.timedelta(seconds=30)),
        _ingest_call(world.bin, 91, now - dt.timedelta(seconds=20)),
    )
    assert outcome.errors == []
    assert sorted(o.status for o in outcome.results) == ["accepted", "accepted"]
    assert len([o for o in outcome.results if o.request_opened]) == 1
    assert PickupRequest.objects.filter(bin=world.bin, status=RequestStatus.OPEN).count() == 1
    assert Reading.objects.filter(device=world.bin).count() == 2
    state = BinState.objects.get(device=world.bin)
    assert (BinState.objects.get(device=world.bin).accepted, state.fill_pct) == (2, 91)


def test_the_same_reading_from_two_transports_at_once_is_stored_once(world, run_concurrently):
    at = timezone.now() - dt.timedelta(seconds=10)
    outcome = run_concurrently(_ingest_call(world.bin, 88, at), _ingest_call(world.bin, 88, at))
    assert outcome.errors == []
    assert sorted(o.status for o in outcome.results) == ["accepted", "duplicate"]
    assert Reading.objects.filter(device=world.bin).count() == 1
    assert PickupRequest.objects.filter(bin=world.bin).count() == 1
    counter = BinState.objects.get(device=world.bin)
    assert (counter.accepted, counter.duplicate) == (1, 1)
