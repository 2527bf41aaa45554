"""The dispatcher puts open requests on a truck's trip; nobody else may, and only with valid means."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from factories import BinFactory, PickupRequestFactory, VehicleFactory

from greenisle.accounts.choices import Role
from greenisle.audit.models import Event
from greenisle.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from greenisle.dispatch.choices import RequestStatus, TripStatus
from greenisle.dispatch.models import PickupRequest, Trip
from greenisle.dispatch.services import trip_assign


def assign(world, actor=None, *, requests, vehicle=None, driver=None, day=None):
    return trip_assign(
        actor=actor or world.dispatcher,
        request_ids=[r.pk for r in requests],
        vehicle_id=(vehicle or world.vehicle).pk,
        driver_id=(driver or world.driver).pk,
        service_date=day or timezone.localdate(),
    )


def test_dispatcher_assigns_an_open_request_to_a_new_trip(world, open_request):
    trip = assign(world, requests=[open_request])
    assert (trip.collector, trip.vehicle, trip.driver, trip.status) == (
        world.collector, world.vehicle, world.driver, TripStatus.PLANNED,
    )  # fmt: skip
    open_request.refresh_from_db()
    assert open_request.status == RequestStatus.ASSIGNED
    assert open_request.stop.trip == trip and open_request.stop.position == 1
    created = Event.objects.get(action="dispatch.trip.created")
    assigned = Event.objects.get(action="dispatch.pickup_request.assigned")
    assert (created.actor, created.organization) == (world.dispatcher, world.collector)
    assert (assigned.object_id, assigned.payload["trip"]) == (str(open_request.pk), str(trip.pk))
    assert assigned.division_code == "320602"


def test_later_requests_join_the_same_days_trip_in_order(world, open_request, producer_site, contract):
    trip = assign(world, requests=[open_request])
    other_bin = BinFactory(site=producer_site, collector=world.collector)
    later = PickupRequestFactory(bin=other_bin)
    same = assign(world, requests=[later])
    assert same == trip
    assert list(trip.stops.values_list("request_id", "position")) == [(open_request.pk, 1), (later.pk, 2)]
    assert Trip.objects.count() == 1


def test_another_day_is_another_trip(world, open_request, producer_site):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    first = assign(world, requests=[open_request])
    later = PickupRequestFactory(bin=BinFactory(site=producer_site, collector=world.collector))
    assert assign(world, requests=[later], day=tomorrow) != first


@pytest.mark.parametrize("persona", ["driver", "receiver", "alice"])
def test_only_a_dispatcher_of_the_collector_may_assign(world, open_request, persona):
    with pytest.raises(PermissionDenied):
        assign(world, getattr(world, persona), requests=[open_request])
    open_request.refresh_from_db()
    assert open_request.status == RequestStatus.OPEN
    assert not Trip.objects.exists()


def test_regulator_may_not_assign(world, open_request, regulator):
    with pytest.raises(PermissionDenied):
        assign(world, regulator, requests=[open_request])


def test_collector_admin_may_assign(world, open_request, make_member):
    admin = make_member(world.collector, Role.ADMIN, "collector_admin", "管理员")
    assert assign(world, admin, requests=[open_request]).stops.count() == 1


def test_vehicle_of_another_collector_is_refused(world, open_request, collector_b):
    with pytest.raises(NotFound) as refused:
        assign(world, requests=[open_request], vehicle=VehicleFactory(collector=collector_b))
    assert refused.value.field == "vehicle_id"


def test_driver_of_another_collector_is_refused(world, open_request, collector_b, make_member):
    rival_driver = make_member(collector_b, Role.DRIVER, "rival_driver", "外单位司机")
    with pytest.raises(NotFound) as refused:
        assign(world, requests=[open_request], driver=rival_driver)
    assert refused.value.field == "driver_id"


def test_colleague_who_is_not_a_driver_cannot_drive(world, open_request):
    with pytest.raises(NotFound) as refused:
        assign(world, requests=[open_request], driver=world.receiver)
    assert refused.value.field == "driver_id"


def test_vehicle_with_an_expired_dangerous_goods_permit_is_refused(world, open_request):
    world.vehicle.dg_permit_valid_to = timezone.localdate() - dt.timedelta(days=1)
    world.vehicle.save()
    with pytest.raises(ServiceError) as refused:
        assign(world, requests=[open_request])
    assert refused.value.field == "vehicle_id"
    assert not Trip.objects.exists()


def test_permit_valid_on_the_service_date_itself_is_accepted(world, open_request):
    world.vehicle.dg_permit_valid_to = timezone.localdate()
    world.vehicle.save()
    assert assign(world, requests=[open_request]) is not None


def test_permit_expiring_before_a_later_service_date_is_refused(world, open_request):
    world.vehicle.dg_permit_valid_to = timezone.localdate() + dt.timedelta(days=1)
    world.vehicle.save()
    with pytest.raises(ServiceError) as refused:
        assign(world, requests=[open_request], day=timezone.localdate() + dt.timedelta(days=2))
    assert refused.value.field == "vehicle_id"


def test_request_of_another_collector_is_refused(
    world, open_request, rival_dispatcher, collector_b, make_member
):
    rival_driver = make_member(collector_b, Role.DRIVER, "rival_driver", "外单位司机")
    with pytest.raises(NotFound) as refused:
        assign(
            world, rival_dispatcher, requests=[open_request],
            vehicle=VehicleFactory(collector=collector_b), driver=rival_driver,
        )  # fmt: skip
    assert refused.value.field == "request_ids"
    open_request.refresh_from_db()
    assert open_request.status == RequestStatus.OPEN


def test_no_requests_is_refused(world):
    with pytest.raises(ServiceError) as refused:
        assign(world, requests=[])
    assert refused.value.field == "request_ids"


def test_an_assigned_request_cannot_be_assigned_again(world, open_request):
    assign(world, requests=[open_request])
    with pytest.raises(Conflict) as refused:
        assign(world, requests=[open_request])
    assert refused.value.code == "transition_not_allowed"


def test_one_bad_request_refuses_the_whole_assignment(world, open_request, producer_site):
    closed = PickupRequestFactory(
        bin=BinFactory(site=producer_site, collector=world.collector), status="closed"
    )
    with pytest.raises(Conflict):
        assign(world, requests=[open_request, closed])
    open_request.refresh_from_db()
    assert open_request.status == RequestStatus.OPEN
    assert not Trip.objects.exists()


def test_database_allows_one_blocking_request_per_bin(world, open_request):
    with pytest.raises(IntegrityError), transaction.atomic():
        PickupRequestFactory(bin=world.bin)
    PickupRequestFactory(bin=world.bin, status=RequestStatus.CLOSED)  # history is fine
    assert PickupRequest.objects.filter(bin=world.bin).count() == 2
