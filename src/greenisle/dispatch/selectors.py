"""Reads of pickup requests, trips and vehicles."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from greenisle.accounts.choices import Role
from greenisle.accounts.models import User
from greenisle.dispatch.models import PickupRequest, Trip, Vehicle


def request_list_visible_to(user: Any, *, status: str | None = None) -> QuerySet[PickupRequest]:
    qs = PickupRequest.objects.visible_to(user).select_related(
        "bin", "site__division", "producer", "collector", "stop__trip__vehicle"
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def request_get_visible_to(user: Any, request_id: Any) -> PickupRequest | None:
    return request_list_visible_to(user).filter(pk=request_id).first()


def vehicle_list_visible_to(user: Any) -> QuerySet[Vehicle]:
    return Vehicle.objects.visible_to(user).select_related("collector")


def driver_list_for(organization: Any) -> QuerySet[User]:
    return User.objects.filter(
        memberships__organization=organization, memberships__role=Role.DRIVER, is_active=True
    ).distinct()


def trip_list_visible_to(user: Any) -> QuerySet[Trip]:
    return Trip.objects.visible_to(user).select_related("vehicle", "driver", "collector")


def trip_get_visible_to(user: Any, trip_id: Any) -> Trip | None:
    return (
        trip_list_visible_to(user)
        .prefetch_related(
            "stops__request__site", "stops__request__producer", "stops__request__bin__waste_codes"
        )
        .filter(pk=trip_id)
        .first()
    )


def trips_for_driver(user: Any, day: Any) -> QuerySet[Trip]:
    """A driver's own trips of the day, with their stops in order."""
    return (
        trip_list_visible_to(user)
        .filter(driver=user, service_date=day)
        .prefetch_related(
            "stops__request__site", "stops__request__producer", "stops__request__bin__waste_codes"
        )
    )
