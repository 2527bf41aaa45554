"""Pickup requests and trips: opening on threshold, closing on emptying, manual assignment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.permissions import DISPATCH_ROLES, require
from greenisle.audit.services import NewEvent, event_record, events_record, transition_apply
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


@dataclasses.dataclass(frozen=True)
class FillNewest:
    """A bin's newest fill reading, as ingest hands it over (``bin`` with its site and the site's
    organisation loaded)."""

    bin: Bin
    fill_pct: Decimal
    observed_at: dt.datetime


def requests_apply_fill(newest: Sequence[FillNewest]) -> dict[uuid.UUID, str]:
    """Called by ingest, inside its transaction, with the bins whose newest reading crossed the
    threshold or emptied them. Returns the requests opened, by bin.

    Crossing the threshold opens exactly one request per bin: all of a batch's in one insert that
    the partial unique index turns into a no-op for a bin another transaction just served, and their
    events with one lock of the audit chain. A reading at or below the emptied level closes the fill
    cycle (rare: one bin at a time).
    """
    from greenisle.telemetry.services import emptied_level

    emptied = emptied_level()
    crossing = [n for n in newest if n.fill_pct >= n.bin.threshold_pct]
    opened: dict[uuid.UUID, str] = {}
    if crossing:
        requests = [
            PickupRequest(
                bin=n.bin,
                site=n.bin.site,
                producer=n.bin.site.organization,
                collector_id=n.bin.collector_id,
                origin=RequestOrigin.THRESHOLD,
                status=RequestStatus.OPEN,
                fill_pct_at_open=n.fill_pct,
                opened_at=n.observed_at,
            )
            for n in crossing
        ]
        PickupRequest.objects.bulk_create(requests, ignore_conflicts=True)
        # Those whose bin already had a blocking request were skipped: they are not in the table.
        stored = set(
            PickupRequest.objects.filter(pk__in=[r.pk for r in requests]).values_list("pk", flat=True)
        )
        new = [(r, n) for r, n in zip(requests, crossing, strict=True) if r.pk in stored]
        events_record(
            [
                NewEvent(
                    action="dispatch.pickup_request.opened",
                    obj=request,
                    subject_organization=request.producer,
                    division_code=request.site.division_id,
                    payload={
                        "bin": n.bin.serial,
                        "fill_pct": str(n.fill_pct),
                        "threshold_pct": str(n.bin.threshold_pct),
                    },
                )
                for request, n in new
            ]
        )
        opened = {n.bin.pk: str(request.pk) for request, n in new}
    for n in newest:
        if n.fill_pct <= emptied:
            _request_close_on_emptied(n)
    return opened


def _request_close_on_emptied(newest: FillNewest) -> None:
    blocking = (
        PickupRequest.objects.select_for_update(of=("self",))
        .select_related("site", "producer")
        .filter(bin=newest.bin, status__in=BLOCKING_STATUSES)
        .first()
    )
    if blocking is None:
        return
    payload = {"bin": newest.bin.serial, "fill_pct": str(newest.fill_pct), "reason": "bin_emptied"}
    if blocking.status == RequestStatus.ASSIGNED:
        # Emptied while the driver is still recording the stop: close once the manifest is signed.
        blocking.emptied_at = newest.observed_at
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
            extra_fields={"emptied_at": newest.observed_at, "closed_at": timezone.now()},
            **_request_event_kwargs(blocking),
        )


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
