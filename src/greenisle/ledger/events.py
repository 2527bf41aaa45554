"""Ledger records written from platform events, one per container (HJ 1259-2022 §6.2, Appendix B).

The chain of one small producer's container, each record naming the batch it follows:

- labelled at the producer: production HWCS… (B.1) and storage-in HWRK… at the producer's own
  storage point, its smart bin (B.2);
- loaded on the truck (办法 Art. 13): storage-out HWCK… from that point (B.3);
- received by the collector (办法 Art. 18): the collector's storage-in HWRK… (stock +1) and, for the
  accepted weight, the producer's outsourced record HWWWCZ…/HWWWLY… (B.5, stock −1);
- shipped onward: the collector's storage-out HWCK…, then its outsourced record when the facility
  receives; the facility records its own utilisation/disposal HWZXLY…/HWZXCZ… (B.4) with the method.

A container loaded without a label (typed in by the driver) gets its production record when the
producer signs, as before labels existed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils import timezone

from greenisle.ledger import core
from greenisle.ledger.models import LedgerRecord, ReceiverType, RecordType
from greenisle.ledger.services import ledger_record_add
from greenisle.organizations.provinces import province_of

COLLECTION_METHOD = "C1"


def _last_batch(organization_id: Any, container_code: str, types: list[str]) -> str:
    record = (
        LedgerRecord.objects.filter(
            organization_id=organization_id,
            container_code=container_code,
            record_type__in=types,
            reverses__isnull=True,
        )
        .order_by("-occurred_at", "-created_at")
        .first()
    )
    return record.batch_code if record else ""


def has_production(organization_id: Any, container_code: str) -> bool:
    return LedgerRecord.objects.filter(
        organization_id=organization_id,
        container_code=container_code,
        record_type=RecordType.PRODUCTION,
        reverses__isnull=True,
    ).exists()


def business_licence(organization: Any, day: dt.date) -> Any:
    """The organisation's hazardous-waste business licence in force on ``day`` (not its transport permit)."""
    from greenisle.organizations.models import Licence

    return (
        Licence.objects.filter(organization=organization, valid_from__lte=day, valid_to__gte=day)
        .exclude(licence_type="dg_transport")
        .order_by("-valid_to")
        .first()
    )


def record_labelled(*, container: Any, actor: Any) -> None:
    """A labelled container is produced and put in the producer's storage point (its bin)."""
    point = ""
    if container.request_id and container.request.bin_id:
        point = container.request.bin.serial
    at = timezone.now()
    produced = ledger_record_add(
        organization=container.producer,
        site=container.site,
        record_type=RecordType.PRODUCTION,
        waste_code=container.waste_code,
        container_code=container.code,
        weight_kg=container.weight_kg,
        occurred_at=at,
        actor=actor,
        container_type=container.get_form_display(),
        destination=point or "贮存点 / storage point",
    )
    ledger_record_add(
        organization=container.producer,
        site=container.site,
        record_type=RecordType.STORAGE_IN,
        waste_code=container.waste_code,
        container_code=container.code,
        weight_kg=container.weight_kg,
        occurred_at=at,
        actor=actor,
        source_batch_code=produced.batch_code,
        facility_code=point,
        container_type=container.get_form_display(),
    )


def record_loaded(*, container: Any, weight_kg: Any, carrier: Any, actor: Any) -> None:
    """The container leaves the producer's storage point onto the carrier's truck."""
    ledger_record_add(
        organization=container.producer,
        site=container.site,
        record_type=RecordType.STORAGE_OUT,
        waste_code=container.waste_code,
        container_code=container.code,
        weight_kg=weight_kg,
        occurred_at=timezone.now(),
        actor=actor,
        source_batch_code=_last_batch(container.producer_id, container.code, [RecordType.STORAGE_IN]),
        destination=str(carrier),
        counterparty=carrier,
    )


def outsourced_method(manifest: Any, waste_code: Any, day: dt.date) -> str:
    """The method the producer's outsourced record names: collection (C1) when the receiver holds a
    collection licence, else what the producer's plan says for the code, else the receiver's licence."""
    licence = business_licence(manifest.receiver, day)
    if licence is not None and licence.licence_type == "collection":
        return COLLECTION_METHOD
    from greenisle.plans.models import IN_FORCE, PlanWaste

    planned = (
        PlanWaste.objects.filter(
            plan__site_id=manifest.producer_site_id,
            plan__year=day.year,
            plan__status__in=IN_FORCE,
            waste_code=waste_code,
        )
        .exclude(method="")
        .values_list("method", flat=True)
        .first()
    )
    if planned:
        return str(planned)
    if licence is not None and licence.licence_type == "utilisation":
        return "R15"
    return "D16"


def record_received(
    *, manifest: Any, lines: list[Any], at: dt.datetime, actor: Any, receiver_site: Any
) -> None:
    """办法 Art. 18 receipt: the receiver stores what it accepted; the sender hands it over."""
    day = timezone.localtime(at).date()
    licence = business_licence(manifest.receiver, day)
    for line in lines:
        accepted = line.accepted_weight_kg
        if not accepted or accepted <= 0:
            continue
        sent = _last_batch(
            manifest.producer_id,
            line.container_code,
            [RecordType.STORAGE_OUT, RecordType.PRODUCTION],
        )
        ledger_record_add(
            organization=manifest.receiver,
            site=receiver_site,
            record_type=RecordType.STORAGE_IN,
            waste_code=line.waste_code,
            container_code=line.container_code,
            weight_kg=accepted,
            occurred_at=at,
            actor=actor,
            manifest=manifest,
            counterparty=manifest.producer,
            source_batch_code=sent,
            external=True,
            facility_code=getattr(line, "storage_zone_code", "") or "",
        )
        method = outsourced_method(manifest, line.waste_code, day)
        ledger_record_add(
            organization=manifest.producer,
            site=manifest.producer_site,
            record_type=core.outsourced_type(method),
            waste_code=line.waste_code,
            container_code=line.container_code,
            weight_kg=accepted,
            occurred_at=at,
            actor=actor,
            manifest=manifest,
            counterparty=manifest.receiver,
            source_batch_code=sent,
            method=method,
            receiver_type=ReceiverType.LICENSED,
            licence_number=licence.number if licence else "",
            province=province_of(manifest.receiver.division_id),
            destination=manifest.receiver.name,
            left_site_at=manifest.departed_at,
            handler=manifest.producer.contact_name or "",
        )


def record_treated(*, manifest: Any, method: str, at: dt.datetime, actor: Any) -> None:
    """The facility used or disposed of what it received (B.4). Collection (C1) is not treatment."""
    if method == COLLECTION_METHOD:
        return
    stored = LedgerRecord.objects.filter(
        manifest=manifest,
        organization=manifest.receiver,
        record_type=RecordType.STORAGE_IN,
        reverses__isnull=True,
    ).select_related("site", "waste_code")
    for record in stored:
        if LedgerRecord.objects.filter(
            Q(record_type__in=list(core.OWN_TYPES)),
            organization=manifest.receiver,
            container_code=record.container_code,
            source_batch_code=record.batch_code,
        ).exists():
            continue
        ledger_record_add(
            organization=manifest.receiver,
            site=record.site,
            record_type=core.own_type(method),
            waste_code=record.waste_code,
            container_code=record.container_code,
            weight_kg=record.weight_kg,
            occurred_at=at,
            actor=actor,
            manifest=manifest,
            source_batch_code=record.batch_code,
            method=method,
            facility_code=record.facility_code,
        )
