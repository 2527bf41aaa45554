"""Writing ledger records (HJ 1259-2022 §6: one record per container) with their batch codes.

Records come from platform events (:mod:`greenisle.ledger.events`), from manual entries for what no
event covers (:func:`ledger_entry_add`) and from reversing entries (:func:`ledger_record_reverse`).
A record is never edited or deleted (§6.4 keeps it five years).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.accounts.permissions import acting_for, membership_of
from greenisle.audit.services import event_record
from greenisle.catalog.models import WasteCode
from greenisle.core.counters import counter_next
from greenisle.core.errors import Conflict, NotFound, ServiceError
from greenisle.ledger import core
from greenisle.ledger.batch_codes import BatchCodeError, format_batch_code, parse_batch_code
from greenisle.ledger.models import (
    Declaration,
    DeclarationStatus,
    EntryKind,
    LedgerRecord,
    LedgerSerial,
    ReceiverType,
    RecordType,
)
from greenisle.organizations.models import Site

WRITER_ROLES = {"admin", "clerk", "dispatcher", "receiver"}
MAX_RECORD_KG = Decimal("100000")


def person_name(user: Any) -> str:
    if user is None:
        return ""
    full = (user.get_full_name() or "").strip() if hasattr(user, "get_full_name") else ""
    return full or str(getattr(user, "username", ""))


@transaction.atomic
def ledger_record_add(
    *,
    organization: Any,
    site: Any,
    record_type: str,
    waste_code: Any,
    container_code: str,
    weight_kg: Decimal,
    occurred_at: dt.datetime,
    actor: Any = None,
    manifest: Any = None,
    counterparty: Any = None,
    source_batch_code: str = "",
    external: bool = False,
    entry: str = EntryKind.EVENT,
    facility_code: str = "",
    handler: str = "",
    destination: str = "",
    method: str = "",
    receiver_type: str = "",
    licence_number: str = "",
    province: str = "",
    left_site_at: dt.datetime | None = None,
    container_type: str = "",
    note: str = "",
    reverses: LedgerRecord | None = None,
) -> LedgerRecord:
    day = timezone.localtime(occurred_at).date()
    serial = counter_next(LedgerSerial, site=site, record_type=record_type, day=day)
    record = LedgerRecord.objects.create(
        organization=organization,
        site=site,
        record_type=record_type,
        entry=entry,
        batch_code=format_batch_code(record_type, day, serial),
        source_batch_code=source_batch_code,
        waste_code=waste_code,
        container_code=container_code,
        container_type=container_type,
        weight_kg=weight_kg,
        stock_effect=core.stock_effect(record_type, external=external),
        occurred_at=occurred_at,
        facility_code=facility_code,
        handler=handler or person_name(actor),
        destination=destination,
        method=method,
        receiver_type=receiver_type,
        licence_number=licence_number,
        province=province,
        left_site_at=left_site_at,
        manifest=manifest,
        counterparty=counterparty,
        reverses=reverses,
        note=note,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    event_record(
        action=f"ledger.record.{record_type}" if entry != EntryKind.REVERSAL else "ledger.record.reversed",
        obj=record,
        actor=actor,
        organization=organization,
        subject_organization=organization,
        division_code=site.division_id,
        payload={
            "batch_code": record.batch_code,
            "entry": entry,
            "waste_code": waste_code.code,
            "container_code": container_code,
            "weight_kg": str(weight_kg),
            "manifest": str(manifest.pk) if manifest else None,
            **({"reverses": reverses.batch_code} if reverses else {}),
            **({"note": note} if note else {}),
        },
    )
    return record


def period_frozen(site: Any, day: dt.date) -> Declaration | None:
    """The submitted declaration that covers ``day`` for ``site``, if any: its figures are frozen."""
    return (
        Declaration.objects.filter(
            site=site, status=DeclarationStatus.SUBMITTED, period_start__lte=day, period_end__gt=day
        )
        .order_by("period_start")
        .first()
    )


def _writable_site(actor: Any, site_id: Any) -> tuple[Any, Any]:
    """The site whose ledger ``actor`` may write: its own organisation's, or (HJ 1259 §7.1.3) a client's
    when it acts for the client's collector."""
    membership = membership_of(actor)
    site = Site.objects.select_related("organization").filter(pk=site_id).first()
    if site is None:
        raise NotFound("场所不存在 / no such site", field="site_id")
    acting_for(
        membership, site.organization_id, own_roles=WRITER_ROLES, collector_roles=WRITER_ROLES, what="记台账"
    )
    return membership, site


def _decimal_kg(value: Any, field: str) -> Decimal:
    try:
        kg = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ServiceError(f"{field} 须为数字 / must be a number", field=field) from None
    if not kg.is_finite() or kg <= 0 or kg > MAX_RECORD_KG:
        raise ServiceError(
            f"{field} 须在 0–{MAX_RECORD_KG} kg 之间 / must be in (0, {MAX_RECORD_KG}] kg", field=field
        )
    if kg != kg.quantize(Decimal("0.01")):
        raise ServiceError(f"{field} 最多两位小数 / at most two decimals", field=field)
    return kg


MANUAL_TYPES = {t.value for t in RecordType}


@transaction.atomic
def ledger_entry_add(
    *,
    actor: Any,
    site_id: Any,
    record_type: str,
    waste_code: str,
    container_code: str,
    weight_kg: Any,
    occurred_at: dt.datetime,
    source_batch_code: str = "",
    facility_code: str = "",
    container_type: str = "",
    destination: str = "",
    method: str = "",
    receiver_name: str = "",
    receiver_type: str = "",
    licence_number: str = "",
    province: str = "",
    note: str = "",
) -> LedgerRecord:
    """A manual ledger entry for what no platform event covers (e.g. waste the producer used itself or
    stored at its own point), validated like the records events write."""
    membership, site = _writable_site(actor, site_id)
    if record_type not in MANUAL_TYPES:
        raise ServiceError(f"记录类型须为 {sorted(MANUAL_TYPES)} / unknown record type", field="record_type")
    code = WasteCode.objects.current().filter(code=(waste_code or "").strip()).first()
    if code is None:
        raise ServiceError(
            "废物代码不在现行名录中 / waste code not in the catalogue in force", field="waste_code"
        )
    container_code = (container_code or "").strip()
    if not container_code or len(container_code) > 64:
        raise ServiceError("容器编码必填，不超过64字 / container code required, ≤ 64", field="container_code")
    kg = _decimal_kg(weight_kg, "weight_kg")
    if occurred_at is None or timezone.is_naive(occurred_at):
        raise ServiceError("时间须带时区 / the time needs a zone", field="occurred_at")
    if occurred_at > timezone.now() + dt.timedelta(minutes=5):
        raise ServiceError("时间不能晚于现在 / the time cannot be in the future", field="occurred_at")
    day = timezone.localtime(occurred_at).date()
    frozen = period_frozen(site, day)
    if frozen is not None:
        raise Conflict(
            f"{frozen.label} 申报已提交，该期台账已冻结；请以今天的日期登记更正 / the {frozen.label} declaration is "
            "submitted: enter the correction with today's date",
            field="occurred_at",
            code="period_submitted",
        )
    if source_batch_code:
        try:
            parse_batch_code(source_batch_code)
        except BatchCodeError as exc:
            raise ServiceError(str(exc), field="source_batch_code") from None
        if not LedgerRecord.objects.filter(site=site, batch_code=source_batch_code).exists():
            raise ServiceError(
                "来源批次不在本场所台账中 / no such batch in this site's ledger", field="source_batch_code"
            )
    method = (method or "").strip().upper()
    from greenisle.manifests.receipt import TREATMENT_METHODS

    if record_type in core.OWN_TYPES or record_type in core.OUTSOURCED_TYPES:
        if method not in TREATMENT_METHODS:
            raise ServiceError(
                f"利用/处置方式须为 {sorted(TREATMENT_METHODS)} / method required", field="method"
            )
        expected = core.own_type(method) if record_type in core.OWN_TYPES else core.outsourced_type(method)
        if record_type.startswith(("own_", "outsourced_")) and expected != record_type:
            raise ServiceError(
                f"方式 {method} 对应 {expected} / method {method} means {expected}", field="record_type"
            )
    if record_type in core.OUTSOURCED_TYPES:
        if receiver_type not in ReceiverType.values:
            raise ServiceError(
                f"接收单位类型须为 {ReceiverType.values} / receiver type required", field="receiver_type"
            )
        if not receiver_name.strip():
            raise ServiceError("接收单位名称必填 / receiver name required", field="receiver_name")
        if receiver_type == ReceiverType.LICENSED and not licence_number.strip():
            raise ServiceError("许可证编号必填 / licence number required", field="licence_number")
    if record_type == RecordType.STORAGE_IN and not facility_code.strip():
        raise ServiceError(
            "入库须填贮存设施编码 / storage-in needs the storage facility code", field="facility_code"
        )
    for name, value, limit in (
        ("facility_code", facility_code, 40),
        ("container_type", container_type, 40),
        ("destination", destination or receiver_name, 200),
        ("licence_number", licence_number, 64),
        ("province", province, 20),
        ("note", note, 300),
    ):
        if len(value or "") > limit:
            raise ServiceError(f"{name} 不超过 {limit} 字 / at most {limit} characters", field=name)
    return ledger_record_add(
        organization=site.organization,
        site=site,
        record_type=record_type,
        waste_code=code,
        container_code=container_code,
        weight_kg=kg,
        occurred_at=occurred_at,
        actor=actor,
        source_batch_code=source_batch_code,
        entry=EntryKind.MANUAL,
        facility_code=facility_code.strip(),
        container_type=container_type.strip(),
        destination=(destination or receiver_name).strip(),
        method=method,
        receiver_type=receiver_type if record_type in core.OUTSOURCED_TYPES else "",
        licence_number=licence_number.strip(),
        province=province.strip(),
        note=note.strip(),
    )


@transaction.atomic
def ledger_record_reverse(*, actor: Any, record_id: Any, reason: str) -> LedgerRecord:
    """Correct a record by reversing it (HJ 1259 §6: a ledger is kept, not rewritten): a new record of
    the same type and opposite weight, dated now, linked to the one it reverses. A correct record, if
    one is needed, is then entered anew."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise ServiceError("更正原因必填，不超过300字 / reason required, ≤ 300 characters", field="reason")
    record = (
        LedgerRecord.objects.select_for_update(of=("self",))
        .select_related("site", "waste_code", "organization")
        .filter(pk=record_id)
        .first()
    )
    if record is None:
        raise NotFound("台账记录不存在 / no such ledger record", field="record_id")
    _writable_site(actor, record.site_id)
    if record.reverses_id is not None:
        raise Conflict("冲销记录不能再冲销 / a reversing entry is not reversed", field="record_id")
    if LedgerRecord.objects.filter(reverses=record).exists():
        raise Conflict("该记录已冲销 / this record is reversed already", field="record_id")
    return ledger_record_add(
        organization=record.organization,
        site=record.site,
        record_type=record.record_type,
        waste_code=record.waste_code,
        container_code=record.container_code,
        weight_kg=-record.weight_kg,
        occurred_at=timezone.now(),
        actor=actor,
        manifest=record.manifest,
        counterparty=record.counterparty,
        source_batch_code=record.batch_code,
        external=record.stock_effect == 1 and record.record_type == RecordType.STORAGE_IN,
        entry=EntryKind.REVERSAL,
        facility_code=record.facility_code,
        container_type=record.container_type,
        destination=record.destination,
        method=record.method,
        receiver_type=record.receiver_type,
        licence_number=record.licence_number,
        province=record.province,
        note=reason,
        reverses=record,
    )
