import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.api.schemas import ErrorOut
from greenisle.core.errors import NotFound
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.selectors import (
    request_get_visible_to,
    request_list_visible_to,
    trip_get_visible_to,
    trip_list_visible_to,
    vehicle_list_visible_to,
)
from greenisle.dispatch.services import trip_assign

router = Router(tags=["dispatch"], auth=person_auth)


class PickupRequestOut(Schema):
    id: uuid.UUID
    status: str
    origin: str
    bin_id: uuid.UUID | None
    site_id: uuid.UUID
    producer: str
    collector: str
    division_code: str
    fill_pct_at_open: float | None
    opened_at: dt.datetime
    emptied_at: dt.datetime | None
    closed_at: dt.datetime | None
    trip_id: uuid.UUID | None

    @staticmethod
    def resolve_producer(obj: Any) -> str:
        return obj.producer.name

    @staticmethod
    def resolve_collector(obj: Any) -> str:
        return obj.collector.name

    @staticmethod
    def resolve_division_code(obj: Any) -> str:
        return obj.site.division_id

    @staticmethod
    def resolve_trip_id(obj: Any) -> uuid.UUID | None:
        stop = getattr(obj, "stop", None) if hasattr(obj, "stop") else None
        return stop.trip_id if stop else None


class VehicleOut(Schema):
    id: uuid.UUID
    plate: str
    capacity_kg: float
    dg_permit_number: str
    dg_permit_valid_to: dt.date


class StopOut(Schema):
    position: int
    request: PickupRequestOut


class TripOut(Schema):
    id: uuid.UUID
    service_date: dt.date
    status: str
    vehicle: str
    driver: str

    @staticmethod
    def resolve_vehicle(obj: Any) -> str:
        return obj.vehicle.plate

    @staticmethod
    def resolve_driver(obj: Any) -> str:
        return str(obj.driver)


class TripDetailOut(TripOut):
    stops: list[StopOut]

    @staticmethod
    def resolve_stops(obj: Any) -> list[Any]:
        return list(obj.stops.all())


class TripAssignIn(Schema):
    request_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)
    vehicle_id: uuid.UUID
    driver_id: int
    service_date: dt.date


@router.get("/pickup-requests", response=list[PickupRequestOut], summary="Pickup requests you may see")
@paginate(Pagination)
def list_requests(request: HttpRequest, status: RequestStatus | None = None) -> Any:
    return request_list_visible_to(request.user, status=status)


@router.get("/pickup-requests/{request_id}", response={200: PickupRequestOut, 404: ErrorOut})
def get_request(request: HttpRequest, request_id: uuid.UUID) -> Any:
    obj = request_get_visible_to(request.user, request_id)
    if obj is None:
        raise NotFound("收运请求不存在 / no such pickup request", field="request_id")
    return obj


@router.get("/vehicles", response=list[VehicleOut])
@paginate(Pagination)
def list_vehicles(request: HttpRequest) -> Any:
    return vehicle_list_visible_to(request.user)


@router.get("/trips", response=list[TripOut])
@paginate(Pagination)
def list_trips(request: HttpRequest) -> Any:
    return trip_list_visible_to(request.user)


@router.get("/trips/{trip_id}", response={200: TripDetailOut, 404: ErrorOut})
def get_trip(request: HttpRequest, trip_id: uuid.UUID) -> Any:
    obj = trip_get_visible_to(request.user, trip_id)
    if obj is None:
        raise NotFound("车次不存在 / no such trip", field="trip_id")
    return obj


@router.post(
    "/trips",
    response={201: TripDetailOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Assign open pickup requests to a vehicle's trip for a day (dispatcher)",
)
def assign_trip(request: HttpRequest, payload: TripAssignIn) -> Any:
    trip = trip_assign(actor=request.user, **payload.dict())
    return 201, trip_get_visible_to(request.user, trip.pk)
