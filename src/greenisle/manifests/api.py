import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.api.schemas import ErrorOut
from greenisle.core.errors import NotFound
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.selectors import manifest_get_visible_to, manifest_list_visible_to, object_timeline
from greenisle.manifests.services import (
    manifest_add_container,
    manifest_depart,
    manifest_receive,
    manifest_sign,
)

router = Router(tags=["manifests"], auth=person_auth)
WRITE_ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


class LineOut(Schema):
    id: int
    container_code: str
    waste_code: str
    weight_kg: Decimal
    received_weight_kg: Decimal | None
    decision: str

    @staticmethod
    def resolve_waste_code(obj: Any) -> str:
        return obj.waste_code.code


class ManifestOut(Schema):
    id: uuid.UUID
    number: str
    status: str
    producer: str
    producer_site_id: uuid.UUID
    division_code: str
    carrier: str
    receiver: str
    trip_id: uuid.UUID | None
    producer_signed_at: dt.datetime | None
    producer_signature_method: str
    departed_at: dt.datetime | None
    received_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_producer(obj: Any) -> str:
        return obj.producer.name

    @staticmethod
    def resolve_carrier(obj: Any) -> str:
        return obj.carrier.name

    @staticmethod
    def resolve_receiver(obj: Any) -> str:
        return obj.receiver.name

    @staticmethod
    def resolve_division_code(obj: Any) -> str:
        return obj.producer_site.division_id


class TimelineOut(Schema):
    id: int
    created_at: dt.datetime
    action: str
    actor_label: str
    hash: str


class ManifestDetailOut(ManifestOut):
    lines: list[LineOut]
    timeline: list[TimelineOut]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.all())


class ContainerIn(Schema):
    request_id: uuid.UUID
    waste_code: str = Field(max_length=10)
    weight_kg: Decimal = Field(gt=0, le=100000, max_digits=11, decimal_places=2)
    container_code: str = Field(min_length=1, max_length=64)


class ContainerOut(Schema):
    manifest_id: uuid.UUID
    manifest_number: str
    line: LineOut


class SignIn(Schema):
    method: Literal["session", "code", "delegated"]
    signature_code: str | None = Field(default=None, max_length=64)


class ReceiveIn(Schema):
    received_weights: dict[str, Decimal] = Field(description="line id → received weight in kg")


def _detail(request: HttpRequest, manifest_id: Any) -> Any:
    obj = manifest_get_visible_to(request.user, manifest_id)
    if obj is None:
        raise NotFound("联单不存在 / no such manifest", field="manifest_id")
    obj.timeline = list(object_timeline(request.user, object_type="manifests.manifest", object_id=obj.pk))
    return obj


@router.get("/manifests", response=list[ManifestOut], summary="Manifests you may see")
@paginate(Pagination)
def list_manifests(request: HttpRequest, status: ManifestStatus | None = None) -> Any:
    return manifest_list_visible_to(request.user, status=status)


# Declared before /manifests/{manifest_id}: URL patterns match in order, and that one would take
# "containers" for an id and answer POST with 405.
@router.post(
    "/manifests/containers",
    response={201: ContainerOut, **WRITE_ERRORS},
    summary="Record a weighed container at a stop (creates the producer's draft manifest for the trip)",
)
def add_container(request: HttpRequest, payload: ContainerIn) -> Any:
    line = manifest_add_container(actor=request.user, **payload.dict())
    return 201, {"manifest_id": line.manifest_id, "manifest_number": line.manifest.number, "line": line}


@router.get("/manifests/{manifest_id}", response={200: ManifestDetailOut, 404: ErrorOut})
def get_manifest(request: HttpRequest, manifest_id: uuid.UUID) -> Any:
    return _detail(request, manifest_id)


@router.post("/manifests/{manifest_id}/sign", response={200: ManifestDetailOut, **WRITE_ERRORS})
def sign(request: HttpRequest, manifest_id: uuid.UUID, payload: SignIn) -> Any:
    manifest_sign(actor=request.user, manifest_id=manifest_id, **payload.dict())
    return _detail(request, manifest_id)


@router.post("/manifests/{manifest_id}/depart", response={200: ManifestDetailOut, **WRITE_ERRORS})
def depart(request: HttpRequest, manifest_id: uuid.UUID) -> Any:
    manifest_depart(actor=request.user, manifest_id=manifest_id)
    return _detail(request, manifest_id)


@router.post("/manifests/{manifest_id}/receive", response={200: ManifestDetailOut, **WRITE_ERRORS})
def receive(request: HttpRequest, manifest_id: uuid.UUID, payload: ReceiveIn) -> Any:
    manifest_receive(actor=request.user, manifest_id=manifest_id, received_weights=payload.received_weights)
    return _detail(request, manifest_id)
