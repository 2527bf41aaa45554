"""The one ingest path: validation naming the field, idempotence, late readings, thresholds."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone
from factories import BinFactory

from greenisle.audit.models import Event
from greenisle.audit.services import chain_verify
from greenisle.core.errors import PermissionDenied, ServiceError, Unauthenticated
from greenisle.dispatch.choices import RequestOrigin, RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.telemetry.models import BinState, Reading, RefusedDevice
from greenisle.telemetry.services import device_authenticate, ingest_batch, reading_ingest, reading_validate

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 10, 8, 9, 30, tzinfo=SHANGHAI)


# --- validation (no database) ---------------------------------------------------------------------


def test_valid_reading_is_normalised_to_utc_and_two_decimals():
    reading = reading_validate(
        observed_at=NOW, fill_pct=82.456, net_weight_kg="61.2", temperature_c=-3, door_open=False,
        battery_pct=97, sequence=12, now=NOW,
    )  # fmt: skip
    assert reading.observed_at == NOW and reading.observed_at.utcoffset() == dt.timedelta(0)
    assert reading.fill_pct == Decimal("82.46")
    assert reading.net_weight_kg == Decimal("61.20")
    assert reading.temperature_c == Decimal("-3.00")
    assert reading.device_time_raw == NOW.isoformat()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"fill_pct": 120}, "fill_pct"),
        ({"fill_pct": -0.5}, "fill_pct"),
        ({"fill_pct": "full"}, "fill_pct"),
        ({"fill_pct": "NaN"}, "fill_pct"),
        ({"fill_pct": None}, "fill_pct"),
        ({"observed_at": dt.datetime(2026, 10, 8, 9, 30)}, "observed_at"),  # naive
        ({"observed_at": "yesterday"}, "observed_at"),  # not ISO 8601
        ({"observed_at": "2026-10-08T09:30:00"}, "observed_at"),  # ISO 8601 without a time zone
        ({"observed_at": NOW - dt.timedelta(days=401)}, "observed_at"),  # older than raw retention
        ({"quality": "NN"}, "quality"),
        ({"observed_at": NOW + dt.timedelta(hours=1)}, "observed_at"),  # in the future
        ({"net_weight_kg": -1}, "net_weight_kg"),
        ({"temperature_c": 500}, "temperature_c"),
        ({"battery_pct": 101}, "battery_pct"),
        ({"door_open": "yes"}, "door_open"),
        ({"sequence": -1}, "sequence"),
        ({"sequence": True}, "sequence"),
        ({"sequence": "7"}, "sequence"),
    ],
)
def test_invalid_reading_is_refused_naming_the_field(fields, field):
    values = {"observed_at": NOW, "fill_pct": 50, **fields}
    with pytest.raises(ServiceError) as error:
        reading_validate(now=NOW, **values)
    assert error.value.field == field
    assert error.value.as_dict()["field"] == field


def test_small_device_clock_skew_is_tolerated():
    assert reading_validate(observed_at=NOW + dt.timedelta(minutes=5), fill_pct=1, now=NOW).fill_pct == 1


# --- device credentials ---------------------------------------------------------------------------


def test_device_key_identifies_its_bin(world):
    assert device_authenticate(world.bin.device_key) == world.bin


@pytest.mark.parametrize(
    ("key", "code"), [(None, "device_key_missing"), ("", "device_key_missing"), ("dk_nope", "unknown_device")]
)
def test_missing_or_unknown_device_key_is_unauthenticated(world, key, code):
    with pytest.raises(Unauthenticated) as refused:
        device_authenticate(key)
    assert (refused.value.status, refused.value.code, refused.value.field) == (401, code, "X-Device-Key")


def test_an_unknown_key_is_counted_by_its_prefix_never_whole(world):
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            device_authenticate("dk_stranger-key-123456")
    refused = RefusedDevice.objects.get(transport="http")
    assert (refused.identifier, refused.refused) == ("dk_stran", 2)


def test_rotated_key_replaces_the_old_one(world):
    old = world.bin.device_key
    new = world.bin.rotate_key()
    world.bin.save()
    assert device_authenticate(new) == world.bin
    with pytest.raises(Unauthenticated):
        device_authenticate(old)


def counts(device):
    counter = BinState.objects.get(device=device)
    return (counter.accepted, counter.duplicate, counter.rejected)


# --- ingest ---------------------------------------------------------------------------------------


def test_first_reading_is_stored_and_becomes_the_bin_state(world, ingest):
    outcome = ingest(42.5, net_weight_kg=60)
    assert outcome.status == "accepted"
    reading = Reading.objects.get(device=world.bin)
    assert (reading.device, reading.fill_pct, reading.transport) == (world.bin, Decimal("42.50"), "http")
    state = BinState.objects.get(device=world.bin)
    assert (state.fill_pct, state.net_weight_kg, counts(world.bin)) == (
        Decimal("42.50"),
        Decimal("60.00"),
        (1, 0, 0),
    )
    assert outcome.request_opened is None


def test_same_reading_twice_is_stored_once_and_counted_as_duplicate(world, ingest):
    at = timezone.now() - dt.timedelta(minutes=3)
    first = ingest(30, at=at)
    second = ingest(30, at=at)
    assert (first.status, second.status) == ("accepted", "duplicate")
    assert Reading.objects.filter(device=world.bin).count() == 1
    assert counts(world.bin) == (1, 1, 0)


def test_same_instant_in_another_time_zone_is_the_same_reading(world, ingest):
    at = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=3)
    ingest(30, at=at.astimezone(dt.UTC))
    assert ingest(30, at=at.astimezone(SHANGHAI)).status == "duplicate"


def test_late_reading_is_stored_but_does_not_move_the_state_back(world, ingest):
    now = timezone.now()
    ingest(40, at=now - dt.timedelta(minutes=1))
    late = ingest(95, at=now - dt.timedelta(minutes=30))
    assert late.status == "accepted"
    assert late.request_opened is None
    assert Reading.objects.filter(device=world.bin).count() == 2
    state = BinState.objects.get(device=world.bin)
    assert state.fill_pct == Decimal("40.00")
    assert state.observed_at == now - dt.timedelta(minutes=1)
    assert counts(world.bin) == (2, 0, 0)
    assert not PickupRequest.objects.filter(bin=world.bin).exists()


def test_disabled_device_is_refused_and_nothing_is_stored(world, ingest):
    world.bin.enabled = False
    world.bin.save()
    with pytest.raises(PermissionDenied) as refused:
        ingest(90)
    assert refused.value.code == "device_disabled"
    assert not Reading.objects.filter(device=world.bin).exists()
    assert not PickupRequest.objects.exists()
    assert counts(world.bin) == (0, 0, 1)  # refused, and counted against the device


def test_crossing_the_threshold_opens_one_request_for_the_bin(world, ingest):
    assert ingest(79.99).request_opened is None
    outcome = ingest(80)
    request = PickupRequest.objects.get(pk=outcome.request_opened)
    assert request.status == RequestStatus.OPEN
    assert request.origin == RequestOrigin.THRESHOLD
    assert (request.bin, request.site, request.producer, request.collector) == (
        world.bin, world.site, world.producer, world.collector,
    )  # fmt: skip
    assert request.fill_pct_at_open == Decimal("80.00")
    event = Event.objects.get(action="dispatch.pickup_request.opened")
    assert event.object_id == str(request.pk)
    assert event.division_code == "320602"
    assert event.subject_organization == world.producer


def test_further_readings_above_the_threshold_open_nothing_more(world, ingest):
    ingest(85)
    assert ingest(90).request_opened is None
    assert ingest(99).request_opened is None
    assert PickupRequest.objects.filter(bin=world.bin).count() == 1
    assert Event.objects.filter(action="dispatch.pickup_request.opened").count() == 1


def test_a_bin_threshold_is_its_own(world, ingest):
    world.bin.threshold_pct = Decimal("60")
    world.bin.save()
    assert ingest(65).request_opened is not None


def test_emptied_reading_closes_the_open_request(world, ingest):
    request_id = ingest(85).request_opened
    ingest(50)
    assert PickupRequest.objects.get(pk=request_id).status == RequestStatus.OPEN  # not emptied yet
    emptied = ingest(10)
    request = PickupRequest.objects.get(pk=request_id)
    assert request.status == RequestStatus.CLOSED
    assert request.emptied_at == BinState.objects.get(device=world.bin).observed_at
    assert request.closed_at is not None
    assert emptied.request_opened is None
    closed = Event.objects.get(action="dispatch.pickup_request.closed")
    assert closed.payload["reason"] == "bin_emptied"
    assert (closed.payload["from"], closed.payload["to"], closed.actor_label) == ("open", "closed", "system")


def test_after_emptying_the_next_fill_cycle_opens_a_new_request(world, ingest):
    first = ingest(85).request_opened
    ingest(5)
    second = ingest(88).request_opened
    assert second is not None and second != first
    assert PickupRequest.objects.filter(bin=world.bin, status=RequestStatus.OPEN).count() == 1


def test_emptied_while_assigned_waits_for_the_signature(world, ingest, open_request, trip):
    ingest(3)
    open_request.refresh_from_db()
    assert open_request.status == RequestStatus.ASSIGNED
    assert open_request.emptied_at is not None


def test_reading_ingest_commits_before_returning(world):
    # Transports acknowledge only after commit: the service must not rely on an outer transaction.
    reading = reading_validate(observed_at=timezone.now(), fill_pct=20)
    reading_ingest(device=world.bin, reading=reading, transport="mqtt")
    assert Reading.objects.get(device=world.bin).transport == "mqtt"


def test_one_batch_crossing_for_many_bins_opens_one_request_each(world, ingest):
    """All of a batch's crossings are opened together: one request per bin, none for a bin that has
    one already, each with its own event, the audit chain intact."""
    bins = [world.bin] + [
        BinFactory(serial=f"NT-CC-1000{k}", site=world.site, collector=world.collector) for k in range(4)
    ]
    already = ingest(90, device=bins[1]).request_opened
    at = timezone.now() - dt.timedelta(minutes=1)
    fills = [85, 95, 81, 40, 80]
    outcomes = ingest_batch(
        [(b.pk, reading_validate(observed_at=at, fill_pct=f)) for b, f in zip(bins, fills, strict=True)],
        transport="http",
    )
    opened = [o.request_opened for o in outcomes]
    assert [bool(o) for o in opened] == [True, False, True, False, True]
    requests = {r.bin_id: r for r in PickupRequest.objects.filter(bin__in=bins)}
    assert set(requests) == {bins[0].pk, bins[1].pk, bins[2].pk, bins[4].pk}
    assert str(requests[bins[1].pk].pk) == already
    for k in (0, 2, 4):
        assert str(requests[bins[k].pk].pk) == opened[k]
        assert requests[bins[k].pk].fill_pct_at_open == Decimal(fills[k])
    events = Event.objects.filter(action="dispatch.pickup_request.opened")
    assert sorted(events.values_list("object_id", flat=True)) == sorted(str(r.pk) for r in requests.values())
    assert chain_verify() is None
