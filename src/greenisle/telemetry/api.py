"""Smart bins post readings here (HTTP JSON transport): one at a time, or in batches of up to 1,000.

A batch answers per item (accepted, duplicate, or rejected with the reason and the field), so one bad
item never sinks the others. A device posts its own readings with its ``X-Device-Key``; a collector's
gateway posts for many bins with a personal API token (role admin or dispatcher) and names each bin by
``serial``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Router, Schema

from greenisle.accounts.choices import Role
from greenisle.api.auth import OptionalDeviceKey, device_auth, person_auth
from greenisle.api.schemas import ErrorOut
from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.devices.models import Bin, Transport
from greenisle.telemetry.ingest import MAX_BATCH, IngestOutcome, ingest_parsed, reading_ingest
from greenisle.telemetry.ingest_pg import ingest_json
from greenisle.telemetry.ingest_sql import binary_cursor
from greenisle.telemetry.validation import reading_validate, refused

router = Router(tags=["telemetry"])


class ReadingPayload(Schema):
    observed_at: dt.datetime = Field(description="Time of measurement, ISO 8601 with a time zone")
    fill_pct: float = Field(ge=0, le=100)
    net_weight_kg: float | None = Field(default=None, ge=0, le=100000)
    temperature_c: float | None = Field(default=None, ge=-60, le=200)
    door_open: bool | None = None
    battery_pct: float | None = Field(default=None, ge=0, le=100)
    sequence: int | None = Field(default=None, ge=0, le=2**62)
    quality: str | None = Field(
        default=None, min_length=1, max_length=1, description="HJ 212 data flag: N normal, D fault, …"
    )


class ReadingResult(Schema):
    status: str
    request_opened: str | None = None


@router.post(
    "/readings",
    auth=device_auth,
    response={200: ReadingResult, 201: ReadingResult, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut},
    summary="Post one bin reading (idempotent: the same reading twice is stored once)",
)
def post_reading(request: HttpRequest, payload: ReadingPayload) -> Any:
    device = request.auth
    reading = reading_validate(**payload.dict())
    outcome = reading_ingest(device=device, reading=reading, transport=Transport.HTTP)
    body = {"status": outcome.status, "request_opened": outcome.request_opened}
    return (201 if outcome.status == "accepted" else 200), body


class BatchItem(Schema):
    serial: str | None = Field(default=None, description="The bin; required with a gateway token")
    observed_at: str = Field(description="ISO 8601 with a time zone")
    fill_pct: float | None = None
    net_weight_kg: float | None = None
    temperature_c: float | None = None
    door_open: bool | None = None
    battery_pct: float | None = None
    sequence: int | None = None
    quality: str | None = None


BATCH_SCHEMA = {
    "type": "object",
    "required": ["readings"],
    "properties": {
        "readings": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_BATCH,
            "items": BatchItem.model_json_schema(),
            "description": "Each item is judged on its own: a bad one is rejected, the rest stored.",
        }
    },
}


class ItemResult(Schema):
    index: int
    status: str = Field(description="accepted | duplicate | rejected")
    reason: str | None = None
    field: str | None = None
    request_opened: str | None = None


class BatchOut(Schema):
    accepted: int
    duplicate: int
    rejected: int
    results: list[ItemResult]


def bins_by_serial(collector_id: Any, serials: set[str]) -> dict[str, uuid.UUID]:
    """The collector's bins among ``serials``: one array parameter on PostgreSQL (an ORM ``IN`` of a
    thousand strings costs more to build than to run)."""
    if connection.vendor != "postgresql":
        return dict(
            Bin.objects.filter(collector_id=collector_id, serial__in=serials).values_list("serial", "pk")
        )
    with binary_cursor() as cursor:
        cursor.execute(
            "SELECT serial, id FROM devices_bin WHERE collector_id = %s AND serial = ANY(%b::varchar[])",
            [collector_id, list(serials)],
        )
        return dict(cursor.fetchall())


def _items(request: HttpRequest) -> list[Any]:
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise ServiceError("请求体不是 JSON / body is not JSON", field="body") from None
    items = body.get("readings") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ServiceError("readings 必须是数组 / readings must be an array", field="readings")
    if not 1 <= len(items) <= MAX_BATCH:
        raise ServiceError(f"readings 须为 1–{MAX_BATCH} 条 / 1 to {MAX_BATCH} readings", field="readings")
    return items


@router.post(
    "/readings/batch",
    auth=[OptionalDeviceKey(), *person_auth],
    response={200: BatchOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut},
    summary="Post up to 1,000 readings; each item gets its own result",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": BATCH_SCHEMA}}}
    },
)
def post_batch(request: HttpRequest) -> Any:
    # The body is parsed by hand: a schema would refuse the whole batch for one bad item.
    items = _items(request)
    now = timezone.now()
    device = request.auth if isinstance(request.auth, Bin) else None
    collector_id = None
    if device is None:
        membership = request.user.current_membership
        if membership is None or membership.role not in (Role.ADMIN, Role.DISPATCHER):
            raise PermissionDenied(
                "只有收集单位的管理员或调度员可代设备上报 / only a collector's admin or dispatcher may post for bins",
                field="authorization",
            )
        collector_id = membership.organization_id
    outcomes = None
    if connection.vendor == "postgresql":
        # The whole batch in one statement; None when some value needs the Python path.
        with transaction.atomic():
            outcomes = ingest_json(
                items,
                transport=Transport.HTTP,
                now=now,
                collector_id=collector_id,
                device_id=device.pk if device is not None else None,
            )
    if outcomes is None:
        outcomes = _ingest_items(items, device=device, collector_id=collector_id, now=now)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    results = []
    for index, outcome in enumerate(outcomes):
        counts[outcome.status] += 1
        results.append(
            {
                "index": index,
                "status": outcome.status,
                "reason": outcome.reason or None,
                "field": outcome.field,
                "request_opened": outcome.request_opened,
            }
        )
    # Serialised here: checking a thousand results against the schema would cost more than storing them.
    return HttpResponse(orjson.dumps({**counts, "results": results}), content_type="application/json")


def _ingest_items(
    items: list[Any], *, device: Bin | None, collector_id: Any, now: dt.datetime
) -> list[IngestOutcome]:
    """The batch through the Python validators (SQLite, and any batch PostgreSQL could not parse):
    each item's bin first (the device's own, or by serial among the collector's), then
    ``ingest_parsed``."""
    by_serial: dict[str, uuid.UUID] = {}
    if device is None:
        serials = {i.get("serial") for i in items if isinstance(i, dict) and isinstance(i.get("serial"), str)}
        by_serial = bins_by_serial(collector_id, serials)
    owned: list[tuple[uuid.UUID, Any] | ServiceError] = []
    for item in items:
        serial = item.get("serial") if isinstance(item, dict) else None
        if device is not None:
            owned.append((device.pk, item) if serial in (None, device.serial) else refused("serial_other"))
        elif isinstance(serial, str) and serial in by_serial:
            owned.append((by_serial[serial], item))
        else:
            owned.append(refused("serial_unknown"))
    return ingest_parsed(owned, transport=Transport.HTTP, now=now)
