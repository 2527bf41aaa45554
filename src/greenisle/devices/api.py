import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.api.schemas import ErrorOut
from greenisle.core.errors import NotFound
from greenisle.devices.selectors import bin_get_visible_to, bin_list_visible_to

router = Router(tags=["bins"], auth=person_auth)


class BinOut(Schema):
    id: uuid.UUID
    serial: str
    name: str
    producer: str
    site_id: uuid.UUID
    division_code: str
    collector: str
    capacity_l: int
    threshold_pct: float
    enabled: bool
    waste_codes: list[str]
    fill_pct: float | None
    observed_at: dt.datetime | None
    latitude: float
    longitude: float

    @staticmethod
    def resolve_producer(obj: Any) -> str:
        return obj.site.organization.name

    @staticmethod
    def resolve_division_code(obj: Any) -> str:
        return obj.site.division_id

    @staticmethod
    def resolve_collector(obj: Any) -> str:
        return obj.collector.name

    @staticmethod
    def resolve_waste_codes(obj: Any) -> list[str]:
        return [c.code for c in obj.waste_codes.all()]

    @staticmethod
    def resolve_fill_pct(obj: Any) -> float | None:
        state = getattr(obj, "state", None)
        return float(state.fill_pct) if state else None

    @staticmethod
    def resolve_observed_at(obj: Any) -> dt.datetime | None:
        state = getattr(obj, "state", None)
        return state.observed_at if state else None

    @staticmethod
    def resolve_latitude(obj: Any) -> float:
        return float(obj.site.latitude)

    @staticmethod
    def resolve_longitude(obj: Any) -> float:
        return float(obj.site.longitude)


@router.get("/bins", response=list[BinOut], summary="Bins you may see, fullest first")
@paginate(Pagination)
def list_bins(request: HttpRequest) -> Any:
    return bin_list_visible_to(request.user)


@router.get("/bins/{bin_id}", response={200: BinOut, 404: ErrorOut})
def get_bin(request: HttpRequest, bin_id: uuid.UUID) -> Any:
    obj = bin_get_visible_to(request.user, bin_id)
    if obj is None:
        raise NotFound("云仓不存在 / no such bin", field="bin_id")
    return obj
