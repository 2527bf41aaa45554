"""Pickup requests and trips: opening on threshold, closing on emptying, manual assignment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.permissions import DISPATCH_ROLES, require
from greenisle.audit.services import event_record, transition_apply
from greenisle.core.errors import NotFound, ServiceError
from greenisle.devices.models import Bin
from greenisle.dispatch.choices import BLOCKING_STATUSES, RequestOrigin, RequestStatus, TripStatus
from greenisle.dispatch.models import PickupRequest, Trip, TripStop, Vehicle
from greenisle.dispatch.transitions import REQUEST_TRANSITIONS


def _request_event_kwargs(request: PickupRequest) -> dict[str, Any]:
    return {
        "subject_organization": request.producer,
        "division_code": request.site.division_id,
    }


def request_apply_fill(*, bin: Bin, fill_pct: Decimal, observed_at: dt.datetime) -> str | None:
    """Called by ingest, inside its transaction, for the bin's newest reading.

    Crossing the threshold opens exactly one request (the partial unique index backs this up);
    a reading at or below the emptied level closes the fill cycle. Returns the id of a request opened.
    """
    from greenisle.telemetry.services import emptied_level

    crossing = fill_pct >= bin.threshold_pct
    if not crossing and fill_pct > emptied_level():
        return None  # between the levels nothing changes: spare the hot path a query
    blocking = (
        PickupRequest.objects.select_for_update(of=("self",))
        .select_related("site", "producer")
        .filter(bin=bin, status__in=BLOCKING_STATUSES)
        .first()
    )
    if crossing:
        if blocking is not None:
            return None
        try:
            with transaction.atomic():
                request = PickupRequest.objects.create(
                    bin=bin,
                    site=bin.site,
                    producer_id=bin.site.organization_id,
                    collector_id=bin.collector_id,
                    origin=RequestOrigin.THRESHOLD,
                    status=RequestStatus.OPEN,
                    fill_pct_at_open=fill_pct,
                    opened_at=observed_at,
                )
        except IntegrityError:
            return None
        event_record(
            action="dispatch.pickup_request.opened",
            obj=request,
            subject_organization=request.producer,
            division_code=request.site.division_id,
            payload={"bin": bin.serial, "fill_pct": str(fill_pct), "threshold_pct": str(bin.threshold_pct)},
        )
        return str(request.pk)
    if blocking is not None and fill_pct <= emptied_level():
        payload = {"bin": bin.serial, "fill_pct": str(fill_pct), "reason": "bin_emptied"}
        if blocking.status == RequestStatus.ASSIGNED:
            # Emptied while the driver is still recording the stop: close once the manifest is signed.
            blocking.emptied_at = observed_at
            blocking.save(update_fields=["emptied_at", "updated_at"])
        else:
            transition_apply(
                table=REQUEST_TRANSITIONS,
                obj=blocking,
                target=RequestStatus.CLOSED,
                role="system",
                actor=None,
                organization=None,
                payload=payload,
                extra_fields={"emptied_at": observed_at, "closed_at": timezone.now()},
                **_request_event_kwargs(blocking),
            )
    return None


@transaction.atomic
def trip_assign(
    *, actor: Any, request_ids: list[Any], vehicle_id: Any, driver_id: Any, service_date: dt.date
) -> Trip:
    """The dispatcher puts open requests on a vehicle's trip for a day (created if needed)."""
    membership = require(actor, kind="collector", roles=DISPATCH_ROLES)
    collector = membership.organization
    if not request_ids:
        raise ServiceError("请选择至少一个收运请求 / choose at least one request", field="request_ids")
    vehicle = Vehicle.objects.filter(pk=vehicle_id, collector=collector).first()
    if vehicle is None:
        raise NotFound("车辆不存在 / no such vehicle of yours", field="vehicle_id")
    if vehicle.dg_permit_valid_to < service_date:
        raise ServiceError(
            "车辆危险货物运输许可已过期 / the vehicle's dangerous goods permit has expired",
            field="vehicle_id",
        )
    driver_membership = (
        collector.memberships.filter(user_id=driver_id, role=Role.DRIVER).select_related("user").first()
    )
    if driver_membership is None:
        raise NotFound("司机不存在 / no such driver of yours", field="driver_id")
    requests = list(
        PickupRequest.objects.select_for_update(of=("self",))
        .select_related("site", "producer")
        .filter(pk__in=request_ids, collector=collector)
        .order_by("opened_at")
    )
    if len(requests) != len(set(map(str, request_ids))):
        raise NotFound(
            "有收运请求不存在或不属于本单位 / a request is unknown or not yours", field="request_ids"
        )
    trip = Trip.objects.filter(
        vehicle=vehicle, driver=driver_membership.user, service_date=service_date, status=TripStatus.PLANNED
    ).first()
    if trip is None:
        trip = Trip.objects.create(
            collector=collector, vehicle=vehicle, driver=driver_membership.user, service_date=service_date
        )
        event_record(
            action="dispatch.trip.created",
            obj=trip,
            actor=actor,
            organization=collector,
            subject_organization=collector,
            division_code=collector.division_id,
            payload={
                "vehicle": vehicle.plate,
                "driver": str(driver_membership.user),
                "date": service_date.isoformat(),
            },
        )
    position = trip.stops.count()
    for request in requests:
        transition_apply(
            table=REQUEST_TRANSITIONS,
            obj=request,
            target=RequestStatus.ASSIGNED,
            role="dispatcher",
            actor=actor,
            organization=collector,
            payload={"trip": str(trip.pk), "vehicle": vehicle.plate},
            **_request_event_kwargs(request),
        )
        position += 1
        TripStop.objects.create(trip=trip, request=request, position=position)
    return trip


def request_mark_collected(
    *, request: PickupRequest, actor: Any, organization: Any, manifest_number: str
) -> None:
    """Inside the manifest signature's transaction: the request's waste is now on the truck."""
    target = RequestStatus.CLOSED if request.emptied_at else RequestStatus.COLLECTED
    extra = {"closed_at": timezone.now()} if target == RequestStatus.CLOSED else {}
    transition_apply(
        table=REQUEST_TRANSITIONS,
        obj=request,
        target=target,
        role="system",
        actor=actor,
        organization=organization,
        payload={"manifest": manifest_number},
        extra_fields=extra,
        **_request_event_kwargs(request),
    )
