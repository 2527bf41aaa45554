"""Bins: read what you may see; a collector's administrator provisions its own (create, change, rotate
credentials, import a CSV/XLSX file). Secrets are in the response once and never again."""

import datetime as dt
import uuid
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, File, Form, Router, Schema, UploadedFile
from ninja.pagination import paginate
from ninja.responses import Status

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.api.schemas import ErrorOut
from greenisle.core.errors import NotFound
from greenisle.devices.importing import bins_import
from greenisle.devices.selectors import bin_connection, bin_get_visible_to, bin_list_visible_to
from greenisle.devices.services import (
    bin_create,
    bin_rotate_credentials,
    bin_update,
    collector_admin,
)
from greenisle.devices.tables import MAX_BYTES, FileTooLarge

router = Router(tags=["bins"], auth=person_auth)

TransportName = Literal["http", "mqtt", "hj212"]
CrcModeName = Literal["standard", "modbus", "modbus_swapped"]


def _state(obj: Any) -> Any:
    return getattr(obj, "state", None)


def _operator_sees(obj: Any, context: Any) -> bool:
    """Device identifiers are shown to the staff of the collector that runs the bin only."""
    request = (context or {}).get("request")
    membership = getattr(getattr(request, "user", None), "current_membership", None)
    return membership is not None and membership.organization_id == obj.collector_id


class BinOut(Schema):
    id: uuid.UUID
    serial: str
    name: str
    producer: str
    site_id: uuid.UUID
    division_code: str
    collector: str
    capacity_l: int
    capacity_kg: float
    threshold_pct: float
    reporting_interval_s: int
    transport: str
    enabled: bool
    waste_codes: list[str]
    fill_pct: float | None
    observed_at: dt.datetime | None
    latitude: float
    longitude: float
    connection: str = Field(description="online, offline, never (registered, never heard from) or disabled")
    last_seen_at: dt.datetime | None = Field(description="When the platform last received a reading")
    offline_since: dt.datetime | None
    accepted: int = Field(description="Readings accepted")
    duplicate: int = Field(description="Readings received again and stored once")
    rejected: int = Field(description="Readings refused")
    last_rejected_at: dt.datetime | None
    last_rejected_reason: str
    mqtt_username: str | None = Field(description="Shown to the collector that runs the bin")
    hj212_mn: str | None = Field(description="Shown to the collector that runs the bin")
    hj212_crc_mode: str
    key_prefix: str | None = Field(description="First characters of the HTTP key; to the collector only")

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
        state = _state(obj)
        return float(state.fill_pct) if state and state.fill_pct is not None else None

    @staticmethod
    def resolve_observed_at(obj: Any) -> dt.datetime | None:
        state = _state(obj)
        return state.observed_at if state else None

    @staticmethod
    def resolve_latitude(obj: Any) -> float:
        return float(obj.site.latitude)

    @staticmethod
    def resolve_longitude(obj: Any) -> float:
        return float(obj.site.longitude)

    @staticmethod
    def resolve_connection(obj: Any) -> str:
        return bin_connection(obj)

    @staticmethod
    def resolve_last_seen_at(obj: Any) -> dt.datetime | None:
        state = _state(obj)
        return state.received_at if state else None

    @staticmethod
    def resolve_offline_since(obj: Any) -> dt.datetime | None:
        state = _state(obj)
        return state.offline_since if state else None

    @staticmethod
    def resolve_accepted(obj: Any) -> int:
        state = _state(obj)
        return state.accepted if state else 0

    @staticmethod
    def resolve_duplicate(obj: Any) -> int:
        state = _state(obj)
        return state.duplicate if state else 0

    @staticmethod
    def resolve_rejected(obj: Any) -> int:
        state = _state(obj)
        return state.rejected if state else 0

    @staticmethod
    def resolve_last_rejected_at(obj: Any) -> dt.datetime | None:
        state = _state(obj)
        return state.last_rejected_at if state else None

    @staticmethod
    def resolve_last_rejected_reason(obj: Any) -> str:
        state = _state(obj)
        return state.last_rejected_reason if state else ""

    @staticmethod
    def resolve_mqtt_username(obj: Any, context: Any) -> str | None:
        return obj.mqtt_username if _operator_sees(obj, context) else None

    @staticmethod
    def resolve_hj212_mn(obj: Any, context: Any) -> str | None:
        return obj.hj212_mn if _operator_sees(obj, context) else None

    @staticmethod
    def resolve_key_prefix(obj: Any, context: Any) -> str | None:
        return (obj.key_prefix or None) if _operator_sees(obj, context) else None


class CredentialsOut(Schema):
    http_key: str | None = Field(None, description="X-Device-Key for HTTP JSON; shown once")
    mqtt_username: str | None = None
    mqtt_password: str | None = Field(None, description="MQTT password; shown once")


class BinWithCredentialsOut(Schema):
    bin: BinOut
    credentials: CredentialsOut


class BinIn(Schema):
    serial: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    site_id: uuid.UUID = Field(description="A site of a producer with a service contract in force with you")
    capacity_l: int = Field(ge=1, le=100_000)
    capacity_kg: float = Field(gt=0, le=100_000)
    waste_codes: list[str] = Field(min_length=1, max_length=50, description="名录 codes, e.g. 900-214-08")
    threshold_pct: float = Field(80, ge=1, le=100)
    reporting_interval_s: int = Field(900, ge=30, le=86400)
    transport: TransportName = "http"
    mqtt_username: str | None = Field(None, max_length=64, description="Required for transport mqtt")
    hj212_mn: str | None = Field(None, max_length=64, description="Required for transport hj212")
    hj212_pw: str | None = Field(None, max_length=64, description="The PW set on the data logger")
    hj212_crc_mode: CrcModeName = "standard"
    enabled: bool = True


class BinPatch(Schema):
    """Only the fields sent change; ``null`` clears mqtt_username or hj212_mn (and their secret)."""

    name: str | None = Field(None, min_length=1, max_length=100)
    site_id: uuid.UUID | None = None
    capacity_l: int | None = Field(None, ge=1, le=100_000)
    capacity_kg: float | None = Field(None, gt=0, le=100_000)
    waste_codes: list[str] | None = Field(None, min_length=1, max_length=50)
    threshold_pct: float | None = Field(None, ge=1, le=100)
    reporting_interval_s: int | None = Field(None, ge=30, le=86400)
    transport: TransportName | None = None
    mqtt_username: str | None = Field(None, max_length=64)
    hj212_mn: str | None = Field(None, max_length=64)
    hj212_pw: str | None = Field(None, max_length=64)
    hj212_crc_mode: CrcModeName | None = None
    enabled: bool | None = None


class RotateIn(Schema):
    http_key: bool = True
    mqtt_password: bool | None = Field(None, description="Default: when the bin has an MQTT username")


class RowError(Schema):
    field: str
    detail: str


class ImportRowOut(Schema):
    row: int
    serial: str
    action: str = Field(description="create or update")
    status: str = Field(description="dry run: ok or error; import: created, updated, unchanged or error")
    errors: list[RowError]
    bin_id: str | None


class ImportCredentialOut(Schema):
    row: int
    serial: str
    http_key: str | None = None
    mqtt_username: str | None = None
    mqtt_password: str | None = None


class ImportOut(Schema):
    dry_run: bool
    counts: dict[str, int]
    ignored_columns: list[str]
    rows: list[ImportRowOut]
    credentials: list[ImportCredentialOut] = Field(description="Secrets of the bins created; shown once")


def _reload(request: HttpRequest, obj: Any) -> Any:
    return bin_get_visible_to(request.user, obj.pk) or obj


@router.get("/bins", response=list[BinOut], summary="Bins you may see, fullest first")
@paginate(Pagination)
def list_bins(request: HttpRequest) -> Any:
    return bin_list_visible_to(request.user)


@router.post(
    "/bins",
    response={201: BinWithCredentialsOut, 400: ErrorOut, 403: ErrorOut},
    summary="Register a bin (collector administrator); its credentials are in this response only",
)
def create_bin(request: HttpRequest, payload: BinIn) -> Any:
    data = payload.dict()
    membership = collector_admin(request.user)
    obj, credentials = bin_create(
        actor=request.user,
        collector=membership.organization,
        site=str(data.pop("site_id")),
        **data,
    )
    return Status(201, {"bin": _reload(request, obj), "credentials": credentials})


@router.post(
    "/bins/import",
    response={200: ImportOut, 400: ErrorOut, 403: ErrorOut, 413: ErrorOut},
    summary="Register or update bins from a CSV or XLSX file (collector administrator)",
    description=(
        "One header row, then one bin per row; columns serial, name, site (site id, or the producer's "
        "USCC/site name; or producer_uscc + site_name), capacity_l, capacity_kg, waste_codes, "
        "threshold_pct, reporting_interval_s, transport, mqtt_username, hj212_mn, hj212_pw, "
        "hj212_crc_mode, enabled (Chinese headers are read too). A known serial of yours updates that "
        "bin. Each valid row is written; invalid rows are reported with the fields at fault. With "
        f"dry_run nothing is written. At most {MAX_BYTES // (1024 * 1024)} MB and 10,000 rows."
    ),
)
def import_bins(request: HttpRequest, file: File[UploadedFile], dry_run: Form[bool] = False) -> Any:
    collector_admin(request.user)
    if file.size is not None and file.size > MAX_BYTES:
        raise FileTooLarge("文件超过 5 MB / the file is larger than 5 MB")
    data = file.read(MAX_BYTES + 1)
    report = bins_import(actor=request.user, data=data, filename=file.name or "", dry_run=dry_run)
    return {
        "dry_run": report.dry_run,
        "counts": report.counts,
        "ignored_columns": report.ignored_columns,
        "rows": [
            {
                "row": r.row,
                "serial": r.serial,
                "action": r.action,
                "status": r.status,
                "errors": [{"field": f, "detail": m} for f, m in r.errors],
                "bin_id": r.bin_id,
            }
            for r in report.rows
        ],
        "credentials": report.credentials,
    }


@router.get("/bins/{bin_id}", response={200: BinOut, 404: ErrorOut})
def get_bin(request: HttpRequest, bin_id: uuid.UUID) -> Any:
    obj = bin_get_visible_to(request.user, bin_id)
    if obj is None:
        raise NotFound("云仓不存在 / no such bin", field="bin_id")
    return obj


@router.patch(
    "/bins/{bin_id}",
    response={200: BinWithCredentialsOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change a bin (collector administrator); only the fields sent change",
)
def update_bin(request: HttpRequest, bin_id: uuid.UUID, payload: BinPatch) -> Any:
    data = payload.dict(exclude_unset=True)
    if "site_id" in data:
        site_id = data.pop("site_id")
        data["site"] = str(site_id) if site_id is not None else None
    obj, credentials = bin_update(actor=request.user, bin_id=bin_id, **data)
    return {"bin": _reload(request, obj), "credentials": credentials}


@router.post(
    "/bins/{bin_id}/credentials",
    response={200: BinWithCredentialsOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Rotate a bin's HTTP key and/or MQTT password; the old ones stop working at once",
)
def rotate_credentials(request: HttpRequest, bin_id: uuid.UUID, payload: RotateIn) -> Any:
    obj, credentials = bin_rotate_credentials(
        actor=request.user, bin_id=bin_id, http_key=payload.http_key, mqtt_password=payload.mqtt_password
    )
    return {"bin": _reload(request, obj), "credentials": credentials}
