"""Smart bins post readings here (HTTP JSON transport)."""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from greenisle.api.auth import device_auth
from greenisle.api.schemas import ErrorOut
from greenisle.devices.models import Transport
from greenisle.telemetry.services import reading_ingest, reading_validate

router = Router(tags=["telemetry"])


class ReadingIn(Schema):
    observed_at: dt.datetime = Field(description="Time of measurement, ISO 8601 with a time zone")
    fill_pct: float = Field(ge=0, le=100)
    net_weight_kg: float | None = Field(default=None, ge=0, le=100000)
    temperature_c: float | None = Field(default=None, ge=-60, le=200)
    door_open: bool | None = None
    battery_pct: float | None = Field(default=None, ge=0, le=100)
    sequence: int | None = Field(default=None, ge=0, le=2**62)


class ReadingResult(Schema):
    status: str
    reading_id: int | None = None
    request_opened: str | None = None


@router.post(
    "/readings",
    auth=device_auth,
    response={200: ReadingResult, 201: ReadingResult, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut},
    summary="Post one bin reading (idempotent: the same reading twice is stored once)",
)
def post_reading(request: HttpRequest, payload: ReadingIn) -> Any:
    device = request.auth
    reading = reading_validate(**payload.dict())
    outcome = reading_ingest(device=device, reading=reading, transport=Transport.HTTP)
    body = {
        "status": outcome.status,
        "reading_id": outcome.reading_id,
        "request_opened": outcome.request_opened,
    }
    return (201 if outcome.status == "accepted" else 200), body
