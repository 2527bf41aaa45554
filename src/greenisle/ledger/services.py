"""Writing ledger records (HJ 1259-2022 §6: one record per container) with their batch codes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.audit.services import event_record
from greenisle.core.counters import counter_next
from greenisle.ledger.batch_codes import format_batch_code
from greenisle.ledger.models import LedgerRecord, LedgerSerial


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
) -> LedgerRecord:
    day = timezone.localtime(occurred_at).date()
    serial = counter_next(LedgerSerial, site=site, record_type=record_type, day=day)
    record = LedgerRecord.objects.create(
        organization=organization,
        site=site,
        record_type=record_type,
        batch_code=format_batch_code(record_type, day, serial),
        source_batch_code=source_batch_code,
        waste_code=waste_code,
        container_code=container_code,
        weight_kg=weight_kg,
        occurred_at=occurred_at,
        manifest=manifest,
        counterparty=counterparty,
    )
    event_record(
        action=f"ledger.record.{record_type}",
        obj=record,
        actor=actor,
        organization=organization,
        subject_organization=organization,
        division_code=site.division_id,
        payload={
            "batch_code": record.batch_code,
            "waste_code": waste_code.code,
            "container_code": container_code,
            "weight_kg": str(weight_kg),
            "manifest": str(manifest.pk) if manifest else None,
        },
    )
    return record
